#!/usr/bin/env bash
# Ingest benchmark: HTTP `POST /v1/leads` through salgate vs the same SQL statement issued
# directly by pgbench, on one throwaway PostgreSQL cluster. See bench/README.md.
# Runs, one after the other: pgbench, HTTP, HTTP into a round-robin queue, HTTP again, pgbench
# again; the ratio is the mean of the two owner-given HTTP runs over the mean of the two
# pgbench runs.
#
#   bash bench/run.sh [--duration 20] [--connections 16] [--warmup 3] [--enforce-bar] [--statements]
#                     [--install]
#
# BENCH_PG_EXTRA="name=value ..." adds server settings to the cluster's (for experiments, e.g.
# plan_cache_mode=force_generic_plan; the measured figures in bench/README.md use none).
#
# Installs nothing unless asked (--install): it says what is missing and how to install it. The
# throwaway cluster is the service's own embedded one, run by `salgate db start` / `db stop`.
#
# Exit status: 0 when the run completed and the correctness checks passed (no non-2xx, no
# socket errors, leads stored match 2xx responses); 1 on a check failure or an error;
# with --enforce-bar also 1 when HTTP/pgbench < 0.8 or the peak RSS >= 100 MiB
# (the two bars of docs/api.md §9 this benchmark covers). 2 on bad usage.

set -euo pipefail

# ---------------------------------------------------------------------------------------------
# Options
# ---------------------------------------------------------------------------------------------
DURATION=${BENCH_DURATION:-20}
CONNECTIONS=${BENCH_CONNECTIONS:-16}
WARMUP=${BENCH_WARMUP:-3}
ENFORCE_BAR=0
STATEMENTS=0
INSTALL=0
BAR=0.80
THREADS=2 # wrk -t and pgbench -j

usage() {
    cat <<EOF
usage: bash bench/run.sh [--duration SECONDS] [--connections N] [--warmup SECONDS]
                        [--enforce-bar] [--statements] [--install]

  --duration      length of each measured run (pgbench, then HTTP), default $DURATION
  --connections   concurrent connections of each load generator, default $CONNECTIONS
  --warmup        unmeasured warm-up before each run, default $WARMUP (0 disables)
  --enforce-bar   exit 1 when HTTP req/s < $BAR x pgbench TPS or the service's peak RSS
                  reaches 100 MiB
  --statements    load pg_stat_statements and list the SQL the service ran during the HTTP
                  phase (diagnostic; adds a little overhead to both runs)
  --install       install what is missing (wrk, curl, PostgreSQL) with apt-get, via sudo
                  when not root; without it the script only says what is missing

Environment: PG_BINDIR=/path/to/postgresql/bin to choose the PostgreSQL binaries;
BENCH_DURATION, BENCH_CONNECTIONS, BENCH_WARMUP as defaults for the options;
SALGATE_BIN=/path/to/salgate to use that binary instead of building the release one;
SALGATE_DATABASE_MAX_CONNECTIONS etc. are passed through to the service.
EOF
}

die() {
    echo "bench: error: $*" >&2
    exit 1
}
say() { echo "bench: $*" >&2; }

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

while [[ $# -gt 0 ]]; do
    case $1 in
    --duration | --connections | --warmup)
        [[ $# -ge 2 ]] || { usage >&2; exit 2; }
        is_uint "$2" || { echo "bench: $1 needs a whole number, got '$2'" >&2; exit 2; }
        case $1 in
        --duration) DURATION=$2 ;;
        --connections) CONNECTIONS=$2 ;;
        --warmup) WARMUP=$2 ;;
        esac
        shift 2
        ;;
    --duration=* | --connections=* | --warmup=*)
        v=${1#*=}
        is_uint "$v" || { echo "bench: ${1%%=*} needs a whole number, got '$v'" >&2; exit 2; }
        case $1 in
        --duration=*) DURATION=$v ;;
        --connections=*) CONNECTIONS=$v ;;
        --warmup=*) WARMUP=$v ;;
        esac
        shift
        ;;
    --enforce-bar) ENFORCE_BAR=1; shift ;;
    --statements) STATEMENTS=1; shift ;;
    --install) INSTALL=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "bench: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
is_uint "$DURATION" && is_uint "$CONNECTIONS" && is_uint "$WARMUP" ||
    { echo "bench: BENCH_DURATION, BENCH_CONNECTIONS and BENCH_WARMUP must be whole numbers" >&2; exit 2; }
((DURATION >= 1)) || { echo "bench: --duration must be at least 1" >&2; exit 2; }
((CONNECTIONS >= 1)) || { echo "bench: --connections must be at least 1" >&2; exit 2; }
# wrk needs at least one connection per thread; pgbench needs -c to be a multiple of -j.
if ((CONNECTIONS < THREADS)); then THREADS=$CONNECTIONS; fi
if ((CONNECTIONS % THREADS != 0)); then THREADS=1; fi

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
RESULTS_DIR=$BENCH_DIR/results

