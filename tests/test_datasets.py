"""Tests of satlib.datasets: tiny fixtures written here in each official format (pickles, JPEG/PNG/PPM
files, a .mat file, CSV and text indexes), read back and checked against the values written; bad-input
errors; and, when SATLIB_DATA holds the extracted shared archives, counts and a few decodes of the real data."""
import os, pickle
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw
from scipy.io import savemat
from torchvision import tv_tensors
from torchvision.ops import masks_to_boxes
from torchvision.transforms import v2

from satlib.core import SatlibError
from satlib.data import datasets, TensorData
from satlib.datasets import get_dataset
from satlib.datasets import (box_mask, xywh_boxes, read_image, CIFAR10, CIFAR100, CIFAR10Folder, TinyImageNet,
                             Flowers17, SVHN, GTSRB, CUB200, CIFAR10_CLASSES, FLOWERS17_CLASSES, write_fake)

# torchvision 0.29 deprecates its image decoders (satlib falls back to PIL once they are gone)
pytestmark = pytest.mark.filterwarnings('ignore:The image decoding and encoding capabilities of TorchVision:DeprecationWarning')

NAMES = ['cifar10', 'cifar100', 'cifar10-jpeg', 'tinyimagenet', 'flowers17', 'svhn', 'gtsrb', 'cub200']


def ref_box_mask(box, h, w):
    "Reference: a slice assignment, corners included."
    m = torch.zeros(1, h, w, dtype=torch.uint8)
    x0, y0, x1, y1 = box
    m[:, y0:y1 + 1, x0:x1 + 1] = 1
    return m


def solid(w, h, box=None, fg=(240, 200, 30), bg=(10, 20, 40)):
    "An image of size w x h: flat background, a bright rectangle drawn on the inclusive box."
    im = Image.new('RGB', (w, h), bg)
    if box is not None: ImageDraw.Draw(im).rectangle(box, fill=fg)
    return im


def bright(img):
    "Where the bright object is (all channels of our fixtures' foreground are far from the background)."
    return img.float().mean(0, keepdim=True) > 100

# ---------------------------------------------------------------- boxes


def test_box_mask_matches_slicing_and_masks_to_boxes():
    g = torch.Generator().manual_seed(0)
    x0 = torch.randint(0, 30, (50,), generator=g); y0 = torch.randint(0, 20, (50,), generator=g)
    x1 = x0 + torch.randint(0, 10, (50,), generator=g); y1 = y0 + torch.randint(0, 12, (50,), generator=g)
    b = torch.stack([x0, y0, x1, y1], 1)
    m = box_mask(b, (32, 40))
    assert m.shape == (50, 1, 32, 40) and m.dtype == torch.uint8
    for k in range(50): assert torch.equal(m[k], ref_box_mask(b[k].tolist(), 32, 40))
    assert torch.equal(masks_to_boxes(m[:, 0]).long(), b)


def test_box_mask_clips_to_image():
    assert torch.equal(box_mask([2, 1, 99, 99], (4, 5)), ref_box_mask([2, 1, 4, 3], 4, 5))


def test_xywh_boxes_pixel_centres():
    # whole numbers: columns x .. x+w-1; fractions: the pixels whose centres c+0.5 fall in [x, x+w)
    assert xywh_boxes([[60., 27., 325., 304.]]).tolist() == [[60, 27, 384, 330]]
    assert xywh_boxes([[0.4, 0.6, 1.2, 2.0]]).tolist() == [[0, 1, 1, 2]]   # centres 0.5, 1.5 in [0.4, 1.6); 1.5, 2.5 in [0.6, 2.6)
    assert xywh_boxes([[3.0, 3.0, 0.2, 0.2]]).tolist() == [[3, 3, 3, 3]]   # a sliver keeps one pixel

# ---------------------------------------------------------------- images


def test_read_image_formats_and_corrupt(tmp_path):
    a = np.random.default_rng(1).integers(0, 256, (6, 9, 3), dtype=np.uint8)
    Image.fromarray(a).save(tmp_path/'a.png'); Image.fromarray(a).save(tmp_path/'a.ppm')
    Image.fromarray(a).convert('CMYK').save(tmp_path/'c.jpg', quality=100)
    ref = torch.from_numpy(a).permute(2, 0, 1)
    for f in ('a.png', 'a.ppm'):
        x = read_image(tmp_path/f)
        assert isinstance(x, tv_tensors.Image) and torch.equal(x.as_subclass(torch.Tensor), ref)
    assert read_image(tmp_path/'c.jpg').shape == (3, 6, 9)
    (tmp_path/'bad.ppm').write_bytes(b'P6 garbage')
    with pytest.raises(SatlibError, match='cannot decode image .*bad.ppm'): read_image(tmp_path/'bad.ppm')

# ---------------------------------------------------------------- CIFAR pickles


