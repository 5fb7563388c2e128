#!/usr/bin/env bash
# down.sh - stop the Keystone started by scripts/keystone/up.sh.
#
# Stops only the process named in the PID file of the state folder (never by
# process name), and only if it is that state folder's gunicorn. Idempotent:
# exits 0 when nothing is running. The state (venv, database) is kept, so the
# next up.sh is quick.
#
# Environment knobs (all optional):
#   APIRUN_KEYSTONE_HOME   state folder (default ${XDG_CACHE_HOME:-~/.cache}/apirun-keystone)
#   KEYSTONE_STOP_TIMEOUT  seconds to wait after SIGTERM before SIGKILL (30)
set -euo pipefail

STATE="${APIRUN_KEYSTONE_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/apirun-keystone}"
STOP_TIMEOUT="${KEYSTONE_STOP_TIMEOUT:-30}"
PIDFILE="$STATE/run/keystone.pid"

log() { printf '[keystone-down] %s\n' "$*" >&2; }

[[ "$STOP_TIMEOUT" =~ ^[0-9]+$ ]] || { log "ERROR: KEYSTONE_STOP_TIMEOUT must be a number"; exit 1; }

if [[ ! -f "$PIDFILE" ]]; then
  log "not running (no PID file $PIDFILE)"
  exit 0
fi
PID="$(cat "$PIDFILE" 2>/dev/null || true)"
if ! [[ "$PID" =~ ^[0-9]+$ ]] || ! kill -0 "$PID" 2>/dev/null; then
  log "not running (stale PID file, PID '$PID'); removing it"
  rm -f "$PIDFILE"
  exit 0
fi
# Guard against a reused PID: only signal this state folder's gunicorn.
CMD="$(tr '\0' ' ' <"/proc/$PID/cmdline" 2>/dev/null || ps -o args= -p "$PID" 2>/dev/null || true)"
if [[ "$CMD" != *gunicorn* || "$CMD" != *apirun_keystone_wsgi:application* || "$CMD" != *"$STATE/wsgi"* ]]; then
  log "PID $PID is not this Keystone (it is: ${CMD:-unknown}); leaving it alone, removing the stale PID file"
  rm -f "$PIDFILE"
  exit 0
fi

log "stopping Keystone (gunicorn master PID $PID)"
kill -TERM "$PID" 2>/dev/null || true
for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
  kill -0 "$PID" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$PID" 2>/dev/null; then
  log "still running after ${STOP_TIMEOUT} s; sending SIGKILL to $PID"
  kill -KILL "$PID" 2>/dev/null || true
  sleep 0.5
fi
rm -f "$PIDFILE"
log "stopped"
