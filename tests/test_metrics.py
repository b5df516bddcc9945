"""Attributional-robustness metrics, attacks on explanations, localization, corruptions and ROAR,
checked against independent references: scipy's Kendall tau-b, torchvision's box IoU, closed forms
on linear models, hand-made maps and boxes, and random noise of the same budget."""
import warnings
import numpy as np, pytest, torch, torchvision
from torch import nn
from scipy import stats
from satlib.core import SatlibError, derangement
from satlib.metrics import (topk_intersection, kendall_tau, alignment, image_gradient_alignment, attribution_features,
                            IFIA, TargetedAttributionAttack, RandomSignNoise)


# ---------------------------------------------------------------- Kendall's tau vs scipy
@pytest.mark.parametrize('n', [2, 3, 17, 32, 100, 1024, 1030])
@pytest.mark.parametrize('kind', ['ties', 'continuous', 'heavy_ties'])
def test_kendall_matches_scipy(n, kind):
    g = torch.Generator().manual_seed(n)
    if kind == 'continuous': a, b = torch.rand(5, n, generator=g), torch.rand(5, n, generator=g)
    elif kind == 'ties': a, b = torch.randint(0, 6, (5, n), generator=g).float(), torch.randint(0, 4, (5, n), generator=g).float()
    else:   # mostly zeros, like maps masked to a top-k set (ART's selection criterion)
        a = torch.rand(5, n, generator=g) * (torch.rand(5, n, generator=g) < .1)
        b = a + 0.3 * torch.rand(5, n, generator=g) * (a > 0)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        ref = np.array([stats.kendalltau(u, v)[0] for u, v in zip(a.double().numpy(), b.double().numpy())])
    got = kendall_tau(a.double(), b.double()).numpy()
    np.testing.assert_allclose(got, ref, atol=1e-12, equal_nan=True)


def test_kendall_on_maps_reduces_channels():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(3, 3, 8, 8, generator=g), torch.randn(3, 3, 8, 8, generator=g)
    fa, fb = a.abs().sum(1).flatten(1), b.abs().sum(1).flatten(1)
    ref = [stats.kendalltau(u, v)[0] for u, v in zip(fa.numpy(), fb.numpy())]
    np.testing.assert_allclose(kendall_tau(a, b).numpy(), ref, atol=1e-6)


# ---------------------------------------------------------------- top-k intersection
def test_topk_hand_made():
    a = torch.zeros(2, 1, 3, 3); b = torch.zeros(2, 1, 3, 3)
    a[0, 0, 0, :] = torch.tensor([3., 2., 1.])         # top-2: pixels 0, 1
    b[0, 0, 0, 0], b[0, 0, 2, 2] = 5., 4.               # top-2: pixels 0, 8 -> intersection 1/2
    a[1, 0, 1, 1], a[1, 0, 2, 0] = 1., 2.               # top-2: pixels 4, 6
    b[1, 0, 1, 1], b[1, 0, 2, 0] = -7., 9.              # |b|: same pixels -> 1
    np.testing.assert_allclose(topk_intersection(a, b, k=2).numpy(), [0.5, 1.0])
    # negative attributions count by magnitude (reduce='abs'); reduce='sum' ranks signed values
    np.testing.assert_allclose(topk_intersection(a, b, k=2, reduce='sum').numpy(), [0.5, 0.5])


def test_topk_equals_set_intersection():
    g = torch.Generator().manual_seed(1)
    a, b = torch.rand(4, 200, generator=g), torch.rand(4, 200, generator=g)
    for k in (1, 10, 50, 200):
        ref = [len(set(np.argsort(-u)[:k]) & set(np.argsort(-v)[:k])) / k for u, v in zip(a.numpy(), b.numpy())]
        np.testing.assert_allclose(topk_intersection(a, b, k).numpy(), ref)


