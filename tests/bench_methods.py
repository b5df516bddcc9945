"""Benchmark: seconds per epoch of every training method on the same model and data, in one run, as ratios to Original.

Not a test (pytest collects test_*.py only). Every registered method of `satlib.train.methods` is timed (TRADES and
the SAT family of this issue, ART, the regularisers, ... when their modules are importable), each for one epoch
through `satlib.train.fit`. Repetitions run in turn (all methods, Original included, in a new random order each
time, each repetition with a new seed: data order, SAT/attack coins); ratios to Original are paired within a
repetition and the median is reported. By default (`--malloc keep`, as the `satlib` command trains on CPU) glibc's
malloc keeps freed memory (`satlib.core.keep_freed_memory`), so steps do not page-fault their activations back in;
`--malloc default` measures the stock allocator. On a CPU the clock is the process's CPU time (with OMP_NUM_THREADS=1, the
compute a method needs; a busy shared machine inflates it far less than wall time); on a GPU, wall time.
Methods whose stored maps are cropped and flipped by the method itself run with the loader's augmentation off,
all others with it on (as they would be trained). Also reported:
  * the cheap methods step by step (one training step on the same batch, methods interleaved, many times);
  * SAT's perturbation alone (`satlib.sat.sat_perturb`) against one forward+backward step.
Checks printed: SAT (weak saliency, and with a stored teacher map) costs at most 5 % more than Original;
PGD-SAT / TRADES-SAT cost what their SAT share q predicts: (1 - q) + q * t(SAT branch) / t(attack), the SAT
branch timed as the same method with p_sat=1.

    OMP_NUM_THREADS=1 python tests/bench_methods.py [--n 512] [--batch 64] [--width 0.125] [--reps 15] [--reps-costly 3]
                                                    [--only original,sat,...] [--malloc keep|default]
"""
import argparse, os, platform, statistics, sys, tempfile, time, warnings
from pathlib import Path
import torch

