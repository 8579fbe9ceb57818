#!/usr/bin/env bash
# `latchkey mcp` (release build) against the local test provider, in a throw-away session (it runs
# itself in tests/with-session, after installing what is missing as scripts/test does):
#   - call_api GET /me through `latchkey mcp` beside the same GET made directly with the same token,
#     alternately in one run: median added latency;
#   - process start to `tools/list` answered (initialize, initialized, tools/list);
#   - RSS of the idle server after a session's calls.
#   tests/bench/mcp.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${LATCHKEY_SESSION_DIR:-}" ]; then
  scripts/setup --test
  exec tests/with-session "$0" "$@"
fi
runs=${1:-200}
cargo build --release --locked --quiet -p latchkey-cli
bin=$PWD/target/release/latchkey
work=$(mktemp -d)
trap 'kill $provider 2>/dev/null || true; rm -rf "$work"' EXIT
node tests/provider/server.mjs --tls < /dev/null > "$work/ready" 2>/dev/null &
provider=$!
for _ in $(seq 100); do [ -s "$work/ready" ] && break; sleep 0.1; done
field() { node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"))[process.argv[2]])' "$work/ready" "$1"; }
issuer=$(field issuer)
ca=$(field ca_file)
printf '[[connection]]\nid = "test"\nissuer = "%s"\nclient_id = "latchkey"\nscopes = ["openid", "email"]\nredirect = "loopback"\napi_base = "%s"\n' "$issuer" "$issuer" > "$work/connections.toml"
export LATCHKEY_DATA_DIR=$work/data LATCHKEY_CONNECTIONS=$work/connections.toml \
  LATCHKEY_KEYCHAIN_SERVICE=latchkey-bench-mcp SSL_CERT_FILE=$ca NODE_EXTRA_CA_CERTS=$ca
coproc CONNECT { "$bin" connect test --identifier bench --no-browser --json; }
connect_pid=$CONNECT_PID
read -r line <&"${CONNECT[0]}"
url=$(node -e 'console.log(JSON.parse(process.argv[1]).authorization_url)' "$line")
node tests/e2e/browser.mjs "$url"
wait "$connect_pid" || true
"$bin" grants add bench test:bench --access read > /dev/null
.tools/mcp-venv/bin/python tests/bench/mcp_bench.py "$bin" "$issuer" "$ca" "$runs"
"$bin" delete test:bench > /dev/null
