#!/usr/bin/env bash
# `latchkey token` for a valid token beside `secret-tool lookup` of one secret, on this machine:
# wall time per call, median of N runs, in a throw-away session (it runs itself in
# tests/with-session, after installing what is missing as scripts/test does).
#   tests/bench/cli-token.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${LATCHKEY_SESSION_DIR:-}" ]; then
  scripts/setup --test
  exec tests/with-session "$0" "$@"
fi
runs=${1:-30}
cargo build --release --locked --quiet -p latchkey-cli
bin=$PWD/target/release/latchkey
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

median_ms() { # command...
  local times=()
  for _ in $(seq "$runs"); do
    local t0 t1; t0=$(date +%s%N); "$@" > /dev/null; t1=$(date +%s%N)
    times+=($(( (t1 - t0) / 1000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]/1000}'
}
ours=$(median_ms "$bin" token test:bench)
floor=$(median_ms secret-tool lookup service latchkey-bench-plain username one)
echo "latchkey token (valid token): ${ours} ms median of $runs"
echo "secret-tool lookup:           ${floor} ms median of $runs"
awk -v a="$ours" -v b="$floor" 'BEGIN {printf "ratio: %.2fx\n", a/b}'
"$bin" delete test:bench > /dev/null
