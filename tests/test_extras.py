"Optional features say which extra to install when their package is missing (`pip install 'satlib[NAME]'`)."
import configparser, os, shlex, subprocess, sys
import pytest, torch
from conftest import ROOT, need
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

@pytest.mark.parametrize('module', ['captum.attr', 'pytorch_grad_cam', 'torchattacks'])
def test_peer_cross_checks_skip_naming_their_extra(monkeypatch, module):
    assert {'captum', 'grad-cam', 'torchattacks'} <= set(_extras()['peers'])
    monkeypatch.setitem(sys.modules, module, None)      # as if not installed
    monkeypatch.delenv('CI', raising=False)             # on a user's machine: skipped, naming the extra
    with pytest.raises(pytest.skip.Exception, match=rf"^{module.split('.')[0]} is not installed: pip install -e '\.\[peers\]'$"):
        need(module)
    monkeypatch.setenv('CI', 'true')                    # in CI, which installs every extra: a failure, not a skip
    with pytest.raises(pytest.fail.Exception, match=r"pip install -e '\.\[peers\]' \(CI installs every extra"):
        need(module)

def test_docs_build_without_its_extra(tmp_path):
    "`bash docs/build` checks the docs extra first: one line naming it, before npm or nbdev runs."
    (tmp_path / 'sitecustomize.py').write_text("import sys; sys.modules['sphinx'] = None   # as if not installed\n")
    r = subprocess.run(['bash', str(ROOT / 'docs' / 'build'), str(tmp_path / 'site')], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PYTHON=sys.executable, PYTHONPATH=str(tmp_path)))
    assert r.returncode != 0 and r.stdout == '' and not (tmp_path / 'site').exists()
    assert r.stderr == "satlib docs: sphinx is not installed; install the docs extra: pip install -e '.[docs]'\n", r.stderr
