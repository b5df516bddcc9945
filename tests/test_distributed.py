"DDP: two CPU processes with the gloo backend, launched by torchrun, train one run together."
import json, os, subprocess, sys
from pathlib import Path
import torch

def test_torchrun_two_processes_gloo(tmp_path):
    out = tmp_path / 'ddp'
    env = dict(os.environ, OMP_NUM_THREADS='1')
    r = subprocess.run([str(Path(sys.executable).parent / 'torchrun'), '--standalone', '--nproc_per_node', '2',
                        '-m', 'satlib.cli', 'train', '--out', str(out), '--method', 'pgd', '--arg', 'steps=1',
                        '--dataset', 'builtin', '--data-arg', 'n=256', '--width', '0.125', '--epochs', '2',
                        '--batch-size', '32', '--no-progress', '--device', 'cpu'],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert 'grad strides do not match bucket view strides' not in r.stderr, "weights and batches must share a memory layout"
    log = [json.loads(l) for l in (out / 'log.jsonl').read_text().splitlines()]
    assert [x['epoch'] for x in log] == [1, 2], "only rank 0 writes, once per epoch"
    assert all(x['world_size'] == 2 for x in log)
    st = torch.load(out / 'checkpoint.pt', weights_only=False)
    assert st['epoch'] == 2
    # each rank saw half the data: 256 examples / 2 ranks / 32 per batch = 4 steps per epoch
    assert log[-1]['step'] == 8

def test_batch_size_is_per_process():
    "--help says what --batch-size means under torchrun."
    r = subprocess.run([str(Path(sys.executable).parent / 'satlib'), 'train', '--help'], capture_output=True, text=True,
                       env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert 'per process' in ' '.join(r.stdout.split()) and 'torchrun' in r.stdout
