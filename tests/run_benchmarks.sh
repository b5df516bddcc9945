#!/usr/bin/env bash
# Run satlib's three benchmarks (saliency vs Captum/pytorch-grad-cam, attacks vs torchattacks, training
# methods vs Original) and write each one's printed table to nbs/results/bench_<name>.md, atomically, with a
# header saying when, on which commit and machine, and how loaded the machine was. The notebooks show these files.
# Run it alone on a quiet machine: the ratios are only as good as the machine is idle.
#   bash tests/run_benchmarks.sh [saliency] [attacks] [methods]      (default: all three)
#   BENCH_TAG=cheap_w025 METHODS_ARGS="--only original,noise,sat,sat_store:mask --width 0.25" bash tests/run_benchmarks.sh methods
#     (extra arguments; the table goes to nbs/results/bench_methods_cheap_w025.md)
#   BENCH_TAG=w025 METHODS_ARGS="--width 0.25" bash tests/run_benchmarks.sh methods   (every method, demo model)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
mkdir -p nbs/results
for name in "${@:-saliency attacks methods}"; do for n in $name; do
  case $n in
    saliency) args=(--threads 1) ;;
    attacks)  args=(--threads 1) ;;   # run twice: --malloc keep (as the satlib command runs) and --malloc default
    methods)  args=(${METHODS_ARGS:-}) ;;
    *) echo "unknown benchmark '$n' (saliency, attacks or methods)" >&2; exit 2 ;;
  esac
  out=nbs/results/bench_$n${BENCH_TAG:+_$BENCH_TAG}.md; tmp=$(mktemp "$out.XXXX")
  {
    echo "<!-- written by tests/run_benchmarks.sh; do not edit -->"
    echo "# bench_$n: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git describe --always --dirty 2>/dev/null || echo "?"),"
    echo "# $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    if [ "$n" = attacks ]; then modes=("--malloc keep" "--malloc default"); else modes=(""); fi
    for mode in "${modes[@]}"; do
      echo "# command: OMP_NUM_THREADS=1 $PY tests/bench_$n.py ${args[*]} $mode"
      echo
      OMP_NUM_THREADS=1 $PY tests/bench_$n.py "${args[@]}" $mode 2>/dev/null
      echo
    done
    echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  } > "$tmp"
  chmod 644 "$tmp"; mv "$tmp" "$out"; echo "wrote $out"; cat "$out"
done; done
