"`nbs/tables/device_tree.sh`: the zoo leaves a device call's working tree and comes back, and nothing else changes."
import shutil, subprocess
from pathlib import Path
import pytest

SCRIPT = Path(__file__).resolve().parents[1]/'nbs'/'tables'/'device_tree.sh'
pytestmark = pytest.mark.skipif(shutil.which('git') is None, reason='needs git')

def sh(*args, cwd, check=True):
    return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, check=check)

@pytest.fixture
def repo(tmp_path):
    sh('git', 'init', '-q', cwd=tmp_path)
    for k, v in (('user.name', 't'), ('user.email', 't@t')): sh('git', 'config', k, v, cwd=tmp_path)
    (tmp_path/'zoo'/'t'/'cpu').mkdir(parents=True); (tmp_path/'zoo'/'t'/'cpu'/'a.pt').write_bytes(b'0' * 3_000_000)
    (tmp_path/'README.md').write_text('x\n')
    sh('git', 'add', '.', cwd=tmp_path); sh('git', 'commit', '-qm', 'init', cwd=tmp_path)
    (tmp_path/'.git'/'info').mkdir(exist_ok=True); (tmp_path/'.git'/'info'/'exclude').write_text('# mine\n')
    return tmp_path

def travelling(repo):   # what the device tool sends: tracked files and untracked files that are not ignored
    out = sh('git', 'ls-files', cwd=repo).stdout.split() + sh('git', 'ls-files', '--others', '--exclude-standard', cwd=repo).stdout.split()
    return sorted(out)

def test_aside_and_back(repo):
    before, excl = sh('git', 'ls-files', '-s', cwd=repo).stdout, (repo/'.git'/'info'/'exclude').read_text()
    r = sh('bash', str(SCRIPT), 'aside', cwd=repo)
    assert travelling(repo) == ['README.md'] and 'to travel: 0.0 MiB' in r.stdout
    assert (repo/'zoo'/'t'/'cpu'/'a.pt').stat().st_size == 3_000_000   # still on disk
    assert 'already aside' in sh('bash', str(SCRIPT), 'aside', cwd=repo).stdout
    (repo/'zoo'/'t'/'gpu').mkdir(); (repo/'zoo'/'t'/'gpu'/'b.pt').write_bytes(b'1')   # what a device call brings back
    sh('bash', str(SCRIPT), 'back', cwd=repo)
    assert sh('git', 'ls-files', '-s', cwd=repo).stdout == before and (repo/'.git'/'info'/'exclude').read_text() == excl
    assert sh('git', 'status', '--porcelain', cwd=repo).stdout.split() == ['??', 'zoo/t/gpu/']   # new models show, to be committed
    assert 'not aside' in sh('bash', str(SCRIPT), 'back', cwd=repo).stdout

def test_refusals(repo, tmp_path_factory):
    (repo/'zoo'/'t'/'cpu'/'new.pt').write_bytes(b'2')
    r = sh('bash', str(SCRIPT), 'aside', cwd=repo, check=False)
    assert r.returncode == 1 and 'commit them first' in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert 'zoo/t/cpu/a.pt' in travelling(repo) and (repo/'.git'/'info'/'exclude').read_text() == '# mine\n'   # refused: nothing changed
    r = sh('bash', str(SCRIPT), 'aside', cwd=tmp_path_factory.mktemp('empty'), check=False)
    assert r.returncode == 2 and 'repository root' in r.stderr
    r = sh('bash', str(SCRIPT), 'sideways', cwd=repo, check=False)
    assert r.returncode == 2 and 'usage' in r.stderr

RUN = SCRIPT.parent/'device_run.sh'

def test_device_run_returns_parts_under_the_tools_file_limit(tmp_path):
    "`device_run.sh` brings back the results, the zoo models this call made in parts of at most SATLIB_DEVICE_PART_BYTES (the device tool returns no file over 16 MiB), and only unfinished run folders."
    import os, sys, tarfile
    src = SCRIPT.parents[2]
    shutil.copytree(src/'satlib', tmp_path/'satlib', ignore=shutil.ignore_patterns('__pycache__'))
    shutil.copy(src/'settings.ini', tmp_path); (tmp_path/'nbs'/'tables').mkdir(parents=True)
    stale = tmp_path/'runs'/'tables'/'sat_table2_builtin'/'tiny'/'0123456789ab'; stale.mkdir(parents=True); (stale/'run.json').write_text('{}')
    env = dict(os.environ, OUT=str(tmp_path/'out'), SATLIB_DEVICE_PART_BYTES='1', PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    env.pop('SATLIB_TABLES', None)
    r = subprocess.run(['bash', str(RUN), 'sat_table2_builtin', 'tiny', '2', '--', '--rows', 'Original', 'PGD', '--threads', '1'],
                       cwd=tmp_path, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    names = lambda t: sorted(m.name for m in tarfile.open(t).getmembers() if m.isfile())
    out = tmp_path/'out'
    assert all(n.startswith('nbs/tables/results/sat_table2_builtin/tiny/') for n in names(out/'tables-sat_table2_builtin-tiny.tar'))
    parts = sorted(out.glob('zoo-sat_table2_builtin-tiny-*.tar'))
    assert [names(p) for p in parts] == [['zoo/sat_table2_builtin/tiny/original-s0.pt'], ['zoo/sat_table2_builtin/tiny/pgd-s0.pt']]   # one model a part at 1 byte
    assert names(out/'runs-sat_table2_builtin-tiny.tar') == ['runs/tables/sat_table2_builtin/tiny/0123456789ab/run.json']   # the finished runs' folders stay there