# ---------------------------------------------------------------------------------------------
# Prerequisites (installed only with --install)
# ---------------------------------------------------------------------------------------------
# Finds the PostgreSQL bin directory with postgres, initdb, psql and pgbench: $PG_BINDIR, else
# the highest /usr/lib/postgresql/<ver>/bin (Debian/Ubuntu), else `pg_config --bindir`, else the
# directory of initdb on PATH.
find_pg_bindir() {
    local d v best="" bestv=-1
    if [[ -n ${PG_BINDIR:-} ]]; then
        echo "$PG_BINDIR"
        return
    fi
    for d in /usr/lib/postgresql/*/bin; do
        [[ -x $d/initdb && -x $d/pgbench ]] || continue
        v=$(basename "$(dirname "$d")")
        v=${v%%.*}
        is_uint "$v" || continue
        if ((v > bestv)); then bestv=$v; best=$d; fi
    done
    if [[ -n $best ]]; then
        echo "$best"
        return
    fi
    if command -v pg_config >/dev/null 2>&1 && [[ -x $(pg_config --bindir)/initdb ]]; then
        pg_config --bindir
        return
    fi
    if command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
        return
    fi
}

apt_install() {
    local sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    command -v apt-get >/dev/null 2>&1 ||
        die "missing: $*, and no apt-get to install them: install them with your package manager (and set PG_BINDIR if PostgreSQL is not found)"
    if ((${#sudo[@]})) && ! command -v sudo >/dev/null 2>&1; then
        die "missing: $*, and no sudo to install them: install them as root"
    fi
    say "installing $* with apt-get${sudo:+ (via sudo)}"
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v curl >/dev/null 2>&1 || missing+=(curl)
PG_BIN=$(find_pg_bindir || true)
for tool in postgres initdb pg_isready psql pgbench; do
    [[ -n $PG_BIN && -x $PG_BIN/$tool ]] || { missing+=(postgresql); break; }
done
if ((${#missing[@]})); then
    if ((!INSTALL)); then
        # On Debian/Ubuntu installing `postgresql` also creates and starts a `main` cluster on
        # port 5432; this script never uses it.
        die "missing: ${missing[*]}. Install them (Debian/Ubuntu: sudo apt-get install ${missing[*]}; elsewhere your package manager, and PG_BINDIR=<dir of pgbench>), or run again with --install to have this script do it with apt-get"
    fi
    apt_install "${missing[@]}"
    PG_BIN=$(find_pg_bindir || true)
fi
for tool in postgres initdb pg_isready psql pgbench; do
    [[ -x $PG_BIN/$tool ]] || die "$tool not found in '${PG_BIN:-<none>}'; set PG_BINDIR to the PostgreSQL bin directory"
done
command -v wrk >/dev/null 2>&1 || die "wrk not found after installing it"
command -v curl >/dev/null 2>&1 || die "curl not found after installing it"
# salgate runs the cluster from the same binaries.
export SALGATE_PG_BIN=$PG_BIN

if [[ -n ${SALGATE_BIN:-} ]]; then
    [[ -x $SALGATE_BIN ]] || die "SALGATE_BIN=$SALGATE_BIN is not an executable"
    say "using $SALGATE_BIN (SALGATE_BIN)"
else
    command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust (https://rustup.rs), or set SALGATE_BIN to a salgate binary"
    say "building the release binary (cargo build --release)"
    (cd "$ROOT" && cargo build --release) || die "cargo build --release failed"
    SALGATE_BIN=$ROOT/target/release/salgate
    [[ -x $SALGATE_BIN ]] || die "$SALGATE_BIN was not produced by the build"
fi

# ---------------------------------------------------------------------------------------------
# Cleanup: always stop the service and the cluster and remove the temp dir.
# ---------------------------------------------------------------------------------------------
WORK=""
PG_ROOT=""
CLUSTER_DIR=""
SALGATE_PID=""
SAMPLER_PID=""
LOAD_PID=""
CLEANED=0

# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
    local rc=$?
    ((CLEANED)) && return
    CLEANED=1
    trap - INT TERM
    if [[ -n $LOAD_PID ]] && kill -0 "$LOAD_PID" 2>/dev/null; then
        kill -TERM "$LOAD_PID" 2>/dev/null || true
        sleep 0.5
        kill -KILL "$LOAD_PID" 2>/dev/null || true
        wait "$LOAD_PID" 2>/dev/null || true
    fi
    if [[ -n $SAMPLER_PID ]] && kill -0 "$SAMPLER_PID" 2>/dev/null; then
        kill "$SAMPLER_PID" 2>/dev/null || true
        wait "$SAMPLER_PID" 2>/dev/null || true
    fi
    if [[ -n $SALGATE_PID ]] && kill -0 "$SALGATE_PID" 2>/dev/null; then
        say "stopping salgate (pid $SALGATE_PID)"
        kill -TERM "$SALGATE_PID" 2>/dev/null || true
        local i
        for ((i = 0; i < 150; i++)); do
            kill -0 "$SALGATE_PID" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$SALGATE_PID" 2>/dev/null; then
            say "salgate did not stop within 15 s; killing it"
            kill -KILL "$SALGATE_PID" 2>/dev/null || true
        fi
        wait "$SALGATE_PID" 2>/dev/null || true
    fi
    if [[ -n $PG_ROOT && -d $PG_ROOT ]]; then
        say "stopping the throwaway PostgreSQL cluster"
        "$SALGATE_BIN" db stop --dir "$PG_ROOT/cluster" >/dev/null 2>"$WORK/db-stop.err" ||
            { say "salgate db stop failed:"; cat "$WORK/db-stop.err" >&2; }
        # As root, a cluster the postgres user could not reach lives under /var/lib/salgate.
        if [[ -n $CLUSTER_DIR && $CLUSTER_DIR != "$PG_ROOT"/* ]]; then
            rm -rf "$CLUSTER_DIR"
        fi
        rm -rf "$PG_ROOT"
    fi
    if [[ -n $WORK && -d $WORK ]]; then
        # On a failure (not an interrupt) show the end of the logs before they are deleted.
        if ((rc != 0 && rc != 130 && rc != 143)); then
            for f in "${CLUSTER_DIR:-$WORK}/postgres.log" "$WORK/db-start.err" "$WORK/salgate.err"; do
                if [[ -s $f ]]; then
                    echo "---- last lines of $(basename "$f") ----" >&2
                    tail -n 20 "$f" >&2 || true
                fi
            done
        fi
        rm -rf "$WORK"
    fi
    return "$rc"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT
trap 'say "terminated"; exit 143' TERM

# Mode 700 (mktemp's default): the service's stdout there holds the admin token.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/salgate-bench.XXXXXX")
# The cluster's parent: 0755, so that as root the `postgres` user can reach the cluster (which
# salgate makes 0700).
PG_ROOT=$(mktemp -d "${TMPDIR:-/tmp}/salgate-bench-pg.XXXXXX")
chmod 755 "$PG_ROOT"

# A TCP port on 127.0.0.1 nobody listens on (bounded search, never 5432).
free_port() {
    local p i
    for ((i = 0; i < 200; i++)); do
        p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        ((p == 5432)) && continue
        if ! (: <"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# ---------------------------------------------------------------------------------------------
# Throwaway PostgreSQL cluster: the service's embedded one (`salgate db start`)
# ---------------------------------------------------------------------------------------------
PG_VERSION=$("$PG_BIN/postgres" --version | sed 's/^postgres (PostgreSQL) //')
MAX_CONN=$((CONNECTIONS + 60))
((MAX_CONN >= 100)) || MAX_CONN=100
DB=salgate_bench
# Production-like durability: fsync and synchronous_commit stay on (they are the defaults; set
# explicitly so nothing inherited can turn them off). salgate adds TCP on 127.0.0.1 only, no
# Unix socket, password (SCRAM) authentication.
PG_SETTINGS=(fsync=on synchronous_commit=on full_page_writes=on shared_buffers=256MB
    max_wal_size=2GB log_min_messages=warning ${BENCH_PG_EXTRA:-})
[[ $(uname -s) == Linux ]] && PG_SETTINGS+=(wal_sync_method=fdatasync)
((STATEMENTS)) && PG_SETTINGS+=(shared_preload_libraries=pg_stat_statements pg_stat_statements.track_planning=on)
set_args=()
for setting in "${PG_SETTINGS[@]}"; do set_args+=(--set "$setting"); done
say "starting PostgreSQL $PG_VERSION ($PG_BIN) with salgate db start"
"$SALGATE_BIN" db start --dir "$PG_ROOT/cluster" --database "$DB" --max-connections "$MAX_CONN" \
    "${set_args[@]}" >"$WORK/db-start.out" 2>"$WORK/db-start.err" ||
    { cat "$WORK/db-start.err" >&2; die "salgate db start failed"; }
db_value() { sed -n "s/^$1=//p" "$WORK/db-start.out"; }
PG_PORT=$(db_value port)
CLUSTER_DIR=$(db_value cluster_dir)
APP_URL=$(db_value app_url)
is_uint "$PG_PORT" && [[ -n $CLUSTER_DIR && -n $APP_URL ]] ||
    die "unexpected output of salgate db start: $(cat "$WORK/db-start.out")"
say "PostgreSQL on 127.0.0.1:$PG_PORT, cluster in $CLUSTER_DIR"

# psql and pgbench connect as the cluster's superuser; its password is in the cluster's own
# libpq password file, never on a command line (`ps` shows arguments to every user).
export PGPASSFILE=$CLUSTER_DIR/passwords
PSQL=("$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U salgate_admin)
sql() { "${PSQL[@]}" -d "$DB" -At -c "$1"; }
[[ $(sql "SHOW fsync") == on && $(sql "SHOW synchronous_commit") == on ]] ||
    die "fsync/synchronous_commit are not on"
if ((STATEMENTS)); then
    sql "CREATE EXTENSION pg_stat_statements" >/dev/null || die "could not create extension pg_stat_statements"
fi
# The service connects as its own role (not a superuser), as with the embedded cluster.
# Exported, not on a command line.
export DATABASE_URL=$APP_URL

# ---------------------------------------------------------------------------------------------
# salgate
# ---------------------------------------------------------------------------------------------
SG_PORT=$(free_port) || die "no free TCP port found for salgate"
while [[ $SG_PORT == "$PG_PORT" ]]; do SG_PORT=$(free_port); done
BASE=http://127.0.0.1:$SG_PORT
say "starting salgate on $BASE"
env -u SALGATE_CONFIG SALGATE_LISTEN="127.0.0.1:$SG_PORT" SALGATE_LOG=warn \
    SALGATE_RATE_LIMIT_PER_SECOND="${SALGATE_RATE_LIMIT_PER_SECOND:-0}" \
    "$SALGATE_BIN" >"$WORK/salgate.out" 2>"$WORK/salgate.err" &
SALGATE_PID=$!

ADMIN_TOKEN=""
for ((i = 0; i < 600; i++)); do
    kill -0 "$SALGATE_PID" 2>/dev/null || {
        cat "$WORK/salgate.err" >&2
        die "salgate exited during start-up"
    }
    if grep -q '^salgate: no API keys existed' "$WORK/salgate.out" 2>/dev/null; then
        ADMIN_TOKEN=$(grep -A1 '^salgate: no API keys existed' "$WORK/salgate.out" | sed -n 2p)
        [[ -n $ADMIN_TOKEN ]] && break
    fi
    sleep 0.1
done
[[ -n $ADMIN_TOKEN ]] || die "salgate printed no admin token within 60 s (stdout: $(head -c 500 "$WORK/salgate.out"))"
[[ $ADMIN_TOKEN == sg_* ]] || die "the line after the bootstrap message is not an sg_ token: '${ADMIN_TOKEN:0:20}...'"

for ((i = 0; i < 300; i++)); do
    if curl -fsS -o /dev/null "$BASE/healthz" 2>/dev/null; then break; fi
    kill -0 "$SALGATE_PID" 2>/dev/null || die "salgate exited during start-up"
    sleep 0.1
done
curl -fsS -o /dev/null "$BASE/healthz" || die "salgate does not answer GET /healthz"

code=$(curl -sS -o "$WORK/key.json" -w '%{http_code}' -X POST "$BASE/v1/api-keys" \
    -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
    -d '{"role":"ingest","name":"bench"}') || die "POST /v1/api-keys failed"
[[ $code == 201 ]] || die "POST /v1/api-keys answered $code: $(head -c 500 "$WORK/key.json")"
INGEST_TOKEN=$(grep -o '"token" *: *"[^"]*"' "$WORK/key.json" | head -n1 | sed 's/.*"\([^"]*\)"$/\1/')
[[ $INGEST_TOKEN == sg_* ]] || die "no sg_ token in the POST /v1/api-keys answer: $(head -c 500 "$WORK/key.json")"

# A round-robin queue of four reps, for the assignment run.
admin_put() {
    local code
    code=$(curl -sS -o "$WORK/put.json" -w '%{http_code}' -X PUT "$BASE$1" \
        -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' -d "$2") ||
        die "PUT $1 failed"
    [[ $code == 200 ]] || die "PUT $1 answered $code: $(head -c 500 "$WORK/put.json")"
}
admin_put /v1/queues/bench-rr '{"strategy":"round_robin"}'
for r in 1 2 3 4; do admin_put "/v1/reps/bench-r$r" '{"queues":["bench-rr"]}'; done

# Ten live ingest rules, one per kind of condition, none matching the bench's leads: every
# ingest evaluates all ten (as a team with a rule set would) and none acts, so each phase's
# rows stay comparable with pgbench's. BENCH_RULES=0 runs without rules.
conditions=(
    '{"field":"company.country","op":"in","value":["XX","YY","ZZ"]}'
    '{"field":"title","op":"matches","value":"(?i)student|intern"}'
    '{"field":"email","op":"matches","value":"@competitor[.]example$"}'
    '{"field":"score","op":"lt","value":10}'
    '{"field":"lead_type","op":"eq","value":"partner_referral"}'
    '{"field":"free_mail","op":"eq","value":true}'
    '{"field":"duplicate_found","op":"eq","value":true}'
    '{"field":"account_accepted","op":"eq","value":true}'
    '{"field":"attributes.segment","op":"in","value":["smb","micro"]}'
    '{"field":"company.size","op":"gt","value":100000}'
)
for ((i = 0; i < ${BENCH_RULES:-10} && i < ${#conditions[@]}; i++)); do
    rule='{"name":"bench-'$i'","position":'$i',"condition":{"all":['"${conditions[$i]}"']},"action":{"type":"reject","code":"out_of_territory"}'
    code=$(curl -sS -o "$WORK/rule.json" -w '%{http_code}' -X POST "$BASE/v1/rules" \
        -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' -d "$rule}") ||
        die "POST /v1/rules failed"
    [[ $code == 201 ]] || die "POST /v1/rules answered $code: $(head -c 500 "$WORK/rule.json")"
    id=$(grep -o '"id" *: *"[^"]*"' "$WORK/rule.json" | head -n1 | sed 's/.*"\([^"]*\)"$/\1/')
    admin_put "/v1/rules/$id" "$rule,\"mode\":\"live\"}"
done
say "ingest rules live: $i"

# One request by hand first, so a broken endpoint shows its answer instead of a wall of errors.
code=$(curl -sS -o "$WORK/probe.json" -w '%{http_code}' -X POST "$BASE/v1/leads" \
    -H "Authorization: Bearer $INGEST_TOKEN" -H 'Content-Type: application/json' \
    -d '{"source":"bench-probe","external_id":"probe-1","lead_type":"demo_request","email":"a@example.com","owner":"rep-1","queue":"emea"}') ||
    die "POST /v1/leads failed"
[[ $code == 201 ]] || die "probe POST /v1/leads answered $code (expected 201): $(head -c 500 "$WORK/probe.json")"

# ---------------------------------------------------------------------------------------------
# Load runs (one after the other; nothing truncated in between, sources tell the rows apart)
# ---------------------------------------------------------------------------------------------
# Before each load: vacuum and analyze what the previous load inserted (otherwise autovacuum
# starts on those tables during the next load and its CPU is charged to that load), then a
# checkpoint so no load pays for the previous one's dirty pages.
checkpoint() { sql "VACUUM ANALYZE" >/dev/null; sql "CHECKPOINT" >/dev/null; }

# Runs a load generator with its output in $1. In the background + `wait`, so that a signal to
# this script is handled at once (bash defers traps while a foreground child runs); the EXIT
# trap stops it.
load() {
    local out=$1 rc=0
    shift
    "$@" >"$out" 2>&1 &
    LOAD_PID=$!
    wait "$LOAD_PID" || rc=$?
    LOAD_PID=""
    return "$rc"
}

PGBENCH=("$PG_BIN/pgbench" -h 127.0.0.1 -p "$PG_PORT" -U salgate_admin -n -M prepared
    -c "$CONNECTIONS" -j "$THREADS" -f "$BENCH_DIR/ingest.sql")

# Transactions committed or rolled back in the bench database: a server-side view of how much
# work one ingest costs. Backends publish these counters lazily (at the latest when they exit),
# so each phase is measured from before its warm-up to after its clients have disconnected
# (pgbench exits; salgate is stopped) and divided by the leads stored meanwhile (for HTTP: the
# warm-up and all three HTTP runs, since the service stays up through them).
xacts() { sql "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()"; }

checkpoint
PG_X0=$(xacts)
if ((WARMUP > 0)); then
    say "pgbench warm-up ${WARMUP}s"
    load "$WORK/pgbench-warmup.out" "${PGBENCH[@]}" -T "$WARMUP" -D src=pgbench-warmup "$DB" ||
        { cat "$WORK/pgbench-warmup.out" >&2; die "pgbench warm-up failed"; }
fi
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# Busy ticks of the whole machine (user, nice, system, irq, softirq, steal) and of every
# PostgreSQL process alive now: where the two cores go during the HTTP run.
machine_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat 2>/dev/null || echo 0; }
pg_ticks() {
    local t=0 p
    for p in $(pgrep -x postgres 2>/dev/null); do t=$((t + $(cpu_ticks "$p"))); done
    echo "$t"
}
# pgbench's backends exit with it, so PostgreSQL's share is sampled while it runs: from 1 s
# after the start to 1 s before the end.
sample_pgbench_cpu() {
    sleep 1
    local m0 p0
    m0=$(machine_ticks) p0=$(pg_ticks)
    sleep $((DURATION - 2))
    echo "$(($(machine_ticks) - m0)) $(($(pg_ticks) - p0)) $((DURATION - 2))" >"$WORK/pgbench-cpu"
}
((DURATION > 3)) && [[ -r /proc/stat ]] && sample_pgbench_cpu &
say "pgbench: $CONNECTIONS connections, $THREADS threads, ${DURATION}s"
load "$WORK/pgbench.out" "${PGBENCH[@]}" -T "$DURATION" -D src=pgbench "$DB" ||
    { cat "$WORK/pgbench.out" >&2; die "pgbench failed"; }
PG_X1=$(xacts)
# Figures of a pgbench output file: TPS (dies when missing), transactions processed, failed.
pgbench_tps() {
    local tps
    tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time).*/\1/p' "$1")
    [[ -z $tps ]] && tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$1" | tail -n1)
    [[ -n $tps ]] || { cat "$1" >&2; die "could not read the TPS from $(basename "$1")"; }
    echo "$tps"
}
pgbench_tx() { sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$1"; }
pgbench_failed() {
    local n
    n=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$1")
    echo "${n:-0}"
}
PG_TPS=$(pgbench_tps "$WORK/pgbench.out")
PG_TX=$(pgbench_tx "$WORK/pgbench.out")
PG_FAILED=$(pgbench_failed "$WORK/pgbench.out")
PG_LAT=$(sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' "$WORK/pgbench.out")

# RSS sampler: VmRSS of the service every 0.2 s while the HTTP load runs, max kept in a file.
proc_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status" 2>/dev/null || true; }
sample_rss() {
    local max=0 v end=$((SECONDS + WARMUP + DURATION + 120))
    while ((SECONDS < end)) && [[ ! -e $WORK/sampler.stop ]] && kill -0 "$SALGATE_PID" 2>/dev/null; do
        v=$(proc_kb "$SALGATE_PID" VmRSS)
        if [[ -n $v ]] && ((v > max)); then
            max=$v
            echo "$max" >"$WORK/rss.max"
        fi
        sleep 0.2
    done
}
HAVE_PROC=0
[[ -r /proc/$SALGATE_PID/status ]] && HAVE_PROC=1

WRK_URL=$BASE
RUN_TAG=$(date +%s)-$$
checkpoint
H_X0=$(xacts)
((STATEMENTS)) && sql "SELECT pg_stat_statements_reset()" >/dev/null
if ((HAVE_PROC)); then
    sample_rss &
    SAMPLER_PID=$!
fi
if ((WARMUP > 0)); then
    say "HTTP warm-up ${WARMUP}s"
    load "$WORK/wrk-warmup.out" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" \
        -s "$BENCH_DIR/ingest.lua" "$WRK_URL" -- "$INGEST_TOKEN" bench-warmup "w$RUN_TAG" ||
        { cat "$WORK/wrk-warmup.out" >&2; die "wrk warm-up failed"; }
fi
CPU0=0 MCPU0=0 PGCPU0=0
((HAVE_PROC)) && { CPU0=$(cpu_ticks "$SALGATE_PID"); MCPU0=$(machine_ticks); PGCPU0=$(pg_ticks); }
say "wrk: POST /v1/leads, $CONNECTIONS connections, $THREADS threads, ${DURATION}s"
load "$WORK/wrk.out" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency \
    -s "$BENCH_DIR/ingest.lua" "$WRK_URL" -- "$INGEST_TOKEN" bench-http "h$RUN_TAG" ||
    { cat "$WORK/wrk.out" >&2; die "wrk failed"; }
CPU1=0 MCPU1=0 PGCPU1=0
((HAVE_PROC)) && { CPU1=$(cpu_ticks "$SALGATE_PID"); MCPU1=$(machine_ticks); PGCPU1=$(pg_ticks); }
kill -0 "$SALGATE_PID" 2>/dev/null || die "salgate died during the HTTP run"

# The same load again, but every lead is assigned by the round-robin queue (docs/api.md §4; the bar
# of the routing issue: within 10 % of the run above).
checkpoint
say "wrk: POST /v1/leads into a round-robin queue, $CONNECTIONS connections, ${DURATION}s"
load "$WORK/wrk-rr.out" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency \
    -s "$BENCH_DIR/ingest.lua" "$WRK_URL" -- "$INGEST_TOKEN" bench-rr "r$RUN_TAG" bench-rr ||
    { cat "$WORK/wrk-rr.out" >&2; die "wrk (round robin) failed"; }
kill -0 "$SALGATE_PID" 2>/dev/null || die "salgate died during the round-robin run"

# The owner-given load once more, so the round-robin run is compared with the mean of the runs
# before and after it (A-B-A): the table grows and this machine drifts over a run, and a
# second-place run would otherwise always be measured against a bigger table.
checkpoint
say "wrk: POST /v1/leads again (owner given), $CONNECTIONS connections, ${DURATION}s"
load "$WORK/wrk-h2.out" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency \
    -s "$BENCH_DIR/ingest.lua" "$WRK_URL" -- "$INGEST_TOKEN" bench-http2 "a$RUN_TAG" ||
    { cat "$WORK/wrk-h2.out" >&2; die "wrk (second owner-given run) failed"; }
kill -0 "$SALGATE_PID" 2>/dev/null || die "salgate died during the second owner-given run"

RSS_PEAK="" HWM=""
if ((HAVE_PROC)); then
    touch "$WORK/sampler.stop"
    wait "$SAMPLER_PID" 2>/dev/null || true
    SAMPLER_PID=""
    RSS_PEAK=$(cat "$WORK/rss.max" 2>/dev/null || true)
    HWM=$(proc_kb "$SALGATE_PID" VmHWM)
fi

wrk_val() { awk -v k="$1" '$1 == k {print $2; exit}' "$WORK/wrk.out"; }
RR_RPS=$(awk '$1 == "BENCH_RPS_2XX" {print $2; exit}' "$WORK/wrk-rr.out")
RR_NON2XX=$(awk '$1 == "BENCH_NON2XX" {print $2; exit}' "$WORK/wrk-rr.out")
H2_RPS=$(awk '$1 == "BENCH_RPS_2XX" {print $2; exit}' "$WORK/wrk-h2.out")
H_2XX=$(wrk_val BENCH_2XX)
H_NON2XX=$(wrk_val BENCH_NON2XX)
H_REQ=$(wrk_val BENCH_REQUESTS)
H_RPS=$(wrk_val BENCH_RPS_2XX)
H_RPS_ALL=$(wrk_val BENCH_RPS_ALL)
H_P50=$(wrk_val BENCH_LAT_P50_US)
H_P90=$(wrk_val BENCH_LAT_P90_US)
H_P99=$(wrk_val BENCH_LAT_P99_US)
H_MAX=$(wrk_val BENCH_LAT_MAX_US)
H_DUR=$(wrk_val BENCH_DURATION_US)
[[ -n $H_2XX && -n $H_NON2XX && -n $H_REQ && -n $H_RPS && -n $H_P99 && -n $H_DUR ]] || { cat "$WORK/wrk.out" >&2; die "could not read the BENCH_ lines of wrk's output"; }
H_SOCK=$(sed -n 's/^BENCH_SOCKET_ERRORS //p' "$WORK/wrk.out")
H_STATUSES=$(awk '$1 == "BENCH_STATUS" {printf "%s%s x%s", sep, $2, $3; sep=", "}' "$WORK/wrk.out")
H_FIRST_ERR=$(sed -n 's/^BENCH_FIRST_ERROR //p' "$WORK/wrk.out" | head -n1)
WRK_NON2XX_LINE=$(grep -E 'Non-2xx or 3xx responses' "$WORK/wrk.out" || true)
SOCK_TOTAL=$(echo "$H_SOCK" | tr ' ' '\n' | awk -F= '{s += $2} END {print s + 0}')

# Stop the service gracefully (SIGTERM drains in-flight requests) before counting rows, so the
# count cannot move under us.
say "stopping salgate (SIGTERM)"
kill -TERM "$SALGATE_PID"
STOP_T0=$SECONDS
STOP_RC=""
for ((i = 0; i < 200; i++)); do
    kill -0 "$SALGATE_PID" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$SALGATE_PID" 2>/dev/null; then
    STOP_RC="still running after 20 s"
else
    set +e
    wait "$SALGATE_PID"
    STOP_RC="exit $?"
    set -e
    SALGATE_PID=""
fi
STOP_SECS=$((SECONDS - STOP_T0))

H_X1=$(xacts)
DB_HTTP=$(sql "SELECT count(*) FROM leads WHERE source = 'bench-http'")
DB_HTTP_HIST=$(sql "SELECT count(*) FROM lead_history h JOIN leads l ON l.id = h.lead_id WHERE l.source = 'bench-http'")
DB_PG=$(sql "SELECT count(*) FROM leads WHERE source = 'pgbench'")
DB_HTTP_PHASE=$(sql "SELECT count(*) FROM leads WHERE source IN ('bench-warmup', 'bench-http', 'bench-rr', 'bench-http2')")
DB_PG_PHASE=$(sql "SELECT count(*) FROM leads WHERE source IN ('pgbench', 'pgbench-warmup')")
DB_PG_HIST=$(sql "SELECT count(*) FROM lead_history h JOIN leads l ON l.id = h.lead_id WHERE l.source = 'pgbench'")
DB_ALL=$(sql "SELECT count(*) FROM leads")

# pgbench once more, after the HTTP runs (A-B-B-A): this machine's speed drifts by 10-30 %
# within minutes (shared cores) and the table grows through the run, so each side of the ratio
# is the mean of a run before and a run after the middle of the whole run. The service is
# stopped by now, as good as idle during the first pgbench run.
checkpoint
if ((WARMUP > 0)); then
    load "$WORK/pgbench2-warmup.out" "${PGBENCH[@]}" -T "$WARMUP" -D src=pgbench-warmup "$DB" ||
        { cat "$WORK/pgbench2-warmup.out" >&2; die "second pgbench warm-up failed"; }
fi
say "pgbench again: $CONNECTIONS connections, $THREADS threads, ${DURATION}s"
load "$WORK/pgbench2.out" "${PGBENCH[@]}" -T "$DURATION" -D src=pgbench2 "$DB" ||
    { cat "$WORK/pgbench2.out" >&2; die "second pgbench run failed"; }
PG2_TPS=$(pgbench_tps "$WORK/pgbench2.out")
PG2_TX=$(pgbench_tx "$WORK/pgbench2.out")
PG2_FAILED=$(pgbench_failed "$WORK/pgbench2.out")
DB_PG2=$(sql "SELECT count(*) FROM leads WHERE source = 'pgbench2'")

STMTS=""
if ((STATEMENTS)); then
    STMTS=$("${PSQL[@]}" -d "$DB" -P pager=off -c "
        SELECT calls, round(mean_exec_time::numeric, 3) AS mean_ms, plans,
               round(mean_plan_time::numeric, 3) AS plan_ms, rows,
               left(regexp_replace(query, '\s+', ' ', 'g'), 110) AS query
        FROM pg_stat_statements
        WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND query !~* '(pg_stat|CHECKPOINT|count\(\*\))'
        ORDER BY calls DESC LIMIT 12")
fi

# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------
calc() { awk "BEGIN { $1 }"; }
H_MEAN=$(calc "printf \"%.1f\", ($H_RPS + ${H2_RPS:-$H_RPS}) / 2")
PG_MEAN=$(calc "printf \"%.1f\", ($PG_TPS + $PG2_TPS) / 2")
RATIO=$(calc "printf \"%.2f\", $H_MEAN / $PG_MEAN")
RATIO_FIRST=$(calc "printf \"%.2f\", $H_RPS / $PG_TPS")
RR_RATIO=$(calc "printf \"%.2f\", ${RR_RPS:-0} / $H_MEAN")
RR_OK=$(calc "print (${RR_RPS:-0} >= 0.9 * $H_MEAN) ? \"PASS\" : \"FAIL\"")
RR_SPREAD=$(sql "SELECT coalesce(max(n) - min(n), -1) || ' (' || string_agg(owner || '=' || n, ' ' ORDER BY owner) || ')' FROM (SELECT owner, count(*) AS n FROM leads WHERE source = 'bench-rr' GROUP BY owner) c")
if calc "exit !($H_MEAN / $PG_MEAN >= $BAR)"; then BAR_OK=PASS; else BAR_OK=FAIL; fi
ms() { calc "printf \"%.2f ms\", $1 / 1000"; }
mb() {
    if [[ -n $1 ]]; then calc "printf \"%.1f MiB\", $1 / 1024"; else echo "n/a (no /proc)"; fi
}
HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)
NCPU_ONLN=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo "?")
if ((HAVE_PROC)); then
    CPU_SECS=$(calc "printf \"%.1f\", ($CPU1 - $CPU0) / $HZ")
    CPU_PCT=$(calc "printf \"%.0f\", 100 * ($CPU1 - $CPU0) / $HZ / ($H_DUR / 1e6)")
    CPU_TXT="${CPU_SECS} s (${CPU_PCT}% of one core)"
    cores() { calc "printf \"%.2f\", ($1) / $HZ / ($H_DUR / 1e6)"; }
    if [[ -s $WORK/pgbench-cpu ]]; then
        read -r PGB_M PGB_P PGB_S <"$WORK/pgbench-cpu"
        PGB_SPLIT_TXT="machine $(calc "printf \"%.2f\", $PGB_M / $HZ / $PGB_S") of $NCPU_ONLN cores busy: PostgreSQL $(calc "printf \"%.2f\", $PGB_P / $HZ / $PGB_S"), pgbench and the rest $(calc "printf \"%.2f\", ($PGB_M - $PGB_P) / $HZ / $PGB_S"); PostgreSQL CPU per lead $(calc "printf \"%.3f\", 1000 * $PGB_P / $HZ / $PGB_S / $PG_TPS") ms"
    else
        PGB_SPLIT_TXT="n/a"
    fi
    SPLIT_TXT="machine $(cores "$MCPU1 - $MCPU0") of $NCPU_ONLN cores busy: service $(cores "$CPU1 - $CPU0"), PostgreSQL $(cores "$PGCPU1 - $PGCPU0"), wrk and the rest $(cores "($MCPU1 - $MCPU0) - ($CPU1 - $CPU0) - ($PGCPU1 - $PGCPU0)"); PostgreSQL CPU per lead $(calc "printf \"%.3f\", 1000 * ($PGCPU1 - $PGCPU0) / $HZ / ($H_DUR / 1e6) / $H_RPS") ms"
