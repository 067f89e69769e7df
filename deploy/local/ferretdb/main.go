// Command veche-ferretdb runs an embedded FerretDB v1 (MongoDB wire protocol over
// SQLite or PostgreSQL) for local development. It is built by deploy/local/infra.sh
// into the gitignored state dir; see deploy/local/README.md.
//
// We embed github.com/FerretDB/FerretDB/ferretdb instead of building cmd/ferretdb:
// `go install .../cmd/ferretdb@v1.24.2` fails and a plain build of cmd/ferretdb panics.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof on the default mux, served only with -debug-addr
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

func main() {
	addr := flag.String("listen-addr", env("FERRETDB_LISTEN_ADDR", "127.0.0.1:27017"), "TCP listen address (env FERRETDB_LISTEN_ADDR)")
	handler := flag.String("handler", env("FERRETDB_HANDLER", "sqlite"), "backend: sqlite or postgresql (env FERRETDB_HANDLER)")
	sqliteURL := flag.String("sqlite-url", env("FERRETDB_SQLITE_URL", "file:data/"), "SQLite URI of an existing directory, ending with '/' (env FERRETDB_SQLITE_URL)")
	pgURL := flag.String("postgresql-url", env("FERRETDB_POSTGRESQL_URL", "postgres://127.0.0.1:5432/ferretdb"), "PostgreSQL URL (env FERRETDB_POSTGRESQL_URL)")
	debugAddr := flag.String("debug-addr", env("FERRETDB_DEBUG_ADDR", ""), "serve Go's pprof profiles on this address, e.g. 127.0.0.1:6060 (env FERRETDB_DEBUG_ADDR; empty: off)")
	logLevel := flag.String("log-level", env("FERRETDB_LOG_LEVEL", "warn"), "debug, info, warn or error (env FERRETDB_LOG_LEVEL)")
	flag.Parse()

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "veche-ferretdb: bad -log-level %q: %v\n", *logLevel, err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	h := strings.ToLower(*handler)
	if h != "sqlite" && h != "postgresql" {
		fmt.Fprintf(os.Stderr, "veche-ferretdb: -handler must be sqlite or postgresql, got %q\n", *handler)
		os.Exit(2)
	}

	cfg := &ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: *addr},
		Logger:   logger,
		Handler:  h,
	}
	if h == "sqlite" {
		cfg.SQLiteURL = *sqliteURL
	} else {
		cfg.PostgreSQLURL = *pgURL
	}

	if *debugAddr != "" {
		// where the store spends its CPU (go tool pprof http://ADDR/debug/pprof/profile?seconds=15)
		go func() {
			if err := http.ListenAndServe(*debugAddr, nil); err != nil {
				logger.Error("pprof server stopped", "error", err)
			}
		}()
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	f, err := ferretdb.New(cfg)
	if err != nil {
		logger.Error("cannot start FerretDB", "error", err)
		os.Exit(1)
	}

	logger.Warn("veche-ferretdb listening", "addr", *addr, "handler", h)
	if err := f.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		logger.Error("FerretDB stopped with error", "error", err)
		os.Exit(1)
	}
	logger.Warn("veche-ferretdb stopped")
}
