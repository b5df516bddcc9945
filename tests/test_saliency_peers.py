"""Cross-checks of satlib.saliency against Captum and pytorch-grad-cam on the same models and inputs.

Relative error = ||satlib - peer|| / ||peer|| (Frobenius, over the batch); must be < 1e-4 wherever the
definitions agree. Where satlib deliberately differs, the peer's convention is applied to satlib's output
(or vice versa) before comparing, and the test says so. Run `pytest -s tests/test_saliency_peers.py` to
print the table of errors.
"""
import numpy as np, pytest, torch, torch.nn.functional as F, torchvision
from torch import nn
from conftest import need
captum_attr = need('captum.attr')
pgc = need('pytorch_grad_cam')
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from satlib.models import get_model
from satlib.saliency import (saliency, gradient, guided_backprop, gradcam, gradcam_pp, guided_gradcam_pp,
                             smoothgrad, vargrad, integrated_gradients, gradient_shap, find_cam_layer, model_is_clean)

TOL = 1e-4
ERRORS = {}

def rel(a, b):
    a, b = torch.as_tensor(a).double(), torch.as_tensor(b).double()
    assert a.shape == b.shape, (a.shape, b.shape)
    return ((a - b).norm() / b.norm().clamp_min(1e-300)).item()

def check(name, a, b, tol=TOL):
    e = rel(a, b); ERRORS[name] = max(e, ERRORS.get(name, 0.))
    assert e < tol, f'{name}: relative error {e:.2e} >= {tol}'

@pytest.fixture(scope='session', autouse=True)
def report():
    yield
    print('\n\nmax relative error vs peer:')
    for k, v in sorted(ERRORS.items()): print(f'  {k:55s} {v:.1e}')

@pytest.fixture(scope='module')
def net():
    "A small satlib ResNet-10 (BatchNorm in eval mode with non-trivial statistics), float64."
    torch.manual_seed(0)
    m = get_model('resnet10', width=0.25)
    with torch.no_grad():   # a few train-mode forwards give the BatchNorms real running statistics
        m.train(); [m(torch.rand(16, 3, 32, 32)) for _ in range(3)]
    return m.double().eval()

@pytest.fixture(scope='module')
def r18():
    "torchvision resnet18: in-place ReLUs, one ReLU module used twice per block."
    torch.manual_seed(1)
    return torchvision.models.resnet18(weights=None, num_classes=10).double().eval()

@pytest.fixture(scope='module')
def batch():
    g = torch.Generator().manual_seed(0)
    return torch.rand(4, 3, 32, 32, generator=g, dtype=torch.float64), torch.tensor([0, 3, 7, 9])

def _models(net, r18): return {'satlib-resnet10': net, 'tv-resnet18': r18}

# ---------------------------------------------------------------- Captum: gradient, guided backprop
@pytest.mark.parametrize('which', ['satlib-resnet10', 'tv-resnet18'])
def test_gradient_vs_captum_saliency(net, r18, batch, which):
    m, (x, y) = _models(net, r18)[which], batch
    ref = captum_attr.Saliency(m).attribute(x, target=y, abs=False)   # Captum's default abs=True takes |grad|
    check(f'gradient vs Saliency(abs=False) [{which}]', gradient(m, x, y=y), ref)
    check(f'gradient.abs() vs Saliency() [{which}]', gradient(m, x, y=y).abs(), captum_attr.Saliency(m).attribute(x, target=y))
    assert model_is_clean(m)

@pytest.mark.parametrize('which', ['satlib-resnet10', 'tv-resnet18'])
def test_guided_backprop_vs_captum(net, r18, batch, which):
    m, (x, y) = _models(net, r18)[which], batch
    ours = guided_backprop(m, x, y=y)
    check(f'guided_backprop vs GuidedBackprop [{which}]', ours, captum_attr.GuidedBackprop(m).attribute(x, target=y))
    assert not torch.allclose(ours, gradient(m, x, y=y))   # the test can fail: GBP differs from the gradient
    assert model_is_clean(m)

def test_guided_backprop_pred_target(net, batch):
    x, _ = batch
    pred = net(x).argmax(1)
    check('guided_backprop target=pred vs GuidedBackprop(argmax)', guided_backprop(net, x, target='pred'),
          captum_attr.GuidedBackprop(net).attribute(x, target=pred))

# ---------------------------------------------------------------- Captum: Integrated Gradients
@pytest.mark.parametrize('rule', ['gausslegendre', 'riemann_left', 'riemann_right', 'riemann_middle'])
def test_ig_vs_captum(net, batch, rule):
    x, y = batch
    ours = integrated_gradients(net, x, y=y, steps=12, rule=rule)
    ref = captum_attr.IntegratedGradients(net).attribute(x, target=y, n_steps=12, method=rule)
    check(f'IG {rule} (zeros) vs IntegratedGradients', ours, ref)

