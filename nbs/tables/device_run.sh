#!/usr/bin/env bash
# One table budget on a lent accelerator (the device tool), as one command:
#
#   bash nbs/tables/device_run.sh TABLE BUDGET [WORKERS] [-- extra `satlib table` options]
#
# Run from the repository root of the device's copy of the working tree. Data travels as archives in
# the ignored folder `gpu/` (carry it: e.g. `gpu/cifar10-jpeg.tar.gz`, `gpu/flowers17.tar.gz`, from
# ../shared/data; at most 64 MiB in all), unpacked into a data root here. Whatever the table already has
# (committed results and zoo models, and run folders carried in `gpu/runs-TABLE-BUDGET.tar`) is not
# trained or evaluated again. Back in $OUT: `tables-TABLE-BUDGET.tar` (the table's results), `zoo-TABLE-BUDGET-N.tar`
# (the zoo models this call made, in parts of at most 15 MiB: the device tool returns no file over 16 MiB), all to
# unpack at the repository root here (`for t in tables-*.tar zoo-*.tar; do tar xf $t; done`), `runs-TABLE-BUDGET.tar`
# (the run folders of unfinished runs, to carry to the next call) and `log-TABLE-BUDGET.txt` (two tables can run side by side).
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
START=$(mktemp); LIST=''; trap 'rm -f "$START" "$LIST"' EXIT   # temporary files go when the script ends
LIMIT=${SATLIB_DEVICE_LIMIT:-0}; [ "$LIMIT" -gt 0 ] 2>/dev/null && TO=(timeout -k 20 "$LIMIT") || TO=()
"${TO[@]}" python3 -m satlib.cli table "$TABLE" --budget "$BUDGET" --workers "$WORKERS" "$@" >> "$LOG" 2>&1; rc=$?
[ $rc = 124 ] && echo "device_run.sh: stopped after SATLIB_DEVICE_LIMIT=$LIMIT s; the finished jobs' files follow" >> "$LOG"
tar cf "$OUT/tables-$TABLE-$BUDGET.tar" "nbs/tables/results/$TABLE/$BUDGET" 2>> "$LOG"
part=0; size=0; LIST=$(mktemp)   # the zoo models made by this call, in parts under the tool's 16 MiB a file
while IFS= read -r f; do
  s=$(stat -c %s "$f"); if [ $size -gt 0 ] && [ $((size + s)) -gt "${SATLIB_DEVICE_PART_BYTES:-15728640}" ]; then
    part=$((part + 1)); tar cf "$OUT/zoo-$TABLE-$BUDGET-$part.tar" -T "$LIST"; : > "$LIST"; size=0; fi
  echo "$f" >> "$LIST"; size=$((size + s))
done < <(find "zoo/$TABLE/$BUDGET" -type f -newer "$START" 2>/dev/null | sort)
[ -s "$LIST" ] && tar cf "$OUT/zoo-$TABLE-$BUDGET-$((part + 1)).tar" -T "$LIST"
RUNS="runs/tables/$TABLE/$BUDGET"; DONE="nbs/tables/results/$TABLE/$BUDGET/runs.csv"   # unfinished runs: no line in runs.csv
[ -d "$RUNS" ] && find "$RUNS" -mindepth 1 -maxdepth 1 -type d | while IFS= read -r d; do
  grep -q ",$(basename "$d")," "$DONE" 2>/dev/null || echo "$d"; done > "$LIST"
[ -s "$LIST" ] && tar cf "$OUT/runs-$TABLE-$BUDGET.tar" -T "$LIST"
ls -l "$OUT" >> "$LOG"
tail -n 40 "$LOG"
exit $rc
