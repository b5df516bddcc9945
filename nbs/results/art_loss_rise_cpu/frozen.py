"""Weights frozen (lr = 0) at a mid-training checkpoint; ART's loss step after step on the same batches and random starts.
'update': the train-mode forwards update the running statistics, as in training (they catch up with the frozen weights);
'fixed': the running statistics are put back after every step (they keep the checkpoint's lag). Paired per step."""
import sys, json, torch, torch.nn.functional as F
torch.set_num_threads(1)
from types import SimpleNamespace
from satlib.datasets import get_tensors
from satlib.data import TensorData, make_loader
from satlib.models import get_model
from satlib.art import ART
path, width, nsteps, bn = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
d = get_tensors('cifar10-jpeg', None, 'train')
g = torch.Generator().manual_seed(0); d = d.subset(torch.randperm(len(d), generator=g)[:4096])
x = F.interpolate(d.images.float(), size=16, mode='area')
tr = TensorData(x.round().clamp(0, 255).to(torch.uint8), d.labels, None, d.classes, d.name)
loader = make_loader(tr, 64, shuffle=True, augment=True, seed=123, device='cpu', drop_last=True); loader.set_epoch(1)
batches = [b for _, b in zip(range(nsteps), loader)]
m = get_model('resnet10', 10, width=width, mean=[0.]*3, std=[1.]*3)
art = ART(bn=bn); res = {}
for mode in ('fixed', 'update'):
    m.load_state_dict(torch.load(path)); m.train()
    for p in m.parameters(): p.requires_grad_(True)
    bufs = {k: v.clone() for k, v in m.named_buffers()}
    rows = []
    for i, b in enumerate(batches):
        torch.manual_seed(i)
        xt = art.perturb(m, b.x, b.y)
        la = art.attr(m, b.x, xt, b.y).item()
        with torch.no_grad(): out = m(xt); ce = F.cross_entropy(out, b.y).item()
        rows.append(dict(la=la, ce=ce))
        if mode == 'fixed':
            with torch.no_grad():
                for k, v in m.named_buffers(): v.copy_(bufs[k])
    res[mode] = rows
json.dump(res, open(path.replace('.pt', f'.frozen_{bn}.json'), 'w'))
for lo, hi in ((0, 5), (5, 20), (20, nsteps)):
    f = lambda mode, k: sum(r[k] for r in res[mode][lo:hi]) / (hi - lo)
    print(f"{bn} steps {lo}-{hi}: L_attr fixed {f('fixed','la'):.4f} update {f('update','la'):.4f} (diff {f('update','la')-f('fixed','la'):+.4f}); "
          f"CE fixed {f('fixed','ce'):.4f} update {f('update','ce'):.4f} (diff {f('update','ce')-f('fixed','ce'):+.4f})", flush=True)