# ---------------------------------------------------------------- alignment: closed form on a linear model
def test_alignment_linear_closed_form():
    torch.manual_seed(0)
    lin = nn.Sequential(nn.Flatten(), nn.Linear(48, 5))
    x, y = torch.rand(6, 3, 4, 4), torch.tensor([0, 1, 2, 3, 4, 0])
    w = lin[1].weight.detach()[y]                                          # gradient of logit y = w_y
    xf = x.flatten(1)
    np.testing.assert_allclose(image_gradient_alignment(lin, x, y, 'etmann').numpy(),
                               ((xf * w).sum(1).abs() / w.norm(dim=1)).numpy(), rtol=1e-5)
    np.testing.assert_allclose(image_gradient_alignment(lin, x, y, 'cosine').numpy(),
                               ((xf * w).sum(1) / (w.norm(dim=1) * xf.norm(dim=1))).numpy(), rtol=1e-5)
    np.testing.assert_allclose(image_gradient_alignment(lin, x, y, 'etmann_normalized').numpy(),
                               ((xf * w).sum(1).abs() / (w.norm(dim=1) * xf.norm(dim=1))).numpy(), rtol=1e-5)
    # Etmann et al.: for a linear binary classifier without bias the alignment is the distance to the boundary
    lin2 = nn.Sequential(nn.Flatten(), nn.Linear(48, 1, bias=False))
    f = lambda x: torch.cat([torch.zeros(len(x), 1), lin2(x)], 1)         # logits (0, w.x): boundary w.x = 0
    class Two(nn.Module):
        def forward(self, x): return f(x)
    d = lin2(x).squeeze(1).abs().detach() / lin2[1].weight.norm().detach()
    np.testing.assert_allclose(image_gradient_alignment(Two(), x, torch.ones(6, dtype=torch.long), 'etmann').numpy(), d.numpy(), rtol=1e-5)


# ---------------------------------------------------------------- attacks on explanations
class SmallNet(nn.Module):
    "A small ReLU CNN (nn.ReLU modules, so the Softplus swap applies)."
    def __init__(self):
        super().__init__()
        self.f = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                               nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(128, 4))
    def forward(self, x): return self.f(x)


