#!/usr/bin/env bash
# up.sh - start a real OpenStack Keystone on 127.0.0.1 for the apirun demo.
#
# Installs Keystone 30.0.0 (from PyPI, pinned by requirements.lock.txt next to
# this script) into a virtualenv, configures it with SQLite and Fernet tokens,
# bootstraps it, serves it with gunicorn on loopback only, waits until it
# answers, and makes sure the demo account exists:
#   domain "demo", project "admin" (in "demo"), user "admin" / "000000"
#   with the "admin" role on that project.
# Idempotent: run it again and it only does what is missing (a few seconds at
# most when Keystone is already up). The last line on stdout is the base URL
# (http://127.0.0.1:<port>); progress and errors go to stderr.
#
# First run: about a minute, mostly pip downloading and installing ~95 packages
# (Keystone and the OpenStack libraries) into the venv, then the database
# schema migrations. Later runs reuse the venv and the database.
#
# Stop it with scripts/keystone/down.sh (same environment).
#
# State lives in $APIRUN_KEYSTONE_HOME (default ${XDG_CACHE_HOME:-~/.cache}/apirun-keystone):
#   venv/ etc/keystone.conf data/keystone.db fernet-keys/ credential-keys/
#   secrets/ (random bootstrap-admin password) log/ run/keystone.pid
#   cache/ (stevedore's entry-point cache, kept out of ~/.cache)
# Delete that folder to start from scratch (stop Keystone first).
#
# Environment knobs (all optional):
#   KEYSTONE_PORT          TCP port on 127.0.0.1              (5000)
#   KEYSTONE_CACHE         memory | off                       (memory)
#                          memory: in-process token/identity cache, one
#                          gunicorn worker; GET /v3/users ~12 ms instead of
#                          ~300 ms. off: no cache, two workers.
#   KEYSTONE_START_TIMEOUT seconds to wait for Keystone to answer (60)
#   KEYSTONE_PYTHON        interpreter for the venv, >= 3.11  (python3)
#   APIRUN_KEYSTONE_HOME   state folder                       (see above)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE="${APIRUN_KEYSTONE_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/apirun-keystone}"
PORT="${KEYSTONE_PORT:-5000}"
HOST=127.0.0.1                      # loopback only, deliberately not a knob
CACHE="${KEYSTONE_CACHE:-memory}"
START_TIMEOUT="${KEYSTONE_START_TIMEOUT:-60}"
PYTHON="${KEYSTONE_PYTHON:-python3}"
LOCK="$SCRIPT_DIR/requirements.lock.txt"

log() { printf '[keystone-up] %s\n' "$*" >&2; }
die() { printf '[keystone-up] ERROR: %s\n' "$*" >&2; exit 1; }

if ! [[ "$PORT" =~ ^[1-9][0-9]{0,4}$ ]] || ((PORT > 65535)); then
  die "KEYSTONE_PORT must be a TCP port number (1-65535), got '$PORT'"
fi
[[ "$START_TIMEOUT" =~ ^[1-9][0-9]*$ ]] || die "KEYSTONE_START_TIMEOUT must be a positive integer"
case "$CACHE" in
  memory) WORKERS=1; CACHE_CONF=$'enabled = true\nbackend = oslo_cache.dict' ;;
  off)    WORKERS=2; CACHE_CONF='enabled = false' ;;
  *) die "KEYSTONE_CACHE must be 'memory' or 'off', got '$CACHE'" ;;
esac
[[ -f "$LOCK" ]] || die "missing $LOCK"

BASE_URL="http://$HOST:$PORT"
VENV="$STATE/venv"
PY="$VENV/bin/python"
CONF="$STATE/etc/keystone.conf"
DATA="$STATE/data"
LOGDIR="$STATE/log"
RUN="$STATE/run"
PIDFILE="$RUN/keystone.pid"
PWFILE="$STATE/secrets/bootstrap-admin-password"
WSGI_DIR="$STATE/wsgi"
APP=apirun_keystone_wsgi:application

# Never send loopback traffic through a proxy.
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"

mkdir -p "$STATE/etc" "$DATA" "$LOGDIR" "$RUN" "$WSGI_DIR"
mkdir -p "$STATE/secrets" "$STATE/fernet-keys" "$STATE/credential-keys"
chmod 700 "$STATE/secrets" "$STATE/fernet-keys" "$STATE/credential-keys"

