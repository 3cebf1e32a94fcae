# mailfleet deploy: applies one host's rendered files, read as a bundle on stdin
# (components/push/bundle.ts), without ever leaving a broken config live.
#
#   deploy.sh edge|outbound|store|dns [PUSH_FROM_ADDRESS] < bundle
#   deploy.sh --check ROLE < bundle     step 1 only: print what the bundle holds, change nothing
#
# 1. Read the bundle strictly (one alphabet, single spaces, no NUL/tab/CR) and refuse any file
#    outside the role's allowlist (the header), or above its mode or with another owner: nothing changed.
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

# The role's tables come from the generated header above (components/push/roles.ts): the files its
# bundle may write (ROLE_ALLOWLIST, "<path> <highest mode> <owner>:<group>" per line; a path ending
# in "/" allows any file below that directory), its packages and its daemons. They live here, on
# the host's side: no bundle can widen them.
known=false
for r in "${DEPLOY_ROLES[@]}"; do [ "$r" != "$role" ] || known=true; done
if ! $known; then
  (IFS='|'; echo "usage: deploy.sh [--check] ${DEPLOY_ROLES[*]} [PUSH_FROM_ADDRESS] < bundle" >&2)
  exit 2
fi
read -ra packages <<< "${ROLE_PACKAGES[$role]}"
read -ra daemons <<< "${ROLE_DAEMONS[$role]}"
allow=${ROLE_ALLOWLIST[$role]}
