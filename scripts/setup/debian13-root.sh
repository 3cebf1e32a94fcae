#!/usr/bin/env bash
# Builds, once, the Debian 13 (trixie) root that the conformance checks and the lab run the mail
# daemons from (the hosts' target release; this machine may be older). Cached: a second run with
# the same package list does nothing. Needs root, debootstrap and Debian's package mirror.
set -euo pipefail
ROOT=${MAILFLEET_DEBIAN13_ROOT:-/var/cache/mailfleet/trixie-root}
MIRROR=${MAILFLEET_DEBIAN_MIRROR:-http://deb.debian.org/debian}
PACKAGES=(
  postfix postfix-lmdb libsasl2-modules
  dovecot-imapd dovecot-lmtpd dovecot-pop3d dovecot-sieve dovecot-managesieved
  rspamd nginx-light knot knot-dnsutils knot-dnssecutils nftables
  openssh-server openssh-client swaks python3 openssl iproute2 procps ca-certificates
  certbot python3-certbot-dns-rfc2136 python3-certbot-dns-cloudflare pebble postfix-mta-sts-resolver curl
  restic restic-rest-server unbound bind9-dnsutils
  prometheus prometheus-alertmanager prometheus-node-exporter prometheus-postfix-exporter
  prometheus-blackbox-exporter knot-exporter mtail valkey-server valkey-sentinel valkey-tools
  rbldnsd postsrsd
)
want="${PACKAGES[*]}"
if [ -f "$ROOT/.mailfleet-packages" ] && [ "$(cat "$ROOT/.mailfleet-packages")" = "$want" ]; then
  echo "debian13-root: $ROOT is ready"; exit 0
fi
start=$SECONDS
if ! command -v debootstrap >/dev/null; then
  apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi
if [ ! -x "$ROOT/usr/bin/apt-get" ]; then
  rm -rf "$ROOT.tmp"; mkdir -p "$(dirname "$ROOT")"
  debootstrap --variant=minbase --include=ca-certificates trixie "$ROOT.tmp" "$MIRROR" >/dev/null
  mv "$ROOT.tmp" "$ROOT"
fi
# Package scripts must not start daemons inside the root: hosts start their own.
printf '#!/bin/sh\nexit 101\n' > "$ROOT/usr/sbin/policy-rc.d"; chmod +x "$ROOT/usr/sbin/policy-rc.d"
echo "postfix postfix/main_mailer_type select No configuration" | chroot "$ROOT" debconf-set-selections
unshare --mount --propagation private -- sh -c '
  root=$1; shift
  mount -t proc proc "$root/proc"
  chroot "$root" apt-get update -qq
  chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
' sh "$ROOT" "${PACKAGES[@]}"
chroot "$ROOT" apt-get clean
echo "$want" > "$ROOT/.mailfleet-packages"
echo "debian13-root: built $ROOT in $((SECONDS - start)) s"
