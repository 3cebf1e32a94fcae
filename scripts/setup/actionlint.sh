#!/usr/bin/env bash
# Installs, once, actionlint (the GitHub Actions workflow linter) from its Go module at a pinned tag
# into the project's tool cache, and shellcheck from Debian, which actionlint runs on every `run:`
# script. Cached: a second run with the same version does nothing. Prints the actionlint binary's
# path, last on stdout. Needs Go with the Go module proxy, and root for apt-get.
set -euo pipefail
VERSION=v1.7.12
BIN_DIR=${MAILFLEET_TOOL_BIN:-/var/cache/mailfleet/bin}
BIN=$BIN_DIR/actionlint
if ! command -v shellcheck >/dev/null; then
  apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null
fi
# `actionlint -version` prints the module version on its first line.
if [ -x "$BIN" ] && [ "$("$BIN" -version | head -n1)" = "$VERSION" ]; then
  echo "$BIN"; exit 0
fi
if ! command -v go >/dev/null; then PATH=/usr/local/go/bin:$PATH; fi
command -v go >/dev/null || { echo "actionlint.sh: Go is needed to build actionlint $VERSION" >&2; exit 1; }
mkdir -p "$BIN_DIR"
# Module mode from outside any module: no go.mod of the project's takes part in the build.
(cd / && GOBIN=$BIN_DIR GOFLAGS=-mod=mod go install "github.com/rhysd/actionlint/cmd/actionlint@$VERSION") >&2
echo "$BIN"
