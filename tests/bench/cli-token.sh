#!/usr/bin/env bash
# The CLI's hand-out beside its floors, on this machine, in one run: `latchkey token` for a valid
# token against `secret-tool lookup` of one secret, and `latchkey exec` against running its child
# directly. Wall time per call, median of N runs, the two sides of each pair run alternately so
# the machine's load falls on both alike; in a throw-away session (it runs itself in
# tests/with-session, after installing what is missing as scripts/test does).
#   tests/bench/cli-token.sh [RUNS]
# LATCHKEY_BENCH_BIN=path measures that build instead of building the release binary (to compare
# two versions in the same session).
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${LATCHKEY_SESSION_DIR:-}" ]; then
  scripts/setup --test
  exec tests/with-session "$0" "$@"
fi
runs=${1:-30}
if [ -n "${LATCHKEY_BENCH_BIN:-}" ]; then
  bin=$LATCHKEY_BENCH_BIN
else
  cargo build --release --locked --quiet -p latchkey-cli
  bin=$PWD/target/release/latchkey
fi
work=$(mktemp -d)
trap 'kill $provider 2>/dev/null || true; rm -rf "$work"' EXIT
node tests/provider/server.mjs < /dev/null > "$work/ready" 2>/dev/null &
provider=$!
for _ in $(seq 50); do [ -s "$work/ready" ] && break; sleep 0.1; done
issuer=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).issuer)' "$work/ready")
printf '[[connection]]\nid = "test"\nissuer = "%s"\nclient_id = "latchkey"\nscopes = ["openid", "email"]\nredirect = "loopback"\n' "$issuer" > "$work/connections.toml"
export LATCHKEY_DATA_DIR=$work/data LATCHKEY_CONNECTIONS=$work/connections.toml LATCHKEY_KEYCHAIN_SERVICE=latchkey-bench
coproc CONNECT { "$bin" connect test --identifier bench --no-browser --json; }
connect_pid=$CONNECT_PID
read -r line <&"${CONNECT[0]}"
url=$(node -e 'console.log(JSON.parse(process.argv[1]).authorization_url)' "$line")
node tests/e2e/browser.mjs "$url"
wait "$connect_pid" || true
"$bin" token test:bench > /dev/null   # connected?
echo -n "a-secret-of-similar-size-to-a-token-0123456789" | secret-tool store --label bench service latchkey-bench-plain username one

# pair A... ::: B...: RUNS alternate runs of A and B; sets the medians (ms) in $median_a and
# $median_b.
pair() {
  local a=() b=() ta=() tb=() side=a
  while [ $# -gt 0 ]; do
    if [ "$1" = ::: ]; then side=b; shift; continue; fi
    if [ $side = a ]; then a+=("$1"); else b+=("$1"); fi
    shift
  done
  local t0 t1
  for _ in $(seq "$runs"); do
    t0=$(date +%s%N); "${a[@]}" > /dev/null; t1=$(date +%s%N); ta+=($(( (t1 - t0) / 1000 )))
    t0=$(date +%s%N); "${b[@]}" > /dev/null; t1=$(date +%s%N); tb+=($(( (t1 - t0) / 1000 )))
  done
  median_a=$(printf '%s\n' "${ta[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]/1000}')
  median_b=$(printf '%s\n' "${tb[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]/1000}')
}

pair "$bin" token test:bench ::: secret-tool lookup service latchkey-bench-plain username one
echo "latchkey token (valid token): ${median_a} ms median of $runs"
echo "secret-tool lookup:           ${median_b} ms median of $runs"
awk -v a="$median_a" -v b="$median_b" 'BEGIN {printf "ratio: %.2fx\n", a/b}'

child=$(command -v true)
pair "$bin" exec --env TOKEN=test:bench -- "$child" ::: "$child"
echo "latchkey exec --env TOKEN=REF -- true: ${median_a} ms median of $runs"
echo "true, run directly:                     ${median_b} ms median of $runs"
awk -v a="$median_a" -v b="$median_b" 'BEGIN {printf "exec overhead: %.2f ms\n", a-b}'
"$bin" delete test:bench > /dev/null
