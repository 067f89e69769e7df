#!/usr/bin/env bash
# Local infrastructure for Veche without Docker: real Apache Kafka (KRaft) and FerretDB
# (MongoDB wire protocol over SQLite or PostgreSQL), fetched/built into a gitignored state dir.
#
#   deploy/local/infra.sh up|down|status|env|reset
#
# See deploy/local/README.md for ports, environment variables, logs and limits.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"

STATE="${VECHE_LOCAL_STATE:-$REPO/.local}"
KAFKA_PORT="${VECHE_LOCAL_KAFKA_PORT:-9092}"
CONTROLLER_PORT="${VECHE_LOCAL_KAFKA_CONTROLLER_PORT:-9093}"
MONGO_PORT="${VECHE_LOCAL_MONGO_PORT:-27017}"
BACKEND="${VECHE_LOCAL_MONGO_BACKEND:-sqlite}"
# SQLite's WAL is synced at checkpoints, not at every commit: a store process crash loses
# nothing, a power cut may lose the last moments — what MongoDB's default write concern gives
# (w:1 is acknowledged before its journal's next 100 ms flush). "full" syncs every commit
# (about 3x slower updates on this machine's disk).
SQLITE_SYNCHRONOUS="${VECHE_LOCAL_SQLITE_SYNCHRONOUS:-normal}"
# FerretDB's Go runtime shares two cores with Kafka and four services. One scheduler thread
# (GOMAXPROCS=1) stops idle threads spinning for work after every wakeup: at 10 appeals/s its
# context switches halved (2 225 -> 1 033/s) and its CPU fell 17 -> 12.5 %; the price is
# concurrent single updates (747 instead of 1 781/s; Veche batches its updates). GOGC=400
# trades memory (RSS after a quick bench 110 -> 123 MB) for a quarter of the collections: GC
# marking was 13 % of its CPU profile at 50 appeals/s; with 400 its CPU fell 40 -> 35 %.
# Measured with `make bench` and deploy/local/bench_store.py (docs/PERFORMANCE.md); empty:
# Go's defaults.
FERRET_GOMAXPROCS="${VECHE_LOCAL_FERRETDB_GOMAXPROCS-1}"
FERRET_GOGC="${VECHE_LOCAL_FERRETDB_GOGC-400}"
# Kafka and FerretDB are on every stage's critical path: a service's round trip waits for the
# store or broker to be scheduled and again for itself. On two cores shared with four services,
# the load generator and the sinks, a higher priority for the two (nice -5) lets them answer at
# once: quick bench topic p50/p99 at 25/s 84/277 -> 66/120 ms, at 50/s 349/670 -> 273/538 ms
# (-10 was no better; the mail sink at -5 too, no better). Needs root (CAP_SYS_NICE): without
# it they start at the normal priority. Empty: off. Where the kernel groups CPU time by session
# (sched_autogroup_enabled=1, as on this project's machines) each component, started in a
# session of its own, competes as a whole session, and a thread's nice only orders it within
# that session: the figures above were taken when the plain nice was all that was set, and so
# ineffective. Since session 14 the session's own nice (/proc/<pid>/autogroup) is set as well;
# quick benches with it: p99 at 50/s 58-130 ms, within the spread of runs without.
INFRA_NICE="${VECHE_LOCAL_INFRA_NICE--5}"
KAFKA_HEAP="${VECHE_LOCAL_KAFKA_HEAP:-512m}"
KAFKA_START_TIMEOUT="${VECHE_LOCAL_KAFKA_TIMEOUT:-90}"
MONGO_START_TIMEOUT="${VECHE_LOCAL_MONGO_TIMEOUT:-30}"
STOP_TIMEOUT="${VECHE_LOCAL_STOP_TIMEOUT:-30}"
# postgresql backend only
PG_CLUSTER="${VECHE_LOCAL_PG_CLUSTER:-15 main}"
PG_DB="${VECHE_LOCAL_PG_DB:-veche_ferretdb}"
PG_USER="${VECHE_LOCAL_PG_USER:-veche_ferretdb}"
PG_PASSWORD="${VECHE_LOCAL_PG_PASSWORD:-veche_ferretdb}"
PG_POOL="${VECHE_LOCAL_PG_POOL_MAX_CONNS:-80}"

