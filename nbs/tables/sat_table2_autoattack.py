"""AutoAttack beside 5- and 20-step PGD for every trained run of SAT Table 2 (built-in data).

    python sat_table2_autoattack.py RUNS_DIR OUT_CSV [--eps 2 1] [--n 1000] [--seeds 0 1 2] [--device cuda]
                                    [--attacks apgd-ce apgd-t] [--first sat] [--only sat]

Each (run, eps) pair is evaluated once and its rows are appended to OUT_CSV (rewritten atomically), so an
interrupted job restarts where it stopped. The rows carry the run's method label, seed, epochs, model and
the device the attacks ran on."""
import argparse, dataclasses, json, time
from pathlib import Path
import pandas as pd, torch
from satlib.core import atomic_write
from satlib.cli import DEMO_METHODS
from satlib.train import load_run
from satlib.core import device_name
from satlib.datasets import get_tensors
from satlib.evaluate import evaluate, AttackSpec, CLEAN

def run_label(info:dict) -> str:
    "The demo's row label of a run (method name + method arguments)."
    return next(l for l, m, a in DEMO_METHODS if m == info['method'] and a == info['method_args'])

def autoattack_table(runs_dir, out_csv, eps=(2, 1), n:int=1000, seeds=(0, 1, 2), device=None, batch_size:int=500,
                     attacks:list|None=None, # None: standard AutoAttack; else its sub-attacks to run, e.g. ['apgd-ce', 'apgd-t']
                     first:list|None=None,   # run-name prefixes to evaluate first (e.g. ['sat'])
                     only:list|None=None,    # run-name prefixes to evaluate (None: every run)
                    ) -> pd.DataFrame:
    "Evaluate every `*-seed*` run in `runs_dir` (each eps in turn, in the given order); resumable via `out_csv`."
    device = torch.device(device or ('cuda' if torch.cuda.is_available() else 'cpu'))
    out_csv = Path(out_csv)
    df = pd.read_csv(out_csv) if out_csv.exists() else pd.DataFrame()
    done = set(zip(df.run, df.eps_255)) if len(df) else set()
    runs = sorted(Path(runs_dir).glob('*-seed*'), key=lambda p: (not any(p.name.startswith(f) for f in first or []), p.name))
    runs = [r for r in runs if only is None or any(r.name.startswith(o) for o in only)]
    aa = AttackSpec('autoattack', 0.) if attacks is None else AttackSpec('autoattack', 0., kwargs=dict(version='custom', attacks_to_run=list(attacks)))
    for e in eps:
        for rd in runs:
            net, info = load_run(rd, device)
            if info['cfg']['seed'] not in seeds or (rd.name, e) in done: continue
            test = get_tensors(info['dataset'], None, 'test', n=n)
            specs = [CLEAN] + [AttackSpec('pgd', e / 255, steps=s) for s in (5, 20)] + [dataclasses.replace(aa, eps=e / 255)]
            t0 = time.time()
            r, _ = evaluate(net, test, specs, batch_size, device, meta=dict(method=run_label(info), dataset=f"{info['dataset']}-test",
                            seed=info['cfg']['seed'], epochs=info['epochs_trained'], device=device_name(device),
                            model=f"{info['model']}x{info['width']}"))
            r['run'], r['eps_255'], r['seconds'] = rd.name, e, time.time() - t0
            r['autoattack'] = 'standard' if attacks is None else '+'.join(attacks)
            df = pd.concat([df, r], ignore_index=True); done.add((rd.name, e))
            atomic_write(out_csv, df.to_csv(index=False))
            print(f"{rd.name} eps {e}/255: " + ', '.join(f"{a}{'' if s != s or not s else '-' + str(int(s))} {acc:.1f}"
                  for a, s, acc in zip(r.attack, r.steps, r.accuracy)) + f" ({r.seconds.iloc[0]:.0f}s)", flush=True)
    return df

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('runs'); ap.add_argument('out')
    ap.add_argument('--eps', nargs='+', type=int, default=[2, 1], help="eps in 1/255 units, in the order to run")
    ap.add_argument('--n', type=int, default=1000); ap.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    ap.add_argument('--device', default=None); ap.add_argument('--batch-size', type=int, default=500)
    ap.add_argument('--attacks', nargs='+', default=None, help="AutoAttack sub-attacks (default: the standard version)")
    ap.add_argument('--first', nargs='+', default=None, help="run-name prefixes to evaluate first")
    ap.add_argument('--only', nargs='+', default=None, help="run-name prefixes to evaluate (default: every run)")
    a = ap.parse_args()
    autoattack_table(a.runs, a.out, a.eps, a.n, a.seeds, a.device, a.batch_size, a.attacks, a.first, a.only)
