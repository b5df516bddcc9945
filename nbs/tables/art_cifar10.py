"""ART Tables 1, 3, 4 and 6 (and Fig. 6) on CIFAR-10: train Natural, PGD-10 and ART, then evaluate them.

    python art_cifar10.py train RUNS --only natural|pgd10|art [--budget full|tiny]
    python art_cifar10.py eval RUNS RESULTS --part accuracy|autoattack|alignment|transfer|attribution|corruptions [--only ...] [--budget ...]

`train` is resumable (the run folder's checkpoint); each `eval` part writes one CSV into RESULTS
atomically (attribution: one per model) and skips files that already exist, so an interrupted job
restarts where it stopped. The `tiny` budget runs the same code on the built-in data in seconds (CI)."""
import argparse, json, time
from pathlib import Path
import pandas as pd, torch
from satlib.core import atomic_write, rng, preserved
from satlib.train import TrainConfig
from satlib.runs import train_run
from satlib.train import load_run
from satlib.core import device_name
from satlib.data import DeviceLoader
from satlib.datasets import get_tensors
from satlib.evaluate import evaluate, AttackSpec, CLEAN
from satlib.metrics import attribution_robustness, image_gradient_alignment
import satlib.art, satlib.corruptions as C   # registers the 'art' method

MODELS = {'natural': ('Natural', 'original', {}),
          'pgd10': ('PGD-10', 'pgd', dict(eps=8/255, steps=10, step_size=2/255)),
          'art': ('ART', 'art', {})}   # ART defaults: the paper's λ 0.5, a 3, β 50, ε 8/255, step 1.5/255
BUDGETS = {
    # CIFAR-10 (JPEG copy), ResNet-10 at half width, SGD + cosine; the paper trains WRN-28-10 for 100-200 epochs
    'full': dict(dataset='cifar10-jpeg', data_args={}, model='resnet10', width=0.5, batch_size=256, lr=0.1, wd=5e-4,
                 epochs=dict(natural=20, pgd10=12, art=10), amp=dict(natural=True, pgd10=True, art=False),
                 n_acc=None, n_aa=1000, n_transfer=2000, n_attr=500, n_corrupt=1000, n_align=2000, ig_steps=16, shap_samples=16, ifia_steps=50,
                 targeted_steps=50, k=100, corruptions=tuple(C.ART_TABLE3.values())),   # ART Table 3's 15 (speckle noise, not frost)
    'tiny': dict(dataset='builtin', data_args=dict(n=128), model='resnet10', width=0.125, batch_size=64, lr=0.05, wd=5e-4,
                 epochs=dict(natural=1, pgd10=1, art=1), amp=dict(natural=True, pgd10=True, art=False),
                 n_acc=64, n_aa=16, n_transfer=32, n_attr=8, n_corrupt=32, n_align=32, ig_steps=4, shap_samples=4, ifia_steps=2,
                 targeted_steps=2, k=20, corruptions=('gaussian_noise', 'contrast'), severities=(1, 5)),
}

def train(runs, name:str, budget:str='full', device=None, seed:int=0) -> dict:
    "Train (or resume) model `name` of `MODELS` under `budget` into `runs/name`."
    b = BUDGETS[budget]; label, method, margs = MODELS[name]
    cfg = TrainConfig(epochs=b['epochs'][name], batch_size=b['batch_size'], opt='sgd', lr=b['lr'], weight_decay=b['wd'],
                      schedule='cosine', seed=seed, amp=b['amp'][name], progress=False)
    info = train_run(Path(runs) / name, b['dataset'], method, b['model'], b['width'], method_args=margs,
                     data_args=b['data_args'], cfg=cfg, device=device)
    print(f"{name}: {info['epochs_done']} epochs, {info['train_seconds']:.0f}s, final {json.dumps(info['final'], default=float)}", flush=True)
    return info

def _models(runs, names, device):
    out = {}
    for n in names:
        net, info = load_run(Path(runs) / n, device)
        out[n] = (net, dict(method=MODELS[n][0], seed=info['cfg']['seed'], epochs=info['epochs_trained'],
                            model=f"{info['model']}x{info['width']}", device=device_name(device)), info)
    return out