# One up.sh at a time per state folder.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$RUN/up.lock"
  if ! flock -n 9; then
    log "waiting for another up.sh using $STATE to finish"
    flock -w 300 9 || die "another up.sh has held $RUN/up.lock for 5 minutes; giving up"
  fi
fi

# ------------------------------------------------------------------ venv ----
if [[ -x "$PY" ]] && ! "$PY" -c '' 2>/dev/null; then
  log "virtualenv $VENV is broken (interpreter gone?); recreating it"
  rm -rf "$VENV"
fi
if [[ ! -x "$PY" ]]; then
  command -v "$PYTHON" >/dev/null 2>&1 \
    || die "$PYTHON not found; Keystone needs Python >= 3.11 (set KEYSTONE_PYTHON)"
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "Keystone 30 needs Python >= 3.11, $PYTHON is $("$PYTHON" -V 2>&1); set KEYSTONE_PYTHON to a newer interpreter"
  log "creating virtualenv $VENV"
  "$PYTHON" -m venv "$VENV" >&2 || {
    rm -rf "$VENV"
    die "'$PYTHON -m venv' failed (Debian/Ubuntu: apt-get install python3-venv)"
  }
fi
INSTALLED=0
STAMP="$VENV/.installed-lock.txt"       # copy of the lock the venv was built from
if ! cmp -s "$LOCK" "$STAMP"; then
  rm -f "$STAMP" "$DATA/.bootstrapped"    # schema must be synced after an install
  log "installing Keystone into the venv from $LOCK (about 30-60 s the first time)"
  SECONDS=0
  "$PY" -m pip install --disable-pip-version-check --no-input -q -r "$LOCK" >&2 \
    || die "pip install failed (needs access to PyPI); see the pip output above"
  cp "$LOCK" "$STAMP"
  INSTALLED=1
  log "pip install done in ${SECONDS} s"
fi
"$PY" -c 'import importlib.metadata as m; m.version("keystone"); m.version("gunicorn")' 2>/dev/null \
  || die "keystone/gunicorn are not installed in $VENV; delete $VENV and run again"

# ------------------------------------------------- is it running already? ----
pid_is_ours() {  # alive, and our gunicorn for this state folder
  [[ "$1" =~ ^[0-9]+$ ]] && kill -0 "$1" 2>/dev/null || return 1
  local cmd
  cmd="$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null || ps -o args= -p "$1" 2>/dev/null)" || return 1
  [[ "$cmd" == *gunicorn* && "$cmd" == *"$APP"* && "$cmd" == *"$WSGI_DIR"* ]]
}
RUNNING_PID=""
if [[ -f "$PIDFILE" ]]; then
  p="$(cat "$PIDFILE" 2>/dev/null || true)"
  if pid_is_ours "$p"; then
    RUNNING_PID="$p"
  else
    log "removing stale PID file (PID '$p' is not our Keystone)"
    rm -f "$PIDFILE"
  fi
fi

port_busy() {  # is something listening on HOST:PORT?
  "$PY" - "$HOST" "$PORT" <<'EOF'
import socket, sys
s = socket.socket()
s.settimeout(1)
sys.exit(0 if s.connect_ex((sys.argv[1], int(sys.argv[2]))) == 0 else 1)
EOF
}
port_taken_msg="$HOST:$PORT is already in use by another process; pick a free port with KEYSTONE_PORT=<port>"
SERVER_ARGS="port=$PORT workers=$WORKERS"
OLD_ARGS="$(cat "$RUN/server.args" 2>/dev/null || true)"
# Fail before touching anything if the wanted port belongs to someone else.
if [[ -z "$RUNNING_PID" || "$OLD_ARGS" != "port=$PORT "* ]] && port_busy; then
  die "$port_taken_msg"
fi

# ---------------------------------------------------------------- config ----
NEW_CONF="$(mktemp "$STATE/etc/.keystone.conf.XXXXXX")"
cat >"$NEW_CONF" <<EOF
# Generated by scripts/keystone/up.sh; rewritten on every run.
[DEFAULT]
debug = false
use_stderr = false
log_dir = $LOGDIR
log_file = keystone.log
public_endpoint = $BASE_URL/