else
    SPLIT_TXT="n/a (no /proc)"
    CPU_TXT="n/a (no /proc)"
fi

RSS_BAR_MIB=100
RSS_OK="n/a"
RSS_WORST=${HWM:-$RSS_PEAK}
if [[ -n $RSS_WORST ]]; then
    if ((RSS_WORST < RSS_BAR_MIB * 1024)); then RSS_OK=PASS; else RSS_OK=FAIL; fi
fi

CHECKS_OK=1
problems=()
if ((H_NON2XX > 0)); then
    CHECKS_OK=0
    if [[ -n $H_STATUSES ]]; then
        problems+=("$H_NON2XX non-2xx responses ($H_STATUSES); first body: ${H_FIRST_ERR:-?}")
    else
        problems+=("$H_NON2XX non-2xx responses (run again with BENCH_COUNT_STATUSES=1 in the environment to see their status codes and first body)")
    fi
fi
if ((SOCK_TOTAL > 0)); then
    CHECKS_OK=0
    problems+=("socket errors: $H_SOCK")
fi
# wrk counts only the responses it read before its clock ran out; up to one request per
# connection may still have been in flight and committed. So expect 0 <= stored - 2xx <= C.
DIFF=$((DB_HTTP - H_2XX))
if ((DIFF < 0 || DIFF > CONNECTIONS)); then
    CHECKS_OK=0
    problems+=("leads stored for bench-http ($DB_HTTP) differ from 2xx responses ($H_2XX) by $DIFF (expected 0..$CONNECTIONS)")
