#!/usr/bin/env bash
# Keep the committed zoo off a device call (the device tool sends tracked and untracked-not-ignored files,
# at most 64 MiB; the zoo alone is larger). Run at the repository root, here, around the call:
#
#   bash nbs/tables/device_tree.sh aside   # zoo/ leaves the index and is ignored: it stays on disk, and does not travel
#   ... the device call(s); carry `zoo/TABLE/BUDGET` if the call must resume from that table's models ...
#   bash nbs/tables/device_tree.sh back    # the index and the ignore list as they were; new zoo files show as untracked
#
# Only the index and .git/info/exclude change; no file in the working tree is touched. `status` prints what
# would travel now (MiB).
set -euo pipefail
mkdir -p .git/info 2>/dev/null || true; EXCL=.git/info/exclude; MARK='# device_tree.sh aside: zoo/ leaves the index'
[ -d .git ] && [ -d zoo ] || { echo "device_tree.sh: run it at the repository root (the folder with .git and zoo/)" >&2; exit 2; }
travel() { { git ls-files -z; git ls-files -z --others --exclude-standard; } | du -cb --files0-from=- 2>/dev/null | tail -n1 | awk '{printf "%.1f", $1 / 1048576}'; }
case "${1:-}" in
  aside)
    grep -qxF "$MARK" "$EXCL" 2>/dev/null && { echo "zoo/ is already aside; to travel: $(travel) MiB"; exit 0; }
    [ -z "$(git status --porcelain -- zoo)" ] || { echo "device_tree.sh: zoo/ has uncommitted changes; commit them first" >&2; exit 1; }
    printf "%s\n/zoo/\n" "$MARK" >> "$EXCL"; git rm -r -q --cached -- zoo
    echo "zoo/ aside (still on disk, not in the index); to travel: $(travel) MiB" ;;
  back)
    grep -qxF "$MARK" "$EXCL" 2>/dev/null || { echo "zoo/ is not aside; nothing to do"; exit 0; }
    git reset -q -- zoo; awk -v m="$MARK" '$0 == m { skip = 1; next } skip && $0 == "/zoo/" { skip = 0; next } { skip = 0; print }' "$EXCL" > "$EXCL.tmp"; mv "$EXCL.tmp" "$EXCL"
    echo "zoo/ back in the index; to travel: $(travel) MiB" ;;
  status) echo "to travel: $(travel) MiB" ;;
  *) echo "usage: device_tree.sh aside|back|status" >&2; exit 2 ;;
esac
