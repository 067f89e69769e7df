# Veche — the two commands are `make up` and `make test`; everything else supports them.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

STATE ?= $(CURDIR)/.local
export VECHE_LOCAL_STATE := $(STATE)
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
INFRA := deploy/local/infra.sh
RUN := $(UV) run --frozen

.PHONY: help devkey up down status test lint unit integration e2e bench bootstrap sync infra topics logs clean

help:
	@echo "make up      infrastructure + the four services, locally"
	@echo "make test    ruff, mypy, unit, integration, e2e"
	@echo "make down    stop everything make up started"
	@echo "make status  what is running"

bootstrap:  ## uv, if this machine lacks it (a fresh machine has pip but not uv)
	@command -v uv >/dev/null 2>&1 || test -x $(HOME)/.local/bin/uv || \
		{ echo "installing uv with pip"; python3 -m pip install --user --quiet 'uv>=0.5' || \
		  python3 -m pip install --user --quiet --break-system-packages 'uv>=0.5'; }

sync: bootstrap
	@$(UV) sync --frozen --quiet

infra:
	@$(INFRA) up

topics: sync infra
	@eval "$$($(INFRA) env)" && export VECHE_KAFKA_BOOTSTRAP VECHE_MONGO_URL && $(RUN) veche-topics

# A local API key for Open311 POST and the channel endpoints: generated once into the local
# state (untracked: the tracked .env is compose's, and `make up` must not dirty the work tree).
DEVKEY_FILE := $(STATE)/open311-dev-key
devkey:
	@mkdir -p $(STATE)
	@test -s $(DEVKEY_FILE) || \
		echo "dev-$$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')" > $(DEVKEY_FILE)

DEVKEY = $$(cat $(DEVKEY_FILE))

up: sync infra topics devkey
	@eval "$$($(INFRA) env)" && export VECHE_KAFKA_BOOTSTRAP VECHE_MONGO_URL && \
		export VECHE_OPEN311_DEV_KEY="$(DEVKEY)" && \
		$(RUN) veche-stack up --state $(STATE)
	@echo
	@echo "Veche is up."
	@echo "  POST an appeal:   curl -s -X POST http://127.0.0.1:8000/appeals -H 'content-type: application/json' \\"
	@echo "                      -d '{\"text\": \"На улице Ленина в Туле огромная яма\", \"contact\": {\"email\": \"ivan@example.org\"}}'"
	@echo "  its status:       curl -s http://127.0.0.1:8000/appeals/<appeal_id>"
	@echo "  HTTP API docs:    http://127.0.0.1:8000/docs"
	@echo "  Open311:          http://127.0.0.1:8000/open311/v2/services.json   api_key ($(DEVKEY_FILE)): $(DEVKEY)"
	@echo "  event docs:       http://127.0.0.1:800{0,1,2,3}/docs/asyncapi"
	@echo "  traces (JSONL):   $(STATE)/traces/spans.jsonl    logs: $(STATE)/log/"
	@echo "  stop:             make down"

down:
	@if [ -x "$(UV)" ] && [ -d .venv ]; then $(RUN) veche-stack down --state $(STATE) >/dev/null; fi
	@$(INFRA) down

status:
	@$(INFRA) status
	@$(RUN) veche-stack status --state $(STATE)

lint: sync
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy shared/src services/*/src bench/src

unit: sync
	$(RUN) pytest -q shared/tests/unit services/*/tests/unit

integration: sync infra topics
	@eval "$$($(INFRA) env)" && export VECHE_KAFKA_BOOTSTRAP VECHE_MONGO_URL && \
		$(RUN) pytest -q shared/tests/integration services/*/tests/integration

e2e: sync infra topics
	@eval "$$($(INFRA) env)" && export VECHE_KAFKA_BOOTSTRAP VECHE_MONGO_URL && \
		$(RUN) pytest -q tests/e2e

# One pytest run for all layers: a run that collects nothing exits 5, which fails the target.
test: lint infra topics
	@eval "$$($(INFRA) env)" && export VECHE_KAFKA_BOOTSTRAP VECHE_MONGO_URL && \
		status=0; $(RUN) pytest shared/tests services/*/tests tests || status=$$?; \
		if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing" >&2; fi; exit $$status

# Veche beside its raw limit and a naive baseline, one table; writes docs/PERFORMANCE.md and
# docs/latency.png. Own namespace and ports (+300): runs beside `make up`. Knobs: VECHE_BENCH_*.
bench: sync infra
	@eval "$$($(INFRA) env)" && export VECHE_KAFKA_BOOTSTRAP VECHE_MONGO_URL && \
		$(RUN) veche-bench

logs:
	@tail -n 20 $(STATE)/log/*.log

clean: down
	rm -rf $(STATE) .venv
