"""On a saved model: does the eval-mode attack raise the loss that training minimises (train mode)? eval/train gradient cosine."""
import sys, json, torch, torch.nn.functional as F
torch.set_num_threads(1)
from satlib.datasets import get_tensors
from satlib.models import get_model
from satlib.art import ART, ARTAttack, attr_loss, attr_grads, attr_space, cos_dist, batch_stats
path, size, width = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
d = get_tensors('cifar10-jpeg', None, 'train')
g = torch.Generator().manual_seed(0); d = d.subset(torch.randperm(len(d), generator=g)[:2048])
x = d.images.float()
if size != 32: x = F.interpolate(x, size=size, mode='area')
x = x.round().clamp(0, 255) / 255; y = d.labels
mean, std = x.mean((0, 2, 3)).tolist(), x.std((0, 2, 3)).tolist()
m = get_model('resnet10', 10, width=width, mean=mean, std=std); m.load_state_dict(torch.load(path))
bufs = {k: v.clone() for k, v in m.named_buffers()}
def restore():
    with torch.no_grad():
        for k, v in m.named_buffers(): v.copy_(bufs[k])
res = {}
for i in range(4):
    xb, yb = x[64*i:64*(i+1)], y[64*i:64*(i+1)]
    m.eval(); ge, _, _ = attr_grads(m, xb, yb, None, create_graph=False)
    m.train(); gt, _, _ = attr_grads(m, xb, yb, None, create_graph=False); restore()
    with batch_stats(m): gb, _, _ = attr_grads(m, xb, yb, None, create_graph=False)
    r = dict(cos_eval_train=(1 - cos_dist(ge, gt)).mean().item(), cos_batchstats_train=(1 - cos_dist(gb, gt)).mean().item(),
             cos_eval_batchstats=(1 - cos_dist(ge, gb)).mean().item())
    torch.manual_seed(i)
    xr = (xb + (torch.rand_like(xb) * 2 - 1) * 8/255).clamp(0, 1)
    torch.manual_seed(i); xe = ARTAttack(m, bn='running')(xb, yb)
    torch.manual_seed(i); xs = ARTAttack(m, bn='batch')(xb, yb)
    for name, xx in (('clean', xb), ('rand', xr), ('att_eval', xe), ('att_batch', xs)):
        m.train(); r[f'Lattr_train@{name}'] = attr_loss(m, xx, yb, create_graph=False).mean().item()
        with torch.no_grad(): o = m(xx); r[f'ce_train@{name}'] = F.cross_entropy(o, yb).item()
        restore(); m.eval()
        r[f'Lattr_eval@{name}'] = attr_loss(m, xx, yb, create_graph=False).mean().item()
        with batch_stats(m): r[f'Lattr_bstats@{name}'] = attr_loss(m, xx, yb, create_graph=False).mean().item()
    for k, v in r.items(): res.setdefault(k, []).append(v)
for k, v in res.items(): print(f'{k:28s} {sum(v)/len(v):.4f}')
