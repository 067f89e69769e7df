#!/usr/bin/env bash
# Installs the tools the deploy tests need into <repo>/.local/bin (idempotent, no root needed):
#   kustomize  v5.7.1  from the Go module proxy (`go install`), the same on every machine kind.
# Usage: deploy/k8s/install-tools.sh        prints the kustomize path on stdout
set -euo pipefail

KUSTOMIZE_VERSION="${KUSTOMIZE_VERSION:-v5.7.1}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="${ROOT}/.local/bin"
KUSTOMIZE="${BIN}/kustomize"

installed_version() {
    "${KUSTOMIZE}" version 2>/dev/null | head -n1 || true
}

if [[ -x "${KUSTOMIZE}" && "$(installed_version)" == *"${KUSTOMIZE_VERSION}"* ]]; then
    echo "${KUSTOMIZE}"
    exit 0
fi

if ! command -v go >/dev/null 2>&1; then
    for candidate in /usr/local/go/bin/go "${HOME}/go/bin/go"; do
        if [[ -x "${candidate}" ]]; then PATH="$(dirname "${candidate}"):${PATH}"; break; fi
    done
fi
command -v go >/dev/null 2>&1 || { echo "install-tools: Go is needed to install kustomize" >&2; exit 1; }

mkdir -p "${BIN}"
echo "install-tools: go install sigs.k8s.io/kustomize/kustomize/v5@${KUSTOMIZE_VERSION}" >&2
GOBIN="${BIN}" go install \
    "sigs.k8s.io/kustomize/kustomize/v5@${KUSTOMIZE_VERSION}" >&2
echo "${KUSTOMIZE}"
