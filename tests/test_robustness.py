"""Nothing lost, nothing silent (issue 18).

Kills: training runs are SIGKILLed at four moments -- at a random time, between the log append and the
checkpoint, in the middle of the checkpoint write, and just after it -- as one process and as a 2-process
PGD run under torchrun (gloo on CPU); each is resumed and must end with the weights (and optimiser state)
of an uninterrupted run, bit for bit, a log that holds each epoch once (the same records), no temporary
files, and files with the umask's mode. The exact moments come from the `$SATLIB_KILL_AT` hook
(`satlib.core.kill_point`); the random one from a timer outside the process tree.

Bad input: every case the issue lists (and a few neighbours) must end in exit status 2 with one line on
stderr (CLI) or one `SatlibError` line (API), and change no file of the run; the inputs that used to pass
silently must now be refused (or, for Guided Backprop on functional ReLUs, warned about).
Everything runs on tiny data; `pytest -s` prints where the random kills landed and the tally."""
import contextlib, io, json, os, random, shutil, signal, subprocess, sys, time, warnings
from pathlib import Path
import psutil, pytest, torch
from conftest import BIN, satlib_cmd

from satlib.core import SatlibError
from satlib.cli import main

ONE = ['--method', 'noise', '--dataset', 'builtin', '--data-arg', 'n=128', '--width', '0.125', '--batch-size', '32',
       '--epochs', '4', '--no-progress', '--device', 'cpu']
TWO = ['--method', 'pgd', '--arg', 'steps=1', '--dataset', 'builtin', '--data-arg', 'n=64', '--width', '0.125',
       '--batch-size', '16', '--epochs', '3', '--no-progress', '--device', 'cpu']
MOMENTS = ['random', 'log-appended', 'write:checkpoint.pt', 'checkpoint-written']
UMASK = os.umask(0o022); os.umask(UMASK)
# torchvision 0.29 deprecates its image decoders (satlib falls back to PIL once they are gone)
pytestmark = pytest.mark.filterwarnings("ignore:The image decoding and encoding capabilities of TorchVision:DeprecationWarning")
TALLY = dict(kills=0, resumed_exactly=0, bad_inputs=0, clean=0)


# ------------------------------------------------------------------ running and killing training runs

def _cmd(out, ddp, resume):
    args = (TWO if ddp else ONE) + (['--resume'] if resume else [])
    if ddp: return [str(BIN / 'torchrun'), '--standalone', '--nproc_per_node', '2', '-m', 'satlib.cli', 'train', '--out', str(out), *args]
    return [str(BIN / 'satlib'), 'train', '--out', str(out), *args]

def _start(out, ddp, kill_at=None):
    "Start training in `out`, continuing its checkpoint if there is one (what a user does after a kill)."
    env = dict(os.environ, OMP_NUM_THREADS='1')
    env.pop('SATLIB_KILL_AT', None)
    if kill_at: env['SATLIB_KILL_AT'] = kill_at
    return subprocess.Popen(_cmd(out, ddp, (out / 'checkpoint.pt').exists()), env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)

def _finish(p, timeout=600):
    _, err = p.communicate(timeout=timeout)
    assert 'grad strides do not match' not in err.lower(), err   # DDP's layout warning is gone
    assert 'Traceback' not in err or p.returncode != 0, err
    return p.returncode, err

def _train(out, ddp, kill_at=None):
    return _finish(_start(out, ddp, kill_at))

def _kill_tree(p):
    "SIGKILL process `p` (which this test started) and every process under it, by id."
    try: procs = psutil.Process(p.pid).children(recursive=True) + [psutil.Process(p.pid)]
    except psutil.NoSuchProcess: return
    for q in procs:
        with contextlib.suppress(psutil.NoSuchProcess): q.send_signal(signal.SIGKILL)

def _kill_at_random(out, ddp, rng, train_seconds):
    "Start a run and SIGKILL its whole process tree at a random moment of its training; retry if it finished first."
    for attempt in range(6):
        if out.exists(): shutil.rmtree(out)
        p = _start(out, ddp)
        while not (out / 'log.jsonl').exists() and p.poll() is None: time.sleep(0.005)   # fit has started
        time.sleep(rng.uniform(0, train_seconds) / 2 ** attempt)
        if p.poll() is None:
            _kill_tree(p); _finish(p)
            return _where(out)
        _finish(p)
    pytest.fail("the run always finished before the random kill; make it longer")

