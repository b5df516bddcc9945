import os, sys, subprocess
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

@pytest.fixture
def satlib():
    return satlib_cmd
