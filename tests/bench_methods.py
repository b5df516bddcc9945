"""Benchmark: seconds per epoch of every training method on the same model and data, in one run, as ratios to Original.

Not a test (pytest collects test_*.py only). Every registered method of `satlib.train.methods` is timed (TRADES and
the SAT family of this issue, ART, the regularisers, ... when their modules are importable), each for one epoch
through `satlib.train.fit`, repetition by repetition in turn (interleaved, so a busy shared machine slows all
alike); the median over repetitions is reported. Checks printed at the end:
  * SAT (weak saliency, and with a stored teacher map) costs at most 5 % more than Original;
  * PGD-SAT / TRADES-SAT cost what their SAT share predicts: (1 - q) + q * t(SAT branch) / t(attack),
    q the realised share of SAT inputs, the SAT branch timed as the same method with p_sat=1.
Also times SAT's perturbation alone (`satlib.sat.sat_perturb` vs `satlib.sat_teachers.sat_perturb_fast`).
Methods whose data pipeline crops and flips stored maps themselves run with the loader's augmentation off; all
others with it on (as they would be trained).

    OMP_NUM_THREADS=1 python tests/bench_methods.py [--n 512] [--batch 128] [--width 0.125] [--reps 5] [--reps-costly 2]
"""
import argparse, os, platform, statistics, sys, tempfile, time, warnings
from pathlib import Path
import torch

CHEAP = ['original', 'noise', 'sat', 'sat_store:mask', 'sat_store:gbp']

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--model', default='resnet10'); ap.add_argument('--width', type=float, default=0.125)
    ap.add_argument('--n', type=int, default=512, help='training images (builtin dataset)')
    ap.add_argument('--batch', type=int, default=128)
    ap.add_argument('--reps', type=int, default=5, help='repetitions of the cheap methods (Original, noise, SAT)')
    ap.add_argument('--reps-costly', type=int, default=2, help='repetitions of the attack-based methods')
    ap.add_argument('--only', default=None, help='comma-separated method keys to time (default: all)')
    ap.add_argument('--device', default='cpu')
    a = ap.parse_args()
    warnings.filterwarnings('ignore')
    torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', 1)))
    from satlib.core import SatlibError
    from satlib.data import get_tensors
    from satlib.models import get_model
    from satlib.train import methods, fit, TrainConfig
    from satlib.store import build_store
    from satlib.cli import train_run
    import satlib.sat, satlib.trades, satlib.sat_teachers as st
    for mod in ['art', 'regularizers', 'pruning']:   # the other issue-5 chapters, when present
        try: __import__(f'satlib.{mod}')
        except ImportError: pass

    dev = torch.device(a.device)
    train = get_tensors('builtin', None, 'train', n=a.n)
    tmp = Path(tempfile.mkdtemp())
    torch.manual_seed(0)
    teacher = get_model(a.model, train.num_classes, width=a.width).to(dev).eval()
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
    def once(key):
        name, kw, aug = spec[key]
        meth = methods[name](**kw)
        torch.manual_seed(0); net = get_model(a.model, train.num_classes, width=a.width)
        h = fit(net, meth, train, TrainConfig(epochs=1, batch_size=a.batch, augment=aug, progress=False, eval_every=0), device=dev)
        times[key].append(h[-1]['seconds'])
        if hasattr(meth, '_counts'): shares[key].append(meth._counts[0] / max(meth._counts[1], 1))

    print(f"satlib methods benchmark: {a.model} x{a.width}, builtin n={a.n}, batch {a.batch} ({-(-a.n // a.batch)} steps/epoch), "
          f"device {a.device} ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)")
    once('original'); times['original'].clear()   # warm-up (not recorded)
    for r in range(max(a.reps, a.reps_costly)):
        for key in spec:
            if key in CHEAP and r < a.reps or key not in CHEAP and r < a.reps_costly: once(key)
        print(f"  repetition {r + 1} done", file=sys.stderr, flush=True)

    med = {k: statistics.median(v) for k, v in times.items()}
    base = med['original']
    print(f"\n{'method':24s} {'s/epoch':>9s} {'x Original':>11s} {'reps':>5s}  note")
    for k in spec:
        note = f"SAT share {statistics.mean(shares[k]):.2f}" if shares[k] and 'p_sat=1' not in k else ''
        print(f"{k:24s} {med[k]:9.3f} {med[k] / base:11.3f} {len(times[k]):5d}  {note}")

    print("\nchecks")
    for k in ['sat', 'sat_store:mask', 'sat_store:gbp']:
        if k in med: print(f"  {k:22s} costs {100 * (med[k] / base - 1):+6.1f} % vs Original  (limit +5 %): {'PASS' if med[k] <= 1.05 * base else 'FAIL'}")
    for k, atk in [('pgd_sat', 'pgd'), ('trades_sat', 'trades')]:
        if k in med and atk in med and f'{k}:p_sat=1' in med:
            q = statistics.mean(shares[k]); exp = (1 - q) + q * med[f'{k}:p_sat=1'] / med[atk]
            print(f"  {k:22s} {med[k] / med[atk]:.2f} x {atk} (time saved {100 * (1 - med[k] / med[atk]):.0f} %); "
                  f"expected {exp:.2f} from SAT share {q:.2f}")

    # SAT's perturbation alone, and one plain training step for scale
    x = torch.rand(a.batch, *train.images.shape[1:], device=dev); s = gbp[torch.arange(a.batch) % len(gbp)].to(dev)
    y = torch.randint(0, train.num_classes, (a.batch,), device=dev)
    net = get_model(a.model, train.num_classes, width=a.width).to(dev)
    def step(): net.zero_grad(); torch.nn.functional.cross_entropy(net(x), y).backward()
    def ms(f, n=15):
        f(); out = []
        for _ in range(n): t = time.perf_counter(); f(); out.append(time.perf_counter() - t)
        return 1e3 * statistics.median(out)
    t_step, t_old, t_new = ms(step, 5), ms(lambda: satlib.sat.sat_perturb(x, s, 3)), ms(lambda: st.sat_perturb_fast(x, s, 3))
    print(f"\nSAT perturbation of one batch {tuple(x.shape)}: sat_perturb {t_old:.2f} ms, sat_perturb_fast {t_new:.2f} ms "
          f"({t_old / t_new:.1f}x faster); one forward+backward step {t_step:.1f} ms "
          f"(perturbation = {100 * t_old / t_step:.1f} % vs {100 * t_new / t_step:.1f} % of it)")

if __name__ == '__main__': main()
