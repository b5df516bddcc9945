"Visible work and the plug-in points, from the shell: progress lines, `satlib plot`, `satlib methods`, defaults in --help, one's own dataset."
import json, os, subprocess, sys
from pathlib import Path
import pytest
from conftest import satlib_cmd, ROOT

TINY = ['--data-arg', 'n=64', '--width', '0.125', '--batch-size', '32', '--device', 'cpu']

@pytest.fixture(scope='module')
def run(tmp_path_factory):
    "A two-epoch run trained with progress forced on (stderr is a pipe here, so it is off by default)."
    out = tmp_path_factory.mktemp('vis') / 'run'
    r = satlib_cmd('train', '--out', out, '--epochs', '2', *TINY, env=dict(SATLIB_PROGRESS='1'))
    return out, r

def test_training_prints_one_line_per_epoch(run):
    out, r = run
    lines = [l for l in r.stderr.replace('\r', '\n').splitlines() if ': train loss' in l]
    assert [l.split(':')[0] for l in lines] == ['original epoch 1/2', 'original epoch 2/2'], r.stderr
    assert 'test acc' in lines[-1] and json.loads(r.stdout.splitlines()[0])['epoch'] == 2

def test_no_progress_is_silent(tmp_path):
    r = satlib_cmd('train', '--out', tmp_path / 'q', '--epochs', '1', '--no-progress', *TINY, env=dict(SATLIB_PROGRESS='1'))
    assert r.stderr == '', r.stderr
    r = satlib_cmd('train', '--out', tmp_path / 'q2', '--epochs', '1', *TINY)   # a pipe, no $SATLIB_PROGRESS: quiet
    assert r.stderr == '', r.stderr

def test_eval_shows_progress(run):
    out, _ = run
    r = satlib_cmd('eval', out, '--eps', '1/255', '--n', '32', '--device', 'cpu', '--progress')
    assert 'evaluate builtin-test' in r.stderr and 'pgd' in r.stdout, r.stderr

def test_plot(run, tmp_path):
    out, _ = run
    r = satlib_cmd('plot', out, '--out', tmp_path / 'c.png')
    assert (tmp_path / 'c.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' and 'c.png' in r.stdout
    r = satlib_cmd('plot', tmp_path / 'none', check=False)
    assert r.returncode == 2 and r.stderr.startswith('satlib plot: error: no training log at') and r.stderr.count('\n') == 1

def test_methods_and_help_defaults():
    r = satlib_cmd('methods')
    names = [l.split(':')[0] for l in r.stdout.splitlines() if not l.startswith(' ')]
    assert {'original', 'noise', 'pgd', 'sat', 'trades', 'art'} <= set(names), names
    assert 'eps0=8/255' in r.stdout
    r = satlib_cmd('train', '--help')
    assert '(default: 128)' in r.stdout and '(default: adam)' in r.stdout and 'tv:NAME' in r.stdout

@pytest.mark.parametrize('args,msg', [
    (['--method', 'sat', '--arg', 'bogus=1'], "method 'sat' has no option bogus; its options are: alpha, eps0, saliency"),
    (['--arg', 'eps=8'], "method 'original' has no option eps; its options are: (none)"),
    (['--model', 'tv:resnet1'], "unknown torchvision architecture 'resnet1'"),
])
def test_unknown_options_one_line(tmp_path, args, msg):
    r = satlib_cmd('train', '--out', tmp_path / 'r', '--epochs', '1', *TINY, *args, check=False)
    assert r.returncode == 2 and msg in r.stderr and r.stderr.count('\n') == 1, r.stderr
    assert not (tmp_path / 'r').exists()

MINE = '''
import sys, torch
from torch.utils.data import Dataset
from satlib.data import datasets
class Stripes(Dataset):
    classes = ['horizontal', 'vertical']
    def __init__(self, n): self.n = n
    def __len__(self): return self.n
    def __getitem__(self, i):
        s = (torch.arange(16) // 2) % 2 * 200
        x = (s.view(16, 1) if i % 2 == 0 else s.view(1, 16)).expand(3, 16, 16).to(torch.uint8)
        return x, i % 2
datasets.register('stripes')(lambda root=None, split='train', n=32: Stripes(n))
from satlib.cli import main
main(sys.argv[1:])
'''

def test_own_dataset_from_a_wrapper_script(tmp_path):
    "A script that registers a dataset and calls `satlib.cli.main` trains and evaluates it, streamed, by name."
    script = tmp_path / 'mine.py'; script.write_text(MINE)
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get('PYTHONPATH', '')]))
    go = lambda *a: subprocess.run([sys.executable, str(script), *map(str, a)], capture_output=True, text=True, env=env, timeout=600)
    r = go('train', '--out', tmp_path / 'r', '--dataset', 'stripes', '--data-arg', 'stream=true', '--data-arg', 'n=32',
           '--width', '0.125', '--batch-size', '16', '--epochs', '1', '--device', 'cpu')
    assert r.returncode == 0, r.stderr
    info = json.loads((tmp_path / 'r' / 'run.json').read_text())
    assert (info['dataset'], info['num_classes'], info['n_train']) == ('stripes', 2, 32)
    r = go('eval', tmp_path / 'r', '--eps', '1/255', '--device', 'cpu')
    assert r.returncode == 0 and 'pgd' in r.stdout, r.stderr