def test_ig_trapezoid_vs_captum(net, batch):
    "Captum's 'riemann_trapezoid' weights are 1/m (halved at the ends), summing to 1 - 1/m; satlib's are 1/(m-1)."
    x, y = batch
    m = 12
    ours = integrated_gradients(net, x, y=y, steps=m, rule='riemann_trapezoid')
    ref = captum_attr.IntegratedGradients(net).attribute(x, target=y, n_steps=m, method='riemann_trapezoid')
    check('IG trapezoid vs IntegratedGradients * m/(m-1)', ours, ref * m / (m - 1))

@pytest.mark.parametrize('kind', ['blur', 'tensor', 'uniform'])
def test_ig_baselines_vs_captum(net, batch, kind):
    x, y = batch
    from satlib.saliency import make_baseline
    g = torch.Generator().manual_seed(5)
    base = {'blur': make_baseline(x, 'blur', blur_sigma=2.), 'tensor': torch.full_like(x, 0.5),
            'uniform': make_baseline(x, 'uniform', generator=g)}[kind]
    spec = {'blur': 'blur', 'tensor': torch.full((3, 1, 1), 0.5, dtype=x.dtype), 'uniform': 'uniform'}[kind]
    ours = integrated_gradients(net, x, y=y, baseline=spec, steps=10, blur_sigma=2., generator=torch.Generator().manual_seed(5))
    check(f'IG baseline={kind} vs IntegratedGradients', ours,
          captum_attr.IntegratedGradients(net).attribute(x, baselines=base, target=y, n_steps=10))

def test_ig_internal_batch_size_vs_captum(net, batch):
    x, y = batch
    ours = integrated_gradients(net, x, y=y, steps=8, internal_batch_size=5)
    check('IG internal_batch_size=5 vs IntegratedGradients', ours,
          captum_attr.IntegratedGradients(net).attribute(x, target=y, n_steps=8, internal_batch_size=5))

# ---------------------------------------------------------------- Captum: NoiseTunnel (SmoothGrad / VarGrad)
@pytest.mark.parametrize('nt', ['smoothgrad', 'vargrad'])
def test_noise_tunnel_same_seed(batch, nt):
    "float32, both libraries drawing from torch's global RNG seeded identically (same draws, same layout)."
    torch.manual_seed(0)
    m = get_model('resnet10', width=0.25).eval()
    x, y = batch[0].float(), batch[1]
    fn = smoothgrad if nt == 'smoothgrad' else vargrad
    torch.manual_seed(123); ours = fn(m, x, y=y, n_samples=6, stdev=0.2)
    torch.manual_seed(123)
    ref = captum_attr.NoiseTunnel(captum_attr.Saliency(m)).attribute(x, nt_type=nt, nt_samples=6, stdevs=0.2, target=y, abs=False)
    check(f'{nt} vs NoiseTunnel(Saliency) same seed (float32)', ours, ref, tol=1e-4 if nt == 'smoothgrad' else 1e-3)

@pytest.mark.parametrize('nt', ['smoothgrad', 'vargrad'])
def test_noise_tunnel_explicit_noise(net, batch, nt):
    "float64: Captum draws float32 noise (its stdev tensor is float32), so we pass the same noise explicitly."
    x, y = batch
    torch.manual_seed(7)
    ref = captum_attr.NoiseTunnel(captum_attr.Saliency(net)).attribute(x, nt_type=nt, nt_samples=5, stdevs=0.1, target=y, abs=False)
    torch.manual_seed(7)
    noise = torch.normal(0, torch.tensor(0.1).repeat((4 * 5,) + tuple(x.shape[1:]))).double()
    fn = smoothgrad if nt == 'smoothgrad' else vargrad
    check(f'{nt} vs NoiseTunnel(Saliency) same noise (float64)', fn(net, x, y=y, n_samples=5, noise=noise), ref)
    check(f'{nt} internal_batch_size=7 vs NoiseTunnel (float64)', fn(net, x, y=y, n_samples=5, noise=noise, internal_batch_size=7), ref)

