"""Benchmark: images/s of every satlib saliency method vs its Captum / pytorch-grad-cam equivalent.

Not a test (pytest collects test_*.py only). Same model, batch, targets and settings for both libraries,
timed in one run with the two libraries interleaved repetition by repetition; the best of `--reps` is
reported. On CPU the clock is the process's CPU time (`time.process_time`, one torch thread by default):
on a shared, oversubscribed machine wall-clock time mostly measures the other jobs, CPU time measures the
call's own work. On CUDA it is wall-clock time with synchronisation. Also reports each method's time relative to the practical floor:
k plain forward+backward passes of the batch (timed in the same interleaved loop), with k the number of gradient evaluations per image
(1 for gradient/GBP/CAMs, 2 for guided Grad-CAM, n_samples or steps for the multi-sample methods); the
plain pass is a training-style `loss.backward()` (weight gradients included), and the last column uses
satlib's input-gradient pass instead (no weight gradients), the floor for a saliency map.

    python tests/bench_saliency.py [--model resnet10] [--width 0.5] [--batch 16] [--n 16] [--reps 7] [--device cpu] [--threads 1]
"""
import argparse, platform, time, warnings
import torch

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--model', default='resnet10'); ap.add_argument('--width', type=float, default=0.5)
    ap.add_argument('--batch', type=int, default=16); ap.add_argument('--size', type=int, default=32)
    ap.add_argument('--n', type=int, default=16, help='samples / steps of the multi-sample methods')
    ap.add_argument('--reps', type=int, default=7); ap.add_argument('--device', default='cpu')
    ap.add_argument('--threads', type=int, default=1, help='torch CPU threads (1: least disturbed by other jobs)')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    warnings.filterwarnings('ignore')
    from captum import attr as C
    import pytorch_grad_cam as P
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    from satlib.models import get_model
    from satlib import saliency as S

    dev = torch.device(a.device)
    torch.manual_seed(0)
    model = get_model(a.model, width=a.width).to(dev).eval()
    x = torch.rand(a.batch, 3, a.size, a.size, device=dev); y = torch.randint(0, 10, (a.batch,), device=dev)
    n, layer = a.n, model.cam_layer
    sync = (lambda: torch.cuda.synchronize()) if dev.type == 'cuda' else (lambda: None)

    def fwd_bwd():   # the floor: one plain forward + backward pass w.r.t. the input
        xx = x.detach().requires_grad_(True)
        model(xx).gather(1, y[:, None]).sum().backward()
        return xx.grad

    targets = [ClassifierOutputTarget(int(t)) for t in y]
    gc, gcpp = P.GradCAM(model=model, target_layers=[layer]), P.GradCAMPlusPlus(model=model, target_layers=[layer])
    rows = [  # name, evaluations per image, satlib call, peer name, peer call
        ('gradient', 1, lambda: S.gradient(model, x, y=y),
         'Captum Saliency', lambda: C.Saliency(model).attribute(x, target=y, abs=False)),
        ('guided_backprop', 1, lambda: S.guided_backprop(model, x, y=y),
         'Captum GuidedBackprop', lambda: C.GuidedBackprop(model).attribute(x, target=y)),
        ('gradcam', 1, lambda: S.gradcam(model, x, y=y),
         'pytorch-grad-cam GradCAM', lambda: gc(input_tensor=x, targets=targets)),
        ('gradcam_pp', 1, lambda: S.gradcam_pp(model, x, y=y),
         'pytorch-grad-cam GradCAM++', lambda: gcpp(input_tensor=x, targets=targets)),
        ('guided_gradcam (Captum def.)', 2, lambda: S.guided_gradcam_pp(model, x, y=y, cam='gradcam', mode='nearest'),
         'Captum GuidedGradCam', lambda: C.GuidedGradCam(model, layer).attribute(x, target=y)),
        (f'smoothgrad n={n}', n, lambda: S.smoothgrad(model, x, y=y, n_samples=n, stdev=0.15),
         'Captum NoiseTunnel(smoothgrad)', lambda: C.NoiseTunnel(C.Saliency(model)).attribute(x, nt_type='smoothgrad', nt_samples=n, stdevs=0.15, target=y, abs=False)),
        (f'vargrad n={n}', n, lambda: S.vargrad(model, x, y=y, n_samples=n, stdev=0.15),
         'Captum NoiseTunnel(vargrad)', lambda: C.NoiseTunnel(C.Saliency(model)).attribute(x, nt_type='vargrad', nt_samples=n, stdevs=0.15, target=y, abs=False)),
        (f'integrated_gradients m={n}', n, lambda: S.integrated_gradients(model, x, y=y, steps=n),
         'Captum IntegratedGradients', lambda: C.IntegratedGradients(model).attribute(x, target=y, n_steps=n)),
        (f'gradient_shap n={n}', n, lambda: S.gradient_shap(model, x, y=y, n_samples=n, baselines=torch.zeros_like(x[:1])),
         'Captum GradientShap', lambda: C.GradientShap(model).attribute(x, baselines=torch.zeros_like(x[:1]), n_samples=n, target=y)),
    ]

    clock = time.perf_counter if dev.type == 'cuda' else time.process_time
    def timed(f):
        sync(); t = clock(); f(); sync(); return clock() - t

    for _ in range(2): fwd_bwd()
    base = min(timed(fwd_bwd) for _ in range(a.reps))
    cpu = platform.processor() or platform.machine()
    print(f"# satlib saliency benchmark  {time.strftime('%Y-%m-%d %H:%M')}  device={dev}"
          f"{' (' + torch.cuda.get_device_name() + ')' if dev.type == 'cuda' else ''}  {cpu}, torch threads={torch.get_num_threads()}")
    print(f"# model={a.model} width={a.width}, batch={a.batch}x3x{a.size}x{a.size}, float32; "
          f"1 forward+backward: {base * 1e3:.1f} ms = {a.batch / base:.0f} img/s; best of {a.reps} interleaved reps ({3 * a.reps} for k <= 2), "
          f"{'wall' if dev.type == 'cuda' else 'CPU'} time\n")
    print(f"| method | satlib img/s | peer | peer img/s | speed vs peer | time / (k x fwd+bwd) | time / (k x satlib gradient) |")
    print(f"|---|---:|---|---:|---:|---:|---:|")
    t_grad = None
    for name, k, ours, pname, peer in rows:
        ours(); peer()   # warm-up (and the CAM layer probe, cached)
        to, tp, tb = [], [], []
        for _ in range(a.reps * (3 if k <= 2 else 1)):   # single-pass methods are cheap: more reps
            to.append(timed(ours)); tp.append(timed(peer)); tb.append(timed(fwd_bwd))
        mo, mp, mb = min(to), min(tp), min(tb + [base])
        t_grad = t_grad or mo   # the first row is satlib's plain gradient
        print(f"| {name} | {a.batch / mo:.1f} | {pname} | {a.batch / mp:.1f} | {mp / mo:.2f}x | {mo / (k * mb):.2f} (k={k}) "
              f"| {mo / (k * t_grad):.2f} |", flush=True)
    gc.__exit__(None, None, None); gcpp.__exit__(None, None, None)

if __name__ == '__main__':
    main()
