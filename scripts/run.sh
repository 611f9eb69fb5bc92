#!/usr/bin/env bash
# Start Parley for local use: web server and django-q2 worker in the foreground.
# Ctrl-C stops both. Called by `make run` after setup.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
HOST_PORT="${PARLEY_ADDR:-127.0.0.1:8000}"

"$PY" manage.py qcluster &
worker=$!
"$PY" manage.py runserver "$HOST_PORT" &
web=$!

stop() {
  trap - INT TERM EXIT
  kill "$web" "$worker" 2>/dev/null || true
  wait "$web" "$worker" 2>/dev/null || true
}
trap stop INT TERM EXIT

# Whichever exits first takes the other down with it.
set +e
wait -n "$web" "$worker"
status=$?
stop
exit "$status"
