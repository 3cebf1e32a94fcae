#!/usr/bin/env bash
# mailfleet-backup: this store's restic backups, the same code for the timer and `./mf backup`,
# `./mf backups`, `./mf restore` (which run it over SSH). Rendered by mailfleet
# (components/render/backup.ts); what it backs up and where comes from /etc/mailfleet/backup/env.
#
#   mailfleet-backup run [--progress]        back up the mail base (mail and sieve scripts), creating
#                                            the repository on first use, then forget and prune by
#                                            the retention
#   mailfleet-backup status                  {"store", "repository", "snapshots": [the newest]} as JSON
#   mailfleet-backup snapshots               the same with every snapshot of this store
#   mailfleet-backup restore [--progress] SOURCE_STORE [SNAPSHOT]
#                                            SOURCE_STORE's snapshot (default: latest) merged into the
#                                            mail base, owned by the mail user, Dovecot's indexes resynced
#
# --progress: restic's JSON status lines on stdout (for the operator's CLI); messages go to stderr.
# Every failure exits non-zero with a message on stderr. MAILFLEET_BACKUP_NO_RESYNC=1 skips the
# resync (a host without a running Dovecot); MAILFLEET_BACKUP_PROBE_SECONDS bounds the first contact.
set -euo pipefail
umask 077
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C
ENV_FILE=/etc/mailfleet/backup/env

say() { printf 'mailfleet-backup: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
usage() { die "usage: mailfleet-backup run [--progress] | status | snapshots | restore [--progress] SOURCE_STORE [SNAPSHOT]"; }

[ "$(id -u)" = 0 ] || die "must run as root"
[ -r "$ENV_FILE" ] || die "$ENV_FILE is missing: backups are not configured for this store"
set -a
# shellcheck source=/dev/null
. "$ENV_FILE"
set +a
for v in MAILFLEET_STORE MAILFLEET_BACKUP_BASE RESTIC_REPOSITORY RESTIC_PASSWORD_FILE RESTIC_CACHE_DIR MAIL_BASE MAIL_USER DOVECOT_USERS KEEP_HOURLY KEEP_DAILY KEEP_WEEKLY; do
  [ -n "${!v:-}" ] || die "$ENV_FILE sets no $v"
done
[ -r "$RESTIC_PASSWORD_FILE" ] || die "$RESTIC_PASSWORD_FILE is missing"
TAG=mailfleet
json=()

# One backup or restore at a time: restic's own lock would make the second fail halfway.
lock() {
  mkdir -p -m 0700 "$RESTIC_CACHE_DIR"
  exec 9>>"$RESTIC_CACHE_DIR/lock"
  flock -w 3600 9 || die "another backup or restore held $RESTIC_CACHE_DIR/lock for an hour"
}

# Opens the repository in RESTIC_REPOSITORY: 0 when it is there, 10 when there is none yet.
# restic retries an unreachable backend for 15 minutes; the first contact is bounded instead.
# Exit codes (restic 0.17+): 10 no repository at that location, 12 wrong password.
probe() {
  local rc=0 out seconds=${MAILFLEET_BACKUP_PROBE_SECONDS:-120}
  out=$(timeout "$seconds" restic cat config 2>&1 >/dev/null) || rc=$?
  case $rc in
    0|10) return "$rc" ;;
    12) die "wrong password for $RESTIC_REPOSITORY: the repository was made with another backup.password" ;;
    124) die "$RESTIC_REPOSITORY is unreachable: no answer within $seconds s" ;;
    *) die "cannot open $RESTIC_REPOSITORY (restic exit $rc): $(printf '%s' "$out" | tail -n 3 | tr '\n' ' ')" ;;
  esac
}

progress() {
  if [ "${1:-}" = --progress ]; then
    json=(--json)
    # Without a terminal restic reports once a minute; the CLI draws a line from these.
    export RESTIC_PROGRESS_FPS=2
    return 0
  fi
  return 1
}

# For node_exporter's textfile collector (render/monitoring): whether the last run succeeded, and
# when the last good one ended; the alerts BackupFailing and BackupTooOld read them.
record_run() {
  local ok=0 file=${METRICS_DIR:-}/mailfleet_backup.prom
  [ -n "${METRICS_DIR:-}" ] && [ -d "$METRICS_DIR" ] || return 0
  [ "$1" != 0 ] || ok=1
  {
    echo "mailfleet_backup_last_run_success $ok"
    if [ "$ok" = 1 ]; then echo "mailfleet_backup_last_success_timestamp_seconds $(date +%s)"; else grep '^mailfleet_backup_last_success' "$file" 2>/dev/null || true; fi
  } > "$file.tmp" && chmod 0644 "$file.tmp" && mv -f "$file.tmp" "$file"
}

