#!/usr/bin/env bash
# mailfleet deploy: applies one host's rendered files, read as a bundle on stdin
# (components/push/bundle.ts), without ever leaving a broken config live.
#
#   deploy.sh edge|outbound|store|dns [PUSH_FROM_ADDRESS] < bundle
#   deploy.sh --check ROLE < bundle     step 1 only: print what the bundle holds, change nothing
#
# 1. Read the bundle strictly (one alphabet, single spaces, no NUL/tab/CR) and refuse any file
#    outside the role's allowlist below, or above its mode or with another owner: nothing changed.
# 2. Take the host's lock (/var/lib/mailfleet/lock; /var/lib/mailfleet is root's, 0700), so deploys
#    never interleave, and first restore a set that an interrupted deploy left half swapped.
# 3. Nothing changed (content, mode, owner, group of every file, nothing managed left the bundle)?
#    Say so, exit 0, touch nothing.
# 4. Make sure the role's packages, users and directories exist. Every directory is opened and
#    checked by the kernel's own name for it (no symlink anywhere on the way); a file is written
#    only into a directory that root alone can write.
# 5. Stage the files and validate them in a private mount namespace where the staged tree lies
#    over the live one, with the role's own checkers at their default paths (nft -c for the
#    firewall). A rule set that would lock out PUSH_FROM_ADDRESS is refused. A failure prints the
#    checker's message and exits non-zero with the live config untouched.
# 6. Swap: back up every file to be replaced or removed into a journal in /var/lib/mailfleet/ROLE,
#    then write each file to a fresh temp file in its own directory and rename it into place;
#    files of the previous manifest that left the bundle are removed.
# 7. Reload the firewall (nft -f) and the role's daemons (start them when not running). If that
#    fails, or the script is interrupted (HUP, INT, TERM, any error) before the new set is
#    committed, every file is put back from the journal and reloaded; after a SIGKILL the next run
#    does it (step 2). The new manifest replaces the old one only with the commit.
# 8. With tls.mode acme, start mailfleet-certs detached (certbot; never waited for, never failing
#    the push); see "certificates" below for what the daemons' certificates are.
# Runs under systemd (a real host) or without it (the lab's network-namespace hosts), where
# the daemons' own commands do what the units would.
set -euo pipefail
umask 022
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C

check_only=false
if [ "${1:-}" = --check ]; then check_only=true; shift; fi
role=${1:-} from=${2:-}
log() { printf 'deploy[%s]: %s\n' "$role" "$*" >&2; }
die() { log "$*"; exit 1; }

# The files a role's bundle may write, "<path> <highest mode> <owner>:<group>"; a path ending in "/"
# allows any file below that directory. They are what the role's renderers produce (a test renders
# every example stack against this list) and live here, on the host's side: no bundle can widen them.
allow_all='
/etc/nftables.conf 0644 root:root'
# The bootstrap certificate, the lineages, and certbot's side (tls.mode acme). The daemons read
# /etc/mailfleet/tls/live/, which no bundle writes: see "certificates" below.
allow_tls='
/etc/mailfleet/tls/ca.crt 0644 root:root
/etc/mailfleet/tls/host.crt 0644 root:root
/etc/mailfleet/tls/host.key 0600 root:root
/etc/mailfleet/tls/lineages 0644 root:root
/usr/local/sbin/mailfleet-cert-deploy 0755 root:root
/usr/local/sbin/mailfleet-certs 0755 root:root
/etc/mailfleet/acme/dns-credentials.ini 0600 root:root
/etc/mailfleet/acme/eab-hmac 0600 root:root
/etc/mailfleet/acme/ca-bundle.pem 0644 root:root
/etc/systemd/system/mailfleet-certs.service 0644 root:root
/etc/systemd/system/certbot.service.d/mailfleet-ca.conf 0644 root:root'
allow_mta='
/etc/postfix/main.cf 0644 root:root
/etc/postfix/master.cf 0644 root:root
/etc/postfix/virtual 0644 root:root
/etc/rspamd/local.d/actions.conf 0644 root:root
/etc/rspamd/local.d/dkim_signing.conf 0644 root:root
/etc/rspamd/local.d/logging.inc 0644 root:root
/etc/rspamd/local.d/worker-controller.inc 0644 root:root
/etc/rspamd/local.d/worker-normal.inc 0644 root:root
/etc/rspamd/local.d/worker-proxy.inc 0644 root:root'
# certbot with the DNS plugins of both backends: ACME issuance and renewal (tls.mode acme).
case "$role" in
  edge) packages=(postfix postfix-lmdb rspamd nginx-light nftables certbot python3-certbot-dns-rfc2136 python3-certbot-dns-cloudflare) daemons=(postfix rspamd nginx)
    allow="$allow_all$allow_tls$allow_mta
