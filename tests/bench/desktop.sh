#!/usr/bin/env bash
# Latchkey against the floor of its stack, in one run: a bare Tauri 2 window (tests/bench/baseline)
# and Latchkey, both built now with the same release profile, Tauri and build settings (Tauri's
# core is compiled once for both, without the commands Latchkey's window may not call:
# .cargo/config.toml), started alternately under the same Xvfb session, several times each; prints
# medians and ratios.
#
#   tests/bench/desktop.sh [RUNS]     (default 7; installs what is missing like scripts/test, runs
#                                     itself in tests/with-session; results also in
#                                     tests/artifacts/bench/desktop.md)
#
# Measured per start (LATCHKEY_BENCH_PAINT makes both print `LATCHKEY_PAINTED <unix ns> <render ms>
# <loaded ms>` once their first frame with content is on screen):
#   - start to first paint: from just before exec to that line (Latchkey: its account list, 50
#     accounts in the data folder, real keychain; the baseline: "Hello");
#   - RSS of the whole process tree (the WebKit web and network processes included) 5 s after start;
#   - Latchkey only: the process tree's RSS 5 s after its window was closed (tray, refresher running:
#     on Linux the same process, replaced by latchkey-tray);
#   - where that time goes: the page's loading, from its navigation's start to its first script
#     statement (the bare window: its one script; Latchkey: its bundle's first statement), and the
#     page's own time from there to its first painted frame (the frame after "Hello"; the frame after
#     the account list rendered), and Latchkey's with 1,000 accounts; what is left before the
#     navigation is the process, Tauri, the window and WebKit's own processes;
#   - scrolling 1,000 accounts against the bare window scrolling 1,000 plain rows (scroll.mjs).
# Plus the release binaries' sizes.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${LATCHKEY_SESSION_DIR:-}" ]; then
  scripts/setup --test
  exec tests/with-session "$0" "$@"
fi
runs=${1:-7}
out=tests/artifacts/bench
mkdir -p "$out"

echo "==> building (release profile, custom-protocol as the bundles ship)"
npm --prefix ui run --silent build -- --logLevel warn
cargo build --release --locked --quiet -p latchkey-desktop --features tauri/custom-protocol
cargo build --release --locked --quiet -p latchkey-tray
cargo build --release --locked --quiet -p latchkey-bench-baseline --features tauri/custom-protocol
cargo build --release --locked --quiet -p latchkey-core --example seed
app=$PWD/target/release/latchkey-desktop
base=$PWD/target/release/latchkey-bench-baseline

work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
export LATCHKEY_CONNECTIONS=$work/connections.toml LATCHKEY_KEYCHAIN_SERVICE=latchkey-bench-$$
export LATCHKEY_BENCH_PAINT=1 NO_AT_BRIDGE=1
printf '[[connection]]\nid = "crm"\nname = "CRM"\ntype = "api-key"\n' > "$LATCHKEY_CONNECTIONS"
LATCHKEY_DATA_DIR=$work/data50 target/release/examples/seed 50
LATCHKEY_DATA_DIR=$work/data1000 target/release/examples/seed 1000

tree() { echo "$1"; local c; for c in $(pgrep -P "$1" || true); do tree "$c"; done; }
rss_kib() { # the process tree's resident memory, KiB
  local sum=0 p r
  for p in $(tree "$1"); do
    r=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
    sum=$((sum + ${r:-0}))
  done
  echo "$sum"
}
webkit_children() { tree "$1" | xargs -r ps -o comm= -p | grep -c WebKit || true; }

# run BINARY DATA_DIR CLOSE → "paint_ms render_ms rss_kib tray_kib webkit_after_close loaded_ms"
run() {
  local bin=$1 data=$2 close=$3 t0 line painted
  : > "$work/stdout"
  t0=$(date +%s%N)
  LATCHKEY_DATA_DIR=$data "$bin" > "$work/stdout" 2> "$work/stderr" &
  pid=$!
  for _ in $(seq 600); do
    line=$(grep -m1 '^LATCHKEY_PAINTED ' "$work/stdout" || true)
    [ -n "$line" ] && break
    sleep 0.02
  done
  if [ -z "$line" ]; then echo "no first paint from $bin" >&2; tail -20 "$work/stderr" >&2; exit 1; fi
  read -r _ painted render loaded <<< "$line"
  sleep "$(awk -v t0="$t0" -v now="$(date +%s%N)" 'BEGIN { s = 5 - (now - t0) / 1e9; print (s > 0 ? s : 0) }')"
  local rss tray=0 left=0
  rss=$(rss_kib "$pid")
  if [ "$close" = close ]; then
    /usr/bin/python3 tests/e2e/x11-windows.py close > /dev/null
    sleep 5
    kill -0 "$pid" 2>/dev/null || { echo "Latchkey quit instead of staying in the tray" >&2; exit 1; }
    tray=$(rss_kib "$pid")
    left=$(webkit_children "$pid")
  fi
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=
  sleep 1
  echo "$(( (painted - t0) / 1000000 )) $render $rss $tray $left $loaded"
}