def _where(out) -> str:
    ck = out / 'checkpoint.pt'
    e = torch.load(ck, weights_only=False)['epoch'] if ck.exists() else 0
    n = (out / 'log.jsonl').read_text().count('\n') if (out / 'log.jsonl').exists() else 0
    tmp = [p.name for p in out.glob('.*.tmp')] if out.exists() else []
    return f"checkpoint epoch {e}, log lines {n}{', temp files ' + str(tmp) if tmp else ''}"

def _log(out): return [json.loads(l) for l in (out / 'log.jsonl').read_text().splitlines()]

def _same_as(out, full):
    "`out` ended exactly like the uninterrupted run `full`."
    a, b = torch.load(full / 'checkpoint.pt', weights_only=False), torch.load(out / 'checkpoint.pt', weights_only=False)
    assert a['epoch'] == b['epoch']
    for k in a['model']: assert torch.equal(a['model'][k], b['model'][k]), f"weights differ: {k}"
    for i, s in a['opt']['state'].items():
        for k, v in s.items(): assert torch.equal(torch.as_tensor(v), torch.as_tensor(b['opt']['state'][i][k])), f"optimiser state differs: {i}.{k}"
    drop = lambda r: {k: v for k, v in r.items() if k != 'seconds'}
    log, flog = _log(out), _log(full)
    assert [r['epoch'] for r in log] == list(range(1, a['epoch'] + 1)), f"log epochs {[r['epoch'] for r in log]}"
    assert [drop(r) for r in log] == [drop(r) for r in flog]
    assert [drop(r) for r in b['history']] == [drop(r) for r in log]
    info = json.loads((out / 'run.json').read_text())
    assert info['epochs_done'] == a['epoch'] and drop(info['final']) == drop(log[-1])
    assert not list(out.glob('.*.tmp')), list(out.glob('.*.tmp'))
    for f in out.iterdir(): assert f.stat().st_mode & 0o777 == 0o666 & ~UMASK, (f.name, oct(f.stat().st_mode))

SPAN = {}   # seconds from the start of fit (log.jsonl written) to the last checkpoint, in the uninterrupted runs

@pytest.fixture(scope='module')
def full_runs(tmp_path_factory):
    "The uninterrupted runs, one process and two, trained once for the whole module (and how long their training took)."
    done = {}
    def get(ddp):
        if ddp not in done:
            out = tmp_path_factory.mktemp('full') / ('two' if ddp else 'one')
            p = _start(out, ddp)
            while not (out / 'log.jsonl').exists() and p.poll() is None: time.sleep(0.005)
            t0 = time.time()
            code, err = _finish(p); assert code == 0, err
            SPAN[ddp] = max((out / 'checkpoint.pt').stat().st_mtime - t0, 0.2)
            done[ddp] = out
        return done[ddp]
    return get


@pytest.mark.parametrize('moment', MOMENTS)
@pytest.mark.parametrize('ddp', [False, True], ids=['1proc', 'torchrun2'])
def test_kill_then_resume_is_exact(tmp_path, moment, ddp, full_runs):
    full, out = full_runs(ddp), tmp_path / 'run'
    if moment == 'random':
        landed = _kill_at_random(out, ddp, random.Random(1 + ddp), SPAN[ddp])
        print(f"\n[{'torchrun2' if ddp else '1proc'}] random SIGKILL landed at: {landed}")
    else:
        code, err = _train(out, ddp, kill_at=f'{moment}@2')
        assert (code == -signal.SIGKILL) if not ddp else (code != 0 and 'SIGKILL' in err), (code, err[-2000:])
        ck = torch.load(out / 'checkpoint.pt', weights_only=False)['epoch']
        assert ck == (2 if moment == 'checkpoint-written' else 1), ck
        assert [r['epoch'] for r in _log(out)] == [1, 2]                 # the kill left one record more than the checkpoint
        if moment == 'write:checkpoint.pt': assert list(out.glob('.checkpoint.pt.*.tmp')), "the kill was not mid-write"
    TALLY['kills'] += 1
    code, err = _train(out, ddp)
    assert code == 0, err
    _same_as(out, full)
    TALLY['resumed_exactly'] += 1


