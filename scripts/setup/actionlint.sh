#!/usr/bin/env bash
# Installs, once, actionlint (the GitHub Actions workflow linter) from its Go module at a pinned
# tag, into the project's tool cache. Cached: a second run with the same version does nothing.
# Prints the binary's path. Needs Go and the Go module proxy (the machines here have both).
set -euo pipefail
VERSION=v1.7.12
BIN_DIR=${MAILFLEET_TOOL_BIN:-/var/cache/mailfleet/bin}
BIN=$BIN_DIR/actionlint
# `actionlint -version` prints the module version on its first line.
if [ -x "$BIN" ] && [ "$("$BIN" -version | head -n1)" = "$VERSION" ]; then
  echo "$BIN"; exit 0
fi
command -v go >/dev/null || { echo "actionlint.sh: Go is needed to build actionlint" >&2; exit 1; }
mkdir -p "$BIN_DIR"
# A module-mode install outside any module: the project's own go.mod (if any) plays no part.
(cd / && GOBIN=$BIN_DIR GOFLAGS=-mod=mod go install "github.com/rhysd/actionlint/cmd/actionlint@$VERSION") >&2
echo "$BIN"
