"""Benchmark (not a test): satlib's PGD / PGD-l2 / FGSM against torchattacks, images per second.

Same model, same batch, same budgets, in one process; the repetitions of the two libraries are
interleaved (order alternating) and the median time per call is reported, with the ratio
satlib / torchattacks (> 1: satlib is faster). Both run the model in eval mode and take input
gradients only. Wall-clock and process CPU time are both reported: on a shared machine the wall
clock includes waiting for other jobs, while the CPU time (with `--threads 1`) is the work done.

On CPU, glibc's malloc returns the memory freed after each step to the OS and every step page-faults
its activations back in; that costs as much as a quarter of a step and varies from run to run.
`--malloc keep` (the default, as the `satlib` command runs) calls `satlib.core.keep_freed_memory()`
first, so both libraries reuse memory and the times measure the attacks' work; `--malloc default`
measures the stock allocator. Minor page faults per call are reported for both libraries.
Usage:

    python tests/bench_attacks.py [--model tiny|resnet10] [--batch 128] [--size 32] [--steps 10]
                                  [--reps 15] [--threads N] [--device cpu|cuda] [--malloc keep|default]
"""
import argparse, platform, random, resource, statistics, time, datetime
import torch
from torch import nn
import torchattacks
from satlib.attacks import PGD, FGSM
from satlib.models import get_model
from satlib.core import keep_freed_memory

def tiny_cnn(w=16, K=10):
    return nn.Sequential(nn.Conv2d(3, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(w, 2*w, 3, padding=1), nn.BatchNorm2d(2*w), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(2*w, 4*w, 3, padding=1), nn.BatchNorm2d(4*w), nn.ReLU(),
                         nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(4*w, K))

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--model', default='tiny', choices=['tiny', 'resnet10'])
    ap.add_argument('--width', type=float, default=0.25, help='resnet10 width multiplier')
    ap.add_argument('--batch', type=int, default=128)
    ap.add_argument('--size', type=int, default=32)
    ap.add_argument('--steps', type=int, default=10)
    ap.add_argument('--reps', type=int, default=15)
    ap.add_argument('--threads', type=int, default=None)
    ap.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    ap.add_argument('--malloc', default='keep', choices=['keep', 'default'])
    a = ap.parse_args()
    kept = keep_freed_memory() if a.malloc == 'keep' else False
    if a.threads: torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    dev = torch.device(a.device)
    model = (tiny_cnn() if a.model == 'tiny' else get_model('resnet10', 10, width=a.width)).to(dev).eval()
    x = torch.rand(a.batch, 3, a.size, a.size, device=dev); y = torch.randint(0, 10, (a.batch,), device=dev)
    eps, alpha = 8/255, 2/255
    pairs = {
        f'PGD-linf ({a.steps} steps)': (PGD(model, eps=eps, steps=a.steps, step_size=alpha),
                                        torchattacks.PGD(model, eps=eps, alpha=alpha, steps=a.steps)),
        f'PGD-l2 ({a.steps} steps)': (PGD(model, eps=0.5, steps=a.steps, step_size=0.1, norm='l2'),
                                      torchattacks.PGDL2(model, eps=0.5, alpha=0.1, steps=a.steps)),
        'FGSM': (FGSM(model, eps=eps), torchattacks.FGSM(model, eps=eps)),
    }
    sync = (lambda: torch.cuda.synchronize()) if dev.type == 'cuda' else (lambda: None)
    flt = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    def timed(f):
        sync(); t, c, p = time.perf_counter(), time.process_time(), flt(); f(x, y); sync()
        return time.perf_counter() - t, time.process_time() - c, flt() - p
    for ours, theirs in pairs.values(): ours(x, y); theirs(x, y)      # warm-up
    times = {k: ([], []) for k in pairs}
    random.seed(0)
    for r in range(a.reps):   # every repetition runs all 2 x 3 calls in a fresh random order
        calls = [(k, i, f) for k, fs in pairs.items() for i, f in enumerate(fs)]; random.shuffle(calls)
        for k, i, f in calls: times[k][i].append(timed(f))
    cpu = platform.processor() or platform.machine()
    hw = torch.cuda.get_device_name(dev) if dev.type == 'cuda' else f"CPU {cpu}, {torch.get_num_threads()} threads"
    print(f"{datetime.date.today()} | {hw} | torch {torch.__version__}, torchattacks {torchattacks.__version__} | "
          f"model {a.model}{'' if a.model == 'tiny' else f' width {a.width}'}, batch {a.batch}x3x{a.size}x{a.size}, "
          f"median of {a.reps} reps in random order | malloc: {'freed memory kept (keep_freed_memory)' if kept else 'glibc default'}")
    print("| attack | satlib img/s (wall) | torchattacks img/s (wall) | ratio (wall) | ratio (CPU time) | page faults/call satlib, torchattacks |\n|---|---|---|---|---|---|")
    for k, (to, tt) in times.items():
        (wo, co, fo), (wt, ct, ft) = [[statistics.median(v[j] for v in ts) for j in (0, 1, 2)] for ts in (to, tt)]
        print(f"| {k} | {a.batch / wo:,.0f} | {a.batch / wt:,.0f} | {wt / wo:.2f} | {ct / co:.2f} | {fo:,.0f}, {ft:,.0f} |")

if __name__ == '__main__': main()