fi
if ((DB_HTTP_HIST != DB_HTTP)); then
    CHECKS_OK=0
    problems+=("bench-http: $DB_HTTP leads but $DB_HTTP_HIST history rows")
fi
if [[ -n $PG_TX ]] && ((DB_PG != PG_TX)); then
    # pgbench counts a transaction when its result has been read, so these should be equal.
    problems+=("note: pgbench processed $PG_TX transactions, $DB_PG pgbench leads stored")
fi
if ((PG_FAILED > 0)); then
    CHECKS_OK=0
    problems+=("pgbench: $PG_FAILED failed transactions")
fi
if [[ -n $PG2_TX ]] && ((DB_PG2 != PG2_TX)); then
    problems+=("note: the second pgbench run processed $PG2_TX transactions, $DB_PG2 leads stored")
fi
if ((PG2_FAILED > 0)); then
    CHECKS_OK=0
    problems+=("second pgbench run: $PG2_FAILED failed transactions")
fi

COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ $COMMIT != unknown && -n $(git -C "$ROOT" status --porcelain -- src migrations Cargo.toml Cargo.lock 2>/dev/null) ]]; then
    COMMIT="$COMMIT (+ uncommitted changes)"
fi
CPU_MODEL=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
NCPU=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo "?")
POOL=${SALGATE_DATABASE_MAX_CONNECTIONS:-default}
STAMP=$(date +%Y%m%d-%H%M%S)

