#!/usr/bin/env bash
# Scale-out benchmark: throughput of Kafka -> enrich + detect -> Elasticsearch with 1, 2 and
# 3 `--role process` workers, next to the embedded path (memory queue, SQLite) on the same
# machine. Kafka and Elasticsearch are the noida-db test servers, installed into a virtualenv
# and started on free loopback ports like `.ci/run` does.
#
#   scripts/scale-bench.sh [ASINS] [WORKERS...]     e.g. scripts/scale-bench.sh 600 1 2 3
#
# Each run watches ASINS products (x5 markets = raw updates), starts the workers, then one
# `--role ingest` process, and times from the first stored update to the last (so group
# joins and start-up are not counted). Products/s is ASINS divided by that time; the
# simulator stands in for Keepa. Ingest stays at most a few batches ahead of what the store
# has recorded as fetched, so this is the pace of the whole path, not of a pre-filled topic.
set -euo pipefail
cd "$(dirname "$0")/.."

asins="${1:-600}"
shift || true
workers=("${@:-1 2 3}")
read -r -a workers <<< "${workers[*]}"
target="${CARGO_TARGET_DIR:-target}"
bin="$target/release/arbdesk"
cargo build --release --bin arbdesk

venv="${TMPDIR:-/tmp}/arbdesk-ci-venv"
if [ ! -x "$venv/bin/noida-db" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check noida-db
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
work="$(mktemp -d)"
pids=()
servers=""
stop_servers() {
    [ -n "$servers" ] && "$venv/bin/noida-db" down --data-dir "$servers" >/dev/null 2>&1 || true
    servers=""
}
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    stop_servers
    rm -rf "$work"
}
trap cleanup EXIT
# A fresh Kafka and Elasticsearch for each run, so no run pays for another's data.
start_servers() {
    stop_servers
    kafka_port="$(free_port)"
    es_port="$(free_port)"
    servers="$(mktemp -d -p "$work")"
    "$venv/bin/noida-db" up --only kafka,elasticsearch --kafka-port "$kafka_port" \
        --elasticsearch-port "$es_port" --data-dir "$servers" >/dev/null 2>&1
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$es_port/" >/dev/null && break; sleep 0.1; done
}

list="$(seq -f 'B0BN%06g' 1 "$asins" | tr '\n' ' ')"
messages=$((asins * 5))

# Sum of a stage's processed count over the APIs given.
processed() {
    local stage="$1"; shift
    local total=0 n
    for port in "$@"; do
        n="$(curl -s "http://127.0.0.1:$port/stats" | python3 -c \
            "import json,sys; print(json.load(sys.stdin)['pipeline']['stages']['$stage']['processed'])" 2>/dev/null || echo 0)"
        total=$((total + n))
    done
    echo "$total"
}

# Waits until the processes behind PORTS have stored every message; prints seconds from
# the first stored update to the last.
time_stores() {
    local first="" now
    while :; do
        n="$(processed store "$@")"
        now="$(date +%s.%N)"
        if [ -z "$first" ] && [ "$n" -gt 0 ]; then first="$now"; fi
        if [ "$n" -ge "$messages" ]; then break; fi
        sleep 0.2
    done
    python3 -c "print(f'{$now - $first:.2f}')"
}

run() { # NAME CONFIG ARGS...
    local name="$1" config="$2"; shift 2
    "$bin" --config "$config" --data-dir "$work/$name" --demo --log warn "$@" \
        2>>"$work/$name.log" &
    pids+=("$!")
}

report() { # LABEL SECONDS
    python3 -c "print(f'{\"$1\":<34} {$asins / $2:>8.0f} products/s  ({$messages / $2:.0f} updates/s, {$2} s)')"
}

echo "== $asins ASINs, $messages raw updates per run"
for n in "${workers[@]}"; do
    start_servers
    prefix="bench$n-$$"
    config="$work/$prefix.toml"
    cat > "$config" <<EOF
[queue]
type = "kafka"
brokers = "127.0.0.1:$kafka_port"
topic_prefix = "$prefix."
group = "$prefix-workers"

[store]
type = "elasticsearch"
url = "http://127.0.0.1:$es_port"
index_prefix = "$prefix-"

[pipeline]
demo_refresh_interval_secs = 3600

[discovery]
categories = []
EOF
    # shellcheck disable=SC2086
    "$bin" --config "$config" --data-dir "$work/$prefix" --demo watch add $list >/dev/null
    ports=()
    for w in $(seq 1 "$n"); do
        port="$(free_port)"
        ports+=("$port")
        run "$prefix-worker$w" "$config" --serve --role process,api --api-addr "127.0.0.1:$port"
    done
    sleep 3
    run "$prefix-ingest" "$config" --serve --role ingest --api-addr off
    secs="$(time_stores "${ports[@]}")"
    report "Kafka -> ES, $n worker(s)" "$secs"
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    pids=()
done
stop_servers

# The embedded path: memory queue and SQLite in one process.
config="$work/embedded.toml"
printf '[pipeline]\ndemo_refresh_interval_secs = 3600\n\n[discovery]\ncategories = []\n' > "$config"
# shellcheck disable=SC2086
"$bin" --config "$config" --data-dir "$work/embedded" --demo watch add $list >/dev/null
port="$(free_port)"
run embedded "$config" --serve --api-addr "127.0.0.1:$port"
secs="$(time_stores "$port")"
report "embedded (memory queue, SQLite)" "$secs"