cmd_run() {
  lock
  trap 'record_run $?' EXIT
  local rc=0
  probe || rc=$?
  if [ "$rc" = 10 ]; then
    say "$MAILFLEET_STORE: creating the repository $RESTIC_REPOSITORY"
    restic init >&2 || die "could not create the repository $RESTIC_REPOSITORY"
  fi
  say "$MAILFLEET_STORE: backing up $MAIL_BASE to $RESTIC_REPOSITORY"
  rc=0
  restic backup "${json[@]}" --host "$MAILFLEET_STORE" --tag "$TAG" "$MAIL_BASE" || rc=$?
  case $rc in
    0) ;;
    # Dovecot renames a Maildir file when its flags change: one renamed mid-run is in the next snapshot.
    3) say "$MAILFLEET_STORE: some files changed while they were read; the snapshot holds the rest, the next run takes them" ;;
    *) die "backup of $MAILFLEET_STORE to $RESTIC_REPOSITORY failed (restic exit $rc)" ;;
  esac
  say "$MAILFLEET_STORE: forgetting snapshots beyond $KEEP_HOURLY hourly, $KEEP_DAILY daily, $KEEP_WEEKLY weekly, and pruning"
  restic forget --quiet --host "$MAILFLEET_STORE" --tag "$TAG" --keep-hourly "$KEEP_HOURLY" --keep-daily "$KEEP_DAILY" \
    --keep-weekly "$KEEP_WEEKLY" --prune >&2 || die "forget/prune in $RESTIC_REPOSITORY failed"
  say "$MAILFLEET_STORE: backed up"
}

# The store's snapshots as JSON (restic's own objects); $1 is --latest 1 for the newest only.
cmd_snapshots() {
  local rc=0 list
  probe || rc=$?
  if [ "$rc" = 10 ]; then
    list='[]'
  else
    list=$(restic snapshots --no-lock --json --host "$MAILFLEET_STORE" --tag "$TAG" "$@") || die "cannot list the snapshots in $RESTIC_REPOSITORY"
  fi
  printf '{"store":"%s","repository":"%s","snapshots":%s}\n' "$MAILFLEET_STORE" "$RESTIC_REPOSITORY" "$list"
}

# Dovecot rebuilds the indexes of every mailbox of each user this store holds (the users file lists
# the others too, with proxy=y: their mail is elsewhere).
resync() {
  if [ "${MAILFLEET_BACKUP_NO_RESYNC:-}" = 1 ]; then say "MAILFLEET_BACKUP_NO_RESYNC=1: doveadm force-resync skipped"; return 0; fi
  local users
  users=$(mktemp)
  awk -F: '!/^#/ && NF >= 8 && $8 !~ /(^| )proxy=y( |$)/ { print $1 }' "$DOVECOT_USERS" > "$users"
  say "$MAILFLEET_STORE: resyncing Dovecot's indexes of $(wc -l < "$users") mailboxes"
  if [ -s "$users" ] && ! doveadm force-resync -F "$users" '*' >&2; then rm -f "$users"; die "doveadm force-resync failed"; fi
  rm -f "$users"
}

cmd_restore() {
  local source=${1:-} snapshot=${2:-latest}
  [[ $source =~ ^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$ ]] || usage
  [[ $snapshot =~ ^(latest|[0-9a-f]{8,64})$ ]] || die "not a snapshot id: $snapshot (8-64 hex digits, or latest)"
  lock
  RESTIC_REPOSITORY=$MAILFLEET_BACKUP_BASE/$source
  local rc=0
  probe || rc=$?
  [ "$rc" = 0 ] || die "no backups of $source: there is no repository at $RESTIC_REPOSITORY"
  say "$MAILFLEET_STORE: restoring $source's snapshot $snapshot from $RESTIC_REPOSITORY into $MAIL_BASE"
  mkdir -p "$MAIL_BASE"
  # Merges: files the snapshot lacks stay (Maildir file names are unique), none is deleted. --no-lock:
  # another store's repository is only read.
  restic restore "${json[@]}" --no-lock --host "$source" --tag "$TAG" --target "$MAIL_BASE" "$snapshot:$MAIL_BASE" ||
    die "restore of $source's snapshot $snapshot failed"
  chown -R "$MAIL_USER:$MAIL_USER" "$MAIL_BASE"
  resync
  say "$MAILFLEET_STORE: restored $source's snapshot $snapshot"
}

cmd=${1:-}
[ $# = 0 ] || shift
case $cmd in
  run)
    if progress "${1:-}"; then shift; fi
    [ $# = 0 ] || usage
    cmd_run ;;
  status) [ $# = 0 ] || usage; cmd_snapshots --latest 1 ;;
  snapshots) [ $# = 0 ] || usage; cmd_snapshots ;;
  restore)
    if progress "${1:-}"; then shift; fi
    [ $# -ge 1 ] && [ $# -le 2 ] || usage
    cmd_restore "$@" ;;
  *) usage ;;
esac