REPORT=$(
    cat <<EOF
salgate ingest benchmark — $(date '+%Y-%m-%d %H:%M:%S %Z')
commit $COMMIT; PostgreSQL $PG_VERSION (fsync=on, synchronous_commit=on); $NCPU CPUs ${CPU_MODEL:+($CPU_MODEL)}
load: $CONNECTIONS connections, $THREADS threads, ${DURATION}s measured after ${WARMUP}s warm-up; service pool size: $POOL

  metric                              value
  ----------------------------------  ------------------------------
  pgbench TPS (ingest statement)      $PG_MEAN (mean of $PG_TPS before and $PG2_TPS after the HTTP runs)
  pgbench latency avg                 ${PG_LAT:-?} ms (first run)
  HTTP ingest req/s (2xx)             $H_MEAN (mean of the owner-given runs, first and last: $H_RPS and ${H2_RPS:-?})
  ratio HTTP / pgbench                $RATIO  (first HTTP run / first pgbench run alone: $RATIO_FIRST)
  bar (spec): HTTP / pgbench          >= $BAR  -> $BAR_OK
  HTTP ingest, round-robin queue      ${RR_RPS:-?} req/s (non-2xx: ${RR_NON2XX:-?})
  HTTP ingest, owner given, again     ${H2_RPS:-?} req/s (run after the round-robin one)
  order of the runs                   pgbench, HTTP, HTTP round robin, HTTP again, pgbench again
  ratio round robin / owner given     $RR_RATIO  (vs the mean $H_MEAN of the runs before and after; bar >= 0.90 -> $RR_OK)
  round-robin spread max-min          $RR_SPREAD
  HTTP latency p50                    $(ms "$H_P50")
  HTTP latency p90                    $(ms "$H_P90")
  HTTP latency p99                    $(ms "$H_P99")
  HTTP latency max                    $(ms "$H_MAX")
  service peak RSS (VmRSS, sampled)   $(mb "$RSS_PEAK")
  service VmHWM (peak since start)    $(mb "$HWM")
  $(printf '%-36s' "bar (spec): RSS < $RSS_BAR_MIB MiB")$RSS_OK
  service CPU during HTTP run         $CPU_TXT
  cores used during pgbench run       ${PGB_SPLIT_TXT:-n/a}
  cores used during HTTP run          $SPLIT_TXT

  checks
  HTTP responses                      $H_REQ total ($H_RPS_ALL/s), $H_2XX 2xx, $H_NON2XX non-2xx${H_STATUSES:+ ($H_STATUSES)}
  socket errors                       $H_SOCK
  leads stored, source bench-http     $DB_HTTP (2xx counted by wrk: $H_2XX, difference $DIFF, allowed 0..$CONNECTIONS)
  history rows for those leads        $DB_HTTP_HIST
  leads stored, source pgbench        $DB_PG (pgbench transactions: ${PG_TX:-?}, failed: $PG_FAILED; history rows: $DB_PG_HIST)
  leads stored, source pgbench2       $DB_PG2 (pgbench transactions: ${PG2_TX:-?}, failed: $PG2_FAILED)
  leads stored in total               $DB_ALL (incl. warm-ups and the probe)
  PostgreSQL xacts per lead stored    pgbench $(calc "printf \"%.2f\", ($PG_X1 - $PG_X0) / ($DB_PG_PHASE > 0 ? $DB_PG_PHASE : 1)"), HTTP $(calc "printf \"%.2f\", ($H_X1 - $H_X0) / ($DB_HTTP_PHASE > 0 ? $DB_HTTP_PHASE : 1)")
  service stop after SIGTERM          $STOP_RC after ${STOP_SECS}s
EOF
)
if ((${#problems[@]})); then
    REPORT+=$'\n\n  problems\n'
    for p in "${problems[@]}"; do REPORT+="  - $p"$'\n'; done
else
    REPORT+=$'\n\n  correctness checks passed\n'
fi
[[ -n $WRK_NON2XX_LINE ]] && REPORT+="  wrk:$WRK_NON2XX_LINE"$'\n'
if [[ -n $STMTS ]]; then
    REPORT+=$'\n  statements run during the HTTP phase (warm-up + run; pg_stat_statements)\n'
    REPORT+="$STMTS"$'\n'
fi

mkdir -p "$RESULTS_DIR"
OUT=$RESULTS_DIR/ingest-$STAMP.txt
{
    echo "$REPORT"
    echo
    echo "---- pgbench output ----"
    cat "$WORK/pgbench.out"
    echo
    echo "---- pgbench output, second run ----"
    cat "$WORK/pgbench2.out"
    echo
    echo "---- wrk output ----"
    cat "$WORK/wrk.out"
} >"$OUT"
if [[ $(id -u) -eq 0 ]] && [[ -n ${SUDO_UID:-} ]]; then
    chown "$SUDO_UID:${SUDO_GID:-$SUDO_UID}" "$RESULTS_DIR" "$OUT" 2>/dev/null || true
fi

echo
echo "$REPORT"
echo "saved to ${OUT#"$ROOT"/}"

((CHECKS_OK)) || exit 1
if ((ENFORCE_BAR)) && [[ $BAR_OK != PASS || $RSS_OK == FAIL ]]; then exit 1; fi
exit 0
