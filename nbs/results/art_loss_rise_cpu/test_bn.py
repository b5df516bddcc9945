# the notebook test (nbs/17_art.ipynb, after `batch_stats`): BatchNorm in train mode couples the examples of a batch
import time; _t0 = time.time()
import torch, torch.nn.functional as F
from torch import nn
from fastcore.test import test_eq, test_close
from satlib.models import softplus
from satlib.art import ART, ARTAttack, attr_grads, attr_loss, batch_stats
torch.set_num_threads(1)
_t0 = time.time()

torch.manual_seed(0)
_bnn = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2, padding=1),
                     nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 3)).double().train()
_xb, _yb = torch.rand(8, 3, 8, 8, dtype=torch.float64), torch.randint(0, 3, (8,))

def _own_grad(net):
    "d f_{y_0}(x_0) / d x, the Softplus network's gradient of example 0's score w.r.t. the whole batch [B, ...]."
    x = _xb.clone().requires_grad_(True)
    with softplus(net, 50.): out = net(x)[0, _yb[0]]
    return torch.autograd.grad(out, x)[0]

_bufs = [b.clone() for b in _bnn.buffers()]
_g = _own_grad(_bnn)                           # train mode: example 0's score depends on the other examples
assert _g[1:].abs().max() > 1e-3 * _g[0].abs().max()
_gy = attr_grads(_bnn, _xb, _yb, None, create_graph=False)[0]
assert (_gy[0] - _g[0]).abs().max() > 1e-3 * _g[0].abs().max()   # so attr_grads' g^y of example 0 is not its own gradient
for _b in _bnn.buffers(): _b.zero_()           # with batch_stats the running statistics play no part...
with batch_stats(_bnn):
    _g = _own_grad(_bnn); _gy = attr_grads(_bnn, _xb, _yb, None, create_graph=False)[0]
test_eq(_g[1:].abs().max().item(), 0.)         # ...each example's score is its own,
test_close(_gy[0], _g[0], eps=1e-10)           # ...g^y is the per-example gradient,
assert all((b == 0).all() for b in _bnn.buffers())   # ...and the running statistics are not updated
with torch.no_grad():
    for _b, _v in zip(_bnn.buffers(), _bufs): _b.copy_(_v)

# ART(bn='batch'): the attack ascends the very L_attr that training descends; bn='mixed' (eval-mode attack) does not
_xt = (_xb + (torch.rand(_xb.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 1) * 8/255).clamp(0, 1)
for _bn, _same in (('batch', True), ('mixed', False)):
    _art = ART(bn=_bn)
    _bnn.eval(); _l_attack = _art.attacker(_bnn).loss(_xt, _xb, _yb).mean(); _bnn.train()   # what the attack ascends (it runs in eval mode)
    _l_train = _art.attr(_bnn, _xb, _xt, _yb)                      # what training descends (train mode)
    assert torch.isclose(_l_attack, _l_train, rtol=1e-9, atol=0).item() == _same, (_bn, _l_attack.item(), _l_train.item())
print(f'{time.time() - _t0:.2f}s')