def cifar_pixels(n, seed):
    return np.random.default_rng(seed).integers(0, 256, (n, 3072), dtype=np.uint8)


def write_cifar10(root):
    d = root/'cifar-10-batches-py'; d.mkdir(parents=True)
    parts = {}
    for k, f in enumerate([f'data_batch_{i}' for i in range(1, 6)] + ['test_batch']):
        parts[f] = (cifar_pixels(2, k), [k, 9 - k])
        (d/f).write_bytes(pickle.dumps({b'batch_label': f.encode(), b'data': parts[f][0], b'labels': parts[f][1],
                                        b'filenames': [b'a.png', b'b.png']}))
    (d/'batches.meta').write_bytes(pickle.dumps({b'label_names': [c.encode() for c in CIFAR10_CLASSES], b'num_vis': 3072}))
    return parts


def test_cifar10_pickles(tmp_path):
    parts = write_cifar10(tmp_path)
    tr, te = CIFAR10(tmp_path, 'train'), CIFAR10(tmp_path, 'test')
    assert len(tr) == 10 and len(te) == 2 and tr.classes == CIFAR10_CLASSES
    assert tr.labels.tolist() == [0, 9, 1, 8, 2, 7, 3, 6, 4, 5] and te.labels.tolist() == [5, 4]
    img, y, m = tr[3]                               # batch 2, second row
    row = parts['data_batch_2'][0][1]
    assert y == 8 and m is None and img.shape == (3, 32, 32) and img.dtype == torch.uint8
    for c, yy, xx in [(0, 0, 0), (1, 5, 7), (2, 31, 30), (0, 17, 3)]:   # row layout: 1024 R, 1024 G, 1024 B, row-major
        assert img[c, yy, xx] == row[c * 1024 + yy * 32 + xx]
    td = tr.tensors()
    assert isinstance(td, TensorData) and td.masks is None and td.images.shape == (10, 3, 32, 32)
    assert torch.equal(td.images[3], img.as_subclass(torch.Tensor))
    assert CIFAR10(tmp_path, resize=16).tensors().images.shape == (10, 3, 16, 16)


def test_cifar10_accepts_the_folder_itself_and_names_missing_files(tmp_path):
    write_cifar10(tmp_path)
    assert len(CIFAR10(tmp_path/'cifar-10-batches-py', 'test')) == 2
    (tmp_path/'cifar-10-batches-py'/'data_batch_4').unlink()
    with pytest.raises(SatlibError, match='missing .*data_batch_4; expected the official layout'): CIFAR10(tmp_path)
    (tmp_path/'cifar-10-batches-py'/'test_batch').write_bytes(b'not a pickle')
    with pytest.raises(SatlibError, match='cannot read .*test_batch'): CIFAR10(tmp_path, 'test')


def test_cifar100_fine_and_coarse(tmp_path):
    d = tmp_path/'cifar-100-python'; d.mkdir()
    x = cifar_pixels(4, 7)
    (d/'train').write_bytes(pickle.dumps({b'data': x, b'fine_labels': [99, 0, 42, 7], b'coarse_labels': [19, 4, 0, 3]}))
    (d/'test').write_bytes(pickle.dumps({b'data': x[:1], b'fine_labels': [5], b'coarse_labels': [1]}))
    (d/'meta').write_bytes(pickle.dumps({b'fine_label_names': [f'f{k}'.encode() for k in range(100)],
                                         b'coarse_label_names': [f'c{k}'.encode() for k in range(20)]}))
    fine, coarse = CIFAR100(tmp_path), CIFAR100(tmp_path, label='coarse')
    assert fine.labels.tolist() == [99, 0, 42, 7] and fine.num_classes == 100 and fine.classes[42] == 'f42'
    assert coarse.labels.tolist() == [19, 4, 0, 3] and coarse.num_classes == 20
    assert torch.equal(fine[2][0].as_subclass(torch.Tensor), torch.from_numpy(x[2].reshape(3, 32, 32)))
    assert CIFAR100(tmp_path, 'test').labels.tolist() == [5]
    with pytest.raises(SatlibError, match="label must be 'fine' or 'coarse'"): CIFAR100(tmp_path, label='super')

# ---------------------------------------------------------------- CIFAR-10 JPEG folders


def write_cifar10_jpeg(root, per_class=2):
    for s in ('train', 'test'):
        for k, c in enumerate(CIFAR10_CLASSES):
            (root/'cifar10-jpeg'/s/c).mkdir(parents=True)
            for j in range(per_class + (s == 'train')):
                Image.new('RGB', (32, 32), (25 * k, 0, 100)).save(root/'cifar10-jpeg'/s/c/f'{j:04d}.jpg', quality=95)