def test_any_sequence_of_kills(tmp_path, full_runs):
    "One run killed at every moment in turn, resumed after each: the same weights and log as the uninterrupted run."
    full, out = full_runs(False), tmp_path / 'run'
    for at, ck in [('log-appended@1', 0), ('checkpoint-written@1', 1), ('log-appended@1', 1), ('write:checkpoint.pt@1', 1),
                   ('checkpoint-written@1', 2)]:
        code, err = _train(out, False, kill_at=at)
        assert code == -signal.SIGKILL, (at, code, err[-2000:])
        if ck: assert torch.load(out / 'checkpoint.pt', weights_only=False)['epoch'] == ck, at
        else: assert not (out / 'checkpoint.pt').exists()
        TALLY['kills'] += 1
    landed = _kill_at_random_resume(out, SPAN[False] / 2)
    print(f"\n[sequence] random SIGKILL during a resume landed at: {landed}")
    code, err = _train(out, False); assert code == 0, err
    _same_as(out, full)
    TALLY['resumed_exactly'] += 1

def _kill_at_random_resume(out, secs):
    "Resume `out` and SIGKILL it at a random moment (if it finishes first, that is fine too)."
    t0 = time.time(); p = _start(out, False)
    while p.poll() is None and (out / 'log.jsonl').stat().st_mtime < t0: time.sleep(0.01)   # until fit rewrites the log
    time.sleep(random.Random(7).uniform(0, secs))
    if p.poll() is None: _kill_tree(p); TALLY['kills'] += 1
    _finish(p)
    return _where(out)


