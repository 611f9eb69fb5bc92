#!/usr/bin/env bash
# Start Parley for local use: web server and django-q2 worker in the foreground.
# Ctrl-C stops both. Called by `make run` after setup.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
ADDR="${PARLEY_ADDR:-127.0.0.1:8000}"

# Job control puts each of the two in a process group of its own, so each can
# be stopped whole: the worker's processes and the reloader's server child.
set -m
"$PY" manage.py qcluster &
worker=$!
"$PY" manage.py runserver "$ADDR" &
web=$!
set +m

stop() {
  trap '' INT TERM
  kill -TERM -- "-$web" 2>/dev/null
  kill -INT -- "-$worker" 2>/dev/null  # the worker finishes its tasks on SIGINT
  for _ in $(seq 1 75); do
    kill -0 -- "-$web" 2>/dev/null || kill -0 -- "-$worker" 2>/dev/null || return 0
    sleep 0.2
  done
  kill -KILL -- "-$web" "-$worker" 2>/dev/null
  return 0
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM

# Whichever exits first takes the other down with it.
wait -n "$web" "$worker"
status=$?
stop
exit "$status"
