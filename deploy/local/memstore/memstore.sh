#!/usr/bin/env bash
# An in-memory MongoDB wire-protocol server (mongo-java-server) for `make bench`:
#
#   deploy/local/memstore/memstore.sh build          # fetch the jars, compile (first run only)
#   deploy/local/memstore/memstore.sh run PORT       # serve in the foreground (exec: its pid is java's)
#
# Nothing is kept on disk and nothing survives a restart — never a store for appeals. The bench
# runs Veche against it beside FerretDB to show how much of the pipeline's limit is the store.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../../.." && pwd)"
STATE="${VECHE_LOCAL_STATE:-$REPO/.local}/memstore"
LIBS="$STATE/libs"
CLASSES="$STATE/classes"
# one collector thread and a bounded heap: the server shares two cores with everything else
HEAP="${VECHE_LOCAL_MEMSTORE_HEAP:-1g}"

say() { printf '[memstore] %s\n' "$*" >&2; }
die() { printf '[memstore] ERROR: %s\n' "$*" >&2; exit 1; }

build() {
  local stamp="$STATE/build.sha256" want
  want="$(cat "$HERE/pom.xml" "$HERE/VecheMemStore.java" | sha256sum | cut -d' ' -f1)"
  if [[ -f "$CLASSES/VecheMemStore.class" && "$(cat "$stamp" 2>/dev/null)" == "$want" ]]; then
    return 0
  fi
  command -v mvn >/dev/null || die "Maven fetches mongo-java-server from Maven Central"
  command -v javac >/dev/null || die "a JDK (javac) compiles the server"
  say "fetching mongo-java-server into $LIBS (first run only) ..."
  rm -rf "$LIBS" "$CLASSES"
  mkdir -p "$LIBS" "$CLASSES"
  if ! mvn -q -B -f "$HERE/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$LIBS" >"$STATE/fetch.log" 2>&1; then
    rm -rf "$LIBS"
    die "mvn dependency:copy-dependencies failed; see $STATE/fetch.log"
  fi
  javac -d "$CLASSES" -cp "$LIBS/*" "$HERE/VecheMemStore.java" \
    || die "javac failed"
  printf '%s\n' "$want" >"$stamp"
}

case "${1:-}" in
  build) build ;;
  run)
    [[ -n "${2:-}" ]] || die "usage: $0 run PORT"
    build
    exec java -Xmx"$HEAP" -XX:+UseSerialGC -cp "$CLASSES:$LIBS/*" VecheMemStore "$2" 127.0.0.1
    ;;
  *) die "usage: $0 build | run PORT" ;;
esac