def test_cifar10_jpeg_folders(tmp_path):
    write_cifar10_jpeg(tmp_path)
    tr, te = CIFAR10Folder(tmp_path, 'train'), CIFAR10Folder(tmp_path, 'test')
    assert len(tr) == 30 and len(te) == 20
    assert tr.labels.tolist() == [k for k in range(10) for _ in range(3)]
    img, y, m = te[7]                               # class 3 (cat), red = 75
    assert y == 3 and m is None and img.shape == (3, 32, 32) and abs(int(img[0].float().mean()) - 75) <= 2
    assert Path(te.files[7]).parent.name == 'cat'


def test_cifar10_jpeg_class_folders_checked(tmp_path):
    write_cifar10_jpeg(tmp_path, 1)
    (tmp_path/'cifar10-jpeg'/'test'/'truck').rename(tmp_path/'cifar10-jpeg'/'test'/'lorry')
    with pytest.raises(SatlibError, match=r"missing: \['truck'\], unexpected: \['lorry'\]"): CIFAR10Folder(tmp_path, 'test')
    import shutil; shutil.rmtree(tmp_path/'cifar10-jpeg'/'train')
    with pytest.raises(SatlibError, match='missing .*cifar10-jpeg/train; expected'): CIFAR10Folder(tmp_path, 'train')

# ---------------------------------------------------------------- Tiny ImageNet

TINY_WNIDS = ['n09999999', 'n00000005']             # deliberately not sorted: the label order is wnids.txt's
TINY_TRAIN = {'n09999999': [(0, 10, 63, 58), (14, 2, 54, 49)], 'n00000005': [(0, 0, 63, 63), (30, 40, 30, 41), (5, 5, 10, 60)]}
TINY_VAL = [('val_0.JPEG', 'n00000005', (0, 32, 44, 62)), ('val_1.JPEG', 'n09999999', (52, 55, 57, 59)),
            ('val_2.JPEG', 'n00000005', (4, 0, 60, 55))]


def write_tiny(root):
    d = root/'tiny-imagenet-200'; d.mkdir(parents=True)
    (d/'wnids.txt').write_text('\n'.join(TINY_WNIDS) + '\n')
    for w, boxes in TINY_TRAIN.items():
        (d/'train'/w/'images').mkdir(parents=True)
        lines = []
        for j, b in enumerate(boxes):
            solid(64, 64, b).save(d/'train'/w/'images'/f'{w}_{j}.JPEG', quality=95)
            lines.append(f'{w}_{j}.JPEG\t' + '\t'.join(map(str, b)))
        (d/'train'/w/f'{w}_boxes.txt').write_text('\n'.join(lines) + '\n')
    (d/'val'/'images').mkdir(parents=True)
    for f, w, b in TINY_VAL: solid(64, 64, b).save(d/'val'/'images'/f, quality=95)
    (d/'val'/'val_annotations.txt').write_text(''.join(f'{f}\t{w}\t' + '\t'.join(map(str, b)) + '\n' for f, w, b in TINY_VAL))
    return d


def test_tiny_imagenet_train_boxes(tmp_path):
    write_tiny(tmp_path)
    ds = TinyImageNet(tmp_path, 'train')
    assert ds.classes == TINY_WNIDS and len(ds) == 5 and bool(ds.has_mask.all())
    assert ds.labels.tolist() == [0, 0, 1, 1, 1]
    assert ds.boxes.tolist() == [list(b) for w in TINY_WNIDS for b in TINY_TRAIN[w]]
    for i in range(len(ds)):
        img, y, m = ds[i]
        assert isinstance(m, tv_tensors.Mask) and m.dtype == torch.uint8 and img.shape == (3, 64, 64)
        assert torch.equal(m.as_subclass(torch.Tensor), ref_box_mask(ds.boxes[i].tolist(), 64, 64))
        assert (bright(img) != m.bool()).float().mean() < 0.01   # the drawn object is under the mask


def test_tiny_imagenet_val_and_test_alias(tmp_path):
    write_tiny(tmp_path)
    val, test = TinyImageNet(tmp_path, 'val'), TinyImageNet(tmp_path, 'test')
    assert test.split == 'val' and test.files == val.files
    assert val.labels.tolist() == [1, 0, 1]
    assert val.boxes.tolist() == [list(b) for _, _, b in TINY_VAL]
    _, _, m = val[0]
    assert int(m.sum()) == (44 - 0 + 1) * (62 - 32 + 1)