def test_ddp_ranks_and_checkpoint_agree(tmp_path):
    "Under torchrun every rank ends each epoch with rank 0's BatchNorm buffers, which the checkpoint holds."
    script = tmp_path / 'ranks.py'
    script.write_text(
        "import torch, torch.distributed as dist\n"
        "from satlib.train import fit, TrainConfig, PGDTraining\n"
        "from satlib.models import get_model\nfrom satlib.data import BuiltinShapes\n"
        f"out = {str(tmp_path / 'run')!r}\n"
        "torch.manual_seed(0); m = get_model('resnet10', 10, width=0.125)\n"
        "fit(m, PGDTraining(steps=1), BuiltinShapes(64).tensors(), TrainConfig(epochs=1, batch_size=16, progress=False), out_dir=out, device='cpu')\n"
        "torch.save(m.state_dict(), f'{out}/rank{dist.get_rank()}.pt')\n")
    r = subprocess.run([str(BIN / 'torchrun'), '--standalone', '--nproc_per_node', '2', str(script)], capture_output=True,
                       text=True, env=dict(os.environ, OMP_NUM_THREADS='1'), timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'grad strides do not match' not in r.stderr.lower()
    ck = torch.load(tmp_path / 'run' / 'checkpoint.pt', weights_only=False)['model']
    r0, r1 = (torch.load(tmp_path / 'run' / f'rank{i}.pt') for i in (0, 1))
    assert any('running_mean' in k for k in ck)
    for k in ck: assert torch.equal(ck[k], r0[k]) and torch.equal(r0[k], r1[k]), k


# ------------------------------------------------------------------ bad input: the CLI

def _main(*args):
    "Run `satlib ARGS` in this process: (exit status, stderr)."
    o, e = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(o), contextlib.redirect_stderr(e):
        try: main([str(a) for a in args]); code = 0
        except SystemExit as x: code = x.code
    return code, e.getvalue()

def _snapshot(d: Path) -> dict:
    "Every file and folder under `d`: a file's bytes, mode and modification time."
    return {str(p.relative_to(d)): (p.read_bytes(), p.stat().st_mode, p.stat().st_mtime_ns) if p.is_file() else 'dir'
            for p in sorted(d.rglob('*'))}

RUN_ARGS = ['--dataset', 'builtin', '--data-arg', 'n=64', '--width', '0.125', '--batch-size', '32', '--no-progress', '--device', 'cpu']

@pytest.fixture(scope='module')
def lab_template(tmp_path_factory):
    "A finished run (SAT, 1 epoch), a plain file, a tiny data root with a truncated tensor cache, and a non-store file."
    root = tmp_path_factory.mktemp('lab')
    code, err = _main('train', '--out', root / 'run', '--method', 'sat', '--epochs', '1', *RUN_ARGS); assert code == 0, err
    (root / 'afile').write_text('I am a file')
    from satlib.datasets import write_fake, get_tensors
    write_fake('cifar10-jpeg', root / 'data'); get_tensors('cifar10-jpeg', root / 'data', 'train')
    cache = next((root / 'data' / '.satlib-cache').glob('*.pt')); cache.write_bytes(cache.read_bytes()[:200])
    (root / 'notes.txt').write_text('not a saliency store')
    for name, fix in [('cut_ckpt', lambda d: (d / 'checkpoint.pt').write_bytes((d / 'checkpoint.pt').read_bytes()[:3000])),
                      ('bad_json', lambda d: (d / 'run.json').write_text('{"dataset": "builtin", "mod'))]:
        shutil.copytree(root / 'run', root / name); fix(root / name)
    return root

@pytest.fixture
def lab(lab_template, tmp_path):
    "A fresh copy of the template for each case (file times kept), so that one failure cannot spill into the next."
    return Path(shutil.copytree(lab_template, tmp_path / 'lab'))

def _unwritable(lab):
    if os.geteuid() == 0: return Path('/proc/satlib-run')   # root writes anywhere but /proc
    d = lab / 'locked'; d.mkdir(exist_ok=True); d.chmod(0o555); return d / 'run'

# (id, argv with {run}/{lab} placeholders, message part); each must exit 2 with one stderr line, changing no file
CLI_CASES = [
    ('arg-eps-2/0', ['train', '--out', '{lab}/new', '--method', 'noise', '--arg', 'eps=2/0', *RUN_ARGS], "divides by zero"),
    ('eval-eps-2/0', ['eval', '{run}', '--eps', '2/0', '--n', '8', '--device', 'cpu'], "divides by zero"),
    ('device-bogus', ['train', '--out', '{lab}/new', *RUN_ARGS, '--device', 'bogus'], "unknown device 'bogus'"),
    ('device-cuda-without-gpu', ['train', '--out', '{lab}/new', *RUN_ARGS, '--device', 'cuda'], "no CUDA GPU"),
    ('eval-device-bogus', ['eval', '{run}', '--device', 'bogus'], "unknown device"),
    ('unknown-arg-key', ['train', '--out', '{lab}/new', '--method', 'pgd', '--arg', 'stpes=2', *RUN_ARGS], "has no option stpes; its options are: eps, steps"),
    ('unknown-data-arg-key', ['train', '--out', '{lab}/new', *RUN_ARGS, '--data-arg', 'colour=red'], "has no option colour; its options are: n, size"),
    ('arg-bad-value', ['train', '--out', '{lab}/new', '--method', 'pgd', '--arg', 'steps=many', *RUN_ARGS], "cannot take options"),
    ('arg-not-key-value', ['train', '--out', '{lab}/new', '--arg', 'eps', *RUN_ARGS], "must look like key=value"),
    ('data-arg-n=-5', ['train', '--out', '{lab}/new', *RUN_ARGS, '--data-arg', 'n=-5'], "n must be >= 1"),
    ('data-arg-n=0', ['train', '--out', '{lab}/new', *RUN_ARGS, '--data-arg', 'n=0'], "n must be >= 1"),
    ('max-steps-1', ['train', '--out', '{lab}/new', *RUN_ARGS, '--max-steps', '-1'], "max_steps must be >= 1"),
    ('max-steps-0', ['train', '--out', '{lab}/new', *RUN_ARGS, '--max-steps', '0'], "max_steps must be >= 1"),
    ('out-is-a-file', ['train', '--out', '{lab}/afile', *RUN_ARGS], "is a file, not a folder"),
    ('out-under-a-file', ['train', '--out', '{lab}/afile/run', *RUN_ARGS], "is a file, not a folder"),
    ('out-unwritable', ['train', '--out', '{unwritable}', *RUN_ARGS], "not writable"),
    ('eval-truncated-checkpoint', ['eval', '{lab}/cut_ckpt', '--n', '8', '--device', 'cpu'], "truncated or not a satlib checkpoint"),
    ('eval-corrupt-run-json', ['eval', '{lab}/bad_json', '--n', '8', '--device', 'cpu'], "cannot read run record"),
    ('resume-truncated-checkpoint', ['train', '--out', '{lab}/cut_ckpt', '--resume', '--method', 'sat', '--epochs', '2', *RUN_ARGS], "truncated or not a satlib checkpoint"),
    ('resume-corrupt-run-json', ['train', '--out', '{lab}/bad_json', '--resume', '--method', 'sat', '--epochs', '2', *RUN_ARGS], "cannot read run record"),
    ('eval-n-0', ['eval', '{run}', '--n', '0', '--device', 'cpu'], "n must be a number of images >= 1"),
    ('eval-n-minus-1', ['eval', '{run}', '--n', '-1', '--device', 'cpu'], "n must be a number of images >= 1"),
    ('eval-out-is-a-folder', ['eval', '{run}', '--n', '8', '--device', 'cpu', '--out', '{lab}'], "is a folder, not a file"),
    ('eval-missing-run', ['eval', '{lab}/nothing', '--device', 'cpu'], "not a finished satlib run"),
    ('truncated-dataset-cache', ['train', '--out', '{lab}/new', '--dataset', 'cifar10-jpeg', '--data-root', '{lab}/data', '--width', '0.125', '--no-progress', '--device', 'cpu'], "is truncated or corrupt"),
    ('non-store-file-to-sat-store', ['train', '--out', '{lab}/new', '--method', 'sat_store', '--arg', 'store={lab}/notes.txt', *RUN_ARGS], "is not a satlib saliency store"),
    ('saliency-unknown-arg', ['saliency', '{run}', '--method', 'smoothgrad', '--out', '{lab}/s.pt', '--arg', 'n_smaples=4', '--device', 'cpu'], "has no option n_smaples"),
    ('resume-other-lr', ['train', '--out', '{run}', '--resume', '--method', 'sat', '--epochs', '2', '--lr', '0.01', *RUN_ARGS], "configuration changed {'lr'"),
    ('resume-other-stem', ['train', '--out', '{run}', '--resume', '--method', 'sat', '--epochs', '2', '--stem', 'imagenet', *RUN_ARGS], "holds a different run {'stem'"),
    ('resume-other-data-arg', ['train', '--out', '{run}', '--resume', '--method', 'sat', '--epochs', '2', *RUN_ARGS, '--data-arg', 'n=128'], "holds a different run {'data_args'"),
    ('resume-other-method-arg', ['train', '--out', '{run}', '--resume', '--method', 'sat', '--arg', 'eps0=4/255', '--epochs', '2', *RUN_ARGS], "'method_args'"),
    ('resume-other-method', ['train', '--out', '{run}', '--resume', '--method', 'noise', '--epochs', '2', *RUN_ARGS], "holds a different run {'method'"),
    ('resume-other-width', ['train', '--out', '{run}', '--resume', '--method', 'sat', '--epochs', '2', *RUN_ARGS, '--width', '0.25'], "holds a different run {'width'"),
    ('resume-without-checkpoint', ['train', '--out', '{lab}/new', '--resume', *RUN_ARGS], "nothing to resume"),
    ('table-stop-after-negative', ['table', 'sat_table2_builtin', '--budget', 'tiny', '--root', '{lab}/tables', '--stop-after', '-5'], "--stop-after takes minutes >= 0"),
    ('train-over-a-run-without-resume', ['train', '--out', '{run}', '--method', 'sat', '--epochs', '2', *RUN_ARGS], "pass --resume"),
]

@pytest.mark.parametrize('case', CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_bad_cli_input_fails_cleanly(lab, case):
    name, argv, msg = case
    if name == 'device-cuda-without-gpu' and torch.cuda.is_available(): pytest.skip("this machine has a GPU")
    TALLY['bad_inputs'] += 1
    subs = dict(run=str(lab / 'run'), lab=str(lab), unwritable=str(_unwritable(lab)))
    argv = [a.format(**subs) for a in argv]
    before = _snapshot(lab)
    code, err = _main(*argv)
    assert code == 2, (code, err)
    assert err.startswith(f"satlib {argv[0]}: error: ") and err.count('\n') == 1 and msg in err, err
    assert _snapshot(lab) == before, "a refused command changed a file"
    assert not (lab / 'new').exists() and not (lab / 's.pt').exists()
    TALLY['clean'] += 1

def test_refused_resume_keeps_the_run_usable(lab):
    "After refused resumes (another lr, another method), run.json still has its final record and `satlib eval` still loads the run."
    for case in ('resume-other-lr', 'resume-other-method'):
        argv = next(a for i, a, _ in CLI_CASES if i == case)
        code, _ = _main(*[x.format(run=lab / 'run', lab=lab) for x in argv]); assert code == 2, case
    info = json.loads((lab / 'run' / 'run.json').read_text())
    assert info['epochs_done'] == 1 and info['final']['epoch'] == 1 and info['stem'] == 'cifar'
    code, err = _main('eval', lab / 'run', '--eps', '1/255', '--n', '8', '--device', 'cpu', '--out', lab / 'x.csv')
    assert code == 0, err
    (lab / 'x.csv').unlink()

@pytest.mark.parametrize('argv,msg', [
    (['train', '--out', '{tmp}/r', '--arg', 'eps=2/0', *RUN_ARGS], "divides by zero"),
    (['train', '--out', '{tmp}/r', *RUN_ARGS, '--device', 'bogus'], "unknown device"),
    (['train', '--out', '{tmp}/r', *RUN_ARGS, '--data-arg', 'n=0'], "n must be >= 1"),
    (['eval', '{tmp}/nothing', '--n', '0'], "n must be a number of images >= 1"),
], ids=['arg-2/0', 'device-bogus', 'n=0', 'eval-n-0'])
def test_bad_input_through_the_console_script(tmp_path, argv, msg):
    "The same errors through the installed `satlib` command: status 2, one line, no traceback, nothing written."
    r = satlib_cmd(*[a.format(tmp=tmp_path) for a in argv], check=False)
    assert r.returncode == 2 and msg in r.stderr and r.stderr.count('\n') == 1 and 'Traceback' not in r.stderr, r.stderr
    assert not (tmp_path / 'r').exists()

def test_version():
    r = satlib_cmd('--version')
    from satlib.core import code_version
    assert r.stdout.strip() == f"satlib {code_version()}"

def test_batch_size_help_says_per_process():
    r = satlib_cmd('train', '--help')
    assert 'per process' in ' '.join(r.stdout.split())


# ------------------------------------------------------------------ bad input: the API

def _one_line(f, msg):
    TALLY['bad_inputs'] += 1
    with pytest.raises(SatlibError) as e: f()
    assert msg in str(e.value) and '\n' not in str(e.value), str(e.value)
    TALLY['clean'] += 1

@pytest.fixture(scope='module')
def tiny():
    from satlib.models import get_model
    from satlib.data import BuiltinShapes
    torch.manual_seed(0)
    return get_model('resnet10', 10, width=0.125).eval(), BuiltinShapes(16, seed=0).tensors()

def test_attack_labels(tiny):
    from satlib.attacks import PGD, FGSM, SaliencyAttack
    net, td = tiny
    x, y = td.images.float() / 255, td.labels
    _one_line(lambda: PGD(net, steps=1)(x, torch.full_like(y, 10)), "label 10, but the model has 10 classes")
    _one_line(lambda: FGSM(net)(x, y.float()), "integer class indices")
    _one_line(lambda: SaliencyAttack(net)(x, y - 20), "class indices are >= 0")

def test_fit_labels(tiny):
    from satlib.train import fit, TrainConfig, Original
    from satlib.data import TensorData
    from satlib.models import get_model
    net, td = tiny
    cfg = TrainConfig(epochs=1, batch_size=8, progress=False)
    _one_line(lambda: fit(get_model('resnet10', 5, width=0.125), Original(), td, cfg, device='cpu'), "out of range for the model's 5 classes")
    _one_line(lambda: fit(net, Original(), TensorData(td.images, td.labels.float()), cfg, device='cpu'), "must be integer class indices")
    _one_line(lambda: TensorData(td.images, td.labels - 1), "labels must be class indices >= 0")

def test_store_load_non_store(tmp_path):
    from satlib.store import SaliencyStore
    (tmp_path / 'a.txt').write_text('hello'); torch.save({'x': torch.zeros(3)}, tmp_path / 'b.pt')
    for f in ('a.txt', 'b.pt'): _one_line(lambda: SaliencyStore.load(tmp_path / f), "is not a satlib saliency store")

def test_sat_perturb_refuses_bad_images():
    from satlib.sat import sat_perturb
    x, s = torch.rand(2, 3, 8, 8), torch.ones(2, 3, 8, 8)
    _one_line(lambda: sat_perturb(x * 255, s, 1), "normalisation inside the model")
    xn = x.clone(); xn[1, 2, 3, 4] = float('nan')
    _one_line(lambda: sat_perturb(xn, s, 1), "holds NaN")

def test_guided_backprop_warns_on_functional_relu():
    import torch.nn as nn, torch.nn.functional as F
    from satlib.saliency import guided_backprop
    class Net(nn.Module):
        def __init__(self): super().__init__(); self.c, self.r, self.f = nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Linear(4, 3)
        def forward(self, x): return self.f(F.relu(self.r(self.c(x))).mean((2, 3)))
    TALLY['bad_inputs'] += 1
    with pytest.warns(UserWarning, match="also calls a functional relu 1 time"):
        guided_backprop(Net(), torch.rand(2, 3, 8, 8), y=torch.tensor([0, 1]))
    TALLY['clean'] += 1

def test_dataset_cache_follows_its_files(tmp_path):
    "A JPEG corrupted, or a class folder deleted, after the first load is seen: the cache is rebuilt, not reused."
    from satlib.datasets import write_fake, get_tensors
    write_fake('cifar10-jpeg', tmp_path); write_fake('gtsrb', tmp_path)
    get_tensors('cifar10-jpeg', tmp_path, 'train'); n = len(get_tensors('gtsrb', tmp_path, 'train', resize=32))
    bad = tmp_path / 'cifar10-jpeg' / 'train' / 'dog' / '0001.jpg'; bad.write_bytes(b'\xff\xd8 broken')
    _one_line(lambda: get_tensors('cifar10-jpeg', tmp_path, 'train'), f"cannot decode image {bad}")
    shutil.rmtree(tmp_path / 'GTSRB' / 'Final_Training' / 'Images' / '00000')
    assert len(get_tensors('gtsrb', tmp_path, 'train', resize=32)) == n - 2

def test_written_files_respect_the_umask(tmp_path):
    "checkpoint.pt and run.json get the mode log.jsonl gets (0666 less the umask), not mkstemp's 0600."
    old = os.umask(0o002)
    try:
        code, err = _main('train', '--out', tmp_path / 'r', '--epochs', '1', *RUN_ARGS); assert code == 0, err
    finally: os.umask(old)
    assert {f.name: oct(f.stat().st_mode & 0o777) for f in (tmp_path / 'r').iterdir()} == \
           {n: oct(0o664) for n in ('run.json', 'log.jsonl', 'checkpoint.pt')}

def test_tally():
    "Printed with -s; the counts cover the tests of this module that ran before it."
    print(f"\nkills survived exactly: {TALLY['resumed_exactly']} runs after {TALLY['kills']} SIGKILLs; "
          f"bad inputs tried: {TALLY['bad_inputs']}, failing cleanly: {TALLY['clean']}")
    assert TALLY['clean'] == TALLY['bad_inputs']