[database]
connection = sqlite:///$DATA/keystone.db

[cache]
$CACHE_CONF

[identity]
# bcrypt only uses 72 bytes; the default (4096) logs a warning on every check.
max_password_length = 72

[token]
provider = fernet
expiration = 3600

[fernet_tokens]
key_repository = $STATE/fernet-keys
max_active_keys = 3

[fernet_receipts]
key_repository = $STATE/fernet-keys

[credential]
provider = fernet
key_repository = $STATE/credential-keys

[oslo_messaging_notifications]
# No message bus: never try to reach one.
driver = noop

[oslo_policy]
# An explicit, empty override file: built-in defaults apply and a stray
# /etc/keystone/policy.yaml on the host is never read.
policy_file = $STATE/etc/policy.yaml
EOF
[[ -f "$STATE/etc/policy.yaml" ]] || printf '# no overrides\n{}\n' >"$STATE/etc/policy.yaml"
CONF_CHANGED=0
if cmp -s "$NEW_CONF" "$CONF"; then
  rm -f "$NEW_CONF"
else
  mv "$NEW_CONF" "$CONF"
  chmod 600 "$CONF"
  CONF_CHANGED=1
fi

# Keystone parses sys.argv with oslo.config while it builds the app; under
# gunicorn sys.argv holds gunicorn's options, which it rejects. Clear them.
cat >"$WSGI_DIR/apirun_keystone_wsgi.py" <<'EOF'
# Generated by scripts/keystone/up.sh.
import sys

sys.argv = sys.argv[:1]

from keystone.wsgi.api import application  # noqa: E402,F401
EOF

NEED_BOOTSTRAP=0
if [[ ! -s "$DATA/keystone.db" || "$(cat "$DATA/.bootstrapped" 2>/dev/null)" != "$BASE_URL" ]]; then
  NEED_BOOTSTRAP=1
fi
if [[ -n "$RUNNING_PID" ]] && { ((CONF_CHANGED || INSTALLED || NEED_BOOTSTRAP)) \
     || [[ "$OLD_ARGS" != "$SERVER_ARGS" ]]; }; then
  log "settings or install changed; restarting Keystone (PID $RUNNING_PID)"
  APIRUN_KEYSTONE_HOME="$STATE" bash "$SCRIPT_DIR/down.sh" || die "could not stop the running Keystone"
  RUNNING_PID=""
fi

# ------------------------------------------------------------- bootstrap ----
km() {  # keystone-manage with our config; show its output on failure
  if ! XDG_CACHE_HOME="$STATE/cache" "$VENV/bin/keystone-manage" --config-file "$CONF" --log-file "$LOGDIR/keystone-manage.log" \
         "$@" >>"$LOGDIR/keystone-manage.out" 2>&1; then
    tail -n 30 "$LOGDIR/keystone-manage.out" "$LOGDIR/keystone-manage.log" >&2 || true
    die "keystone-manage $1 failed (logs in $LOGDIR)"
  fi
}
if ((NEED_BOOTSTRAP)); then
  SECONDS=0
  log "keystone-manage db_sync (creates/upgrades $DATA/keystone.db)"
  km db_sync
  if [[ ! -f "$STATE/fernet-keys/0" ]]; then
    km fernet_setup --keystone-user "$(id -un)" --keystone-group "$(id -gn)"
  fi
  if [[ ! -f "$STATE/credential-keys/0" ]]; then
    km credential_setup --keystone-user "$(id -un)" --keystone-group "$(id -gn)"
  fi
  if [[ ! -s "$PWFILE" ]]; then
    (umask 077 && "$PY" -c 'import secrets; print(secrets.token_urlsafe(24), end="")' >"$PWFILE")
  fi
  log "keystone-manage bootstrap (admin in the Default domain, identity endpoint $BASE_URL/v3/)"
  OS_BOOTSTRAP_PASSWORD="$(cat "$PWFILE")" km bootstrap \
    --bootstrap-username admin --bootstrap-project-name admin --bootstrap-role-name admin \
    --bootstrap-service-name keystone --bootstrap-region-id RegionOne \
    --bootstrap-admin-url "$BASE_URL/v3/" --bootstrap-internal-url "$BASE_URL/v3/" \
    --bootstrap-public-url "$BASE_URL/v3/"
  echo "$BASE_URL" >"$DATA/.bootstrapped"
  log "database ready in ${SECONDS} s"