CHEAP = ['original', 'noise', 'sat', 'sat_store:mask', 'sat_store:gbp']

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--model', default='resnet10'); ap.add_argument('--width', type=float, default=0.125)
    ap.add_argument('--n', type=int, default=512, help='training images (builtin dataset)')
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--reps', type=int, default=15, help='repetitions of the cheap methods (Original, noise, SAT)')
    ap.add_argument('--reps-costly', type=int, default=3, help='repetitions of the attack-based methods')
    ap.add_argument('--step-reps', type=int, default=60, help='interleaved single-step repetitions of the cheap methods')
    ap.add_argument('--only', default=None, help='comma-separated method keys to time (default: all)')
    ap.add_argument('--device', default='cpu')
    ap.add_argument('--malloc', default='keep', choices=['keep', 'default'])
    a = ap.parse_args()
    from satlib.core import keep_freed_memory
    kept = keep_freed_memory() if a.malloc == 'keep' else False
    warnings.filterwarnings('ignore')
    torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', 1)))
    from satlib.core import SatlibError
    from satlib.datasets import get_tensors
    from satlib.models import get_model
    from satlib.train import methods, fit, TrainConfig
    from satlib.store import build_store
    from satlib.runs import train_run
    import satlib.sat, satlib.trades, satlib.sat_teachers as st
    for mod in ['art', 'regularizers', 'pruning']:   # the other issue-5 chapters, when present
        try: __import__(f'satlib.{mod}')
        except ImportError: pass

    dev = torch.device(a.device)
    # on a CPU, the process's CPU time: a busy shared machine inflates it far less than wall time (with one
    # thread it is the compute the method needs); on a GPU, fit's wall-clock seconds per epoch
    clock = time.process_time if dev.type == 'cpu' else time.perf_counter
    train = get_tensors('builtin', None, 'train', n=a.n)
    tmp = Path(tempfile.mkdtemp())
    mean, std = train.stats()
    make = lambda: get_model(a.model, train.num_classes, width=a.width, mean=mean, std=std)   # as `satlib train` builds it
    torch.manual_seed(0)
    teacher = make().to(dev).eval()
    gbp = build_store(teacher, train, 'guided_backprop', tmp / 'gbp.pt', device=dev)

    def run_of(method, **kw):   # a tiny finished run folder (teachers / bases of other methods)
        out = tmp / method
        if not out.exists():
            train_run(out, 'builtin', method, a.model, a.width, data_args=dict(n=a.n), method_args=kw,
                      cfg=TrainConfig(epochs=1, batch_size=a.batch, progress=False, eval_every=0, max_steps=1),
                      device=dev, test_split=None)
        return str(out)

    # key -> (registered name, kwargs, loader augmentation)
    spec = {'original': ('original', {}, True), 'noise': ('noise', {}, True), 'sat': ('sat', {}, True),
            'sat_store:mask': ('sat_store', dict(store='mask'), True),
            'sat_store:gbp': ('sat_store', dict(store=str(tmp / 'gbp.pt')), False),
            'pgd': ('pgd', {}, True), 'pgd_sat': ('pgd_sat', dict(store=str(tmp / 'gbp.pt')), False),
            'pgd_sat:p_sat=1': ('pgd_sat', dict(store=str(tmp / 'gbp.pt'), p_sat=1.), False),
            'trades': ('trades', {}, True), 'trades_sat': ('trades_sat', dict(store=str(tmp / 'gbp.pt')), False),
            'trades_sat:p_sat=1': ('trades_sat', dict(store=str(tmp / 'gbp.pt'), p_sat=1.), False)}
    needs = {'distill': lambda: dict(teacher=run_of('distill_teacher')), 'finetune_sparse': lambda: dict(base=run_of('original'))}
    for name in sorted(methods):
        if name in {v[0] for v in spec.values()}: continue
        try:
            kw = needs[name]() if name in needs else {}
            methods[name](**kw); spec[name] = (name, kw, True)
        except SatlibError as e: print(f"skipping {name}: {e}")
    if a.only: spec = {k: v for k, v in spec.items() if k in a.only.split(',') or k == 'original'}

    times, shares = {k: [] for k in spec}, {k: [] for k in spec}
    def once(key, seed=0):
        if key not in spec: return
        name, kw, aug = spec[key]
        meth = methods[name](**kw)
        torch.manual_seed(0); net = make()
        t = clock()
        try: h = fit(net, meth, train, TrainConfig(epochs=1, batch_size=a.batch, augment=aug, seed=seed, progress=False, eval_every=0), device=dev)
        except SatlibError as e:
            print(f"dropping {key}: {e}"); del spec[key], times[key]; return
        times[key].append(clock() - t if dev.type == 'cpu' else h[-1]['seconds'])
        if hasattr(meth, '_counts'): shares[key].append(meth._counts[0] / max(meth._counts[1], 1))

    print(f"satlib methods benchmark: {a.model} x{a.width}, builtin n={a.n}, batch {a.batch} ({-(-a.n // a.batch)} steps/epoch), "
          f"device {a.device} ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads); "
          f"{'CPU' if dev.type == 'cpu' else 'wall-clock'} seconds; malloc: {'freed memory kept' if kept else 'glibc default'}")
    once('original'); times['original'].clear()   # warm-up (not recorded)
    order = torch.Generator().manual_seed(0)
    for r in range(max(a.reps, a.reps_costly)):
        keys = list(spec); keys = [keys[i] for i in torch.randperm(len(keys), generator=order)]
        for key in keys:   # all methods, Original included, in a new random order each repetition (no position bias)
            if key in CHEAP and r < a.reps or key not in CHEAP and r < a.reps_costly: once(key, seed=r)   # new data order and coins
        print(f"  repetition {r + 1} done", file=sys.stderr, flush=True)

    med = {k: statistics.median(v) for k, v in times.items()}
    # ratios paired by repetition (Original runs in every repetition, at a random place among the others): slow drifts of a
    # shared machine's load cancel; the median over repetitions is reported
    ratio = {k: statistics.median(t / o for t, o in zip(v, times['original'])) for k, v in times.items()}
    print(f"\n{'method':24s} {'s/epoch':>9s} {'x Original':>11s} {'reps':>5s}  note")
    for k in spec:
        note = f"SAT share {statistics.mean(shares[k]):.2f}" if shares[k] and 'p_sat=1' not in k else ''
        print(f"{k:24s} {med[k]:9.3f} {ratio[k]:11.3f} {len(times[k]):5d}  {note}")

    print("\nchecks")
    for k in ['sat', 'sat_store:mask', 'sat_store:gbp']:
        if k in med: print(f"  {k:22s} costs {100 * (ratio[k] - 1):+6.1f} % vs Original (limit +5 %): {'PASS' if ratio[k] <= 1.05 else 'FAIL'}")
    for k, atk in [('pgd_sat', 'pgd'), ('trades_sat', 'trades')]:
        if k in med and atk in med and f'{k}:p_sat=1' in med:
            q, r = statistics.mean(shares[k]), ratio[k] / ratio[atk]; exp = (1 - q) + q * ratio[f'{k}:p_sat=1'] / ratio[atk]
            print(f"  {k:22s} {r:.2f} x {atk} (time saved {100 * (1 - r):.0f} %); "
                  f"expected {exp:.2f} from SAT share {q:.2f}")

    # the cheap methods step by step: one training step (loader augmentation where the loader does it, loss, backward,
    # optimiser step) on the same batch, the methods interleaved step by step, many times: per-step overhead vs Original
    from satlib.data import DeviceLoader, Batch, random_crop_flip
    from satlib.train import Context
    b0 = next(iter(DeviceLoader(train, a.batch, shuffle=True, seed=1, device=dev)))
    ctx = Context(epoch=3, step=0, raw_model=None, device=dev)
    steppers = {}
    for key in [k for k in CHEAP if k in spec]:
        name, kw, aug = spec[key]
        meth = methods[name](**kw); meth.setup(train.to(dev), dev)
        torch.manual_seed(0); net = make().to(dev).train(); opt = torch.optim.Adam(net.parameters(), 1e-3)
        def one(meth=meth, net=net, opt=opt, aug=aug):
            b = b0
            if aug: x, m = random_crop_flip(b.x, b.mask); b = Batch(x, b.y, m, b.idx)
            ctx.raw_model = net
            loss, _ = meth.loss(net, b, ctx); opt.zero_grad(set_to_none=True); loss.backward(); opt.step(); loss.item()
        steppers[key] = one
    st_times = {k: [] for k in steppers}
    for r in range(a.step_reps):
        for k in [list(steppers)[i] for i in torch.randperm(len(steppers), generator=order)]:
            if dev.type == 'cuda': torch.cuda.synchronize()
            t = clock(); steppers[k](); st_times[k].append(clock() - t)
    o = st_times['original']
    print(f"\nper training step (batch {a.batch}, {a.step_reps} interleaved repetitions, median of paired ratios):")
    for k, v in st_times.items():
        rr = statistics.median(t / oo for t, oo in zip(v, o))
        print(f"  {k:22s} {1e3 * statistics.median(v):8.1f} ms  x Original {rr:.3f}" +
              (f"  (limit 1.05: {'PASS' if rr <= 1.05 else 'FAIL'})" if k.startswith('sat') else ''))

    # SAT's perturbation alone, and one plain training step for scale
    x = torch.rand(a.batch, *train.images.shape[1:], device=dev); s = gbp[torch.arange(a.batch) % len(gbp)].to(dev)
    y = torch.randint(0, train.num_classes, (a.batch,), device=dev)
    net = make().to(dev)
    def step(): net.zero_grad(); torch.nn.functional.cross_entropy(net(x), y).backward()
    def ms(f, n=30):
        f(); out = []
        for _ in range(n): t = clock(); f(); out.append(clock() - t)
        return 1e3 * statistics.median(out)
    t_step, t_sat = ms(step, 5), ms(lambda: satlib.sat.sat_perturb(x, s, 3))
    print(f"\nSAT perturbation of one batch {tuple(x.shape)}: {t_sat:.2f} ms; one forward+backward step {t_step:.1f} ms "
          f"(the perturbation is {100 * t_sat / t_step:.1f} % of it)")

if __name__ == '__main__': main()