/etc/postfix/mailboxes 0644 root:root
/etc/rspamd/local.d/milter_headers.conf 0644 root:root
/etc/nginx/ 0644 root:root
/var/www/ 0644 root:root" ;;
  outbound) packages=(postfix postfix-lmdb rspamd libsasl2-modules nftables certbot python3-certbot-dns-rfc2136 python3-certbot-dns-cloudflare) daemons=(postfix rspamd)
    allow="$allow_all$allow_tls$allow_mta
/etc/postfix/sender_login 0644 root:root
/etc/postfix/sasl_passwd 0600 root:root
/etc/rspamd/local.d/sender_login.map 0644 root:root
/etc/rspamd/lua.local.d/sender_login.lua 0644 root:root
/var/lib/rspamd/dkim/ 0640 root:_rspamd" ;;
  store) packages=(dovecot-imapd dovecot-lmtpd dovecot-pop3d dovecot-sieve dovecot-managesieved restic nftables certbot python3-certbot-dns-rfc2136 python3-certbot-dns-cloudflare) daemons=(dovecot)
    allow="$allow_all$allow_tls
/etc/dovecot/dovecot.conf 0644 root:root
/etc/dovecot/users 0640 root:dovecot
/etc/mailfleet/backup/env 0600 root:root
/etc/mailfleet/backup/password 0600 root:root
/usr/local/sbin/mailfleet-backup 0755 root:root
/etc/systemd/system/mailfleet-backup.service 0644 root:root
/etc/systemd/system/mailfleet-backup.timer 0644 root:root" ;;
  dns) packages=(knot knot-dnsutils knot-dnssecutils nftables) daemons=(knot)
    allow="$allow_all
/etc/knot/knot.conf 0640 root:knot
/var/lib/knot/zones/ 0640 root:knot" ;;
  *) echo "usage: deploy.sh [--check] edge|outbound|store|dns [PUSH_FROM_ADDRESS] < bundle" >&2; exit 2 ;;
esac
NFT_CONF=/etc/nftables.conf

