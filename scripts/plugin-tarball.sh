#!/usr/bin/env bash
# Builds the component package's plugin tarball, the file `pulumi plugin install` takes:
#   bash scripts/plugin-tarball.sh [out-dir]   -> <out-dir>/pulumi-resource-mailfleet-v<version>-linux-amd64.tar.gz
# It holds the plugin executable at its root, the program's TypeScript and the node_modules it
# runs with (installed from the lockfile by ./mf; the type checker and test-only packages left
# out). The plugin runs it with the Node on PATH (24). Prints the tarball's path.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out}
version=$(node -p 'require("./package.json").version')
tarball=$out/pulumi-resource-mailfleet-v$version-linux-amd64.tar.gz
[ -d node_modules ] || { echo "plugin-tarball: no node_modules: run ./mf once first" >&2; exit 1; }
mkdir -p "$out"
tar -czf "$tarball.tmp.$$" --exclude=node_modules/typescript --exclude=node_modules/fast-check --exclude='node_modules/@types' \
  --exclude=node_modules/.cache pulumi-resource-mailfleet package.json package-lock.json tsconfig.json components node_modules
mv "$tarball.tmp.$$" "$tarball"
echo "$tarball"