def test_tiny_imagenet_bad_input(tmp_path):
    d = write_tiny(tmp_path)
    with pytest.raises(SatlibError, match="unknown split 'holdout' for tinyimagenet; choose one of: train, val, test"):
        TinyImageNet(tmp_path, 'holdout')
    (d/'val'/'val_annotations.txt').write_text('val_0.JPEG\tn12345678\t0\t0\t5\t5\n')
    with pytest.raises(SatlibError, match='class n12345678 is not in .*wnids.txt'): TinyImageNet(tmp_path, 'val')
    (d/'val'/'val_annotations.txt').write_text('val_9.JPEG\tn00000005\t0\t0\t5\t5\n')
    with pytest.raises(SatlibError, match='lists 1 file.* missing from .*e.g. val_9.JPEG'): TinyImageNet(tmp_path, 'val')
    (d/'val'/'val_annotations.txt').write_text('val_0.JPEG\tn00000005\t9\t0\t5\t5\n')
    with pytest.raises(SatlibError, match=r'box \(9, 0, 5, 5\).*0 <= x0 <= x1'): TinyImageNet(tmp_path, 'val')
    (d/'val'/'val_annotations.txt').write_text('val_0.JPEG\tn00000005\t70\t0\t75\t5\n')
    with pytest.raises(SatlibError, match=r'val_0.JPEG: box .*\(70, 0, 75, 5\) lies outside the 64x64 image'):
        TinyImageNet(tmp_path, 'val')[0]
    (d/'train'/'n00000005'/'n00000005_boxes.txt').unlink()
    with pytest.raises(SatlibError, match='missing .*n00000005_boxes.txt; expected the official layout'): TinyImageNet(tmp_path)

# ---------------------------------------------------------------- Flowers-17


def flower_labelmap(n, size=40):
    "A region-label map: 3 background, 2 leaves band, 1 flower square, 0 border band around it (like the real maps)."
    a = np.full((size, size), 3, np.uint8)
    a[size - 8:, :] = 2
    k = n % 7
    a[8 + k - 1:30 + k + 1, 6 - 1:28 + 1] = 0
    a[8 + k:30 + k, 6:28] = 1
    return a


def write_flowers(root, per_class=3, size=40):
    d = root/'flowers17'; (d/'jpg').mkdir(parents=True); (d/'trimaps').mkdir()
    masked = []
    for c in range(17):
        for j in range(per_class):
            n = 80 * c + 1 + j
            a = flower_labelmap(n, size)
            rgb = np.where((a == 1)[..., None], np.array([250, 220, 0], np.uint8), np.array([20, 60, 20], np.uint8))
            Image.fromarray(rgb).save(d/'jpg'/f'image_{n:04d}.jpg', quality=95)
            if c != 13 and j != 1:                  # class 13 has no segmentation, like the real data
                p = Image.new('P', (size, size))
                p.putdata(a.reshape(-1).tolist()); p.putpalette([0, 0, 0, 255, 0, 0, 0, 128, 0, 0, 0, 255, 0, 200, 255] + [0] * 753)
                p.save(d/'trimaps'/f'image_{n:04d}.png'); masked.append(n)
    return d, masked


