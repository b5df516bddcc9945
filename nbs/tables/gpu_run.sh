#!/usr/bin/env bash
# The GPU runs behind nbs/tables (device tool; the data and pure-Python extras travel in the ignored gpu/ and .whl/).
#   bash nbs/tables/gpu_run.sh train   : ART CIFAR-10 models (3 processes) + AutoAttack on the SAT Table 2 runs (3)
#   bash nbs/tables/gpu_run.sh eval    : finishes ART's training, then ART CIFAR-10 evaluation parts (resumable: a
#                                        second call continues from the returned tars placed in gpu/)
# Everything returned lands in $OUT (at most 8 files): run folders as tars, CSVs, one log.
set -u
STAGE=$1; LIMIT=${LIMIT:-500}
export PYTHONPATH=$PWD:$PWD/.whl/site PYTHONUNBUFFERED=1 OMP_NUM_THREADS=2 SATLIB_DATA=/tmp/data
mkdir -p /tmp/data /tmp/logs /tmp/runs && tar xzf gpu/cifar10-jpeg.tar.gz -C /tmp/data
for f in gpu/art_runs_*.tar; do [ -e "$f" ] && tar xf "$f" -C /tmp/runs; done
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; python3 -c "import torch, sys; print(sys.version.split()[0], torch.__version__, torch.cuda.get_device_name())"; } > /tmp/logs/00_env.log 2>&1
python3 -c "from satlib.data import get_tensors as g; [g('cifar10-jpeg', None, s) for s in ('train', 'test')]" >> /tmp/logs/00_env.log 2>&1
cd nbs/tables
if [ "$STAGE" = train ]; then
  for m in natural pgd10 art; do timeout $LIMIT python3 art_cifar10.py train /tmp/runs --only $m > /tmp/logs/train_$m.log 2>&1 & done
  for s in 0 1 2; do timeout $LIMIT python3 sat_table2_autoattack.py ../../gpu/table2 $OUT/aa_seed$s.csv --seeds $s --eps 2 1 > /tmp/logs/aa_$s.log 2>&1 & done
  wait
else
  mkdir -p /tmp/res; for f in ../../gpu/art_results*.tar; do [ -e "$f" ] && tar xf "$f" -C /tmp/res; done
  E="python3 art_cifar10.py eval /tmp/runs /tmp/res"
  timeout $LIMIT bash -c "python3 art_cifar10.py train /tmp/runs --only art && { $E --only art --part attribution & $E --only art --part accuracy && $E --part transfer; wait; }" > /tmp/logs/art_chain.log 2>&1 &
  for m in natural pgd10; do timeout $LIMIT $E --part attribution --only $m > /tmp/logs/attr_$m.log 2>&1 & done
  timeout $LIMIT $E --part accuracy --only natural pgd10 > /tmp/logs/acc.log 2>&1 &
  # corruptions need many CPU cores more than the GPU (the committed ones ran on the CPU machine): CORRUPT=1 to run them here
  [ "${CORRUPT:-0}" = 1 ] && timeout $LIMIT $E --part corruptions --workers 12 > /tmp/logs/corr.log 2>&1 &
  wait
  tar cf $OUT/art_results.tar -C /tmp/res .
fi
for m in natural pgd10 art; do [ -d /tmp/runs/$m ] && tar cf $OUT/art_runs_$m.tar -C /tmp/runs $m; done
for f in /tmp/logs/*.log; do echo "=== $f"; tail -n 40 $f; done > $OUT/logs.txt
tail -n 60 $OUT/logs.txt