@pytest.fixture(scope='module')
def small():
    torch.manual_seed(0)
    net = SmallNet().eval()
    x = torch.rand(8, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad(): y = net(x).argmax(1)
    return net, x, y


@pytest.mark.parametrize('method,args', [('gradient', {}), ('integrated_gradients', dict(steps=4)), ('gradient_shap', dict(n_samples=16))])
def test_ifia_beats_random_noise_and_keeps_predictions(small, method, args):
    net, x, y = small
    eps = 8 / 255
    atk = IFIA(net, eps=eps, steps=8, step_size=2 / 255, method=method, method_args=args, k=20, criterion='topk')
    xa = atk(x, y)
    xn = RandomSignNoise(net, eps)(x, y)
    f0, fa, fn = (attribution_features(net, v, y, method, args) for v in (x, xa, xn))
    with torch.no_grad():
        assert torch.equal(net(xa).argmax(1), net(x).argmax(1))           # prediction kept
    assert (xa - x).abs().max() <= eps + 1e-6 and xa.min() >= 0 and xa.max() <= 1
    assert atk.last['kept'].all()
    ti_a, ti_n = topk_intersection(f0, fa, 20).mean(), topk_intersection(f0, fn, 20).mean()
    assert ti_a < ti_n - 0.1, (ti_a, ti_n)
    assert (xa != x).any()


def test_ifia_leaves_model_untouched(small):
    net, x, y = small
    before = {k: v.clone() for k, v in net.state_dict().items()}
    net.train(); flags = [p.requires_grad for p in net.parameters()]
    IFIA(net, steps=2, method='gradient', k=10)(x[:2], y[:2])
    assert net.training and [p.requires_grad for p in net.parameters()] == flags
    assert all(isinstance(m, nn.ReLU) for m in net.f if not isinstance(m, (nn.Conv2d, nn.AdaptiveAvgPool2d, nn.Flatten, nn.Linear)))
    for k, v in net.state_dict().items(): assert torch.equal(v, before[k])
    net.eval()


def test_targeted_attack_moves_map_towards_target(small):
    net, x, y = small
    atk = TargetedAttributionAttack(net, eps=8 / 255, steps=8, step_size=2 / 255, method='gradient')
    xa = atk(x, y)
    ft = atk.last['target']
    f0, fa = (attribution_features(net, v, y, 'gradient') for v in (x, xa))
    assert ((fa - ft) ** 2).mean() < 0.8 * ((f0 - ft) ** 2).mean()
    with torch.no_grad(): assert torch.equal(net(xa).argmax(1), net(x).argmax(1))


def test_derangement_has_no_fixed_points():
    for n in (2, 3, 10, 101):
        p = derangement(n, torch.Generator().manual_seed(n))
        assert sorted(p.tolist()) == list(range(n)) and (p != torch.arange(n)).all()


def test_bad_input_fails_early(small):
    net, x, y = small
    with pytest.raises(SatlibError, match='not differentiable'): IFIA(net, method='guided_backprop')
    with pytest.raises(SatlibError, match='k=2000 is larger'): IFIA(net, method='gradient', k=2000, steps=1)(x, y)
    with pytest.raises(SatlibError, match='same shape'): topk_intersection(x, x[:, :, :8])


# ---------------------------------------------------------------- localization: IoU, box fitting, scores
from satlib.localization import box_iou, mask_iou, wsol_heatmap, fit_box, seg_mask, wsol_scores, wsol_evaluate
from satlib.saliency import mask_to_box


def test_box_iou_hand_made_and_torchvision():
    a = torch.tensor([[0, 0, 10, 10], [0, 0, 10, 10], [5, 5, 15, 15], [0, 0, 0, 0], [2, 3, 4, 8]])
    b = torch.tensor([[0, 0, 10, 10], [5, 0, 15, 10], [0, 0, 10, 10], [0, 0, 0, 0], [3, 3, 4, 4]])
    np.testing.assert_allclose(box_iou(a, b).numpy(), [1., 50 / 150, 25 / 175, 0., 1 / 10], rtol=1e-6)
    g = torch.Generator().manual_seed(3)
    p, q = torch.rand(200, 4, generator=g) * 64, torch.rand(200, 4, generator=g) * 64
    p = torch.cat([p[:, :2].minimum(p[:, 2:]), p[:, :2].maximum(p[:, 2:])], 1)
    q = torch.cat([q[:, :2].minimum(q[:, 2:]), q[:, :2].maximum(q[:, 2:])], 1)
    np.testing.assert_allclose(box_iou(p, q).numpy(), torchvision.ops.box_iou(p, q).diagonal().numpy(), rtol=1e-5, atol=1e-7)


def test_box_iou_agrees_with_mask_iou_for_integer_boxes():
    from satlib.saliency import box_to_mask
    g = torch.Generator().manual_seed(4)
    c = torch.randint(0, 20, (100, 4), generator=g)
    a = torch.cat([c[:, :2], c[:, :2] + 1 + torch.randint(0, 12, (100, 2), generator=g)], 1)
    b = a.roll(3, 0)
    np.testing.assert_allclose(box_iou(a, b).numpy(), mask_iou(box_to_mask(a, 32, 32), box_to_mask(b, 32, 32)).numpy(), rtol=1e-6)


def test_fit_box_recovers_object_from_its_own_mask():
    from satlib.data import BuiltinShapes
    d = BuiltinShapes(64, seed=1, split='test').tensors()
    m = d.masks.float()
    s = m.expand(-1, 3, -1, -1) * (1 + torch.rand(m.shape[0], 3, 32, 32))      # a map that lights up the object
    h = wsol_heatmap(s, smooth=1, clip=None)
    gt = mask_to_box(d.masks[:, 0].bool())
    iou = box_iou(fit_box(h, 0.3), gt)
    assert (iou > 0.7).float().mean() > 0.9, iou          # objects with thin parts may split into components
    assert (box_iou(fit_box(h, 0.3, largest=False), gt) == 1).all()
    assert (mask_iou(seg_mask(h, 0.3), d.masks.bool()) == 1).all()
    sc = wsol_scores(iou, torch.ones(64, dtype=torch.bool), mask_iou(seg_mask(h, 0.3), d.masks.bool()))
    assert sc['top1_seg'] == 100. and sc['gt_known_loc'] >= 90.


def test_wsol_evaluate_bounds(small):
    from satlib.data import BuiltinShapes
    from satlib.models import get_model
    d = BuiltinShapes(24, seed=2, split='test').tensors()
    df = wsol_evaluate(get_model('resnet10', 10, width=0.125), d, thresholds=(0.2, 0.5), device='cpu')
    assert list(df.threshold) == [0.2, 0.5] and (df.n == 24).all()
    assert ((df.top1_loc <= df.gt_known_loc) & (df.top1_loc <= df.top1_acc) & (df.top1_seg <= df.top1_acc)).all()


# ---------------------------------------------------------------- common corruptions
from satlib.corruptions import CORRUPTIONS, EXTRA_CORRUPTIONS, corrupt_images, corrupted


@pytest.fixture(scope='module')
def shapes4():
    from satlib.data import BuiltinShapes
    return BuiltinShapes(3, seed=5, split='test').tensors()


@pytest.mark.parametrize('name', CORRUPTIONS + EXTRA_CORRUPTIONS)
def test_every_corruption_runs_on_32x32(shapes4, name):
    for s in (1, 5):
        o = corrupt_images(shapes4.images, name, s)
        assert o.shape == shapes4.images.shape and o.dtype == torch.uint8
        assert (o.float() - shapes4.images.float()).abs().mean() > 0.5, (name, s)
    assert torch.equal(corrupt_images(shapes4.images, name, 3, seed=7), corrupt_images(shapes4.images, name, 3, seed=7))


def test_corrupted_data_keeps_labels_and_masks(shapes4):
    d = corrupted(shapes4, 'snow', 2, n=2)
    assert len(d) == 2 and torch.equal(d.labels, shapes4.labels[:2]) and torch.equal(d.masks, shapes4.masks[:2])
    assert d.name.endswith('snow-2')


def test_corruption_workers_match_in_process(shapes4):
    x = shapes4.images.repeat(2, 1, 1, 1)
    assert torch.equal(corrupt_images(x, 'gaussian_noise', 2, chunk=2, workers=2), corrupt_images(x, 'gaussian_noise', 2, chunk=2))


# ---------------------------------------------------------------- ROAR
from satlib.roar import remove_top, random_scores, roar_data, channel_mean, pixel_scores, roar


def test_remove_top_replaces_exactly_the_top_pixels():
    g = torch.Generator().manual_seed(0)
    imgs = torch.randint(0, 200, (5, 3, 8, 8), generator=g, dtype=torch.uint8)
    scores = torch.randn(5, 64, generator=g)
    fill = torch.tensor([250, 251, 252])
    for t in (0.1, 0.25, 0.5, 0.9):
        out = remove_top(imgs, scores, t, fill)
        k = int(np.ceil(t * 64 - 1e-9))
        changed = (out != imgs).any(1).flatten(1)                        # images < 200 and fill >= 250: every removal shows
        ref = torch.zeros(5, 64, dtype=torch.bool).scatter_(1, scores.argsort(1, descending=True)[:, :k], True)
        assert torch.equal(changed, ref)
        assert (out.permute(0, 2, 3, 1).reshape(5, 64, 3)[ref] == fill.to(torch.uint8)).all()
        assert torch.equal(out.flatten(2).transpose(1, 2)[~ref], imgs.flatten(2).transpose(1, 2)[~ref])


def test_random_ranking_differs_from_saliency_ranking():
    from satlib.data import BuiltinShapes
    from satlib.models import get_model
    d = BuiltinShapes(8, seed=0, split='test').tensors()
    torch.manual_seed(0)
    s = pixel_scores(get_model('resnet10', 10, width=0.125), d, 'gradient', device='cpu')
    r = random_scores(d, 0)
    assert s.shape == r.shape == (8, 1024) and torch.equal(r, random_scores(d, 0))
    fill = channel_mean(d)
    a, b = roar_data(d, s, 0.5, fill), roar_data(d, r, 0.5, fill)
    assert not torch.equal(a.images, b.images) and torch.equal(a.labels, d.labels)
    assert ((a.images != d.images).any(1).flatten(1).sum(1) <= 512).all()


def test_attribution_table_single_example_batches(small):
    "The targeted attack draws its targets from the whole set, so batches with one correct example work."
    from satlib.data import TensorData
    from satlib.evaluate import AttackSpec
    from satlib.metrics import attribution_robustness
    net, x, y = small
    d = TensorData((x[:4] * 255).round().to(torch.uint8), y[:4])
    with torch.no_grad(): yy = net(d.images.float() / 255).argmax(1)
    d = TensorData(d.images, yy)                                            # all correctly classified
    df, out = attribution_robustness(net, d, [AttackSpec('targeted_attribution', 8 / 255, steps=2, step_size=2 / 255),
                                              AttackSpec('sign_noise', 0.)], method='gradient', k=10, n=None,
                                     batch_size=1, device='cpu')
    assert list(df.n_correct) == [4, 4] and (df.n > 0).all()
    assert df.topk[1] == 100. and abs(df.kendall[1] - 100.) < 1e-4          # eps = 0: maps unchanged
