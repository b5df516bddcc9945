"The command line: every subcommand's help, a tiny train -> eval round trip, and one-line errors for bad input."
import json, os, signal, subprocess, sys, time
from pathlib import Path
import pytest, torch
from conftest import satlib_cmd, BIN

TINY = ['--dataset', 'builtin', '--data-arg', 'n=256', '--width', '0.125', '--batch-size', '64', '--no-progress', '--device', 'cpu']

@pytest.mark.parametrize('cmd', ['train', 'eval', 'saliency', 'demo'])
def test_help(cmd):
    r = satlib_cmd(cmd, '--help')
    assert 'usage: satlib ' + cmd in r.stdout and len(r.stdout) > 200

def test_train_then_eval(tmp_path):
    out = tmp_path / 'run'
    satlib_cmd('train', '--out', out, '--method', 'sat', '--epochs', '1', *TINY)
    info = json.loads((out / 'run.json').read_text())
    assert info['method'] == 'sat' and info['epochs_done'] == 1 and (out / 'checkpoint.pt').exists()
    log = [json.loads(l) for l in (out / 'log.jsonl').read_text().splitlines()]
    assert [r['epoch'] for r in log] == [1] and 0 < log[0]['train_loss'] < 5
    r = satlib_cmd('eval', out, '--eps', '1/255', '2/255', '--n', '64', '--device', 'cpu')
    assert 'pgd' in r.stdout
    import pandas as pd
    df = pd.read_csv(out / 'results.csv')
    assert list(df.attack) == ['none', 'pgd', 'pgd'] and (df.n == 64).all()
    assert df.accuracy.iloc[1] >= df.accuracy.iloc[2]    # larger eps, no higher accuracy (same starts)
    assert {'method', 'dataset', 'attack', 'eps', 'steps', 'accuracy', 'n', 'seed', 'epochs', 'device'} <= set(df.columns)

@pytest.mark.parametrize('args,msg', [
    (['--method', 'magic'], "unknown method 'magic'"),
    (['--model', 'resnet7'], "unknown model 'resnet7'"),
    (['--dataset', 'mnist9'], "unknown dataset 'mnist9'"),
    (['--method', 'pgd', '--arg', 'eps=8'], "write e.g. 8/255"),
    (['--method', 'noise', '--arg', 'eps=-0.5'], "outside [0, 1]"),
    (['--dataset', 'cifar10', '--data-root', '/no/such/folder'], "does not exist"),
    (['--opt', 'adamw'], "choose 'adam' or 'sgd'"),
])
def test_bad_input_fails_early(tmp_path, args, msg):
    base = [a for a in TINY]
    if '--dataset' in args: i = base.index('--dataset'); del base[i:i + 4]   # drop builtin and its n
    r = satlib_cmd('train', '--out', tmp_path / 'r', '--epochs', '1', *base, *args, check=False)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert msg in r.stderr and 'Traceback' not in r.stderr, r.stderr

def test_sat_needs_masks(tmp_path):
    "SAT with weak saliency on a dataset without masks says which datasets have them."
    from satlib.sat import SAT
    from satlib.data import TensorData
    from satlib.core import SatlibError
    td = TensorData(torch.zeros(4, 3, 8, 8, dtype=torch.uint8), [0, 1, 0, 1], None, name='cifar10-train')
    with pytest.raises(SatlibError, match=r"has none; use a dataset with masks \(builtin, tinyimagenet, flowers17, gtsrb, cub200\)"):
        SAT().setup(td, 'cpu')

def test_eval_missing_run(tmp_path):
    r = satlib_cmd('eval', tmp_path / 'nothing', check=False)
    assert r.returncode == 2 and 'not a finished satlib run' in r.stderr

def test_resume_after_kill(tmp_path):
    "Kill a training run mid-way (SIGKILL), resume it: the final weights equal an uninterrupted run's."
    args = ['--method', 'noise', '--epochs', '4', *TINY]
    full, cut = tmp_path / 'full', tmp_path / 'cut'
    satlib_cmd('train', '--out', full, *args)
    env = dict(os.environ, OMP_NUM_THREADS='1')
    p = subprocess.Popen([str(BIN / 'satlib'), 'train', '--out', str(cut), *args], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = cut / 'log.jsonl'
    t0 = time.time()
    while time.time() - t0 < 300:   # wait for the first epoch's checkpoint, then kill hard
        if log.exists() and log.read_text().count('\n') >= 1 and (cut / 'checkpoint.pt').exists(): break
        if p.poll() is not None: break
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL); p.wait()
    done = torch.load(cut / 'checkpoint.pt', weights_only=False)['epoch']
    assert done < 4, "the run finished before it could be killed; make it longer"
    satlib_cmd('train', '--out', cut, '--resume', *args)
    a = torch.load(full / 'checkpoint.pt', weights_only=False)['model']
    b = torch.load(cut / 'checkpoint.pt', weights_only=False)['model']
    for k in a: assert torch.equal(a[k], b[k]), k
    epochs = [json.loads(l)['epoch'] for l in (cut / 'log.jsonl').read_text().splitlines()]
    assert epochs == [1, 2, 3, 4], "the log holds each epoch once"
    assert not list(cut.glob('.*.tmp'))

def test_resume_refuses_changed_config(tmp_path):
    "A refused resume changes no file of the run: run.json keeps its final record."
    out = tmp_path / 'r'
    satlib_cmd('train', '--out', out, '--epochs', '1', *TINY)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    r = satlib_cmd('train', '--out', out, '--resume', '--epochs', '2', '--lr', '0.01', *TINY, check=False)
    assert r.returncode == 2 and 'configuration changed' in r.stderr
    r = satlib_cmd('train', '--out', out, '--resume', '--epochs', '2', '--stem', 'imagenet', *TINY, check=False)
    assert r.returncode == 2 and "holds a different run {'stem'" in r.stderr
    r = satlib_cmd('train', '--out', out, '--epochs', '1', *TINY, check=False)
    assert r.returncode == 2 and '--resume' in r.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert json.loads((out / 'run.json').read_text())['final']['epoch'] == 1

def test_resume_needs_a_checkpoint(tmp_path):
    r = satlib_cmd('train', '--out', tmp_path / 'r', '--resume', '--epochs', '1', *TINY, check=False)
    assert r.returncode == 2 and 'nothing to resume' in r.stderr and not (tmp_path / 'r').exists()

def test_nan_loss_stops_with_clear_error(tmp_path):
    out = tmp_path / 'r'
    r = satlib_cmd('train', '--out', out, '--epochs', '2', '--lr', '1e30', '--opt', 'sgd', *TINY, check=False)
    assert r.returncode == 2 and ('loss is nan' in r.stderr.lower() or 'loss is inf' in r.stderr.lower() or 'loss is -inf' in r.stderr.lower()), r.stderr
