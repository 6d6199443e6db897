#!/usr/bin/env bash
# Load test of the REST API: builds the fixture server in release mode over a synthetic
# catalogue (100k products by default), then drives it with wrk.
#
#   scripts/api-load.sh [PRODUCTS] [DURATION]      e.g. scripts/api-load.sh 100000 15s
#
# Target (the API issue): >= 40k req/s and p99 <= 5 ms for
# /opportunities?min_margin=10&limit=50 with `wrk -t1 -c32` on a 2-core machine.
# Needs wrk (`apt-get install wrk`).
set -euo pipefail
cd "$(dirname "$0")/.."

products="${1:-100000}"
duration="${2:-15s}"
addr="127.0.0.1:8088"
command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install wrk" >&2; exit 1; }

cargo build --release --example api_load_fixture
target="${CARGO_TARGET_DIR:-target}"
"$target/release/examples/api_load_fixture" "$products" "$addr" "$target/api-load-$products.sqlite" &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT

for _ in $(seq 1 600); do
    if curl -fsS "http://$addr/health" >/dev/null 2>&1; then break; fi
    if ! kill -0 "$server" 2>/dev/null; then echo "the fixture server exited" >&2; exit 1; fi
    sleep 0.5
done

run() {
    echo "== $1"
    wrk -t1 -c32 -d"$duration" --latency "http://$addr$1" | grep -E "Requests/sec|Latency  |50%|90%|99%|Non-2xx|Socket errors"
}
# Warm-up, then the target query, then a few neighbours.
wrk -t1 -c8 -d2s "http://$addr/opportunities?min_margin=10&limit=50" >/dev/null
run "/opportunities?min_margin=10&limit=50"
run "/opportunities?min_margin=10&limit=50&breakdown=true"
run "/products?limit=50"
run "/products/B000000042"
