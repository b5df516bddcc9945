"""Every TRADES and SAT-family method trains a few steps from the command line (`satlib train --method NAME
--arg k=v`) on the built-in data, with a teacher's saliency store where the method takes one."""
import json
import pytest, torch
from conftest import satlib_cmd, built

TINY = ['--dataset', 'builtin', '--data-arg', 'n=128', '--width', '0.125', '--epochs', '1', '--max-steps', '2', '--batch-size', '64',
        '--no-progress', '--device', 'cpu']

@pytest.fixture(scope='module')
def stores(tmp_path_factory):
    "Two saliency stores of the CLI's training data (n=128): GBP and Grad-CAM++ boxes of a small teacher."
    from satlib.datasets import get_tensors
    from satlib.models import get_model
    from satlib.store import build_store
    d = tmp_path_factory.mktemp('stores')
    data = get_tensors('builtin', None, 'train', n=128)
    torch.manual_seed(0); teacher = get_model('resnet10', data.num_classes, width=0.125).eval()
    build_store(teacher, data, 'guided_backprop', d / 'gbp.pt')
    build_store(teacher, data, 'gradcam_pp_box', d / 'box.pt', encoding='sign1')
    return d

def train(out, method, args, extra=()):
    "Run `satlib train` with the tiny settings; return run.json."
    satlib_cmd('train', '--out', out, '--method', method, *[a for kv in args for a in ('--arg', kv)], *TINY, *extra)
    info = json.loads((out / 'run.json').read_text())
    assert info['method'] == method and info['epochs_done'] == 1 and (out / 'checkpoint.pt').exists()
    assert 0 < info['final']['train_loss'] < 50 and info['final']['step'] == 2
    return info

def test_methods_listed():
    "The command line knows every method of this part (satlib.cli imports satlib.runs, which imports every method chapter)."
    out = satlib_cmd('train', '--help').stdout.replace('\n', ' ')
    for m in ['trades', 'sat_store', 'pgd_sat', 'trades_sat']: assert m in out, f"{m} is not registered in `satlib train`"

@pytest.mark.parametrize('method,args', [
    ('trades', []),
    ('trades', ['noise=8/255', 'beta=1', 'steps=5', 'step_size=2/255']),
    ('sat_store', ['store=mask', 'control=shuffle']),
    ('sat_store', ['store=mask', 'control=flip']),
    ('sat_store', ['store=mask', 'alpha=1']),
    ('pgd_sat', ['store=mask']),
    ('pgd_sat', ['store=mask', 'per=example', 'p_sat=0.3', 'steps=2']),
    ('trades_sat', ['store=mask', 'steps=2']),
])
def test_method_trains(tmp_path, method, args):
    info = train(tmp_path / 'run', method, args)
    want, default = built(method, args)
    assert info['method_repr'] == want, (info['method_repr'], want)   # the run trained the method these options build
    assert not args or default is None or want != default             # ... and the options changed it

@pytest.mark.parametrize('method,args', [
    ('sat_store', ['store={gbp}']),
    ('sat_store', ['store={gbp}', 'store2={box}']),
    ('sat_store', ['store={gbp}', 'store2=mask', 'mix=0.3', 'mix_per=epoch']),
    ('pgd_sat', ['store={gbp}', 'steps=2']),
    ('trades_sat', ['store={box}', 'steps=2', 'per=example']),
])
def test_store_method_trains(tmp_path, stores, method, args):
    args = [a.format(gbp=stores / 'gbp.pt', box=stores / 'box.pt') for a in args]
    info = train(tmp_path / 'run', method, args, extra=['--no-augment'])
    want, _ = built(method, args)
    assert info['method_repr'] == want, (info['method_repr'], want)   # every store, mix and per option reached the method

def test_store_with_loader_augmentation_fails(tmp_path, stores):
    "Stored maps are served by index; the loader's augmentation would misalign them: refused, with the fix."
    r = satlib_cmd('train', '--out', tmp_path / 'r', '--method', 'sat_store', '--arg', f"store={stores / 'gbp.pt'}", *TINY, check=False)
    assert r.returncode == 2 and '--no-augment' in r.stderr and 'Traceback' not in r.stderr

@pytest.mark.parametrize('args,msg', [
    (['--method', 'sat_store'], 'store=mask'),
    (['--method', 'pgd_sat', '--arg', 'store=/no/such/store.pt'], 'no saliency store'),
    (['--method', 'sat_store', '--arg', 'store=mask', '--arg', 'control=random'], 'alpha=1'),
    (['--method', 'trades', '--arg', 'eps=8'], 'write e.g. 8/255'),
    (['--method', 'pgd_sat', '--arg', 'store=mask', '--arg', 'per=pixel'], 'per in'),
])
def test_bad_arguments_fail_early(tmp_path, args, msg):
    r = satlib_cmd('train', '--out', tmp_path / 'r', *args, *TINY, check=False)
    assert r.returncode == 2 and msg in r.stderr and 'Traceback' not in r.stderr, r.stderr