median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

: > "$work/base" ; : > "$work/app" ; : > "$work/app1000"
for i in $(seq "$runs"); do
  echo "==> run $i of $runs"
  run "$base" "$work/data50" keep >> "$work/base"
  run "$app" "$work/data50" close >> "$work/app"
  run "$app" "$work/data1000" keep >> "$work/app1000"
done

echo "==> scrolling 1,000 accounts (3 runs each)"
scroll=$(node tests/bench/scroll.mjs "$app" "$base" "$work/data1000" 3 | tail -1)
sc() { node -e 'const s = JSON.parse(process.argv[1]).scroll; console.log(s[process.argv[2]][process.argv[3]])' "$scroll" "$1" "$2"; }

col() { awk -v c="$2" '{print $c}' "$1" | median | awk '{ printf "%.0f\n", $1 }'; }
b_paint=$(col "$work/base" 1); b_rss=$(col "$work/base" 3)
a_paint=$(col "$work/app" 1); a_rss=$(col "$work/app" 3); a_tray=$(col "$work/app" 4)
a_left=$(awk '{print $5}' "$work/app" | sort -n | tail -1)
b_render=$(col "$work/base" 2); a_render=$(col "$work/app" 2); k_paint=$(col "$work/app1000" 1); k_render=$(col "$work/app1000" 2)
b_loaded=$(col "$work/base" 6); a_loaded=$(col "$work/app" 6)
# Before the navigation: each start's first paint less its page's loading and render, then the median.
before_nav() { awk '{ printf "%.0f\n", $1 - $2 - $6 }' "$1" | median; }
b_native=$(before_nav "$work/base"); a_native=$(before_nav "$work/app")
b_size=$(stat -c %s "$base"); a_size=$(stat -c %s "$app"); t_size=$(stat -c %s "$(dirname "$app")/latchkey-tray")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }

{
  echo "| measure (median of $runs) | bare Tauri 2 window | Latchkey | ratio | target |"
  echo "|---|---|---|---|---|"
  echo "| start to first paint (50 accounts) | ${b_paint} ms | ${a_paint} ms | $(ratio "$a_paint" "$b_paint") | ≤ 1.15x |"
  echo "| RSS of all processes, 5 s after start | $(mib "$b_rss") | $(mib "$a_rss") | $(ratio "$a_rss" "$b_rss") | ≤ 1.15x |"
  echo "| release binary | $(mib $((b_size / 1024))) | $(mib $((a_size / 1024))) | $(ratio "$a_size" "$b_size") | ≤ 1.5x |"
  echo "| release binary: Latchkey's bytes above the bare window | | $(mib $(((a_size - b_size) / 1024))) | | |"
  echo "| latchkey-tray binary (Linux, installed beside it) | | $(mib $((t_size / 1024))) | | |"
  echo "| RSS in the tray, window closed (WebKit processes left: $a_left) | | $(mib "$a_tray") | | < 40 MiB |"
  echo "| of which: start to the page's navigation (process, Tauri, window, WebKit) | ${b_native} ms | ${a_native} ms | $(ratio "$a_native" "$b_native") | |"
  echo "| of which: page loading, navigation to its script | ${b_loaded} ms | ${a_loaded} ms | $(ratio "$a_loaded" "$b_loaded") | |"
  echo "| of which: page: script to painted (Latchkey: to the painted list), 50 accounts | ${b_render} ms | ${a_render} ms | $(ratio "$a_render" "$b_render") | |"
  echo "| page: script to painted, 1,000 accounts | ${b_render} ms | ${k_render} ms | $(ratio "$k_render" "$b_render") | < 100 ms |"
  echo "| start to first paint, 1,000 accounts | | ${k_paint} ms | | |"
  echo "| scrolling 1,000 rows: median frame (frame clock idle: $(sc baseline idle_ms) / $(sc latchkey idle_ms) ms) | $(sc baseline median_ms) ms | $(sc latchkey median_ms) ms | $(ratio "$(sc latchkey median_ms)" "$(sc baseline median_ms)") | 16.7 ms (60 fps) |"
  echo "| scrolling 1,000 rows: 95th percentile frame | $(sc baseline p95_ms) ms | $(sc latchkey p95_ms) ms | $(ratio "$(sc latchkey p95_ms)" "$(sc baseline p95_ms)") | |"
  echo "| scrolling 1,000 rows: frames over 25 ms | $(sc baseline missed) | $(sc latchkey missed) | | |"
} | tee "$out/desktop.md"
echo "raw runs (paint_ms render_ms rss_kib tray_kib webkit_left loaded_ms):" >> "$out/desktop.md"
for f in base app app1000; do { echo "$f:"; sed 's/^/  /' "$work/$f"; } >> "$out/desktop.md"; done
