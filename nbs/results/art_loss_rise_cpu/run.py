"""Small-scale ART on CIFAR-10 through satlib.train.fit; logs per step CE, L_attr, grad norm; per epoch fit's record."""
import time, json, argparse, torch, satlib, torch.nn.functional as F
from contextlib import nullcontext
from satlib.datasets import get_tensors
from satlib.data import TensorData
from satlib.models import get_model
from satlib.art import ART, batch_stats
from satlib.train import TrainConfig, fit
from satlib.core import set_seed
p = argparse.ArgumentParser()
p.add_argument('--n', type=int, default=4096); p.add_argument('--size', type=int, default=16)
p.add_argument('--width', type=float, default=0.125); p.add_argument('--bs', type=int, default=64)
p.add_argument('--epochs', type=int, default=10); p.add_argument('--lr', type=float, default=0.1)
p.add_argument('--wd', type=float, default=5e-4); p.add_argument('--lam', type=float, default=0.5)
p.add_argument('--variant', default='mixed'); p.add_argument('--seed', type=int, default=0)
p.add_argument('--out', required=True); p.add_argument('--ckpt', action='store_true')
a = p.parse_args()
torch.set_num_threads(1)
def small(split, n):
    d = get_tensors('cifar10-jpeg', None, split)
    g = torch.Generator().manual_seed(0); d = d.subset(torch.randperm(len(d), generator=g)[:n])
    x = d.images.float()
    if a.size != 32: x = F.interpolate(x, size=a.size, mode='area')
    return TensorData(x.round().clamp(0, 255).to(torch.uint8), d.labels, None, d.classes, d.name)
tr, te = small('train', a.n), small('test', 1000)
mean, std = tr.stats()
set_seed(a.seed)
m = get_model('resnet10', 10, width=a.width, mean=mean, std=std)
steps = []
class Logged(ART):
    "ART with the variant's BatchNorm handling, logging CE and L_attr of every step."
    def perturb(self, model, x, y):
        if a.variant == 'trainattack':   # attack with batch statistics (train mode, gradient through them), running stats kept
            bufs = {k: v.clone() for k, v in model.named_buffers()}
            att = self.attacker(model)
            orig = att.loss
            def loss(xa, x0, y0):
                model.train(); return orig(xa, x0, y0)
            att.loss = loss
            xt = att(x, y)
            with torch.no_grad():
                for k, v in model.named_buffers(): v.copy_(bufs[k])
            return xt
        return super().perturb(model, x, y)
    def attr(self, model, x, xt, y):
        if a.variant == 'evalattr':
            was = model.training; model.eval()
            try: return super().attr(model, x, xt, y)
            finally: model.train(was)
        return super().attr(model, x, xt, y)
    def loss(self, model, b, ctx):
        xt = self.perturb(ctx.raw_model, b.x, b.y)
        la = self.attr(ctx.raw_model, b.x, xt, b.y)
        out = model(xt); ce = F.cross_entropy(out, b.y)
        steps.append(dict(step=ctx.step, epoch=ctx.epoch, ce=ce.item(), la=la.item(), acc=(out.argmax(1) == b.y).float().mean().item()))
        return ce + self.lam * la, out
bn = 'batch' if a.variant == 'batch' else 'mixed'
meth = Logged(lam=a.lam, bn=bn)
gsq = [0.]
for q in m.parameters(): q.register_post_accumulate_grad_hook(lambda q: gsq.__setitem__(0, gsq[0] + q.grad.pow(2).sum().item()))
# fit calls opt.step after backward; the hooks fire during backward: record the grad norm at the next step's start
class GN(Logged):
    def loss(self, model, b, ctx):
        if steps: steps[-1]['gn'] = gsq[0] ** .5
        if a.ckpt and (not steps or steps[-1]['epoch'] != ctx.epoch) and ctx.epoch > 1:
            torch.save(m.state_dict(), a.out.replace('.json', f'.e{ctx.epoch - 1}.pt'))
        gsq[0] = 0.
        return super().loss(model, b, ctx)
meth = GN(lam=a.lam, bn=bn)
cfg = TrainConfig(epochs=a.epochs, batch_size=a.bs, opt='sgd', lr=a.lr, momentum=0.9, weight_decay=a.wd,
                  schedule='cosine', augment=True, seed=a.seed, progress=False)
t0 = time.time()
hist = fit(m, meth, tr, cfg, test=te, device='cpu')
wall = time.time() - t0
steps[-1]['gn'] = gsq[0] ** .5
ep = []
for r in hist:
    s = [q for q in steps if q['epoch'] == r['epoch']]
    ep.append(dict(epoch=r['epoch'], lr=r['lr'], train_loss=r['train_loss'], ce=sum(q['ce'] for q in s) / len(s),
                   lam_la=a.lam * sum(q['la'] for q in s) / len(s), train_acc=r['train_acc'], test_acc=r['test_acc'],
                   gn_mean=sum(q.get('gn', 0) for q in s) / len(s), gn_max=max(q.get('gn', 0) for q in s)))
torch.save(m.state_dict(), a.out.replace('.json', '.pt'))
json.dump(dict(args=vars(a), wall=wall, epochs=ep, steps=steps), open(a.out, 'w'))
print(satlib.__file__, a.variant, f'wall {wall:.0f}s')
for e in ep: print(' '.join(f'{k}={v:.4f}' if isinstance(v, float) else f'{k}={v}' for k, v in e.items()), flush=True)
