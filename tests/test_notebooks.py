"Notebooks are committed with their results: a table notebook's result cells have outputs, and no typed results table sits in prose."
import ast, json, re
from pathlib import Path
import pytest
from conftest import ROOT

TABLES = sorted((ROOT / 'nbs' / 'tables').glob('*.ipynb'))
FLAGS = re.compile(r'^#\|\s*(hide|export|exports|exporti|slow|gpu|data|eval:\s*false)\b', re.M)
QUIET = {'test_eq', 'test_close', 'test_fail', 'test_ne', 'test_is', 'test', 'print_function'}

def is_result_cell(src:str) -> bool:
    "A cell that shows something: its last statement is a displayed expression (not a test call), or it prints or plots."
    if FLAGS.search(src): return False
    code = '\n'.join(l for l in src.splitlines() if not l.lstrip().startswith(('%', '!')))
    try: tree = ast.parse(code)
    except SyntaxError: return False
    if not tree.body: return False
    calls = {n.func.id if isinstance(n.func, ast.Name) else getattr(n.func, 'attr', '') for n in ast.walk(tree) if isinstance(n, ast.Call)}
    if calls & {'print', 'display', 'show_doc'} or 'plt' in code or any(c.startswith('plot') for c in calls): return True   # figures show
    last = tree.body[-1]
    if not isinstance(last, ast.Expr): return False
    if isinstance(last.value, ast.Call):
        f = last.value.func; name = f.id if isinstance(f, ast.Name) else getattr(f, 'attr', '')
        if name in QUIET: return False
    return not code.rstrip().endswith(';')

def test_result_cell_detection():
    assert is_result_cell("df.head()") and is_result_cell("print(1)") and is_result_cell("r.plot();")
    assert not is_result_cell("x = 1") and not is_result_cell("test_eq(1, 1)") and not is_result_cell("#| hide\ndf")
    assert not is_result_cell("#| slow\nprint(1)")

@pytest.mark.parametrize('nb', TABLES, ids=[p.name for p in TABLES])
def test_table_notebook_shows_its_results(nb):
    cells = json.loads(nb.read_text())['cells']
    empty = [i for i, c in enumerate(cells) if c['cell_type'] == 'code' and is_result_cell(''.join(c['source'])) and not c.get('outputs')]
    assert not empty, (f"{nb.name}: result cells {empty} have no output; save the notebook with its outputs: "
                       f".venv/bin/python .ci/save-notebooks {nb.relative_to(ROOT)}")

@pytest.mark.parametrize('nb', sorted((ROOT / 'nbs').rglob('*.ipynb')), ids=lambda p: p.name)
def test_no_typed_results_tables_in_prose(nb):
    "Numbers come from files the notebook reads: a markdown table of numbers is a typed result."
    for c in json.loads(nb.read_text())['cells']:
        if c['cell_type'] != 'markdown': continue
        rows = [l for l in ''.join(c['source']).splitlines() if l.startswith('|') and not set(l) <= set('|-: ')]
        numeric = [l for l in rows[1:] if len(re.findall(r'(?<![\w/])\d+\.\d+', l)) >= 2]
        assert not numeric, f"{nb.name}: a markdown table of numbers (write them to a file and show it from a cell): {numeric[0][:100]}"
