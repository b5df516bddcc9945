"The table runner from the shell: `satlib table --list`, kill-and-resume at the tiny budget, another executor, and the zoo."
import json, os, random, shutil, signal, subprocess, sys, time
from pathlib import Path
import pandas as pd
import pytest, torch
from conftest import satlib_cmd, need, BIN, ROOT

TABLE = 'sat_table2_builtin'

def _table(root, *extra, **kw):
    return subprocess.Popen([str(BIN / 'satlib'), 'table', TABLE, '--budget', 'tiny', '--root', str(root), '--device', 'cpu', *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env=dict(os.environ, OMP_NUM_THREADS='1'), **kw)

def _rows(root):
    "Everything a table run decides (weights, cells, accuracies), without wall times, devices or file hashes."
    d = Path(root) / 'results' / TABLE / 'tiny'
    runs = pd.read_csv(d / 'runs.csv')[['label', 'seed', 'key', 'epochs', 'weights']].sort_values(['key', 'label']).reset_index(drop=True)
    evals = {f.stem: pd.read_csv(f)[['cell', 'method', 'seed', 'attack', 'eps', 'steps', 'accuracy', 'n']]
                       .sort_values(['cell', 'attack', 'eps', 'steps']).reset_index(drop=True)
             for f in sorted(d.glob('*.csv')) if f.stem != 'runs'}
    logs = {f.name: [r['epoch'] for r in map(json.loads, f.read_text().splitlines())] for f in sorted((d / 'logs').glob('*.jsonl'))}
    return runs, evals, logs

def test_table_list():
    r = satlib_cmd('table', '--list')
    for name in ('sat_table2_builtin', 'sat_table2_flowers17', 'art_cifar10'): assert name in r.stdout
    assert 'sat_table2_builtin: SAT Table 2' in r.stdout and '    tiny ' in r.stdout and '    cpu ' in r.stdout and 'cells' in r.stdout

def test_closed_pipe_is_quiet():
    "A reader that stops early (`satlib table --list | head -1`) ends the command quietly, without a traceback."
    r = subprocess.run(f"'{BIN / 'satlib'}' table --list | head -1", shell=True, capture_output=True, text=True,
                       env=dict(os.environ, OMP_NUM_THREADS='1'), timeout=600)
    assert len(r.stdout.splitlines()) == 1 and 'Traceback' not in r.stderr and 'BrokenPipe' not in r.stderr, r.stderr

def test_unknown_table_is_one_line():
    r = satlib_cmd('table', 'no_such_table', check=False)
    assert r.returncode == 2 and "unknown table 'no_such_table'" in r.stderr and 'Traceback' not in r.stderr

def test_table_evals_option(tmp_path):
    "`--evals` runs only the named evaluations (after the runs they need); an unknown name is a one-line error listing the table's; `--status` shows the one cell done."
    base = ('table', TABLE, '--budget', 'tiny', '--root', tmp_path, '--device', 'cpu', '--rows', 'Original', '--seeds', '0')
    r = satlib_cmd(*base, '--evals', 'no_such_eval', check=False)
    assert r.returncode == 2 and "has no evaluation 'no_such_eval'; it has: pgd, autoattack" in r.stderr and 'Traceback' not in r.stderr
    satlib_cmd(*base, '--evals', 'pgd')
    d = tmp_path / 'results' / TABLE / 'tiny'
    assert sorted(f.name for f in d.glob('*.csv')) == ['pgd.csv', 'runs.csv']
    assert set(pd.read_csv(d / 'pgd.csv').method) == {'Original'}
    r = satlib_cmd('table', TABLE, '--budget', 'tiny', '--root', tmp_path, '--status', '--rows', 'Original', 'SAT')   # what is done, per row and seed
    lines = [l.split() for l in r.stdout.splitlines()]
    assert lines[0][:2] == [TABLE, '(tiny):'] and lines[1][:5] == ['row', 'seed', 'run', 'cells_done', 'cells']
    assert [l[:5] for l in lines[2:4]] == [['Original', '0', 'done', '1', '2'], ['SAT', '0', 'to', 'do', '0']]
    assert len(lines) == 5 and r.stdout.splitlines()[-1] == ('left: 2 line(s) not done, at rates not known yet: '   # no SAT run and no AutoAttack cell has
        'no job of this table has measured their method or evaluation')                                                   # finished: no sum of nothing
    r = satlib_cmd('table', TABLE, '--budget', 'tiny', '--root', tmp_path, '--status', '--rows', 'SAT')
    assert r.stdout.splitlines()[-1].startswith('left: 1 line(s) not done, at rates not known yet')

def test_stop_after_from_the_shell(tmp_path):
    "`--stop-after 0`: the deadline has passed, so nothing starts, nothing is written, and the command says how to go on."
    r = satlib_cmd('table', TABLE, '--budget', 'tiny', '--root', tmp_path, '--device', 'cpu', '--rows', 'Original', '--seeds', '0', '--stop-after', '0')
    assert 'the deadline passed: 0 run(s) stopped at an epoch end, 3 job(s) not started; run the same command again to go on' in r.stdout, r.stdout
    assert not (tmp_path / 'zoo').exists() and not list(tmp_path.rglob('*.csv'))

def test_killed_table_run_finishes_with_the_same_rows(tmp_path):
    "SIGKILL a tiny table run at random moments, run it again to the end: the same weights, cells and logs as one uninterrupted run."
    ref = tmp_path / 'ref'
    p = _table(ref); assert p.wait(timeout=900) == 0, p.stderr.read()
    want = _rows(ref)
    rnd, got, kills = random.Random(0), tmp_path / 'killed', 0
    for delay in (rnd.uniform(2, 8) for _ in range(4)):
        p = _table(got); time.sleep(delay)
        if p.poll() is None: os.killpg(p.pid, signal.SIGKILL); p.wait(); kills += 1
    p = _table(got); assert p.wait(timeout=900) == 0, p.stderr.read()
    assert kills >= 2, f"the run finished before it could be killed ({kills} kills): make the delays shorter"
    have = _rows(got)
    pd.testing.assert_frame_equal(have[0], want[0])
    assert have[1].keys() == want[1].keys()
    for k in want[1]: pd.testing.assert_frame_equal(have[1][k], want[1][k])
    assert have[2] == want[2]
    assert not list(Path(got).rglob('*.tmp')), "killed writes left temporary files behind"

def test_carry_from_the_shell(tmp_path):
    "`--carry` copies a run killed before its zoo entry into the zoo; a root holding only that zoo (another machine) shows it `(carried)`, finishes it, and drops the carried folder."
    a, b = tmp_path / 'a', tmp_path / 'b'
    base = ('table', TABLE, '--budget', 'tiny', '--device', 'cpu', '--rows', 'Original', '--seeds', '0', '--root')
    r = satlib_cmd(*base, a, env=dict(SATLIB_KILL_AT='checkpoint-written@1'), check=False)
    assert r.returncode == -signal.SIGKILL, r.stderr
    r = satlib_cmd(*base, a, '--carry')
    head, *rest = r.stdout.splitlines()
    assert head.startswith(f"1 unfinished run(s) of {TABLE} (tiny) carried in ") and rest[1].split()[:4] == ['Original', '0', '1', '1'], r.stdout
    shutil.copytree(a / 'zoo', b / 'zoo')   # what a commit takes to another machine: the zoo, not runs/
    assert 'Original     0 epoch 1 of 1 (carried)' in satlib_cmd(*base[:-1], '--status', '--root', b).stdout
    satlib_cmd(*base, b)
    assert len(pd.read_csv(b / 'results' / TABLE / 'tiny' / 'runs.csv')) == 1 and not (b / 'zoo' / TABLE / 'tiny' / 'unfinished').exists()
    assert satlib_cmd(*base, b, '--carry').stdout.startswith(f"0 unfinished run(s) of {TABLE} (tiny)")
    c = tmp_path / 'c'   # --stop-after with --carry: run until the deadline (here: none left, nothing starts), then carry
    assert satlib_cmd(*base, c, env=dict(SATLIB_KILL_AT='checkpoint-written@1'), check=False).returncode == -signal.SIGKILL
    out = satlib_cmd(*base, c, '--stop-after', '0', '--carry').stdout.splitlines()
    assert any(l.startswith(f"{TABLE} (tiny): the deadline passed: 0 run(s) stopped") for l in out), out
    assert out[-3].startswith(f"1 unfinished run(s) of {TABLE} (tiny) carried in ") and out[-1].split()[:4] == ['Original', '0', '1', '1'], out

def test_submitit_executor_local_mode(tmp_path):
    "The cluster executor (submitit), in submitit's own local mode, gives the rows the default one gives."
    need('submitit', 'cluster')
    a, b = tmp_path / 'inline', tmp_path / 'submitit'
    rows = ['--rows', 'Original', 'SAT']
    p = _table(a, *rows); assert p.wait(timeout=900) == 0, p.stderr.read()
    p = _table(b, *rows, '--executor', 'submitit-local', '--workers', '2'); assert p.wait(timeout=900) == 0, p.stderr.read()
    ra, rb = _rows(a), _rows(b)
    pd.testing.assert_frame_equal(ra[0], rb[0])
    for k in ra[1]: pd.testing.assert_frame_equal(ra[1][k], rb[1][k])

def _committed():
    from satlib.zoo import entries
    e = entries()
    return e[e.budget != 'tiny'] if len(e) else e

@pytest.mark.parametrize('table', sorted(set(_committed().table)) if len(_committed()) else ['(none)'])
def test_zoo_reproduces_committed_clean_accuracy(table):
    "Every committed zoo model of seed 0 (students only: teachers are left out) gives its results' clean accuracy on the same test images (within 0.2 points)."
    if table == '(none)': pytest.skip("no committed zoo models")
    import satlib.tables   # registers the papers' tables
    from satlib.experiments import tables, test_images, results, _data
    from satlib.evaluate import evaluate, CLEAN
    import satlib.zoo
    e = _committed(); e = e[(e.table == table) & (e.seed == 0) & (e.role != 'teacher')]
    t = tables[table]
    for budget, g in e.groupby('budget'):
        b = t.budget(budget)
        if b.dataset != 'builtin' and not os.environ.get('SATLIB_DATA'): pytest.skip(f"{table} ({budget}) needs SATLIB_DATA with {b.dataset}")
        ev = next(x for x in b.evals if x.name == 'pgd' or x.name == 'accuracy')
        res = results(t, budget, ev.name)
        data = test_images(dict(_data(b), n=ev.n))
        for r in g.itertuples():
            net = satlib.zoo.load(table, r.label, 0, budget)
            acc = evaluate(net, data, [CLEAN], device='cpu')[0].accuracy.iloc[0]
            want = res[(res.method == r.label) & (res.seed == 0) & (res.attack == 'none')].accuracy
            assert len(want), f"{table} ({budget}): no clean accuracy of {r.label} in {ev.name}.csv"
            assert abs(acc - want.iloc[0]) <= 0.2, f"{table} ({budget}) {r.label}: zoo model gives {acc:.2f}%, the CSV {want.iloc[0]:.2f}%"

def test_script_without_main_guard(tmp_path):
    "A script that calls run_table with workers outside `if __name__ == '__main__':` gets the fix in one line, from each worker and from the run."
    s = tmp_path / 'no_guard.py'
    s.write_text(f"from satlib.experiments import run_table\nrun_table({TABLE!r}, 'tiny', workers=2, root={str(tmp_path / 'root')!r}, device='cpu')\n")
    r = subprocess.run([sys.executable, str(s)], capture_output=True, text=True, timeout=300, env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert r.returncode != 0
    assert "call it under `if __name__ == '__main__':`" in r.stderr, r.stderr[-2000:]
    assert r.stderr.strip().splitlines()[-1].startswith("satlib.core.SatlibError: a worker process died"), r.stderr[-2000:]
    assert 'trained' not in r.stdout


@pytest.mark.parametrize('code', [
    "from satlib.train import make_method; print(make_method('art').name)",                  # registered in satlib.art
    "from satlib.attacks import attacks; print(attacks['ifia'].__name__)",                   # registered in satlib.metrics
    "from satlib.train import methods\ntry: methods['nope']\nexcept Exception as e: print('trades_sat' in str(e))"])   # the error lists every method
def test_registries_find_every_member_from_plain_python(code):
    "A fresh interpreter that imports only the registry's own module still finds members registered in modules above it."
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() in ('art', 'IFIA', 'True'), r.stdout

def test_committed_results_have_no_stale_rows():
    "Every committed results file holds only rows that its table's declaration still plans (`satlib table NAME --drop-stale` removes the others)."
    import satlib.tables
    from satlib.experiments import tables, stale
    from satlib.zoo import TablePaths
    found = [(d.parent.name, d.name) for d in sorted(TablePaths().results.glob('*/*')) if d.is_dir() and d.parent.name in tables]
    assert found, "no committed table results found"
    for t, b in found:
        s = stale(t, b)
        assert not len(s), f"{t} ({b}) has result rows no declaration plans any more:\n{s.to_string()}"

def test_drop_stale_from_the_shell(tmp_path):
    "`--drop-stale` on a root with nothing stale removes nothing and says so in one line."
    r = satlib_cmd('table', TABLE, '--budget', 'tiny', '--root', str(tmp_path), '--drop-stale')
    assert r.stdout.strip() == f"removed 0 stale result row(s) of {TABLE} (tiny)", r.stdout

def test_deadline_in_a_fresh_process(tmp_path):
    "One worker (in-process jobs) in a fresh interpreter: a run stopped at the deadline is reported as stopped, and what remains is left for the next call."
    script = tmp_path / 'deadline.py'
    script.write_text('''import sys, time
from satlib.experiments import Table, Row, Budget, run_table
from satlib.train import methods, Original
@methods.register('_sleepy')
class Sleepy(Original):
    name = '_sleepy'
    def loss(self, model, b, ctx):
        if ctx.step == 0: time.sleep(12)   # past the deadline, which leaves 8 s for the setup on a loaded machine
        return super().loss(model, b, ctx)
t = Table('deadline_t', 'two epochs, two seeds', [Row('A', '_sleepy')], dict(tiny=Budget(
    'builtin', dict(n=64), width=0.125, train=dict(epochs=2, batch_size=64, eval_every=0), seeds=(0, 1))))
s = run_table(t, 'tiny', root=sys.argv[1], device='cpu', stop_at=time.time() + 8)
print(s['ran'], s['stopped'], s['not_started'])
''')
    r = subprocess.run([sys.executable, str(script), str(tmp_path / 'root')], capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert r.returncode == 0, r.stderr
    assert 'stopped A seed 0 at the deadline, after epoch 1 of 2' in r.stdout and r.stdout.split('\n')[-2] == '0 1 1', r.stdout

_SLOW_TABLE = '''import sys, time
from satlib.experiments import Table, Row, Budget, tables
from satlib.train import methods, Original
from satlib.cli import main
@methods.register('_slow')
class Slow(Original):
    name = '_slow'
    def loss(self, model, b, ctx):
        if ctx.epoch == 2: time.sleep(300)   # the second epoch hangs (epoch 1's checkpoint written): a long job to stop
        return super().loss(model, b, ctx)
tables['sigterm_t'] = Table('sigterm_t', 'one slow run per seed', [Row('A', '_slow')], dict(tiny=Budget(
    'builtin', dict(n=64), width=0.125, train=dict(epochs=2, batch_size=64, eval_every=0), seeds=(0, 1))))
if __name__ == '__main__': main(['table', 'sigterm_t', '--budget', 'tiny', '--device', 'cpu', '--root', sys.argv[1], '--workers', sys.argv[2], '--stop-after', '60', '--carry'])
'''

@pytest.mark.parametrize('workers', [1, 2])
def test_sigterm_stops_and_carries(tmp_path, workers):
    "SIGTERM (`kill PID`, or a cluster's time limit) to `satlib table ... --carry` in the middle of long jobs: it stops at once (its workers too), carries what is unfinished, says so in one line, and exits with 143."
    (tmp_path / 'slow.py').write_text(_SLOW_TABLE); root = tmp_path / 'root'
    p = subprocess.Popen([sys.executable, str(tmp_path / 'slow.py'), str(root), str(workers)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=dict(os.environ, OMP_NUM_THREADS='1'))
    ckpts = lambda: list((root / 'runs' / 'sigterm_t' / 'tiny').glob('*/checkpoint.pt'))
    t0 = time.time()
    while len(ckpts()) < workers and time.time() - t0 < 240 and p.poll() is None: time.sleep(0.2)   # epoch 1 written: the hang has begun
    assert len(ckpts()) == workers, p.communicate()
    kids = [int(c) for c in Path(f'/proc/{p.pid}/task/{p.pid}/children').read_text().split()] if workers > 1 else []
    time.sleep(1); p.send_signal(signal.SIGTERM); t1 = time.time()
    out, err = p.communicate(timeout=120)
    assert time.time() - t1 < 60, "the command waited for its jobs instead of stopping"
    assert p.returncode == 128 + signal.SIGTERM and 'Traceback' not in err, err
    assert err.strip().splitlines()[-1].startswith('satlib table: stopped by SIGTERM; run the same command again to go on'), err
    assert f"{workers} unfinished run(s) of sigterm_t (tiny) carried in" in out, out
    time.sleep(2)
    alive = [k for k in kids if Path(f'/proc/{k}').exists() and Path(f'/proc/{k}/stat').read_text().split()[2] != 'Z']
    assert not alive, f"worker processes {alive} outlived the command"

def test_two_processes_one_run(tmp_path):
    "Two processes asked for the same run at once (overlapping `--rows`): one trains it, the other waits for it and takes its model, instead of training it a second time beside it."
    script = tmp_path / 'twice.py'
    script.write_text('''import sys, time
from pathlib import Path
from satlib.experiments import Table, Row, Budget, run_table
from satlib.train import methods, Original
steps = Path(sys.argv[1]) / 'steps.txt'
@methods.register('_counted')
class Counted(Original):
    name = '_counted'
    def loss(self, model, b, ctx):
        with open(steps, 'a') as f: f.write(f"{ctx.epoch}\\n")
        time.sleep(1)   # (slow enough for the two processes to meet)
        return super().loss(model, b, ctx)
t = Table('twice_t', 'one run', [Row('A', '_counted')], dict(tiny=Budget(
    'builtin', dict(n=64), width=0.125, train=dict(epochs=3, batch_size=64, eval_every=0), seeds=(0,))))
me = Path(sys.argv[1]) / sys.argv[2]; me.touch()
while not all((Path(sys.argv[1]) / w).exists() for w in 'ab'): time.sleep(0.01)   # both ready: they start together
print(run_table(t, 'tiny', root=sys.argv[1], device='cpu', verbose=False)['ran'])
''')
    ps = [subprocess.Popen([sys.executable, str(script), str(tmp_path), w], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=dict(os.environ, OMP_NUM_THREADS='1')) for w in 'ab']
    outs = [p.communicate(timeout=600) for p in ps]
    assert [p.returncode for p in ps] == [0, 0], outs
    assert (tmp_path / 'steps.txt').read_text().split() == ['1', '2', '3'], "the run was trained more than once"
    assert len(pd.read_csv(tmp_path / 'results' / 'twice_t' / 'tiny' / 'runs.csv')) == 1
