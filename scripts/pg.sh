#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on loopback, for tests.
#   bash scripts/pg.sh start DIR   -> prints ONLY the SQLAlchemy URL on stdout
#   bash scripts/pg.sh stop DIR
# Works as root (the server then runs as the `postgres` user, since PostgreSQL refuses root).
set -euo pipefail
cmd=${1:-}; dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then echo "usage: $0 start|stop DIR" >&2; exit 2; fi

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bindir" ] || [ ! -x "$bindir/pg_ctl" ]; then
  echo "PostgreSQL is not installed (run: bash scripts/system-deps.sh)" >&2; exit 1
fi

# Run a PostgreSQL binary as a non-root user when we are root.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
start)
  mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
  [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
  as_pg test -w "$dir" || { echo "pg.sh: $dir must be reachable and writable by the postgres user" >&2; exit 1; }
  data="$dir/data"
  # A free loopback port, chosen by the kernel.
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  as_pg "$bindir/initdb" -D "$data" -U bouclier --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  # Loopback only, socket in DIR, tuned for throwaway test speed.
  as_pg "$bindir/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c full_page_writes=off -c max_connections=200" \
    >/dev/null 2>&1 || { cat "$dir/server.log" >&2; exit 1; }
  echo "$port" >"$dir/port"
  as_pg "$bindir/createdb" -h 127.0.0.1 -p "$port" -U bouclier bouclier >/dev/null
  echo "postgresql+psycopg://bouclier@127.0.0.1:$port/bouclier"
  ;;
stop)
  [ -d "$dir/data" ] || exit 0
  as_pg "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  ;;
*)
  echo "usage: $0 start|stop DIR" >&2; exit 2;;
esac