fi

# ---------------------------------------------------------------- server ----
SECONDS=0
LOG_OFFSET=0
if [[ -n "$RUNNING_PID" ]]; then
  log "Keystone already running (PID $RUNNING_PID)"
else
  port_busy && die "$port_taken_msg"
  touch "$LOGDIR/gunicorn.log"
  LOG_OFFSET=$(wc -c <"$LOGDIR/gunicorn.log")
  log "starting gunicorn on $HOST:$PORT ($WORKERS worker(s), cache: $CACHE)"
  # --no-control-socket: gunicorn 27 otherwise opens a control socket as well.
  # 9>&-: the daemon must not inherit (and so hold forever) the up.sh lock.
  (
    cd "$STATE"
    OS_KEYSTONE_CONFIG_FILES="$CONF" OS_KEYSTONE_CONFIG_DIR="" XDG_CACHE_HOME="$STATE/cache" \
      "$VENV/bin/gunicorn" --daemon --pid "$PIDFILE" --bind "$HOST:$PORT" \
      --workers "$WORKERS" --timeout 60 --name keystone \
      --error-logfile "$LOGDIR/gunicorn.log" --access-logfile "$LOGDIR/access.log" \
      --capture-output --no-control-socket --chdir "$STATE" --pythonpath "$WSGI_DIR" "$APP"
  ) >>"$LOGDIR/gunicorn.out" 2>&1 </dev/null 9>&- || die "gunicorn failed to start (see $LOGDIR/gunicorn.out)"
  echo "$SERVER_ARGS" >"$RUN/server.args"
fi

# Bounded wait until GET /v3 answers 200, the master dies, or workers keep failing.
if ! "$PY" - "$BASE_URL/v3" "$PIDFILE" "$START_TIMEOUT" "$LOGDIR/gunicorn.log" "$LOG_OFFSET" <<'EOF'
import os, sys, time, urllib.request

url, pidfile, timeout, glog, offset = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4], int(sys.argv[5])
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
start = time.monotonic()
while time.monotonic() - start < timeout:
    try:
        pid = int(open(pidfile).read().strip())
    except (OSError, ValueError):
        pid = None
        if time.monotonic() - start > 15:
            sys.exit("no PID file after 15 s: gunicorn did not start")
    if pid is not None:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            sys.exit(f"gunicorn master (PID {pid}) exited")
    try:
        with opener.open(url, timeout=5) as r:
            if r.status == 200:
                sys.exit(0)
    except Exception:
        pass
    try:
        with open(glog, "rb") as f:
            f.seek(offset)
            if f.read().count(b"exited with code") >= 3:
                sys.exit("gunicorn workers keep failing to boot")
    except OSError:
        pass
    time.sleep(0.25)
sys.exit(f"{url} did not answer within {timeout:.0f} s")
EOF
then
  log "--- tail of $LOGDIR/gunicorn.log ---"; tail -n 40 "$LOGDIR/gunicorn.log" >&2 || true
  log "--- tail of $LOGDIR/keystone.log ---"; tail -n 20 "$LOGDIR/keystone.log" >&2 2>/dev/null || true
  APIRUN_KEYSTONE_HOME="$STATE" bash "$SCRIPT_DIR/down.sh" || true
  die "Keystone did not come up on $BASE_URL within ${START_TIMEOUT} s"
fi
log "Keystone answers on $BASE_URL/v3 (PID $(cat "$PIDFILE"), waited ${SECONDS} s)"

# ------------------------------------------------------------ demo account ----
KS_URL="$BASE_URL/v3" KS_BOOT_PW_FILE="$PWFILE" "$PY" - <<'EOF' || die "setting up the demo account failed"
import json, os, sys, urllib.error, urllib.parse, urllib.request