# ---------------------------------------------------------------- Captum: GradientShap
def test_gradient_shap_vs_captum(net, batch):
    "Captum draws baseline indices and alphas from NumPy's global RNG and noise from torch's: replay them."
    x, y = batch
    ref_set = torch.rand(6, 3, 32, 32, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    n, sd = 5, 0.05
    np.random.seed(11); torch.manual_seed(11)
    ref = captum_attr.GradientShap(net).attribute(x, baselines=ref_set, n_samples=n, stdevs=sd, target=y)
    np.random.seed(11); torch.manual_seed(11)
    idx = torch.tensor(np.random.choice(6, n * 4))
    noise = torch.normal(0, torch.tensor(sd).repeat((4 * n,) + tuple(x.shape[1:]))).double()
    alpha = torch.tensor(np.random.uniform(0.0, 1.0, n * 4))
    ours = gradient_shap(net, x, y=y, baselines=ref_set, n_samples=n, draws=dict(idx=idx, noise=noise, alpha=alpha))
    check('gradient_shap vs GradientShap (replayed draws)', ours, ref)

# ---------------------------------------------------------------- Captum: GuidedGradCam
@pytest.mark.parametrize('which', ['satlib-resnet10', 'tv-resnet18'])
def test_guided_gradcam_vs_captum(net, r18, batch, which):
    "Captum's GuidedGradCam = GBP * nearest-upsampled ReLU(Grad-CAM): satlib with cam='gradcam', mode='nearest'."
    m, (x, y) = _models(net, r18)[which], batch
    layer = m.cam_layer if hasattr(m, 'cam_layer') else m.layer3
    ours = guided_gradcam_pp(m, x, y=y, layer=layer, cam='gradcam', mode='nearest')
    ref = captum_attr.GuidedGradCam(m, layer).attribute(x, target=y)
    check(f'guided_gradcam(cam=gradcam, nearest) vs GuidedGradCam [{which}]', ours, ref)
    assert model_is_clean(m)

def test_gradcam_vs_captum_layergradcam(net, batch):
    x, y = batch
    ref = captum_attr.LayerGradCam(net, net.cam_layer).attribute(x, target=y, relu_attributions=True)
    check('gradcam(upsample=False) vs LayerGradCam(relu)', gradcam(net, x, y=y, upsample=False), ref)
    ref = captum_attr.LayerGradCam(net, net.cam_layer).attribute(x, target=y)
    check('gradcam(relu=False) vs LayerGradCam', gradcam(net, x, y=y, upsample=False, relu=False), ref)

# ---------------------------------------------------------------- pytorch-grad-cam: GradCAM, GradCAMPlusPlus
def _pgc_post(cam, size):
    "pytorch-grad-cam's post-processing (in torch): per-image min-max (eps 1e-7), bilinear resize, min-max again."
    def mm(c):
        c = c - c.flatten(1).amin(1).view(-1, 1, 1, 1)
        return c / (1e-7 + c.flatten(1).amax(1).view(-1, 1, 1, 1))
    up = F.interpolate(mm(cam), size=size, mode='bilinear', align_corners=False)
    return mm(up)[:, 0]

@pytest.mark.parametrize('which', ['satlib-resnet10', 'tv-resnet18'])
@pytest.mark.parametrize('method', ['gradcam', 'gradcam_pp'])
def test_cams_vs_pytorch_grad_cam(net, r18, which, method):
    "pytorch-grad-cam ReLUs, min-max normalises and resizes (cv2) in NumPy; satlib returns the raw ReLU'd map."
    m = _models(net, r18)[which]
    x = torch.rand(4, 3, 64, 64, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    y = torch.tensor([1, 2, 3, 4])
    layer = m.cam_layer if hasattr(m, 'cam_layer') else m.layer4
    Peer = pgc.GradCAM if method == 'gradcam' else pgc.GradCAMPlusPlus
    with Peer(model=m, target_layers=[layer]) as cam:
        ref = cam(input_tensor=x, targets=[ClassifierOutputTarget(int(t)) for t in y])
    ours = saliency(m, x, method, y=y, upsample=False, layer=layer)
    check(f'{method} (+pgc post-processing) vs pytorch-grad-cam [{which}]', _pgc_post(ours, x.shape[-2:]), torch.from_numpy(ref))
    assert model_is_clean(m)

def test_pred_target_matches_pgc_default(net):
    "pytorch-grad-cam explains the predicted class when targets=None; satlib's target='pred'."
    x = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    with pgc.GradCAMPlusPlus(model=net, target_layers=[net.cam_layer]) as cam: ref = cam(input_tensor=x, targets=None)
    check('gradcam_pp target=pred vs pytorch-grad-cam targets=None', _pgc_post(gradcam_pp(net, x, target='pred', upsample=False), (32, 32)), torch.from_numpy(ref))

# ---------------------------------------------------------------- torchvision VGG: automatic CAM layer
def test_vgg11_cam_layer_and_gradcam():
    torch.manual_seed(0)
    m = torchvision.models.vgg11(weights=None, num_classes=10).eval()
    x = torch.rand(2, 3, 64, 64); y = torch.tensor([3, 5])
    layer, shape = find_cam_layer(m, x)
    assert layer is m.features and shape == (512, 2, 2)
    with pgc.GradCAM(model=m, target_layers=[m.features[-1]]) as cam:
        ref = cam(input_tensor=x, targets=[ClassifierOutputTarget(int(t)) for t in y])
    check('gradcam auto layer vs pytorch-grad-cam features[-1] [tv-vgg11, float32]', _pgc_post(gradcam(m, x, y=y, upsample=False), (64, 64)),
          torch.from_numpy(ref), tol=1e-4)
    assert model_is_clean(m)
