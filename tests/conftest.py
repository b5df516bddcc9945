import os, sys, subprocess, importlib
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

def satlib_cmd(*args, env=None, check=True, timeout=600, **kw):
    "Run the `satlib` console script; return the CompletedProcess."
    e = dict(os.environ, OMP_NUM_THREADS='1', **(env or {}))
    r = subprocess.run([str(BIN / 'satlib'), *map(str, args)], capture_output=True, text=True, env=e, timeout=timeout, **kw)
    if check and r.returncode != 0: raise AssertionError(f"satlib {' '.join(map(str, args))} failed:\n{r.stdout}\n{r.stderr}")
    return r

def need(module:str, extra:str='peers'):
    """`module` imported, or the test (or the whole test file, at its top) skipped naming the satlib extra that installs it.
    In CI (`CI` set, as `.ci/run` does) it fails instead: `.ci/setup` installs every extra, so a miss there is a broken install."""
    __tracebackhide__ = True   # pytest reports the caller's line
    try: return importlib.import_module(module)
    except ImportError as e:   # the module itself missing, or one it needs (or a broken install)
        top = module.split('.')[0]
        why = f"{top} is not installed" if (e.name or '').split('.')[0] == top else f"{module} does not import ({e})"
    msg = f"{why}: pip install -e '.[{extra}]'"
    if os.environ.get('CI'): pytest.fail(f"{msg} (CI installs every extra: a broken install)", pytrace=False)
    pytest.skip(msg, allow_module_level=True)

@pytest.fixture
def satlib():
    return satlib_cmd

def built(method:str, args:list[str]) -> tuple[str, str|None]:
    "`repr` of the method the Python API builds with these `--arg` options, and with none (None where it needs some)."
    import satlib.runs   # registers every method, as the command does
    from satlib.cli import parse_kv
    from satlib.core import SatlibError
    from satlib.train import make_method
    try: default = repr(make_method(method, {}))
    except SatlibError: default = None
    return repr(make_method(method, parse_kv(args))), default