def test_flowers_split_labels_and_masks(tmp_path):
    d, masked = write_flowers(tmp_path)
    tr, te = Flowers17(tmp_path, 'train', n_train=2, n_test=1), Flowers17(tmp_path, 'test', n_train=2, n_test=1)
    assert len(tr) == 34 and len(te) == 17 and tr.classes == FLOWERS17_CLASSES
    nums = tr.image_numbers.tolist() + te.image_numbers.tolist()
    assert sorted(nums) == [80 * c + 1 + j for c in range(17) for j in range(3)]          # a partition of all images
    assert tr.labels.tolist() == [(n - 1) // 80 for n in tr.image_numbers.tolist()]
    assert torch.bincount(te.labels, minlength=17).tolist() == [1] * 17
    assert tr.has_mask.tolist() == [n in masked for n in tr.image_numbers.tolist()]
    for ds in (tr, te):
        for i in range(len(ds)):
            img, y, m = ds[i]
            n = int(ds.image_numbers[i])
            assert img.shape == (3, 40, 40)
            if n in masked:
                assert torch.equal(m.as_subclass(torch.Tensor), torch.from_numpy(flower_labelmap(n) == 1).to(torch.uint8)[None])
            else: assert m is None


def test_flowers_seeded_split_and_masked_only(tmp_path):
    write_flowers(tmp_path)
    kw = dict(n_train=2, n_test=1)
    a, b = Flowers17(tmp_path, 'test', **kw), Flowers17(tmp_path, 'test', **kw)
    assert a.image_numbers.tolist() == b.image_numbers.tolist()
    others = [Flowers17(tmp_path, 'test', seed=s, **kw).image_numbers.tolist() for s in (1, 2, 3)]
    assert any(o != a.image_numbers.tolist() for o in others)
    mt, mte = Flowers17(tmp_path, 'train', masked_only=True, **kw), Flowers17(tmp_path, 'test', masked_only=True, **kw)
    assert mt.num_classes == mte.num_classes == 16 and 'cowslip' not in mt.classes
    assert bool(mt.has_mask.all()) and bool(mte.has_mask.all())
    assert set(mte.image_numbers.tolist()) <= set(a.image_numbers.tolist())      # same test images, filtered
    orig = [(n - 1) // 80 for n in mt.image_numbers.tolist()]
    assert mt.labels.tolist() == [c - (c > 13) for c in orig]                   # remapped past the dropped class 13
    assert [mt.classes[y] for y in mt.labels] == [FLOWERS17_CLASSES[c] for c in orig]


def test_flowers_resize_is_nearest_for_masks(tmp_path):
    write_flowers(tmp_path)
    ds = Flowers17(tmp_path, 'train', n_train=3, n_test=0, resize=24)
    big = Flowers17(tmp_path, 'train', n_train=3, n_test=0)
    i = int(ds.has_mask.nonzero()[0])
    img, _, m = ds[i]; _, _, M = big[i]
    assert img.shape == (3, 24, 24) and m.shape == (1, 24, 24)
    ref = F.interpolate(M.as_subclass(torch.Tensor)[None].float(), size=(24, 24), mode='nearest')[0].to(torch.uint8)
    assert torch.equal(m.as_subclass(torch.Tensor), ref)
    assert Flowers17(tmp_path, 'train', n_train=3, n_test=0, resize=(20, 30))[i][0].shape == (3, 20, 30)


def test_flowers_bad_input(tmp_path):
    d, masked = write_flowers(tmp_path)
    with pytest.raises(SatlibError, match=r'class 0 \(daffodil\) has 3 images .* n_train \+ n_test = 80'): Flowers17(tmp_path)
    ds = Flowers17(tmp_path, 'train', n_train=3, n_test=0)
    where = {n: i for i, n in enumerate(ds.image_numbers.tolist())}
    Image.new('P', (30, 40)).save(d/'trimaps'/'image_0001.png')
    with pytest.raises(SatlibError, match=r'image_0001.png: mask is 30x40 \(WxH\) but its image .*image_0001.jpg is 40x40'):
        ds[where[1]]
    Image.new('RGB', (40, 40)).save(d/'trimaps'/'image_0003.png')
    with pytest.raises(SatlibError, match='image_0003.png: a segmentation map must be a palette or greyscale PNG'): ds[where[3]]
    (d/'jpg'/'image_0082.jpg').write_bytes(b'\xff\xd8\xff\xe0 broken')
    with pytest.raises(SatlibError, match='cannot decode image .*image_0082.jpg'): ds[where[82]]
    with pytest.raises(SatlibError, match='resize must be a positive int'): Flowers17(tmp_path, n_train=2, n_test=1, resize=0)
    import shutil; shutil.rmtree(d/'trimaps')
    assert not Flowers17(tmp_path, n_train=2, n_test=1).has_mask.any()
    with pytest.raises(SatlibError, match='masked_only=True but .*trimaps is missing'):
        Flowers17(tmp_path, n_train=2, n_test=1, masked_only=True)

# ---------------------------------------------------------------- SVHN


def test_svhn_mat(tmp_path):
    X = np.random.default_rng(3).integers(0, 256, (32, 32, 3, 4), dtype=np.uint8)
    (tmp_path/'svhn').mkdir()
    savemat(tmp_path/'svhn'/'train_32x32.mat', {'X': X, 'y': np.array([[10], [1], [9], [10]], np.uint8)})
    ds = SVHN(tmp_path)
    assert ds.labels.tolist() == [0, 1, 9, 0] and ds.classes == [str(k) for k in range(10)]
    img, y, m = ds[2]
    assert y == 9 and m is None and torch.equal(img.as_subclass(torch.Tensor), torch.from_numpy(X[:, :, :, 2]).permute(2, 0, 1))
    with pytest.raises(SatlibError, match='test_32x32.mat not found in .*svhn'): SVHN(tmp_path, 'test')
    savemat(tmp_path/'test_32x32.mat', {'X': X[..., :1], 'y': np.array([[3]])})   # directly in the root also works
    assert SVHN(tmp_path, 'test').labels.tolist() == [3]
    (tmp_path/'svhn'/'extra_32x32.mat').write_bytes(b'garbage')
    with pytest.raises(SatlibError, match='cannot read .*extra_32x32.mat'): SVHN(tmp_path, 'extra')

# ---------------------------------------------------------------- GTSRB

GT_HDR = 'Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId'
GT_TRAIN = {0: [('00000_00000.ppm', 29, 30, (5, 6, 24, 25)), ('00000_00001.ppm', 30, 30, (5, 5, 25, 25))],
            12: [('00000_00000.ppm', 45, 41, (6, 5, 40, 36))]}
GT_TEST = [('00000.ppm', 53, 54, (6, 5, 48, 49), 16), ('00001.ppm', 42, 45, (5, 5, 36, 40), 1)]


def write_gtsrb(root, test_csv_at='Images'):
    d = root/'GTSRB'
    for c, rows in GT_TRAIN.items():
        cd = d/'Final_Training'/'Images'/f'{c:05d}'; cd.mkdir(parents=True)
        for f, w, h, b in rows: solid(w, h, b).save(cd/f)
        (cd/f'GT-{c:05d}.csv').write_text(GT_HDR + '\n' + ''.join(f'{f};{w};{h};{";".join(map(str, b))};{c}\n' for f, w, h, b in rows))
    td = d/'Final_Test'/'Images'; td.mkdir(parents=True)
    for f, w, h, b, _ in GT_TEST: solid(w, h, b).save(td/f)
    csv_dir = {'Images': td, 'GTSRB': d, 'root': root}[test_csv_at]
    (csv_dir/'GT-final_test.csv').write_text(GT_HDR + '\n' + ''.join(f'{f};{w};{h};{";".join(map(str, b))};{c}\n' for f, w, h, b, c in GT_TEST))
    return d


def test_gtsrb_train_and_test(tmp_path):
    write_gtsrb(tmp_path)
    tr = GTSRB(tmp_path, 'train')
    assert len(tr) == 3 and tr.labels.tolist() == [0, 0, 12] and tr.num_classes == 43
    assert tr.boxes.tolist() == [list(b) for rows in GT_TRAIN.values() for *_, b in rows]
    for i in range(3):
        img, y, m = tr[i]
        assert torch.equal(m.as_subclass(torch.Tensor), ref_box_mask(tr.boxes[i].tolist(), *img.shape[1:]))
        assert torch.equal(m.bool(), bright(img))   # PPM is lossless: the ROI is exactly the drawn sign
    te = GTSRB(tmp_path, 'test')
    assert te.labels.tolist() == [16, 1] and te[0][0].shape == (3, 54, 53)


@pytest.mark.parametrize('where', ['GTSRB', 'root'])
def test_gtsrb_test_csv_locations(tmp_path, where):
    write_gtsrb(tmp_path, where)
    assert GTSRB(tmp_path, 'test').labels.tolist() == [16, 1]


def test_gtsrb_resize_stacks_and_moves_masks(tmp_path):
    write_gtsrb(tmp_path)
    ds = GTSRB(tmp_path, 'train', resize=32)
    td = TensorData.from_dataset(ds)
    assert td.images.shape == (3, 3, 32, 32) and td.masks.shape == (3, 1, 32, 32)
    assert set(td.masks.unique().tolist()) == {0, 1}
    for i in range(3):   # nearest-resized box mask still covers the (bilinearly resized) sign
        assert (td.masks[i].bool() != bright(td.images[i])).float().mean() < 0.05


def test_gtsrb_bad_input(tmp_path):
    d = write_gtsrb(tmp_path)
    gt = d/'Final_Test'/'Images'/'GT-final_test.csv'
    gt.write_text(GT_HDR.replace(';ClassId', '') + '\n00000.ppm;53;54;6;5;48;49\n')
    with pytest.raises(SatlibError, match='missing column.* ClassId.*GT-final_test.csv, not GT-final_test.test.csv'):
        GTSRB(tmp_path, 'test')
    gt.write_text(GT_HDR + '\n00000.ppm;50;54;6;5;48;49;16\n')
    with pytest.raises(SatlibError, match=r'00000.ppm: the image is 53x54 but its GT csv says 50x54'): GTSRB(tmp_path, 'test')[0]
    gt.unlink()
    with pytest.raises(SatlibError, match='GT-final_test.csv .* not found'): GTSRB(tmp_path, 'test')
    (d/'Final_Training'/'Images'/'00012'/'GT-00012.csv').unlink()
    with pytest.raises(SatlibError, match='missing .*GT-00012.csv'): GTSRB(tmp_path, 'train')

# ---------------------------------------------------------------- CUB-200-2011

CUB_CLASSES = ['001.Black_footed_Albatross', '002.Laysan_Albatross', '003.Sooty_Albatross']
CUB_IMAGES = [  # id, class id (1-based), is_train, box (x, y, w, h), image size
    (1, 1, 1, (10.0, 5.0, 30.0, 20.0), (60, 40)),
    (2, 3, 0, (0.0, 0.0, 61.0, 41.0), (61, 41)),
    (3, 2, 1, (12.5, 7.4, 20.0, 10.2), (50, 50)),
    (4, 3, 1, (3.0, 4.0, 5.0, 6.0), (20, 30)),
]


def write_cub(root):
    d = root/'CUB_200_2011'; d.mkdir(parents=True)
    lines = {k: [] for k in ('images.txt', 'image_class_labels.txt', 'train_test_split.txt', 'bounding_boxes.txt')}
    for i, c, t, (x, y, w, h), size in CUB_IMAGES:
        rel = f'{CUB_CLASSES[c - 1]}/bird_{i}.jpg'
        (d/'images'/CUB_CLASSES[c - 1]).mkdir(parents=True, exist_ok=True)
        solid(*size).save(d/'images'/rel, quality=90)
        lines['images.txt'].append(f'{i} {rel}'); lines['image_class_labels.txt'].append(f'{i} {c}')
        lines['train_test_split.txt'].append(f'{i} {t}'); lines['bounding_boxes.txt'].append(f'{i} {x} {y} {w} {h}')
    for f, ls in lines.items(): (d/f).write_text('\n'.join(ls) + '\n')
    (d/'classes.txt').write_text(''.join(f'{k + 1} {c}\n' for k, c in enumerate(CUB_CLASSES)))
    return d


def test_cub200(tmp_path):
    write_cub(tmp_path)
    tr, te = CUB200(tmp_path, 'train'), CUB200(tmp_path, 'test')
    assert tr.image_ids == [1, 3, 4] and te.image_ids == [2]
    assert tr.labels.tolist() == [0, 1, 2] and te.labels.tolist() == [2]
    assert tr.classes == ['Black_footed_Albatross', 'Laysan_Albatross', 'Sooty_Albatross']
    # pixel centres c + .5 inside [x, x + w): [12.5, 32.5) -> cols 12..31; [7.4, 17.6) -> rows 7..17
    assert tr.boxes.tolist() == [[10, 5, 39, 24], [12, 7, 31, 17], [3, 4, 7, 9]]
    img, y, m = tr[0]
    assert img.shape == (3, 40, 60) and torch.equal(m.as_subclass(torch.Tensor), ref_box_mask([10, 5, 39, 24], 40, 60))
    _, _, m = te[0]
    assert bool(m.all())                              # a box covering the whole image
    assert all(x.shape == (3, 32, 32) for x, _, _ in CUB200(tmp_path, 'train', resize=32))


def test_cub200_bad_input(tmp_path):
    d = write_cub(tmp_path)
    (d/'bounding_boxes.txt').write_text('1 10 5 30 20\n2 0 0 61 41\n3 1 1 2 2\n')
    with pytest.raises(SatlibError, match='bounding_boxes.txt has no line for image id 4'): CUB200(tmp_path)
    (d/'bounding_boxes.txt').write_text('1 10 5 30\n')
    with pytest.raises(SatlibError, match='bounding_boxes.txt line 1: expected 5 fields'): CUB200(tmp_path)
    (d/'images'/CUB_CLASSES[1]/'bird_3.jpg').unlink()
    (d/'bounding_boxes.txt').write_text(''.join(f'{i} {x} {y} {w} {h}\n' for i, _, _, (x, y, w, h), _ in CUB_IMAGES))
    with pytest.raises(SatlibError, match='images.txt lists 1 file.*missing .*e.g. bird_3.jpg'): CUB200(tmp_path)

# ---------------------------------------------------------------- shared behaviour


def test_horizontal_flip_moves_mask_with_image(tmp_path):
    write_tiny(tmp_path); write_flowers(tmp_path)
    for make in (lambda t: TinyImageNet(tmp_path, 'val', transform=t),
                 lambda t: Flowers17(tmp_path, 'train', n_train=2, n_test=1, transform=t)):
        plain, flipped = make(None), make(v2.RandomHorizontalFlip(p=1.0))
        i = int(plain.has_mask.nonzero()[0])
        (img, y, m), (fimg, fy, fm) = plain[i], flipped[i]
        assert isinstance(fimg, tv_tensors.Image) and isinstance(fm, tv_tensors.Mask) and fy == y
        assert torch.equal(fimg.as_subclass(torch.Tensor), img.as_subclass(torch.Tensor).flip(-1))
        assert torch.equal(fm.as_subclass(torch.Tensor), m.as_subclass(torch.Tensor).flip(-1))
        assert not torch.equal(fm, m)                 # the masks are not symmetric, so the check has teeth


def test_random_crop_cuts_image_and_mask_together(tmp_path):
    write_gtsrb(tmp_path)
    torch.manual_seed(0)
    ds = GTSRB(tmp_path, 'test', transform=v2.RandomCrop(30))
    for _ in range(5):
        img, _, m = ds[0]
        assert img.shape == (3, 30, 30) and torch.equal(m.bool(), bright(img))


def test_items_without_mask_pass_through_transform(tmp_path):
    write_cifar10(tmp_path)
    img, y, m = CIFAR10(tmp_path, 'test', transform=v2.RandomHorizontalFlip(p=1.0))[0]
    assert m is None and torch.equal(img.as_subclass(torch.Tensor), CIFAR10(tmp_path, 'test')[0][0].as_subclass(torch.Tensor).flip(-1))


def test_indexing(tmp_path):
    write_cifar10(tmp_path)
    ds = CIFAR10(tmp_path, 'train')
    assert torch.equal(ds[-1][0], ds[9][0])
    with pytest.raises(IndexError): ds[10]
    assert len([item for item in ds]) == 10          # plain iteration stops at IndexError


@pytest.mark.parametrize('name', NAMES)
def test_registered_and_unknown_split(tmp_path, name):
    assert name in datasets
    write_fake(name, tmp_path)
    kw = {'flowers17': dict(n_train=2, n_test=1)}.get(name, {})
    ds = get_dataset(name, tmp_path, 'train', **kw)
    img, y, m = ds[0]
    assert isinstance(img, tv_tensors.Image) and img.dtype == torch.uint8 and isinstance(y, int)
    assert ds.name == name
    with pytest.raises(SatlibError, match=f"unknown split 'dev' for {name}; choose one of"): get_dataset(name, tmp_path, 'dev', **kw)
    with pytest.raises(SatlibError, match=f"dataset '{name}' has no option colour; its options are"):
        get_dataset(name, tmp_path, colour='red')


@pytest.mark.parametrize('name,folder', [('cifar10', 'cifar-10-batches-py'), ('cifar100', 'cifar-100-python'),
                                         ('cifar10-jpeg', 'cifar10-jpeg'), ('tinyimagenet', 'tiny-imagenet-200'),
                                         ('flowers17', 'flowers17'), ('gtsrb', 'GTSRB'), ('cub200', 'CUB_200_2011')])
def test_missing_dataset_folder_shows_layout(tmp_path, name, folder):
    with pytest.raises(SatlibError, match=f'{folder} not found; the data root must hold the official layout:\n.*{folder}/'):
        get_dataset(name, tmp_path)


def test_missing_root(tmp_path, monkeypatch):
    monkeypatch.delenv('SATLIB_DATA', raising=False)
    with pytest.raises(SatlibError, match='set SATLIB_DATA'): Flowers17()
    with pytest.raises(SatlibError, match='does not exist'): Flowers17(tmp_path/'nope')

# ---------------------------------------------------------------- the real archives (optional)

REAL = os.environ.get('SATLIB_DATA')
SKIP = 'set SATLIB_DATA to a folder with the extracted ../shared/data archives'


def real(folder):
    if not REAL or not (Path(REAL)/folder).is_dir(): pytest.skip(f'{SKIP} ({folder}/ not found)')
    return Path(REAL)


def test_real_cifar10_jpeg():
    r = real('cifar10-jpeg')
    tr, te = CIFAR10Folder(r, 'train'), CIFAR10Folder(r, 'test')       # indexes file names only
    assert len(tr) == 50000 and len(te) == 10000
    assert torch.bincount(tr.labels).tolist() == [5000] * 10 and torch.bincount(te.labels).tolist() == [1000] * 10
    for i in (0, 12345, 49999):
        img, y, m = tr[i]
        assert img.shape == (3, 32, 32) and m is None and Path(tr.files[i]).parent.name == CIFAR10_CLASSES[y]


def test_real_flowers17():
    r = real('flowers17')
    tr, te = Flowers17(r, 'train'), Flowers17(r, 'test')
    assert len(tr) == 17 * 72 and len(te) == 17 * 8
    assert not set(tr.image_numbers.tolist()) & set(te.image_numbers.tolist())
    per_class = (torch.bincount(tr.labels[tr.has_mask], minlength=17) + torch.bincount(te.labels[te.has_mask], minlength=17))
    assert per_class.tolist() == [71, 50, 17, 28, 50, 78, 49, 41, 65, 71, 57, 43, 55, 0, 54, 61, 56]
    mt = Flowers17(r, 'train', masked_only=True)
    assert mt.num_classes == 16 and 'cowslip' not in mt.classes and len(mt) == int(tr.has_mask.sum())
    for i in (0, len(mt) // 2, len(mt) - 1):
        img, y, m = mt[i]
        assert img.shape == (3, 256, 256) and m.shape == (1, 256, 256) and set(m.unique().tolist()) == {0, 1}
        assert 0.02 < m.float().mean() < 0.98         # a flower, not the whole frame
    img, _, m = Flowers17(r, 'test', masked_only=True, resize=128)[0]
    assert img.shape == (3, 128, 128) and m.shape == (1, 128, 128)


def test_real_tiny_imagenet():
    r = real('tiny-imagenet-200')
    tr, va = TinyImageNet(r, 'train'), TinyImageNet(r, 'val')
    assert tr.num_classes == 200 and len(tr) == 100000 and len(va) == 10000
    assert torch.bincount(va.labels, minlength=200).tolist() == [50] * 200
    assert bool(tr.has_mask.all()) and bool(va.has_mask.all())
    assert int(va.boxes.min()) >= 0 and int(va.boxes.max()) <= 63
    k = [Path(f).name for f in va.files].index('val_0.JPEG')        # first line of val_annotations.txt
    assert va.classes[int(va.labels[k])] == 'n03444034' and va.boxes[k].tolist() == [0, 32, 44, 62]
    img, _, m = va[k]
    assert img.shape == (3, 64, 64) and int(m.sum()) == 45 * 31
    img, y, m = tr[123]
    assert img.shape == (3, 64, 64) and Path(tr.files[123]).name.startswith(tr.classes[y])
