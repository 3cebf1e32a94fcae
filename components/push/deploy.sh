#!/usr/bin/env bash
# mailfleet deploy: applies one host's rendered files, read as a bundle on stdin
# (components/push/bundle.ts), without ever leaving a broken config live.
#
#   deploy.sh edge|outbound|store|dns < bundle
#
# 1. Nothing changed (content, mode, owner, group of every file)? Say so, exit 0, touch nothing.
# 2. Make sure the role's packages, users and directories exist.
# 3. Stage the files and validate them in a private mount namespace where the staged tree
#    lies over the live one, with the role's own checkers at their default paths. A failure
#    prints the checker's message and exits non-zero with the live config untouched.
# 4. Swap the changed files in (written beside the target, then renamed: atomic per file).
# 5. Reload the role's daemons (start them when not running). If that fails, put the previous
#    files back and reload again, so a host keeps serving with its last good config.
# Runs under systemd (a real host) or without it (the lab's network-namespace hosts), where
# the daemons' own commands do what the units would.
set -euo pipefail
umask 022
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C

role=${1:-}
log() { printf 'deploy[%s]: %s\n' "$role" "$*" >&2; }
die() { log "$*"; exit 1; }

case "$role" in
  edge) packages=(postfix postfix-lmdb rspamd nginx-light) daemons=(postfix rspamd nginx) ;;
  outbound) packages=(postfix postfix-lmdb rspamd libsasl2-modules) daemons=(postfix rspamd) ;;
  store) packages=(dovecot-imapd dovecot-lmtpd dovecot-pop3d dovecot-sieve dovecot-managesieved) daemons=(dovecot) ;;
  dns) packages=(knot knot-dnsutils knot-dnssecutils) daemons=(knot) ;;
  *) echo "usage: deploy.sh edge|outbound|store|dns < bundle" >&2; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || die "must run as root"

work=$(mktemp -d /var/tmp/mailfleet-deploy.XXXXXXXX)
trap 'rm -rf "$work"' EXIT
stage=$work/stage backup=$work/backup
mkdir -p "$stage" "$backup"