DOMAIN, PROJECT, USER, PASSWORD, ROLE = "demo", "admin", "admin", "000000", "admin"
base = os.environ["KS_URL"]
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def call(method, path, body=None, token=None):
    req = urllib.request.Request(base + path, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    req.add_header("Content-Type", "application/json")
    req.add_header("Accept", "application/json")
    if token:
        req.add_header("X-Auth-Token", token)
    try:
        with opener.open(req, timeout=30) as r:
            status, headers, raw = r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        status, headers, raw = e.code, e.headers, e.read()
    try:
        data = json.loads(raw) if raw else None
    except ValueError:
        data = raw.decode(errors="replace")
    return status, headers, data


def must(resp, *ok):
    if resp[0] not in ok:
        sys.exit(f"unexpected HTTP {resp[0]}: {resp[2]}")
    return resp


def q(**kw):
    return "?" + urllib.parse.urlencode(kw)


def log(msg):
    print(f"[keystone-up] {msg}", file=sys.stderr)


def demo_login():
    return call("POST", "/auth/tokens", {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "domain": {"name": DOMAIN}, "name": USER, "password": PASSWORD}}},
        "scope": {"project": {"domain": {"name": DOMAIN}, "name": PROJECT}}}})


def demo_ok(resp):
    return resp[0] == 201 and any(r["name"] == ROLE for r in resp[2]["token"]["roles"])


# Fast path: the demo account already works as it should.
if demo_ok(demo_login()):
    log(f"demo account ok: {USER}@{DOMAIN} / {PASSWORD}, role {ROLE} on project {PROJECT}@{DOMAIN}")
    sys.exit(0)

with open(os.environ["KS_BOOT_PW_FILE"]) as f:
    boot_pw = f.read()
tok = must(call("POST", "/auth/tokens", {"auth": {
    "identity": {"methods": ["password"], "password": {"user": {
        "domain": {"id": "default"}, "name": "admin", "password": boot_pw}}},
    "scope": {"system": {"all": True}}}}), 201)[1]["X-Subject-Token"]

doms = must(call("GET", "/domains" + q(name=DOMAIN), token=tok), 200)[2]["domains"]
if doms:
    dom = doms[0]
    if not dom["enabled"]:
        must(call("PATCH", f"/domains/{dom['id']}", {"domain": {"enabled": True}}, tok), 200)
        log(f"re-enabled domain {DOMAIN}")
else:
    dom = must(call("POST", "/domains", {"domain": {
        "name": DOMAIN, "enabled": True, "description": "apirun demo"}}, tok), 201)[2]["domain"]
    log(f"created domain {DOMAIN}")

projs = must(call("GET", "/projects" + q(domain_id=dom["id"], name=PROJECT), token=tok), 200)[2]["projects"]
if projs:
    proj = projs[0]
    if not proj["enabled"]:
        must(call("PATCH", f"/projects/{proj['id']}", {"project": {"enabled": True}}, tok), 200)
        log(f"re-enabled project {PROJECT}")
else:
    proj = must(call("POST", "/projects", {"project": {
        "name": PROJECT, "domain_id": dom["id"], "enabled": True}}, tok), 201)[2]["project"]
    log(f"created project {PROJECT} in domain {DOMAIN}")

users = must(call("GET", "/users" + q(domain_id=dom["id"], name=USER), token=tok), 200)[2]["users"]
if users:
    user = users[0]
    # Existing user: make sure it is enabled and has the demo password.
    must(call("PATCH", f"/users/{user['id']}", {"user": {"password": PASSWORD, "enabled": True}}, tok), 200)
    log(f"reset password of {USER}@{DOMAIN} and enabled it")
else:
    user = must(call("POST", "/users", {"user": {
        "name": USER, "domain_id": dom["id"], "password": PASSWORD, "enabled": True,
        "default_project_id": proj["id"]}}, tok), 201)[2]["user"]
    log(f"created user {USER} in domain {DOMAIN}")

roles = must(call("GET", "/roles" + q(name=ROLE), token=tok), 200)[2]["roles"]
if not roles:
    sys.exit(f"role {ROLE} not found (keystone-manage bootstrap creates it)")
must(call("PUT", f"/projects/{proj['id']}/users/{user['id']}/roles/{roles[0]['id']}", token=tok), 204)

resp = demo_login()
if not demo_ok(resp):
    sys.exit(f"demo login check failed: HTTP {resp[0]}: {resp[2]}")
log(f"demo account ok: {USER}@{DOMAIN} / {PASSWORD}, role {ROLE} on project {PROJECT}@{DOMAIN}")
EOF
log "state: $STATE   logs: $LOGDIR   stop: bash $SCRIPT_DIR/down.sh (same environment)"
echo "$BASE_URL"
