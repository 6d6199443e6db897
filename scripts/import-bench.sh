#!/usr/bin/env bash
# Import benchmark: N simulated Keepa product lines into a fresh SQLite store, timed, with
# peak RSS from GNU time.
#
#   scripts/import-bench.sh [LINES] [lean]   e.g. scripts/import-bench.sh 100000
#
# Lines carry 7 days of history and 90-day stats (~4.5 KB); with `lean`, no stats (~1.6 KB).
#
# Target (the pipeline issue): >= 100k product lines/s on a 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."

lines="${1:-100000}"
target="${CARGO_TARGET_DIR:-target}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cargo build --release --bin arbdesk --example keepa_lines
"$target/release/examples/keepa_lines" "$lines" ${2:+"$2"} > "$work/products.jsonl"
echo "== $(wc -l < "$work/products.jsonl") lines, $(du -h "$work/products.jsonl" | cut -f1), $(( $(stat -c %s "$work/products.jsonl") / lines )) bytes a line"
/usr/bin/time -f "wall %e s, peak RSS %M KB, CPU %P" \
    "$target/release/arbdesk" import "$work/products.jsonl" --data-dir "$work/data" --quiet