# --- 1. read the bundle: a header, then "<mode> <owner> <group> <path> <base64>" per file.
# The fields are checked again here, so that no bundle can make this script write outside a
# plain absolute path or run anything.
paths=() modes=() owners=() groups=()
read -r magic version count || die "empty bundle on stdin"
[ "$magic $version" = "mailfleet-bundle 1" ] && [[ $count =~ ^[0-9]+$ ]] || die "stdin is not a mailfleet bundle"
name_re='^[a-z_][a-z0-9_-]{0,31}$'
while read -r mode owner group path content; do
  [[ $mode =~ ^0[0-7]{3}$ ]] || die "bad mode '$mode'"
  [[ $owner =~ $name_re && $group =~ $name_re ]] || die "bad owner '$owner:$group'"
  [[ $path =~ ^(/[A-Za-z0-9_.+@-]+)+$ && "$path/" != */./* && "$path/" != */../* ]] || die "bad path '$path'"
  [[ $content =~ ^[A-Za-z0-9+/]*=*$ ]] || die "bad content for $path"
  for seen in "${paths[@]}"; do [ "$seen" != "$path" ] || die "$path twice in the bundle"; done
  mkdir -p "$stage${path%/*}"
  printf '%s' "$content" | base64 -d > "$stage$path"
  paths+=("$path") modes+=("$mode") owners+=("$owner") groups+=("$group")
done
[ "${#paths[@]}" = "$count" ] || die "truncated bundle: ${#paths[@]} of $count files"

unchanged() {
  local i=$1 p=${paths[$1]}
  [ -f "$p" ] && [ ! -L "$p" ] && cmp -s "$stage$p" "$p" &&
    [ "$(stat -c '%a %U %G' "$p")" = "$(printf '%o' $((8#${modes[$i]}))) ${owners[$i]} ${groups[$i]}" ]
}
changed=()
for i in "${!paths[@]}"; do unchanged "$i" || changed+=("$i"); done
if [ "${#changed[@]}" = 0 ]; then
  echo "deploy[$role]: no change (${#paths[@]} files as they are)"
  exit 0
fi
for i in "${changed[@]}"; do log "changed: ${paths[$i]}"; done

# --- 2. prerequisites
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
    install -d -o vmail -g vmail -m 0750 /var/vmail ;;
  edge | outbound)
    install -d -o _rspamd -g _rspamd -m 0750 /var/lib/rspamd/dkim ;;
  dns)
    install -d -o knot -g knot -m 0750 /var/lib/knot
    install -d -m 0755 /var/lib/knot/zones ;;
esac
for i in "${!paths[@]}"; do
  getent passwd "${owners[$i]}" >/dev/null || die "${paths[$i]}: no user ${owners[$i]}"
  getent group "${groups[$i]}" >/dev/null || die "${paths[$i]}: no group ${groups[$i]}"
  # New, empty directories only: nothing a daemon reads changes before validation.
  mkdir -p "${paths[$i]%/*}"
done

# --- 3. stage and validate
for i in "${!paths[@]}"; do
  chown "${owners[$i]}:${groups[$i]}" "$stage${paths[$i]}"
  chmod "${modes[$i]}" "$stage${paths[$i]}"
done
# Staged directories take the live ones' owner and mode: in the overlay the top layer's
# directory attributes win, and a daemon must see its directories as they really are.
while read -r d; do
  chown --reference="${d#"$stage"}" "$d" && chmod --reference="${d#"$stage"}" "$d"
done < <(find "$stage" -mindepth 1 -type d)
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
check_knot() {
  knotc -c /etc/knot/knot.conf conf-check
  knotc -c /etc/knot/knot.conf zone-check
  local z
  for z in /var/lib/knot/zones/*.zone; do
    [ -e "$z" ] || continue
    kzonecheck -o "$(basename "$z" .zone)" "$z" || return 1
  done
}
validate() {
  local dir
  while read -r dir; do
    mount -t overlay mailfleet-stage -o "lowerdir=$stage$dir:$dir" "$dir"
  done < "$work/layers"
  case "$role" in
    edge) check_postfix && check_rspamd && check_nginx ;;
    outbound) check_postfix && check_rspamd ;;
    store) check_dovecot ;;
    dns) check_knot ;;
  esac
}
export role stage work
export -f validate check_postfix check_rspamd check_nginx check_dovecot check_knot
if ! unshare --mount --propagation private -- bash -c 'set -euo pipefail; validate' >"$work/check.log" 2>&1; then
  cat "$work/check.log" >&2
  die "validation failed: nothing was changed"
fi

# --- 4. swap in
for i in "${changed[@]}"; do
  p=${paths[$i]}
  if [ -e "$p" ]; then
    mkdir -p "$backup${p%/*}"
    cp -a "$p" "$backup$p"
  else
    echo "$p" >> "$work/absent"
  fi
  cp -p "$stage$p" "$p.mailfleet-new"
  mv -f "$p.mailfleet-new" "$p"
done

# --- 5. reload
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
reload_postfix() {
  if postfix status >/dev/null 2>&1; then postfix reload; else postfix start; fi
  comes_up /var/spool/postfix/pid/master.pid && stays_alive /var/spool/postfix/pid/master.pid
}
reload_rspamd() {
  local pid=/run/rspamd/rspamd.pid
  if alive "$pid"; then
    kill -HUP "$(tr -dc 0-9 < "$pid")"
  else
    install -d -o _rspamd -g _rspamd -m 0755 /run/rspamd
    rspamd -u _rspamd -g _rspamd -c /etc/rspamd/rspamd.conf
  fi
  comes_up "$pid" && stays_alive "$pid"
}
reload_nginx() {
  if alive /run/nginx.pid; then nginx -s reload; else nginx; fi
  comes_up /run/nginx.pid && stays_alive /run/nginx.pid
}
reload_dovecot() {
  if alive /run/dovecot/master.pid; then doveadm reload; else dovecot; fi
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
reload_all() {
  local d unit
  for d in "${daemons[@]}"; do
    if $systemd; then
      unit=$d
      reload_unit "$unit" || { log "$unit did not reload"; return 1; }
    else
      "reload_$d" || { log "$d did not reload"; return 1; }
    fi
  done
}
# A daemon started here keeps the descriptors it inherits: give it a log file, never this
# script's stdout/stderr (an SSH session would wait for the daemon to close them).
if ! reload_all </dev/null >"$work/reload.log" 2>&1; then
  cat "$work/reload.log" >&2
  log "restoring the previous files"
  for i in "${changed[@]}"; do
    p=${paths[$i]}
    if [ -e "$backup$p" ]; then
      cp -a "$backup$p" "$p.mailfleet-old"
      mv -f "$p.mailfleet-old" "$p"
    fi
  done
  if [ -f "$work/absent" ]; then
    while read -r p; do rm -f "$p"; done < "$work/absent"
  fi
  reload_all </dev/null >"$work/reload.log" 2>&1 || { cat "$work/reload.log" >&2; log "the previous config did not reload either"; }
  die "reload failed: previous files restored"
fi
echo "deploy[$role]: ${#changed[@]} of ${#paths[@]} files changed, ${daemons[*]} reloaded"
