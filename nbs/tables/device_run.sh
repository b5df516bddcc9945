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
# (unfinished run folders, to carry to the next call) and `log-TABLE-BUDGET.txt` (two tables can run side by side).
# SATLIB_DEVICE_LIMIT=SECONDS stops the runner after that long (its finished jobs are on disk, written atomically), so the
# results still come back before the device call's own limit kills everything.
# The device tool sends the working tree, at most 64 MiB, and the committed zoo alone is larger: before
# the call run `bash nbs/tables/device_tree.sh aside` here (the zoo leaves the index and is ignored, so it
# stays here; carry `zoo/TABLE/BUDGET` if the call needs that table's models), and after it
# `bash nbs/tables/device_tree.sh back`.
set -uo pipefail
TABLE=${1:?usage: device_run.sh TABLE BUDGET [WORKERS] [-- satlib table options]}; BUDGET=${2:?budget}; WORKERS=${3:-4}
shift $(( $# < 3 ? $# : 3 )); [ "${1:-}" = "--" ] && shift
OUT=${OUT:-/tmp/device-out}; mkdir -p "$OUT"; LOG=$OUT/log-$TABLE-$BUDGET.txt
export SATLIB_DATA=${SATLIB_DATA:-/tmp/satlib-data} PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
mkdir -p "$SATLIB_DATA"
for a in gpu/*.tar.gz; do   # once per data root (a marker), so two calls side by side do not unpack over each other's reads
  d="$SATLIB_DATA/.$(basename "$a").done"; [ -e "$a" ] && [ ! -f "$d" ] && tar xzf "$a" -C "$SATLIB_DATA" && touch "$d"
done
[ -e "gpu/runs-$TABLE-$BUDGET.tar" ] && tar xf "gpu/runs-$TABLE-$BUDGET.tar"
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || echo "no nvidia-smi";
  python3 -c "import sys, torch; print(sys.version.split()[0], torch.__version__, torch.cuda.is_available() and torch.cuda.get_device_name())"; } > "$LOG" 2>&1
LIMIT=${SATLIB_DEVICE_LIMIT:-0}; [ "$LIMIT" -gt 0 ] 2>/dev/null && TO=(timeout -k 20 "$LIMIT") || TO=()
"${TO[@]}" python3 -m satlib.cli table "$TABLE" --budget "$BUDGET" --workers "$WORKERS" "$@" >> "$LOG" 2>&1; rc=$?
[ $rc = 124 ] && echo "device_run.sh: stopped after SATLIB_DEVICE_LIMIT=$LIMIT s; the finished jobs' files follow" >> "$LOG"
tar cf "$OUT/tables-$TABLE-$BUDGET.tar" "nbs/tables/results/$TABLE/$BUDGET" "zoo/$TABLE/$BUDGET" 2>> "$LOG"
[ -d "runs/tables/$TABLE/$BUDGET" ] && tar cf "$OUT/runs-$TABLE-$BUDGET.tar" "runs/tables/$TABLE/$BUDGET"
tail -n 40 "$LOG"
exit $rc
