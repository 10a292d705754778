#!/usr/bin/env bash
# Runs every test twice: on SQLite (the embedded tier), then on PostgreSQL (the production tier).
# Installs what the tests need from Debian's packages when it is missing (CI starts from a clean
# clone; nothing installed by hand is guaranteed). PostgreSQL: a throwaway server in a temporary
# folder on a free port, removed at the end. It runs without fsync, which makes the PostgreSQL run
# about twice as fast as on a durable server (each test copies a database and drops it). To use a
# server of your own instead: TEST_POSTGRES_URL=postgres://user@host:port/postgres npm test
#
#   npm test                              both runs
#   TEST_DATABASE=sqlite npm test         SQLite only
#   TEST_DATABASE=postgres npm test       PostgreSQL only
#   npm test -- server/db/*.test.ts       some files (both runs)
set -euo pipefail
cd "$(dirname "$0")/.."

sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"

want="${TEST_DATABASE:-both}"
need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
pg_bin=""
find_pg_bin() {
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    pg_bin="$(dirname "$(command -v pg_ctl)")"
  else
    pg_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  fi
}
if [ "$want" != sqlite ]; then
  find_pg_bin
  if [ -z "$pg_bin" ]; then need_apt+=(postgresql); fi
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "Installing test prerequisites: ${need_apt[*]}"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_apt[@]}" >/dev/null
  find_pg_bin
fi

if [ $# -gt 0 ]; then
  files=("$@")
else
  # The longest files first (real browsers, several processes, the command line's processes), so
  # the short ones fill in beside them instead of one long file running alone at the end.
  mapfile -t files < <(
    find server tasks scripts -name '*.test.ts' -not -path '*/node_modules/*' | sort |
      awk '/browser\.test\.ts$|multi-process|cli\.test\.ts$/ { print; next } { rest[++n] = $0 }
           END { for (i = 1; i <= n; i++) print rest[i] }'
  )
fi
# Three files at once on two cores: the longest files spend much of their time waiting (on a
# browser, on other processes, on a scheduled minute), and a third file uses that time.
run_suite() {
  node --import tsx --test --test-concurrency="${TEST_CONCURRENCY:-3}" --test-reporter=spec "$@"
}
status=0
if [ "$want" != postgres ]; then
  echo "== Tests on SQLite"
  start=$SECONDS
  TEST_DATABASE=sqlite run_suite "${files[@]}" || status=1
  echo "== SQLite run: $((SECONDS - start)) s"
fi
[ "$want" = sqlite ] && exit $status

# PostgreSQL: our own throwaway server, unless TEST_POSTGRES_URL names one.
export TEST_RUN_ID="$(date +%s)_$$"
pg_dir=""
cleanup() {
  node --import tsx server/testing/postgres-run.ts teardown >/dev/null 2>&1 || true
  if [ -n "$pg_dir" ]; then
    "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 ||
      runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$pg_dir"
  fi
}
trap cleanup EXIT
if [ -n "${TEST_POSTGRES_URL:-}" ]; then
  export TEST_POSTGRES_URL
else
  pg_dir="$(mktemp -d)"
  port="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
  as_owner=()
  # initdb refuses to run as root: the server runs as the postgres user, in a folder it owns.
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres "$pg_dir"
    as_owner=(runuser -u postgres --)
  fi
  "${as_owner[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U postgres --auth=trust -E UTF8 --no-sync >/dev/null
  # A throwaway server: durability off makes CREATE DATABASE and commits cheap.
  "${as_owner[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w -s start \
    -o "-p $port -k $pg_dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
  export TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
fi
echo "== Tests on PostgreSQL ($TEST_POSTGRES_URL)"
start=$SECONDS
TEST_POSTGRES_TEMPLATE="$(node --import tsx server/testing/postgres-run.ts setup)"
export TEST_POSTGRES_TEMPLATE
# The page test's screenshots (test-results/pages) come from the SQLite run when there was one.
screenshots=1
[ "$want" = both ] && screenshots=0
TEST_SCREENSHOTS=$screenshots TEST_DATABASE=postgres run_suite "${files[@]}" || status=1
echo "== PostgreSQL run: $((SECONDS - start)) s"
exit $status