def sample(data, n:int|None, seed:int=0):
    "`n` test images drawn at random (seeded); the test folders are sorted by class, so a prefix would hold one or two classes."
    if n is None or n >= len(data): return data
    return data.subset(torch.randperm(len(data), generator=rng(seed, 11))[:n])

def craft(net, data, spec:AttackSpec, batch_size:int=500, device=None, seed:int=0):
    "Clean images, labels and adversarial images of `spec`'s attack on `net`, batch by batch under `evaluate`'s seeding."
    loader, atk = DeviceLoader(data, batch_size, shuffle=False, device=device), spec.build(net)
    torch.manual_seed(seed); xs, ys, xa = [], [], []
    for bt in loader: xs.append(bt.x); ys.append(bt.y); xa.append(atk(bt.x, bt.y))
    return torch.cat(xs), torch.cat(ys), torch.cat(xa)

def _save(df:pd.DataFrame, path:Path, t0:float):
    df['seconds'] = time.time() - t0
    atomic_write(path, df.to_csv(index=False)); print(f"wrote {path} ({time.time() - t0:.0f}s)", flush=True)

def evaluate_part(runs, results, part:str, names=tuple(MODELS), budget:str='full', device=None):
    "One evaluation part for the trained `names`; writes RESULTS/art_cifar10_<part>[_<name>].csv."
    b = BUDGETS[budget]; device = torch.device(device or ('cuda' if torch.cuda.is_available() else 'cpu'))
    results = Path(results); results.mkdir(parents=True, exist_ok=True)
    ms = _models(runs, names, device)
    test = get_tensors(b['dataset'], None, 'test', **({'n': 512} if b['dataset'] == 'builtin' else {}))
    t0 = time.time()
    if part == 'accuracy':   # Table 1's accuracy columns (clean, PGD-40 at 8/255), the text's PGD-40 l2 at eps 1.0, Fig. 6
        data = sample(test, b['n_acc'])
        specs = [CLEAN, AttackSpec('pgd', 8/255, 40, 2/255), AttackSpec('pgd', 1.0, 40, 0.1, kwargs=dict(norm='l2'))]
        for n, (net, meta, _) in ms.items():
            path = results / f'art_cifar10_accuracy_{n}.csv'
            if path.exists(): continue
            t0 = time.time(); _save(evaluate(net, data, specs, 500, device, meta)[0], path, t0)
    elif part == 'autoattack':   # standard AutoAttack (pyautoattack) beside PGD-40 at 8/255, on the same random images
        data = sample(test, b['n_aa'])
        specs = [CLEAN, AttackSpec('pgd', 8/255, 40, 2/255), AttackSpec('autoattack', 8/255)]
        for n, (net, meta, _) in ms.items():
            path = results / f'art_cifar10_autoattack_{n}.csv'
            if path.exists(): continue
            t0 = time.time(); _save(evaluate(net, data, specs, 500, device, meta)[0], path, t0)
    elif part == 'alignment':  # Fig. 6: cosine between x and the gradient of its label's logit, per test image
        path = results / 'art_cifar10_alignment.csv'
        if path.exists(): return
        data, rows = sample(test, b['n_align']), []
        for n, (net, meta, _) in ms.items():
            x, y = data.images.to(device).float() / 255, data.labels.to(device)
            cos = torch.cat([image_gradient_alignment(net, x[i:i + 500], y[i:i + 500], 'cosine') for i in range(0, len(x), 500)])
            rows.append(pd.DataFrame(dict(method=meta['method'], cos=cos.cpu().numpy(), label=y.cpu().numpy(), device=meta['device'])))
        _save(pd.concat(rows, ignore_index=True), path, t0)
    elif part == 'transfer':  # Table 6: PGD-40 examples crafted on the source (column) model, evaluated on every model
        path = results / 'art_cifar10_transfer.csv'
        if path.exists(): return
        data, rows = sample(test, b['n_transfer']), []
        for sn, (snet, smeta, _) in ms.items():
            # Crafted once per source and shown to all three targets: the same examples the library's `transfer`
            # attack crafts for each target (it runs the source's PGD under the seed `evaluate` sets), at a third of the cost.
            x, y, xa = craft(snet, data, AttackSpec('pgd', 8/255, 40, 2/255), 500, device)
            for tn, (tnet, tmeta, _) in ms.items():
                with preserved(tnet), torch.no_grad(): c = torch.cat([tnet(xa[i:i + 500]).argmax(1) == y[i:i + 500] for i in range(0, len(y), 500)])
                rows.append(dict(method=tmeta['method'], dataset='cifar10-test', attack='pgd' if sn == tn else 'transfer', eps=8/255,
                                 steps=40, step_size=2/255, accuracy=100 * c.float().mean().item(), n=len(c), seed=tmeta['seed'],
                                 epochs=tmeta['epochs'], device=tmeta['device'], model=tmeta['model'], source=smeta['method']))
        _save(pd.DataFrame(rows), path, t0)
    elif part == 'attribution':  # Tables 1 and 4: IFIA (top-k) on IG, gradient and GradientSHAP; §5: targeted attack on IG
        for n, (net, meta, _) in ms.items():
            path = results / f'art_cifar10_attribution_{n}.csv'
            if path.exists(): continue
            t0 = time.time(); rows = []
            for sal, margs in [('integrated_gradients', dict(steps=b['ig_steps'])), ('gradient', {}),
                               ('gradient_shap', dict(n_samples=b['shap_samples']))]:
                specs = [AttackSpec('ifia', 8/255, b['ifia_steps'], 1/255)]
                if sal == 'integrated_gradients': specs.append(AttackSpec('targeted_attribution', 8/255, b['targeted_steps'], 1/255))
                specs.append(AttackSpec('sign_noise', 8/255))   # control: random ±8/255 signs, no attack
                r, _ = attribution_robustness(net, test, specs, sal, margs, b['k'], b['n_attr'], 64, device, meta)
                rows.append(r); print(r[['method', 'attack', 'saliency', 'topk', 'kendall', 'n']].to_string(index=False), flush=True)
            _save(pd.concat(rows, ignore_index=True), path, t0)
    elif part == 'corruptions':  # Table 3: 15 corruptions x 5 severities from the test images (imagecorruptions)
        base = sample(test, b['n_corrupt'])
        todo = {n: m for n, m in ms.items() if not (results / f'art_cifar10_corruptions_{n}.csv').exists()}
        if not todo: return
        rows = {n: [] for n in todo}
        for c in b.get('corruptions', C.CORRUPTIONS):
            for s in b.get('severities', (1, 2, 3, 4, 5)):
                d = C.corrupted(base, c, s, seed=0, workers=b.get('workers', 0))   # generated once for all models
                for n, (net, meta, _) in todo.items():
                    r = evaluate(net, d, [CLEAN], 500, device, meta)[0]; r['corruption'], r['severity'] = c, s; rows[n].append(r)
        for n, (net, meta, _) in todo.items():
            r = evaluate(net, base, [CLEAN], 500, device, meta)[0]; r['corruption'], r['severity'] = 'none', 0
            _save(pd.concat(rows[n] + [r], ignore_index=True), results / f'art_cifar10_corruptions_{n}.csv', t0)
    else: raise ValueError(f"unknown part {part!r}; choose accuracy, autoattack, alignment, transfer, attribution or corruptions")

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('stage', choices=['train', 'eval']); ap.add_argument('runs'); ap.add_argument('results', nargs='?')
    ap.add_argument('--only', nargs='+', default=list(MODELS)); ap.add_argument('--part', nargs='+', default=['accuracy', 'autoattack', 'alignment', 'transfer', 'attribution', 'corruptions'])
    ap.add_argument('--budget', default='full', choices=list(BUDGETS)); ap.add_argument('--device', default=None)
    ap.add_argument('--workers', type=int, default=0, help="processes generating corruptions")
    ap.add_argument('--n', type=int, default=None, help="override the budget's number of test images of the parts run (autoattack, transfer, corruptions, alignment)")
    a = ap.parse_args()
    BUDGETS[a.budget]['workers'] = a.workers
    if a.n: BUDGETS[a.budget].update(n_aa=a.n, n_transfer=a.n, n_corrupt=a.n, n_align=a.n)
    if a.stage == 'train':
        for n in a.only: train(a.runs, n, a.budget, a.device)
    else:
        for p in a.part: evaluate_part(a.runs, a.results, p, a.only, a.budget, a.device)