# --- 1. read the bundle: a header, then "<mode> <owner> <group> <path> <base64>" per file, each
# separated by exactly one space (components/push/bundle.ts reads it with the same rules).
allowed() {
  local p max who
  while read -r p max who; do
    [ -n "$p" ] || continue
    if [ "$p" = "$1" ] || { [ "${p: -1}" = / ] && [ "${1#"$p"}" != "$1" ]; }; then
      [ "$who" = "$3:$4" ] || die "$1: owner $3:$4 is not allowed for the $role role (only $who)"
      (((8#$2 & ~8#$max) == 0)) || die "$1: mode $2 is above the $max the $role role allows"
      return 0
    fi
  done <<< "$allow"
  die "$1 is not a file the $role role may write"
}
plain_path() { [[ $1 =~ ^(/[A-Za-z0-9_.+@-]+)+$ && "$1/" != */./* && "$1/" != */../* ]]; }

work='' phase=prepare raw=''
trap '[ -z "$raw" ] || rm -f "$raw"' EXIT
raw=$(mktemp)
cat > "$raw"
[ -s "$raw" ] || die "empty bundle on stdin"
# Every byte a bundle can hold: NUL, tab, CR or anything else would be read differently somewhere.
[ "$(tr -d 'A-Za-z0-9 +/=_.@\n-' < "$raw" | wc -c)" = 0 ] || die "bad bundle: a byte outside its alphabet (NUL, tab, CR or other)"
[ "$(tail -c 1 "$raw" | od -An -tx1 | tr -d ' ')" = 0a ] || die "truncated bundle: no final newline"
mapfile -t lines < "$raw"
rm -f "$raw"
raw=''
[[ ${lines[0]} =~ ^mailfleet-bundle\ 1\ (0|[1-9][0-9]{0,4})$ ]] || die "stdin is not a mailfleet bundle"
count=${BASH_REMATCH[1]}
[ "$((${#lines[@]} - 1))" -ge "$count" ] || die "truncated bundle: $((${#lines[@]} - 1)) of $count files"
[ "$((${#lines[@]} - 1))" = "$count" ] || die "bad bundle: more lines than its $count files"
paths=() modes=() owners=() groups=() contents=()
declare -A seen=()
name_re='[a-z_][a-z0-9_-]{0,31}'
line_re="^(0[0-7]{3}) ($name_re) ($name_re) ([^ ]+) ([^ ]*)$"
base64_re='^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$'
for line in "${lines[@]:1}"; do
  [[ $line =~ $line_re ]] || die "bad bundle line '${line:0:80}': not <mode> <owner> <group> <path> <base64> with single spaces"
  mode=${BASH_REMATCH[1]} owner=${BASH_REMATCH[2]} group=${BASH_REMATCH[3]} path=${BASH_REMATCH[4]} content=${BASH_REMATCH[5]}
  plain_path "$path" || die "bad path '$path'"
  [[ $content =~ $base64_re ]] || die "bad content for $path"
  [ -z "${seen[$path]:-}" ] || die "$path twice in the bundle"
  seen[$path]=1
  allowed "$path" "$mode" "$owner" "$group"
  paths+=("$path") modes+=("$mode") owners+=("$owner") groups+=("$group") contents+=("$content")
done
has_nft=false
[ -z "${seen[$NFT_CONF]:-}" ] || has_nft=true

# The address the push comes from (sudo drops SSH_CONNECTION: deployCommand passes it).
ipv4_re='^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$'
if [[ $from =~ ^::[fF]{4}:(.*)$ && ${BASH_REMATCH[1]} =~ $ipv4_re ]]; then from=${from:7}; fi
[ -z "$from" ] || [[ $from =~ $ipv4_re ]] || [[ ${#from} -le 39 && $from =~ ^([0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}$ ]] ||
  die "bad push address '$from'"

if $check_only; then
  for i in "${!paths[@]}"; do
    echo "${modes[$i]} ${owners[$i]} ${groups[$i]} ${paths[$i]} $(printf '%s' "${contents[$i]}" | base64 -d | sha256sum | cut -d' ' -f1)"
  done
  exit 0
fi
[ "$(id -u)" = 0 ] || die "must run as root"

# --- directories, by descriptor. open_dir sets $dir to /proc/<pid>/fd/<n>, an open descriptor on
# directory $1, creating missing components (root, 0755). The kernel's name for each opened
# directory must be the path itself: a symlink on the way, or a directory swapped while being
# opened, is refused. What follows writes through the descriptor, so renaming the directory
# afterwards moves nothing anywhere else.
open_dir() {
  local at='' comp fd next
  exec {fd}</
  IFS=/ read -ra comps <<< "${1#/}"
  for comp in "${comps[@]}"; do
    [ -e "/proc/$BASHPID/fd/$fd/$comp" ] || [ -L "/proc/$BASHPID/fd/$fd/$comp" ] || mkdir -m 0755 "/proc/$BASHPID/fd/$fd/$comp"
    # cd, not open: a FIFO put in a directory's place cannot block it.
    cd -P "/proc/$BASHPID/fd/$fd/$comp" 2>/dev/null || die "$at/$comp is not a directory"
    exec {next}<.
    cd /
    exec {fd}<&-
    fd=$next at=$at/$comp
    [ "$(readlink "/proc/$BASHPID/fd/$fd")" = "$at" ] || die "$at is a symlink or was moved while opened: refusing to write below it"
  done
  dir=/proc/$BASHPID/fd/$fd
}
declare -A dirs=()
# Sets $dir to the directory of file $1, which only root may write into.
target_dir() {
  local d=${1%/*}
  if [ -z "${dirs[$d]:-}" ]; then
    open_dir "$d"
    [ "$(stat -L -c %u "$dir")" = 0 ] && (((8#$(stat -L -c %a "$dir") & 8#022) == 0)) ||
      die "$d can be written by others than root: refusing to write in it"
    dirs[$d]=$dir
  fi
  dir=${dirs[$d]}
}
# A directory the role needs with its owner and mode, made or put right through a descriptor (its
# parent may be a daemon's, e.g. /var/lib/rspamd): a symlink planted in its place is removed first.
managed_dir() {
  local d=$1 name=${1##*/}
  open_dir "${d%/*}"
  if [ -L "$dir/$name" ]; then log "removing the symlink planted at $d"; rm -f "$dir/$name" || true; fi
  [ -e "$dir/$name" ] || mkdir -m 0700 "$dir/$name" || true
  open_dir "$d"
  chown "$2" "$dir"
  chmod "$3" "$dir"
}

# --- daemons
systemd=false
[ -d /run/systemd/system ] && systemd=true
alive() { [ -s "$1" ] && kill -0 "$(tr -dc 0-9 < "$1")" 2>/dev/null; }
# A daemon signalled to reload may still die on its new config: watch it for a moment.
stays_alive() {
  local n
  for n in 1 2 3 4 5 6 7 8 9 10; do alive "$1" || return 1; sleep 0.2; done
}
comes_up() {
  local n
  for n in $(seq 1 50); do alive "$1" && return 0; sleep 0.2; done
  return 1
}
reload_unit() {
  if systemctl is-active --quiet "$1"; then systemctl reload "$1"; else systemctl start "$1"; fi
}
# One `nft -f` replaces table inet mailfleet atomically (the file deletes and redefines it) and
# touches no other table; with no managed rule set the table goes.
reload_nft() {
  if $nft_managed; then
    nft -f "$NFT_CONF" || return 1
    if $systemd; then systemctl enable --quiet nftables; fi
  else
    if nft list table inet mailfleet >/dev/null 2>&1; then nft delete table inet mailfleet; fi
  fi
}
reload_postfix() {
  if postfix status >/dev/null 2>&1; then postfix reload; else postfix start; fi || return 1
  comes_up /var/spool/postfix/pid/master.pid && stays_alive /var/spool/postfix/pid/master.pid
}
reload_rspamd() {
  local pid=/run/rspamd/rspamd.pid
  if alive "$pid"; then
    kill -HUP "$(tr -dc 0-9 < "$pid")"
  else
    install -d -o _rspamd -g _rspamd -m 0755 /run/rspamd
    rspamd -u _rspamd -g _rspamd -c /etc/rspamd/rspamd.conf || return 1
  fi
  comes_up "$pid" && stays_alive "$pid"
}
reload_nginx() {
  if alive /run/nginx.pid; then nginx -s reload; else nginx; fi || return 1
  comes_up /run/nginx.pid && stays_alive /run/nginx.pid
}
reload_dovecot() {
  if alive /run/dovecot/master.pid; then doveadm reload; else dovecot; fi || return 1
  comes_up /run/dovecot/master.pid && stays_alive /run/dovecot/master.pid
}
reload_knot() {
  if knotc status >/dev/null 2>&1; then
    knotc reload >/dev/null
  else
    install -d -o knot -g knot -m 0755 /run/knot
    knotd -d -c /etc/knot/knot.conf
    local n
    for n in $(seq 1 50); do knotc status >/dev/null 2>&1 && return 0; sleep 0.2; done
    return 1
  fi
}
# Knot diffs a changed zone file against the zone it serves (zonefile-load: difference-no-serial),
# which drops the hosts' pending DNS-01 TXT records (their dynamic updates): they are put back
# once the zones have reloaded, so a push in the middle of an issuance does not fail it.
acme_challenges() { knotc zone-read -- 2>/dev/null | grep -E '^\[[a-z0-9.-]+\] _acme-challenge\.[a-z0-9._-]+ [0-9]+ TXT ' || true; }
restore_challenges() {
  local zone owner ttl type data
  knotc -b zone-reload >/dev/null || return 1
  while read -r zone owner ttl type data; do
    zone=${zone#[} zone=${zone%]}
    if knotc zone-read "$zone" "$owner" TXT 2>/dev/null | grep -qF -- "$data"; then continue; fi
    { knotc zone-begin "$zone" && knotc zone-set "$zone" "$owner" "$ttl" TXT "$data" && knotc zone-commit "$zone"; } >/dev/null ||
      { knotc zone-abort "$zone" >/dev/null 2>&1; return 1; }
  done <<< "$1"
}
close_fds() {
  local f n
  for f in /proc/$BASHPID/fd/*; do
    n=${f##*/}
    if [ "$n" -gt 2 ] && [ "$n" != 255 ]; then eval "exec $n>&-"; fi
  done 2>/dev/null
}
# A store's backup timer (render/backup.ts) runs under systemd only; without it (the lab) the
# operator's `./mf backup` runs the same script. A timer whose file left the bundle is stopped.
BACKUP_TIMER=/etc/systemd/system/mailfleet-backup.timer
reload_backup_timer() {
  $systemd || return 0
  systemctl daemon-reload
  if [ -f "$BACKUP_TIMER" ]; then
    # A restart takes a new schedule; Persistent=true runs a backup the old one missed.
    systemctl enable --quiet mailfleet-backup.timer
    systemctl restart mailfleet-backup.timer
  elif systemctl is-active --quiet mailfleet-backup.timer; then
    systemctl stop mailfleet-backup.timer
    # Its unit file is gone already: disabling may find nothing to do, and a leftover link is inert.
    systemctl disable --quiet mailfleet-backup.timer 2>/dev/null || true
  fi
}
reload_all() {
  local d challenges=''
  reload_nft || { log "the firewall did not load"; return 1; }
  for d in "${daemons[@]}"; do
    if [ "$d" = knot ]; then challenges=$(acme_challenges); fi
    if $systemd; then
      reload_unit "$d" || { log "$d did not reload"; return 1; }
    else
      "reload_$d" || { log "$d did not reload"; return 1; }
    fi
    if [ -n "$challenges" ]; then restore_challenges "$challenges" || log "could not put back the pending DNS-01 records: certbot retries"; fi
  done
  if [ "$role" = store ]; then reload_backup_timer || { log "the backup timer did not start"; return 1; }; fi
}
# A daemon started here keeps the descriptors it inherits: give it a log file, never this
# script's stdout/stderr (an SSH session would wait for the daemon to close them).
# Nor the lock or a directory descriptor: knotd would hold the lock for good.
reload_logged() {
  local out
  out=$(mktemp)
  if (close_fds && reload_all) </dev/null >"$out" 2>&1; then rm -f "$out"; return 0; fi
  cat "$out" >&2
  rm -f "$out"
  return 1
}

# --- certificates. The daemons read /etc/mailfleet/tls/live/<lineage>.{pem,crt,key}, which no
# bundle writes: mailfleet-cert-deploy installs them, from the bundle's bootstrap certificate when
# a lineage has none yet (and on every push with tls.mode fleet-ca, its only source), from
# certbot's lineage when certbot issues or renews one. So the first push starts with a
# certificate, and no push ever overwrites one that certbot manages.
TLS_LIVE=/etc/mailfleet/tls/live TLS_LINEAGES=/etc/mailfleet/tls/lineages CERT_DEPLOY=/usr/local/sbin/mailfleet-cert-deploy
CERTS=/usr/local/sbin/mailfleet-certs CERTS_LOG=/var/log/mailfleet-certs.log
tls_mode='' lineages=()
# The staged lineages file: "<mode> <lineage> <daemon>..." per line; sets tls_mode and lineages.
read_lineages() {
  local line mode name
  [ -f "$stage$TLS_LINEAGES" ] || return 0
  while read -r line; do
    case "$line" in '#'*|'') continue ;; esac
    [[ $line =~ ^(acme|fleet-ca)\ ([a-z0-9-]{1,63})(\ (postfix|dovecot|nginx))*$ ]] || die "bad line in $TLS_LINEAGES: '${line:0:80}'"
    mode=${BASH_REMATCH[1]} name=${BASH_REMATCH[2]}
    [ -z "$tls_mode" ] || [ "$tls_mode" = "$mode" ] || die "$TLS_LINEAGES mixes TLS modes"
    tls_mode=$mode
    lineages+=("$name")
  done < "$stage$TLS_LINEAGES"
}
# Installs the bootstrap certificate as each lineage that needs it into directory $1, through the
# bundle's own mailfleet-cert-deploy; and the CAs a store checks the other stores with.
seed_certs() {
  local into=$1 l boot=$work/bootstrap
  for l in "${lineages[@]}"; do
    [ "$tls_mode" = fleet-ca ] || [ ! -s "$TLS_LIVE/$l.pem" ] || continue
    mkdir -p -m 0700 "$boot/$l"
    cp "$stage/etc/mailfleet/tls/host.key" "$boot/$l/privkey.pem"
    cp "$stage/etc/mailfleet/tls/host.crt" "$boot/$l/fullchain.pem"
    RENEWED_LINEAGE=$boot/$l MAILFLEET_TLS_LIVE=$into MAILFLEET_BOOTSTRAP=1 "$stage$CERT_DEPLOY" >/dev/null || return 1
  done
  # The fleet CA for a bootstrap certificate, the system's trust store for an ACME one.
  cat "$stage/etc/mailfleet/tls/ca.crt" $([ ! -f /etc/ssl/certs/ca-certificates.crt ] || echo /etc/ssl/certs/ca-certificates.crt) > "$into/.peers.new"
  chmod 0644 "$into/.peers.new"
  mv -f "$into/.peers.new" "$into/peers.crt"
}
# A lineage certbot has never issued (no renewal config): the last issuance failed or never ran.
unissued() {
  local l
  for l in "${lineages[@]}"; do [ -f "/etc/letsencrypt/renewal/$l.conf" ] || return 0; done
  return 1
}
# Detached: issuance waits for DNS propagation and the CA, which no push should wait for. Without
# systemd, in its own session with no descriptor of this script (the lock above all).
start_certs() {
  [ "$tls_mode" = acme ] && [ -x "$CERTS" ] || return 0
  if $systemd; then
    systemctl daemon-reload && systemctl start --no-block mailfleet-certs.service
  else
    (close_fds && setsid nohup "$CERTS" </dev/null >>"$CERTS_LOG" 2>&1 &)
  fi || { log "could not start mailfleet-certs: run it on the host (the certificates stay as they are)"; return 0; }
  log "mailfleet-certs started: see $CERTS_LOG"
}

# --- the journal: $txn holds "present|absent <path>" per touched file in `touched`, the previous
# files in backup/<path> and the new manifest; it exists exactly while a set is swapped but not
# committed. Committing renames it to `done`, whose manifest then replaces the old one.
restore_txn() {
  local state p tmp
  while read -r state p; do
    plain_path "$p" || continue
    target_dir "$p"
    rm -f "$dir"/.mailfleet-new.*
    if [ "$state" = present ]; then
      tmp=$(mktemp "$dir/.mailfleet-new.XXXXXXXX")
      cp -p "$txn/backup$p" "$tmp"
      mv -fT "$tmp" "$dir/${p##*/}"
    else
      rm -f "$dir/${p##*/}"
    fi
  done < "$txn/touched"
}
managed_nft() { [ -f "$state/manifest" ] && grep -qx "$NFT_CONF" "$state/manifest"; }
rollback() {
  if (restore_txn); then
    nft_managed=false
    if managed_nft; then nft_managed=true; fi
    reload_logged || log "the previous config did not reload either"
    rm -rf "$txn"
  else
    log "could not restore every file: the next deploy retries from the journal"
  fi
}
finish_commit() {
  [ -d "$state/done" ] || return 0
  if [ -f "$state/done/manifest" ]; then mv -f "$state/done/manifest" "$state/manifest"; fi
  rm -rf "$state/done"
}
on_exit() {
  local rc=$?
  set +e
  trap '' HUP INT TERM
  if [ "$phase" = swap ]; then
    log "stopped before the new files were committed (status $rc): restoring the previous files"
    rollback
    [ "$rc" != 0 ] || rc=1
  fi
  [ -z "$work" ] || rm -rf "$work"
  [ -z "${state:-}" ] || rm -rf "$state/txn.new"
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
# A dropped connection must not kill the restore halfway through a log line.
trap '' PIPE

# --- 2. state, lock, recovery
managed_dir /var/lib/mailfleet root:root 0700
S=$dir
exec {lock}>>"$S/lock"
if ! flock -n "$lock"; then
  log "waiting for another deploy to this host"
  flock -w 1800 "$lock" || die "another deploy held the lock for 30 minutes"
fi
state=$S/$role txn=$S/$role/txn
mkdir -p -m 0700 "$state"
finish_commit
if [ -d "$txn" ]; then
  log "the last deploy was cut off mid-swap: restoring its previous files first"
  rollback
  [ ! -d "$txn" ] || die "the interrupted deploy's files could not be restored"
fi
# Left by a deploy that died before its swap began: nothing live refers to them.
rm -rf "$state/txn.new" "$S"/run.*

# --- 3. unchanged?
work=$(mktemp -d "$S/run.XXXXXXXX")
# By name from here on: overlayfs takes no /proc/<pid>/fd path as a layer (and /var/lib is root's).
work=/var/lib/mailfleet/${work##*/}
stage=$work/stage
mkdir "$stage"
for i in "${!paths[@]}"; do
  mkdir -p "$stage${paths[$i]%/*}"
  printf '%s' "${contents[$i]}" | base64 -d > "$stage${paths[$i]}"
done
unchanged() {
  local i=$1 p=${paths[$1]}
  [ -f "$p" ] && [ ! -L "$p" ] && cmp -s "$stage$p" "$p" &&
    [ "$(stat -c '%a %U %G' "$p")" = "$(printf '%o' $((8#${modes[$i]}))) ${owners[$i]} ${groups[$i]}" ]
}
changed=() removed=()
for i in "${!paths[@]}"; do unchanged "$i" || changed+=("$i"); done
if [ -f "$state/manifest" ]; then
  while read -r p; do
    if plain_path "$p" && [ -z "${seen[$p]:-}" ] && { [ -e "$p" ] || [ -L "$p" ]; }; then removed+=("$p"); fi
  done < "$state/manifest"
fi
read_lineages
if [ "${#changed[@]}" = 0 ] && [ "${#removed[@]}" = 0 ]; then
  echo "deploy[$role]: no change (${#paths[@]} files as they are)"
  if [ "$tls_mode" = acme ] && unissued; then start_certs; fi
  exit 0
fi
for i in "${changed[@]}"; do log "changed: ${paths[$i]}"; done
for p in "${removed[@]}"; do log "removed: $p"; done

# --- 4. prerequisites
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q ' installed$' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  # Without this Postfix's debconf would ask for (and write) a default main.cf of its own.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
case "$role" in
  store)
    # Every mailbox belongs to one unprivileged user; the uid is fixed so that a mailbox
    # directory copied to another store keeps its owner.
    getent group vmail >/dev/null || groupadd -g 5000 vmail
    getent passwd vmail >/dev/null || useradd -u 5000 -g vmail -d /var/vmail -M -s /usr/sbin/nologin vmail
    managed_dir /var/vmail vmail:vmail 0750
    # The backup settings and password (0600 each) in a directory only root may list.
    managed_dir /etc/mailfleet/backup root:root 0700 ;;
  outbound)
    # Root's, readable by rspamd's group: rspamd reads the keys, never writes them.
    managed_dir /var/lib/rspamd/dkim root:_rspamd 0750 ;;
  dns)
    managed_dir /var/lib/knot/zones root:knot 0750 ;;
esac
if [ -n "$tls_mode" ]; then
  managed_dir "$TLS_LIVE" root:root 0755
  target_dir "$TLS_LIVE/peers.crt"
fi
for i in "${!paths[@]}"; do
  getent passwd "${owners[$i]}" >/dev/null || die "${paths[$i]}: no user ${owners[$i]}"
  getent group "${groups[$i]}" >/dev/null || die "${paths[$i]}: no group ${groups[$i]}"
  # New, empty directories only: nothing a daemon reads changes before validation.
  target_dir "${paths[$i]}"
  live=$dir/${paths[$i]##*/}
  # A link planted while the directory was still a daemon's is replaced (rename never follows it).
  if [ -L "$live" ]; then log "replacing the symlink at ${paths[$i]}"
  elif [ -e "$live" ] && [ ! -f "$live" ]; then die "${paths[$i]} is not a regular file: refusing to replace it"; fi
done
for p in "${removed[@]}"; do target_dir "$p"; done

# --- 5. stage and validate
for i in "${!paths[@]}"; do
  chown "${owners[$i]}:${groups[$i]}" "$stage${paths[$i]}"
  chmod "${modes[$i]}" "$stage${paths[$i]}"
done
# Staged directories take the live ones' owner and mode: in the overlay the top layer's
# directory attributes win, and a daemon must see its directories as they really are.
while read -r d; do
  chown --reference="${d#"$stage"}" "$d" && chmod --reference="${d#"$stage"}" "$d"
done < <(find "$stage" -mindepth 1 -type d)
# The daemons validate against the certificates they will read.
if [ -n "$tls_mode" ]; then
  mkdir -p "$stage$TLS_LIVE"
  seed_certs "$stage$TLS_LIVE" || die "could not install the bootstrap certificate for validation"
fi
# The directories to lay the stage over: /etc as a whole, elsewhere each file's directory,
# without a directory whose ancestor is already covered.
for p in "${paths[@]}"; do
  case "$p" in /etc/*) echo /etc ;; *) echo "${p%/*}" ;; esac
done | sort -u | awk 'NR == 1 || index($0, last "/") != 1 { print; last = $0 }' > "$work/layers"

check_postfix() {
  postfix check || return 1
  # postconf reports unknown or misspelt parameters only as warnings; here they are errors.
  local warnings
  warnings=$( { postconf -n >/dev/null; postconf -M >/dev/null; } 2>&1) || { echo "$warnings"; return 1; }
  [ -z "$warnings" ] || { echo "$warnings"; return 1; }
}
check_rspamd() { rspamadm configtest >/dev/null || { rspamadm configtest; return 1; }; }
check_nginx() { nginx -t -q; }
check_dovecot() { doveconf -n >/dev/null; }
check_backup() { [ ! -f /usr/local/sbin/mailfleet-backup ] || bash -n /usr/local/sbin/mailfleet-backup; }
check_knot() {
  knotc -c /etc/knot/knot.conf conf-check
  knotc -c /etc/knot/knot.conf zone-check
  local z
  for z in /var/lib/knot/zones/*.zone; do
    [ -e "$z" ] || continue
    kzonecheck -o "$(basename "$z" .zone)" "$z" || return 1
  done
}
check_nft() { if $has_nft; then nft -c -f "$NFT_CONF"; fi; }
validate() {
  local dir
  while read -r dir; do
    mount -t overlay mailfleet-stage -o "lowerdir=$stage$dir:$dir" "$dir"
  done < "$work/layers"
  check_nft || return 1
  case "$role" in
    edge) check_postfix && check_rspamd && check_nginx ;;
    outbound) check_postfix && check_rspamd ;;
    store) check_dovecot && check_backup ;;
    dns) check_knot ;;
  esac
}
export role stage work has_nft NFT_CONF
export -f validate check_postfix check_rspamd check_nginx check_dovecot check_backup check_knot check_nft
if ! unshare --mount --propagation private -- bash -c 'set -euo pipefail; validate' >"$work/check.log" 2>&1; then
  cat "$work/check.log" >&2
  die "validation failed: nothing was changed"
fi
# The staged rule set, loaded into a throwaway network namespace, must let the push's own address
# reach SSH (admin_v4 / admin_v6), or this very push would be the last one.
if $has_nft; then
  if [ -z "$from" ]; then
    log "no push address (a local run): lockout check skipped"
  else
    set=admin_v4
    [[ $from != *:* ]] || set=admin_v6
    unshare --net -- sh -c 'nft -f "$1" && nft get element inet mailfleet "$2" "{ $3 }"' lockout "$stage$NFT_CONF" "$set" "$from" \
      >"$work/lockout.log" 2>&1 || die "would lock out the push from $from: add it to adminSshCidrs"
  fi
fi

# --- 6. swap: journal first, then each file by rename
new=$state/txn.new
mkdir -m 0700 "$new" "$new/backup"
touched=("${removed[@]}")
for i in "${changed[@]}"; do touched+=("${paths[$i]}"); done
for p in "${touched[@]}"; do
  target_dir "$p"
  live=$dir/${p##*/}
  if [ -e "$live" ] && [ ! -L "$live" ]; then
    [ -f "$live" ] || die "$p is not a regular file: refusing to replace it"
    mkdir -p "$new/backup${p%/*}"
    cp -p "$live" "$new/backup$p"
    echo "present $p"
  else
    echo "absent $p"
  fi
done > "$new/touched"
printf '%s\n' "${paths[@]}" | sort > "$new/manifest"
mv -T "$new" "$txn"
phase=swap
for i in "${changed[@]}"; do
  p=${paths[$i]}
  target_dir "$p"
  tmp=$(mktemp "$dir/.mailfleet-new.XXXXXXXX")
  cp -p "$stage$p" "$tmp"
  mv -fT "$tmp" "$dir/${p##*/}"
done
for p in "${removed[@]}"; do
  target_dir "$p"
  rm -f "$dir/${p##*/}"
done

# --- 7. reload, then commit
nft_managed=$has_nft
if [ -n "$tls_mode" ]; then
  target_dir "$TLS_LIVE/peers.crt"
  seed_certs "$dir" || log "could not install the bootstrap certificate"
fi
if ! reload_logged; then
  log "restoring the previous files"
  rollback
  phase=done
  die "reload failed: previous files restored"
fi
mv -T "$txn" "$state/done"
phase=done
finish_commit
echo "deploy[$role]: ${#changed[@]} of ${#paths[@]} files changed, ${#removed[@]} removed, ${daemons[*]} reloaded"
start_certs
