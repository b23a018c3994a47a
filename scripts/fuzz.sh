#!/usr/bin/env bash
# Fuzzes the API from its own OpenAPI document with schemathesis (from PyPI): no 5xx, and every
# response matches its documented schema. Bounded and seeded, so a run is reproducible.
#
#   bash scripts/fuzz.sh                 # 50 examples per operation, fixed seed
#   EXAMPLES=100 SEED=1 bash scripts/fuzz.sh
#   BIN=target/debug/salgate bash scripts/fuzz.sh   # an already-built binary (no release build)
#
# Starts the binary (release, built if needed, unless BIN names one) with its embedded
# PostgreSQL in a temporary directory (removed at the end) on a free port; schemathesis is
# installed into a virtualenv under target/ if missing, at the version pinned below.
# DELETE /v1/api-keys/{id} is left out: the fuzzer would revoke the key it runs with.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
EXAMPLES=${EXAMPLES:-50}
BIN=${BIN:-}
SCHEMATHESIS_VERSION=4.32.5
SEED=${SEED:-20261123}
VENV=$ROOT/target/schemathesis-venv
WORK=$(mktemp -d)
chmod 755 "$WORK"
PID=""
cleanup() {
    if [[ -n $PID ]] && kill -0 "$PID" 2>/dev/null; then
        kill -TERM "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

if [[ "$("$VENV/bin/schemathesis" --version 2>/dev/null)" != *"$SCHEMATHESIS_VERSION"* ]]; then
    echo "fuzz: installing schemathesis $SCHEMATHESIS_VERSION into $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
if [[ -z $BIN ]]; then
    (cd "$ROOT" && cargo build --release -q)
    BIN=$ROOT/target/release/salgate
fi
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
SALGATE_DATA_DIR=$WORK/data SALGATE_LISTEN=127.0.0.1:$PORT SALGATE_RATE_LIMIT_PER_SECOND=0 \
    SALGATE_UNAUTHENTICATED_RATE_LIMIT_PER_SECOND=0 \
    SALGATE_LOG=error "$BIN" serve >"$WORK/out" 2>"$WORK/err" &
PID=$!
ready() {
    python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
        "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1
}
for _ in $(seq 1 600); do
    ready && break
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
done
if ! ready; then
    echo "fuzz: salgate did not become ready; its log:" >&2
    cat "$WORK/err" >&2
    exit 1
fi
# The admin key is the line after the first-start message (a sign-in link follows it).
TOKEN=$(awk 'found { print; exit } /no API keys existed/ { found = 1 }' "$WORK/out")
if [[ $TOKEN != sg_* ]]; then
    echo "fuzz: no admin key after the first-start message; salgate printed:" >&2
    cat "$WORK/out" >&2
    exit 1
fi
# A key that does not authenticate would turn every case into a 401 that passes.
if ! python3 -c 'import sys, urllib.request
req = urllib.request.Request(sys.argv[1], headers={"Authorization": "Bearer " + sys.argv[2]})
urllib.request.urlopen(req, timeout=5)' "http://127.0.0.1:$PORT/v1/api-keys" "$TOKEN" >/dev/null 2>&1; then
    echo "fuzz: the admin key read from salgate's output does not authenticate" >&2
    exit 1
fi
"$VENV/bin/schemathesis" run "http://127.0.0.1:$PORT/openapi.json" \
    -H "Authorization: Bearer $TOKEN" \
    --checks not_a_server_error,response_schema_conformance \
    --phases examples,fuzzing -n "$EXAMPLES" --seed "$SEED" \
    --exclude-operation-id delete_api_key
