# Shared by the test, portal, contract and benchmark scripts (sourced
# through tools.sh): PostgreSQL checks, throwaway databases, starting the
# release server and waiting for it, and clean-up on exit.

PG_ADMIN_URL=${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}

# Clean-up steps run on exit, last registered first.
_CLEANUPS=()
on_exit() { _CLEANUPS=("$*" "${_CLEANUPS[@]}"); }
_run_cleanups() { local step; for step in "${_CLEANUPS[@]}"; do eval "$step" || true; done; }
trap _run_cleanups EXIT

postgres_up() { psql "$PG_ADMIN_URL" -Atqc 'SELECT 1' >/dev/null 2>&1; }

# Sets HAVE_POSTGRES to 1 or 0, starting the local cluster when it is
# stopped; with CI=true an unreachable PostgreSQL fails the run.
check_postgres() {
  if ! postgres_up && command -v pg_ctlcluster >/dev/null; then
    step "starting the local PostgreSQL cluster"
    as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  if postgres_up; then
    HAVE_POSTGRES=1
  elif [ "${CI:-}" = "true" ]; then
    echo "PostgreSQL is unreachable at $PG_ADMIN_URL and CI=true: failing." >&2
    exit 1
  else
    HAVE_POSTGRES=0
    echo "WARNING: PostgreSQL is unreachable at $PG_ADMIN_URL: its tests will be skipped." >&2
  fi
}

# Creates database $1 on the PostgreSQL server, dropped on exit; prints
# its URL.
throwaway_database() {
  local name=$1
  psql "$PG_ADMIN_URL" -qc "CREATE DATABASE \"$name\"" >/dev/null
  on_exit "psql '$PG_ADMIN_URL' -qc 'DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)' >/dev/null 2>&1"
  echo "${PG_ADMIN_URL%/*}/$name"
}

# A temporary directory removed on exit, in WORK.
make_work_dir() {
  WORK=$(mktemp -d)
  on_exit "rm -rf '$WORK'"
}

# Waits up to 10 s for $1/readyz; fails with the log $2 when it never
# answers.
wait_ready() {
  local base=$1 log=${2:-}
  for _ in $(seq 1 100); do
    curl -fs "$base/readyz" >/dev/null && return 0
    sleep 0.1
  done
  echo "the server at $base did not become ready" >&2
  [ -n "$log" ] && cat "$log" >&2
  return 1
}

# Starts the release server on 127.0.0.1:$1 with its output in $2 (the
# caller's environment, e.g. DATABASE_URL, applies), stops it on exit and
# waits until it is ready. Sets SERVER_PID.
start_server() {
  local port=$1 log=$2
  BIND_ADDRESS=127.0.0.1:$port LEPTOS_SITE_ROOT=${LEPTOS_SITE_ROOT:-target/site} \
    target/release/server >"$log" 2>&1 &
  SERVER_PID=$!
  on_exit "kill $SERVER_PID 2>/dev/null"
  wait_ready "http://127.0.0.1:$port" "$log"
}
