#!/usr/bin/env bash
# Keepa's community Python client (akaszynski/keepa, from PyPI) against the built-in Keepa
# simulator: every call arbdesk's kind of client makes must parse, unchanged but for the
# base URL. Needs Python 3 with venv and PyPI; not part of `cargo test` (which runs offline).
#
#   scripts/keepa-python-client.sh [KEEPA_VERSION]    e.g. scripts/keepa-python-client.sh 1.6.0
set -euo pipefail
cd "$(dirname "$0")/.."

version="${1:-1.6.0}"
target="${CARGO_TARGET_DIR:-target}"
venv="$target/keepa-python-client-venv"

cargo build --release --bin arbdesk
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check "keepa==$version"

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$target/release/arbdesk" keepa-sim --addr "127.0.0.1:$port" >/dev/null 2>&1 &
sim=$!
trap 'kill "$sim" 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
    curl -sf "http://127.0.0.1:$port/token?key=k" >/dev/null && break
    sleep 0.1
done

echo "== keepa $version against the simulator on 127.0.0.1:$port"
KEEPA_SIM="http://127.0.0.1:$port" "$venv/bin/python" scripts/keepa_python_client.py
