"""Every method of ART, the regularisers and sparse fine-tuning trains a few steps from the command line
(`satlib train --method NAME --arg k=v`) on the built-in data, and writes a run folder that loads."""
import json, subprocess, sys
import pytest, torch
from conftest import satlib_cmd, built

METHODS = {'art', 'jacobian', 'pgd_l2', 'ig_norm', 'ig_sum_norm', 'distill_teacher', 'distill', 'finetune_sparse'}

@pytest.fixture(scope='module', autouse=True)
def cli_knows_the_methods():
    "The `satlib` command registers these methods (satlib.cli must import their modules)."
    r = subprocess.run([sys.executable, '-c', "import satlib.cli, satlib.train as t; print(' '.join(t.methods))"],
                       capture_output=True, text=True)
    missing = METHODS - set(r.stdout.split())
    assert not missing, (f"`satlib train` does not know {sorted(missing)}: add `import satlib.art, satlib.regularizers, "
                         f"satlib.pruning` next to `import satlib.sat` in nbs/10_cli.ipynb\n{r.stderr}")

TINY = ['--dataset', 'builtin', '--data-arg', 'n=128', '--width', '0.125', '--epochs', '1', '--max-steps', '2',
        '--no-progress', '--device', 'cpu']

def train(out, method, *args):
    "Run `satlib train` with the tiny settings; return run.json."
    satlib_cmd('train', '--out', out, '--method', method, *[a for kv in args for a in ('--arg', kv)], *TINY)
    info = json.loads((out / 'run.json').read_text())
    assert info['method'] == method and info['epochs_done'] == 1 and (out / 'checkpoint.pt').exists()
    assert 0 < info['final']['train_loss'] < 50
    return info

@pytest.mark.parametrize('method,args', [
    ('art', []),
    ('art', ['variant=code']),
    ('art', ['attack=attr+ce']),
    ('art', ['objective=triplet_min']),
    ('art', ['objective=cos']),
    ('art', ['objective=l2']),
    ('art', ['objective=eq2', 'space=pixel']),
    ('jacobian', ['lam=0.25']),   # options other than the defaults, so that a dropped one shows
    ('pgd_l2', ['eps=1.5', 'steps=3']),
    ('ig_norm', ['lam=1.0', 'steps=1', 'ig_steps=2', 'reg_ig_steps=2']),
    ('ig_sum_norm', ['beta=0.5', 'steps=1', 'ig_steps=2', 'reg_ig_steps=2']),
    ('distill_teacher', ['T=50']),
])
def test_method_trains(tmp_path, method, args):
    info = train(tmp_path / 'run', method, *args)
    want, default = built(method, args)
    assert info['method_repr'] == want, (info['method_repr'], want)   # the run trained the method these options build
    assert not args or want != default                                # ... and the options changed it
    if method == 'art':   # the run says which ART variant it used
        assert ("variant='code'" if 'variant=code' in args else "variant='paper'") in info['method_repr']

def test_distillation_from_teacher_run(tmp_path):
    train(tmp_path / 'teacher', 'distill_teacher')
    info = train(tmp_path / 'student', 'distill', f"teacher={tmp_path / 'teacher'}")
    assert info['method_args']['teacher'] == str(tmp_path / 'teacher')
    # a teacher trained without temperature is refused, with the fix in the message
    train(tmp_path / 'plain', 'original')
    r = satlib_cmd('train', '--out', tmp_path / 'bad', '--method', 'distill', '--arg', f"teacher={tmp_path / 'plain'}",
                   *TINY, check=False)
    assert r.returncode == 2 and '--method distill_teacher' in r.stderr and 'Traceback' not in r.stderr

def test_finetune_sparse_from_base_run(tmp_path):
    from satlib.train import load_run
    from satlib.pruning import sparsity
    train(tmp_path / 'dense', 'original')
    train(tmp_path / 'sparse', 'finetune_sparse', f"base={tmp_path / 'dense'}", 'sparsity=0.95')
    net, _ = load_run(tmp_path / 'sparse')
    dense, _ = load_run(tmp_path / 'dense')
    assert abs(sparsity(net) - 0.95) < 1e-4 and sparsity(dense) == 0
    # the kept weights were trained (fine-tuning moved them away from the dense values)
    moved = [(a != b).any().item() for a, b in zip(net.parameters(), dense.parameters())]
    assert any(moved)
    # gradual pruning: after epoch 1 of a 2-epoch ramp the sparsity is 0.95 * (1 - (1 - 1/2)^3)
    train(tmp_path / 'ramp', 'finetune_sparse', f"base={tmp_path / 'dense'}", 'ramp=2')
    assert abs(sparsity(load_run(tmp_path / 'ramp')[0]) - 0.95 * (1 - 0.5 ** 3)) < 1e-4
    # a sparse adversarially fine-tuned teacher: the wrapper passes its extra args to the inner method
    info = train(tmp_path / 'sparse_pgd', 'finetune_sparse', f"base={tmp_path / 'dense'}", 'method=pgd', 'steps=2')
    assert "method='pgd'" in info['method_repr'] and abs(sparsity(load_run(tmp_path / 'sparse_pgd')[0]) - 0.95) < 1e-4
    # a base run of another architecture is refused early
    r = satlib_cmd('train', '--out', tmp_path / 'bad', '--method', 'finetune_sparse', '--arg', f"base={tmp_path / 'dense'}",
                   *[a if a != '0.125' else '0.25' for a in TINY], check=False)
    assert r.returncode == 2 and 'pass the same --model/--width/--stem' in r.stderr