KAFKA_LIBS="$STATE/kafka/libs"
KAFKA_CONF="$STATE/kafka/server.properties"
KAFKA_DATA="$STATE/data/kafka"
FERRET_BIN="$STATE/bin/veche-ferretdb"
FERRET_DATA="$STATE/data/ferretdb"
LOG_DIR="$STATE/log"
RUN_DIR="$STATE/run"
KAFKA_PID="$RUN_DIR/kafka.pid"
FERRET_PID="$RUN_DIR/ferretdb.pid"
PG_MARK="$RUN_DIR/pg-started-by-veche"

PY="${VECHE_LOCAL_PYTHON:-python3}"
PROBE="$HERE/probe.py"

say() { printf '[infra] %s\n' "$*" >&2; }
die() { printf '[infra] ERROR: %s\n' "$*" >&2; exit 1; }

need() { command -v "$1" >/dev/null 2>&1 || die "'$1' is not installed ($2)"; }

# Markers that appear in our processes' command lines (and nobody else's): the state-dir paths.
kafka_marker() { printf '%s' "$KAFKA_CONF"; }
ferret_marker() { printf '%s' "$FERRET_BIN"; }

# pid_alive PIDFILE MARKER -> prints pid and succeeds when that pid is alive and is ours.
pid_alive() {
  local f="$1" marker="$2" pid
  [[ -f "$f" ]] || return 1
  pid="$(tr -dc '0-9' <"$f")"
  [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$marker" || return 1
  printf '%s' "$pid"
}

# All pids whose command line carries the marker (catches strays without/with stale pid files).
marker_pids() { pgrep -f -- "$1" 2>/dev/null | grep -vx "$$" || true; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

kafka_healthy() { "$PY" "$PROBE" kafka 127.0.0.1 "$KAFKA_PORT" 2>/dev/null; }
mongo_healthy() { "$PY" "$PROBE" mongo 127.0.0.1 "$MONGO_PORT" 2>/dev/null; }

pg_url() {
  printf 'postgres://%s:%s@127.0.0.1:%s/%s?pool_max_conns=%s' \
    "$PG_USER" "$PG_PASSWORD" "$(pg_port)" "$PG_DB" "$PG_POOL"
}
pg_port() { pg_lsclusters -h 2>/dev/null | awk -v v="${PG_CLUSTER% *}" -v c="${PG_CLUSTER#* }" '$1==v && $2==c {print $3}'; }
pg_online() { pg_lsclusters -h 2>/dev/null | awk -v v="${PG_CLUSTER% *}" -v c="${PG_CLUSTER#* }" '$1==v && $2==c {print $4}' | grep -q online; }
pg_psql() {
  if [[ "$(id -u)" == 0 ]]; then runuser -u postgres -- psql -p "$(pg_port)" -v ON_ERROR_STOP=1 -qtA "$@"
  else psql -p "$(pg_port)" -v ON_ERROR_STOP=1 -qtA "$@"; fi
}

# ---------------------------------------------------------------- Kafka

kafka_fetch() {
  local stamp="$STATE/kafka/pom.sha256" want
  want="$(sha256sum "$HERE/kafka/pom.xml" | cut -d' ' -f1)"
  if compgen -G "$KAFKA_LIBS/kafka_2.13-*.jar" >/dev/null && [[ "$(cat "$stamp" 2>/dev/null)" == "$want" ]]; then
    return 0
  fi
  need mvn "Maven fetches Kafka from Maven Central"
  say "fetching Kafka jars into $KAFKA_LIBS (first run only) ..."
  rm -rf "$KAFKA_LIBS"
  mkdir -p "$KAFKA_LIBS"
  if ! mvn -q -B -f "$HERE/kafka/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$KAFKA_LIBS" >"$LOG_DIR/kafka-fetch.log" 2>&1; then
    rm -rf "$KAFKA_LIBS"
    die "mvn dependency:copy-dependencies failed; see $LOG_DIR/kafka-fetch.log"
  fi
  printf '%s\n' "$want" >"$stamp"
}

kafka_render_conf() {
  sed -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" \
      -e "s|@CONTROLLER_PORT@|$CONTROLLER_PORT|g" \
      -e "s|@DATA_DIR@|$KAFKA_DATA|g" \
      "$HERE/kafka/server.properties.template" >"$KAFKA_CONF.tmp"
  mv "$KAFKA_CONF.tmp" "$KAFKA_CONF"
}

# PRIORITY: the prefix that starts a component at INFRA_NICE, when this user may raise it.
infra_priority() {
  PRIORITY=()
  [[ -z "$INFRA_NICE" ]] && return 0
  if [[ "$(nice -n "$INFRA_NICE" nice 2>/dev/null)" == "$INFRA_NICE" ]]; then
    PRIORITY=(nice -n "$INFRA_NICE")
  else
    say "not allowed to set nice $INFRA_NICE (needs root): starting at normal priority"
  fi
}

# session_priority PID: INFRA_NICE for the process's whole session, where the kernel schedules
# sessions as groups (see INFRA_NICE). Called once the process runs: setsid has made its
# session by then, so the shell's own session is never the one changed.
session_priority() {
  local group="/proc/$1/autogroup"
  [[ -z "$INFRA_NICE" || ! -w "$group" ]] && return 0
  echo "$INFRA_NICE" 2>/dev/null >"$group" || say "not allowed to set the session priority $INFRA_NICE (needs root)"
}

# The JVM command line shared by the storage format step and the broker.
kafka_java_cmd() {
  KAFKA_CMD=(java -Xmx"$KAFKA_HEAP" -Xms"$KAFKA_HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20
    -Djava.awt.headless=true
    -Dkafka.logs.dir="$LOG_DIR" -Dlog4j2.configurationFile="$HERE/kafka/log4j2.xml"
    -cp "$KAFKA_LIBS/*")
}

kafka_format() {
  [[ -f "$KAFKA_DATA/meta.properties" ]] && return 0
  local cid
  cid="$("$PY" "$PROBE" cluster-id)"
  mkdir -p "$KAFKA_DATA"
  say "formatting Kafka storage (cluster id $cid) ..."
  kafka_java_cmd
  if ! "${KAFKA_CMD[@]}" kafka.tools.StorageTool format --cluster-id="$cid" -c "$KAFKA_CONF" \
      >"$LOG_DIR/kafka-format.log" 2>&1; then
    die "kafka storage format failed; see $LOG_DIR/kafka-format.log"
  fi
}

kafka_up() {
  local pid
  if pid="$(pid_alive "$KAFKA_PID" "$(kafka_marker)")"; then
    if kafka_healthy; then say "kafka already running (pid $pid) on 127.0.0.1:$KAFKA_PORT"; return 0; fi
    say "kafka pid $pid is alive but not answering yet; waiting"
    kafka_wait "$pid"; return 0
  fi
  need java "Java 17+ runs Kafka"
  for p in "$KAFKA_PORT" "$CONTROLLER_PORT"; do
    port_open "$p" && die "port $p is already in use by another process (set VECHE_LOCAL_KAFKA_PORT / VECHE_LOCAL_KAFKA_CONTROLLER_PORT)"
  done
  kafka_fetch
  kafka_render_conf
  kafka_format
  say "starting kafka on 127.0.0.1:$KAFKA_PORT (controller :$CONTROLLER_PORT) ..."
  # setsid: own session/process group, so `down` can signal the whole group. From a script
  # (no job control) the background child is not a group leader, so setsid execs in place
  # and $! is the JVM's pid.
  kafka_java_cmd
  infra_priority
  nohup setsid "${PRIORITY[@]}" "${KAFKA_CMD[@]}" kafka.Kafka "$KAFKA_CONF" \
    >"$LOG_DIR/kafka-console.log" 2>&1 </dev/null &
  pid=$!
  printf '%s\n' "$pid" >"$KAFKA_PID"
  kafka_wait "$pid"
  session_priority "$pid"
}

kafka_wait() {
  local pid="$1" deadline=$((SECONDS + KAFKA_START_TIMEOUT))
  while ((SECONDS < deadline)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 "$LOG_DIR/kafka-console.log" "$LOG_DIR/kafka.log" >&2 2>/dev/null || true
      rm -f "$KAFKA_PID"
      die "kafka exited during startup; see $LOG_DIR/kafka.log and $LOG_DIR/kafka-console.log"
    fi
    if port_open "$KAFKA_PORT" && kafka_healthy; then
      say "kafka ready (pid $pid)"; return 0
    fi
    sleep 0.5
  done
  die "kafka not ready after ${KAFKA_START_TIMEOUT}s (pid $pid still running); see $LOG_DIR/kafka.log and $LOG_DIR/kafka-console.log"
}

# ---------------------------------------------------------------- FerretDB

ferret_build() {
  local src="$HERE/ferretdb"
  if [[ -x "$FERRET_BIN" ]] && [[ -z "$(find "$src" -maxdepth 1 -type f -newer "$FERRET_BIN" 2>/dev/null)" ]]; then
    return 0
  fi
  need go "Go builds FerretDB from the Go module proxy"
  say "building $FERRET_BIN (first run or sources changed) ..."
  mkdir -p "$(dirname "$FERRET_BIN")"
  local modfile
  modfile="$(ferret_patched_modfile "$src")" || die "patching FerretDB failed; see $LOG_DIR/ferretdb-build.log"
  if ! (cd "$src" && CGO_ENABLED=0 go build -trimpath -modfile "$modfile" -o "$FERRET_BIN.tmp" .) >>"$LOG_DIR/ferretdb-build.log" 2>&1; then
    rm -f "$FERRET_BIN.tmp"
    die "go build of veche-ferretdb failed; see $LOG_DIR/ferretdb-build.log"
  fi
  mv "$FERRET_BIN.tmp" "$FERRET_BIN"
}

# Our fixes to the FerretDB module (deploy/local/ferretdb/*.patch) are applied to a copy of it
# (3 MB) that a build-only go.mod `replace`s the original with: the module cache stays pristine.
# Prints the path of that go.mod (for `go build -modfile`).
ferret_patched_modfile() {
  local src="$1" mod out patch
  out="$STATE/build/ferretdb"
  rm -rf "$out" && mkdir -p "$out"
  : >"$LOG_DIR/ferretdb-build.log"
  (cd "$src" && go mod download github.com/FerretDB/FerretDB) >>"$LOG_DIR/ferretdb-build.log" 2>&1 || return 1
  mod="$(cd "$src" && go list -m -f '{{.Dir}}' github.com/FerretDB/FerretDB)" || return 1
  cp -R "$mod" "$out/FerretDB" && chmod -R u+w "$out/FerretDB"
  for patch in "$src"/*.patch; do
    [[ -e "$patch" ]] || continue
    patch -p1 -d "$out/FerretDB" <"$patch" >>"$LOG_DIR/ferretdb-build.log" 2>&1 || return 1
  done
  cp "$src/go.mod" "$src/go.sum" "$out/"
  (cd "$src" && go mod edit -modfile="$out/go.mod" -replace "github.com/FerretDB/FerretDB=$out/FerretDB") || return 1
  echo "$out/go.mod"
}

pg_prepare() {
  need pg_lsclusters "PostgreSQL backend needs the Debian postgresql-common tools"
  [[ -n "$(pg_port)" ]] || die "PostgreSQL cluster '$PG_CLUSTER' not found (pg_lsclusters); set VECHE_LOCAL_PG_CLUSTER"
  if ! pg_online; then
    say "starting PostgreSQL cluster $PG_CLUSTER ..."
    # shellcheck disable=SC2086
    pg_ctlcluster $PG_CLUSTER start || die "pg_ctlcluster $PG_CLUSTER start failed; see /var/log/postgresql/"
    : >"$PG_MARK"
  fi
  # idempotent role + database
  pg_psql -d postgres <<SQL >/dev/null
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_USER') THEN
    CREATE ROLE "$PG_USER" LOGIN PASSWORD '$PG_PASSWORD';
  END IF;
END \$\$;
SQL
  if [[ "$(pg_psql -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" != 1 ]]; then
    pg_psql -d postgres -c "CREATE DATABASE \"$PG_DB\" OWNER \"$PG_USER\"" >/dev/null
  fi
}

ferret_up() {
  local pid
  if pid="$(pid_alive "$FERRET_PID" "$(ferret_marker)")"; then
    if mongo_healthy; then say "ferretdb already running (pid $pid) on 127.0.0.1:$MONGO_PORT"; return 0; fi
    say "ferretdb pid $pid is alive but not answering yet; waiting"
    ferret_wait "$pid"; return 0
  fi
  case "$BACKEND" in sqlite|postgresql) ;; *) die "VECHE_LOCAL_MONGO_BACKEND must be sqlite or postgresql, got '$BACKEND'";; esac
  port_open "$MONGO_PORT" && die "port $MONGO_PORT is already in use by another process (set VECHE_LOCAL_MONGO_PORT)"
  ferret_build
  mkdir -p "$FERRET_DATA"
  local args=(-listen-addr "127.0.0.1:$MONGO_PORT" -handler "$BACKEND" -log-level "${VECHE_LOCAL_FERRETDB_LOG_LEVEL:-error}")
  if [[ "$BACKEND" == sqlite ]]; then
    args+=(-sqlite-url "file:$FERRET_DATA/?_pragma=synchronous($SQLITE_SYNCHRONOUS)")
  else
    pg_prepare
    args+=(-postgresql-url "$(pg_url)")
  fi
  say "starting ferretdb ($BACKEND) on 127.0.0.1:$MONGO_PORT ..."
  local runtime=()
  [[ -n "$FERRET_GOMAXPROCS" ]] && runtime+=("GOMAXPROCS=$FERRET_GOMAXPROCS")
  [[ -n "$FERRET_GOGC" ]] && runtime+=("GOGC=$FERRET_GOGC")
  infra_priority
  nohup setsid "${PRIORITY[@]}" env "${runtime[@]}" "$FERRET_BIN" "${args[@]}" \
    >"$LOG_DIR/ferretdb.log" 2>&1 </dev/null &
  pid=$!
  printf '%s\n' "$pid" >"$FERRET_PID"
  printf '%s\n' "$BACKEND" >"$RUN_DIR/ferretdb.backend"
  ferret_wait "$pid"
  session_priority "$pid"
}

ferret_wait() {
  local pid="$1" deadline=$((SECONDS + MONGO_START_TIMEOUT))
  while ((SECONDS < deadline)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 "$LOG_DIR/ferretdb.log" >&2 2>/dev/null || true
      rm -f "$FERRET_PID"
      die "ferretdb exited during startup; see $LOG_DIR/ferretdb.log"
    fi
    if port_open "$MONGO_PORT" && mongo_healthy; then
      say "ferretdb ready (pid $pid)"; return 0
    fi
    sleep 0.2
  done
  die "ferretdb not ready after ${MONGO_START_TIMEOUT}s (pid $pid still running); see $LOG_DIR/ferretdb.log"
}

# ---------------------------------------------------------------- stop

# stop_component NAME PIDFILE MARKER: SIGTERM the process group(s), wait, SIGKILL after timeout.
stop_component() {
  local name="$1" pidfile="$2" marker="$3" pids=() p
  if p="$(pid_alive "$pidfile" "$marker")"; then pids+=("$p"); fi
  for p in $(marker_pids "$marker"); do
    [[ " ${pids[*]} " == *" $p "* ]] || pids+=("$p")
  done
  if ((${#pids[@]} == 0)); then
    rm -f "$pidfile"; say "$name not running"; return 0
  fi
  say "stopping $name (pid ${pids[*]}) ..."
  for p in "${pids[@]}"; do
    kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true
  done
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while ((SECONDS < deadline)) && [[ -n "$(marker_pids "$marker")" ]]; do sleep 0.2; done
  if [[ -n "$(marker_pids "$marker")" ]]; then
    say "$name did not stop within ${STOP_TIMEOUT}s; sending SIGKILL"
    for p in "${pids[@]}" $(marker_pids "$marker"); do
      kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null || true
    done
    sleep 0.5
  fi
  [[ -z "$(marker_pids "$marker")" ]] || die "$name still running: $(marker_pids "$marker")"
  rm -f "$pidfile"
  say "$name stopped"
}

# ---------------------------------------------------------------- commands

cmd_up() {
  mkdir -p "$LOG_DIR" "$RUN_DIR" "$STATE/kafka" "$STATE/data"
  need "$PY" "python3 runs the readiness probes"
  kafka_up
  ferret_up
  cmd_env
}

cmd_down() {
  stop_component ferretdb "$FERRET_PID" "$(ferret_marker)"
  stop_component kafka "$KAFKA_PID" "$(kafka_marker)"
  rm -f "$RUN_DIR/ferretdb.backend"
  if [[ -f "$PG_MARK" ]]; then
    # PostgreSQL is a machine-wide service: we leave it running (cheap, and something else may use it).
    say "note: PostgreSQL cluster $PG_CLUSTER was started by infra.sh and is left running" \
        "(stop it with: pg_ctlcluster $PG_CLUSTER stop)"
  fi
}

cmd_status() {
  local pid rc=0 be
  if pid="$(pid_alive "$KAFKA_PID" "$(kafka_marker)")"; then
    if kafka_healthy; then echo "kafka     up       pid $pid  127.0.0.1:$KAFKA_PORT (controller :$CONTROLLER_PORT)"
    else echo "kafka     starting pid $pid  127.0.0.1:$KAFKA_PORT (not answering yet)"; rc=1; fi
  else echo "kafka     down"; rc=1; fi
  be="$(cat "$RUN_DIR/ferretdb.backend" 2>/dev/null || echo "$BACKEND")"
  if pid="$(pid_alive "$FERRET_PID" "$(ferret_marker)")"; then
    if mongo_healthy; then echo "ferretdb  up       pid $pid  127.0.0.1:$MONGO_PORT (backend $be)"
    else echo "ferretdb  starting pid $pid  127.0.0.1:$MONGO_PORT (not answering yet)"; rc=1; fi
  else echo "ferretdb  down"; rc=1; fi
  if [[ "$be" == postgresql ]] && command -v pg_lsclusters >/dev/null; then
    if pg_online; then echo "postgres  up       cluster $PG_CLUSTER port $(pg_port) db $PG_DB"
    else echo "postgres  down     cluster $PG_CLUSTER"; fi
  fi
  echo "state     $STATE (logs in $LOG_DIR)"
  return "$rc"
}

cmd_env() {
  echo "VECHE_KAFKA_BOOTSTRAP=127.0.0.1:$KAFKA_PORT"
  echo "VECHE_MONGO_URL=mongodb://127.0.0.1:$MONGO_PORT/"
}

cmd_reset() {
  cmd_down
  say "deleting $KAFKA_DATA and $FERRET_DATA (Kafka jars and the FerretDB binary are kept)"
  rm -rf "$KAFKA_DATA" "$FERRET_DATA"
  if [[ "$BACKEND" == postgresql ]] && command -v pg_lsclusters >/dev/null && [[ -n "$(pg_port)" ]] && pg_online; then
    say "dropping PostgreSQL database $PG_DB"
    pg_psql -d postgres -c "DROP DATABASE IF EXISTS \"$PG_DB\"" >/dev/null
  fi
}

usage() {
  cat >&2 <<EOF
usage: $0 up|down|status|env|reset
  up      fetch/build if needed, start Kafka + FerretDB, wait until ready, print env
  down    stop both (SIGTERM, SIGKILL after ${STOP_TIMEOUT}s)
  status  show what is running (exit 1 unless both are up)
  env     print VECHE_KAFKA_BOOTSTRAP / VECHE_MONGO_URL lines
  reset   down + delete data (keeps downloaded jars and built binary)
EOF
  exit 2
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) cmd_env ;;
  reset) cmd_reset ;;
  *) usage ;;
esac
