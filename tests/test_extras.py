"Optional features say which extra to install when their package is missing (`pip install 'satlib[NAME]'`)."
import configparser, shlex, sys
import pytest, torch
from conftest import ROOT
import satlib.corruptions, satlib.experiments
from satlib.core import SatlibError
from satlib.attacks import AutoAttack

def _extras():
    c = configparser.ConfigParser(delimiters=['=']); c.read(ROOT/'settings.ini')
    return {k[len('extra_'):]: shlex.split(v) for k, v in c['DEFAULT'].items() if k.startswith('extra_')}

def test_extras_declared():
    ex = _extras()
    assert ex['autoattack'] == ['pyautoattack'] and ex['corruptions'] == ['imagecorruptions'] and ex['cluster'] == ['submitit']
    assert {'captum', 'grad-cam', 'torchattacks'} <= set(ex['peers']) and 'docs' in ex

def test_autoattack_without_its_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, 'pyautoattack', None)      # as if not installed
    m = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 10))
    with pytest.raises(SatlibError, match=r"pip install 'satlib\[autoattack\]'"):
        AutoAttack(m, eps=2/255).perturb(torch.rand(2, 3, 8, 8), torch.tensor([0, 1]))

def test_corruptions_without_their_extra(monkeypatch):
    monkeypatch.setattr(satlib.corruptions, '_IC', None)
    monkeypatch.setitem(sys.modules, 'imagecorruptions', None)
    with pytest.raises(SatlibError, match=r"pip install 'satlib\[corruptions\]'"): satlib.corruptions._imagecorruptions()

def test_cluster_executor_without_its_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, 'submitit', None)
    with pytest.raises(SatlibError, match=r"pip install 'satlib\[cluster\]'"): satlib.experiments.SubmititExecutor(tmp_path, 'local')
