"""satlib's PGD (l-inf, l2) and FGSM against torchattacks on the same trained model and data.

Where the algorithms coincide (no random start) the adversarial examples must be the same; with
random starts (drawn differently by the two libraries) robust accuracy must agree within 0.5
points. The model is a small CNN trained for a few seconds on 16-pixel BuiltinShapes.
"""
import pytest, torch
from torch import nn
from conftest import need
torchattacks = need('torchattacks')
from satlib.attacks import PGD, FGSM
from satlib.data import BuiltinShapes
from satlib.train import fit, TrainConfig, Original

N = 1024   # examples: 0.5 points = 5 examples

def tiny_cnn(w=16, K=10, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(w, 2*w, 3, padding=1), nn.BatchNorm2d(2*w), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(2*w, 4*w, 3, padding=1), nn.BatchNorm2d(4*w), nn.ReLU(),
                         nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(4*w, K))

@pytest.fixture(scope='module')
def setup():
    tr = BuiltinShapes(2000, size=16, seed=0, spurious=0.).tensors()
    te = BuiltinShapes(N, size=16, split='test', seed=0).tensors()
    model = tiny_cnn()
    fit(model, Original(), tr, TrainConfig(epochs=8, batch_size=64, lr=1e-2, augment=False, progress=False, eval_every=0), device='cpu')
    model.eval()
    x, y = te.images.float() / 255, te.labels
    return model, x, y

def acc(model, x, y):
    with torch.no_grad(): return 100 * (model(x).argmax(1) == y).float().mean().item()

def same(a, b, tol=1e-6):
    "Fraction of coordinates that differ (sign ties of float-noise gradients may flip a few)."
    return ((a - b).abs() > tol).float().mean().item()

def same_l2(a, b, eps):
    """Fraction of examples whose l2 attacks differ by more than 1% of eps. l2 steps are not quantised by a
    sign, so float rounding differences survive the steps (torchattacks adds 1e-10 to each norm, satlib clamps
    it; satlib runs the model on channels-last inputs on CPU, another convolution algorithm): the median example
    differs by ~1e-6 eps, and 1-2 of 1024 by more than 1% of eps."""
    return ((a - b).flatten(1).norm(dim=1) > 0.01 * eps).float().mean().item()

def test_model_is_trained(setup):
    model, x, y = setup
    assert acc(model, x, y) > 35

def test_fgsm_matches(setup):
    model, x, y = setup
    eps = 2/255
    ours, theirs = FGSM(model, eps)(x, y), torchattacks.FGSM(model, eps=eps)(x, y)
    assert same(ours, theirs) < 1e-4
    assert abs(acc(model, ours, y) - acc(model, theirs, y)) <= 100 / N   # at most one tie-broken example

@pytest.mark.parametrize('norm, eps, alpha', [('linf', 2/255, 0.5/255), ('l2', 0.25, 0.05)])
def test_pgd_no_random_start_matches(setup, norm, eps, alpha):
    model, x, y = setup
    ta = torchattacks.PGD(model, eps=eps, alpha=alpha, steps=10, random_start=False) if norm == 'linf' else \
         torchattacks.PGDL2(model, eps=eps, alpha=alpha, steps=10, random_start=False)
    ours = PGD(model, eps=eps, steps=10, step_size=alpha, norm=norm, random_start=False)(x, y)
    theirs = ta(x, y)
    assert same(ours, theirs, 1e-5) < 1e-3 if norm == 'linf' else same_l2(ours, theirs, eps) < 0.01
    assert abs(acc(model, ours, y) - acc(model, theirs, y)) <= 0.5

@pytest.mark.parametrize('norm, eps, alpha', [('linf', 2/255, 0.5/255), ('l2', 0.25, 0.05)])
def test_pgd_random_start_same_seed_matches(setup, norm, eps, alpha):
    "Both draw the start from the global RNG in the same order: with one seed, the same examples."
    model, x, y = setup
    ta = torchattacks.PGD(model, eps=eps, alpha=alpha, steps=10) if norm == 'linf' else \
         torchattacks.PGDL2(model, eps=eps, alpha=alpha, steps=10)
    torch.manual_seed(7); ours = PGD(model, eps=eps, steps=10, step_size=alpha, norm=norm)(x, y)
    torch.manual_seed(7); theirs = ta(x, y)
    assert same(ours, theirs, 1e-5) < 1e-3 if norm == 'linf' else same_l2(ours, theirs, eps) < 0.01
    assert abs(acc(model, ours, y) - acc(model, theirs, y)) <= 0.5

@pytest.mark.parametrize('norm, eps, alpha', [('linf', 2/255, 0.5/255), ('linf', 4/255, 1/255), ('l2', 0.25, 0.05)])
def test_pgd_random_start_accuracy_agrees(setup, norm, eps, alpha):
    "Different random starts: compare robust accuracy, averaged over 3 seeds each, within 0.5 points."
    model, x, y = setup
    a_ours, a_theirs = [], []
    for s in range(3):
        torch.manual_seed(100 + s)
        a_ours.append(acc(model, PGD(model, eps=eps, steps=10, step_size=alpha, norm=norm)(x, y), y))
        torch.manual_seed(200 + s)
        ta = torchattacks.PGD(model, eps=eps, alpha=alpha, steps=10) if norm == 'linf' else \
             torchattacks.PGDL2(model, eps=eps, alpha=alpha, steps=10)
        a_theirs.append(acc(model, ta(x, y), y))
    mo, mt = sum(a_ours) / 3, sum(a_theirs) / 3
    assert 0 < mt < acc(model, x, y), "choose an eps where the attack is neither useless nor total"
    assert abs(mo - mt) <= 0.5, (a_ours, a_theirs)

def test_mode_and_params_untouched(setup):
    model, x, y = setup
    model.train()
    try:
        PGD(model, eps=2/255, steps=2)(x[:8], y[:8])
        assert model.training and all(p.requires_grad for p in model.parameters())
    finally: model.eval()
