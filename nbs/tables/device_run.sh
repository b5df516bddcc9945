#!/usr/bin/env bash
# One table budget on a lent accelerator (the device tool), as one command:
#
#   bash nbs/tables/device_run.sh TABLE BUDGET [WORKERS] [-- extra `satlib table` options]
#
# Run from the repository root of the device's copy of the working tree. Data travels as archives in
# the ignored folder `gpu/` (carry it: e.g. `gpu/cifar10-jpeg.tar.gz`, `gpu/flowers17.tar.gz`, from
# ../shared/data; at most 64 MiB in all), unpacked into a data root here. Whatever the table already has
# (committed results and zoo models, and run folders carried in `gpu/runs-TABLE-BUDGET.tar`) is not
# trained or evaluated again. Back in $OUT: `tables-TABLE-BUDGET.tar` (the table's results and zoo
# files, to unpack at the repository root here: `tar xf tables-TABLE-BUDGET.tar`), `runs-TABLE-BUDGET.tar`
# (unfinished run folders, to carry to the next call) and `log.txt`.
# The device tool sends the working tree, at most 64 MiB, and the committed zoo alone is larger: before
# the call run `bash nbs/tables/device_tree.sh aside` here (the zoo leaves the index and is ignored, so it
# stays here; carry `zoo/TABLE/BUDGET` if the call needs that table's models), and after it
# `bash nbs/tables/device_tree.sh back`.
set -uo pipefail
TABLE=${1:?usage: device_run.sh TABLE BUDGET [WORKERS] [-- satlib table options]}; BUDGET=${2:?budget}; WORKERS=${3:-4}
shift $(( $# < 3 ? $# : 3 )); [ "${1:-}" = "--" ] && shift
OUT=${OUT:-/tmp/device-out}; mkdir -p "$OUT"
export SATLIB_DATA=${SATLIB_DATA:-/tmp/satlib-data} PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
mkdir -p "$SATLIB_DATA"
for a in gpu/*.tar.gz; do [ -e "$a" ] && tar xzf "$a" -C "$SATLIB_DATA"; done
[ -e "gpu/runs-$TABLE-$BUDGET.tar" ] && tar xf "gpu/runs-$TABLE-$BUDGET.tar"
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || echo "no nvidia-smi";
  python3 -c "import sys, torch; print(sys.version.split()[0], torch.__version__, torch.cuda.is_available() and torch.cuda.get_device_name())"; } > "$OUT/log.txt" 2>&1
python3 -m satlib.cli table "$TABLE" --budget "$BUDGET" --workers "$WORKERS" "$@" >> "$OUT/log.txt" 2>&1; rc=$?
tar cf "$OUT/tables-$TABLE-$BUDGET.tar" "nbs/tables/results/$TABLE/$BUDGET" "zoo/$TABLE/$BUDGET" 2>> "$OUT/log.txt"
[ -d "runs/tables/$TABLE/$BUDGET" ] && tar cf "$OUT/runs-$TABLE-$BUDGET.tar" "runs/tables/$TABLE/$BUDGET"
tail -n 40 "$OUT/log.txt"
exit $rc
