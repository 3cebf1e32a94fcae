#!/bin/bash
# mailfleet-lock: the operator's lock on a login (`./mf lock`), on a store. A locked login is in
# LOCK_LIST, which Dovecot's first passdb reads on every authentication (deny = yes): SASL AUTH for
# submission and IMAP, POP3 and ManageSieve logins are refused at once, with no reload.
#   mailfleet-lock lock LOGIN | unlock LOGIN | list
set -euo pipefail
usage() { echo "usage: mailfleet-lock lock|unlock LOGIN | list" >&2; exit 2; }
[ $# -ge 1 ] || usage
case "$1" in
  list) [ $# = 1 ] || usage; cut -d: -f1 "$LOCK_LIST"; exit 0 ;;
  lock|unlock) [ $# = 2 ] || usage ;;
  *) usage ;;
esac
login=${2,,}
# A mailbox address, nothing that could add a field or a line to the passwd-file.
[[ $login =~ ^[a-z0-9._+-]+@[a-z0-9.-]+$ ]] || { echo "mailfleet-lock: not a login: $2" >&2; exit 2; }
exec 9>>/run/mailfleet-lock.lock
flock 9
tmp=$(mktemp "$LOCK_LIST.XXXXXX")
{ grep -v -F -x -- "$login:" "$LOCK_LIST" || true; if [ "$1" = lock ]; then echo "$login:"; fi; } > "$tmp"
chown root:dovecot "$tmp"
chmod 0640 "$tmp"
mv -f "$tmp" "$LOCK_LIST"
# Open IMAP sessions end too; the next login is refused.
if [ "$1" = lock ]; then doveadm kick "$login" >/dev/null 2>&1 || true; fi
logger -t mailfleet-lock "$1 $login" 2>/dev/null || true
# Dovecot looks at a passwd-file's time stamp at most once a second: past it, the change holds.
sleep 1.1
echo "$(hostname): ${1}ed $login"
