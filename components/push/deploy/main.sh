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
    getent group "$VMAIL_GROUP" >/dev/null || groupadd -g "$VMAIL_GID" "$VMAIL_GROUP"
    getent passwd "$VMAIL_USER" >/dev/null || useradd -u "$VMAIL_UID" -g "$VMAIL_GROUP" -d "$VMAIL_HOME" -M -s /usr/sbin/nologin "$VMAIL_USER"
    managed_dir "$VMAIL_HOME" "$VMAIL_USER:$VMAIL_GROUP" 0750
    # The backup settings and password (0600 each) in a directory only root may list.
    managed_dir "$BACKUP_DIR" root:root 0700
    # The operator's lock list (./mf lock) is no bundle's: made empty where missing, never replaced,
    # since Dovecot refuses every login while its passdb file is missing.
    target_dir "$LOCK_LIST"
    if [ ! -e "$dir/${LOCK_LIST##*/}" ]; then install -m 0640 -o root -g dovecot /dev/null "$dir/${LOCK_LIST##*/}"; fi ;;
  edge|outbound)
    # Root's, readable by rspamd's group: rspamd reads the keys (DKIM, ARC), never writes them.
    managed_dir "$RSPAMD_DKIM_DIR" "root:$RSPAMD_GROUP" 0750
    # Postfix's own log, root:adm 0640 like Debian's mail.log: the postfix exporter and mtail read
    # it as group adm (postlogd would make it 0600, root's alone). postlogd appends to it as it is.
    target_dir "$POSTFIX_LOG"
    mta_log=$dir/${POSTFIX_LOG##*/}
    if [ -L "$mta_log" ]; then log "removing the symlink planted at $POSTFIX_LOG"; rm -f "$mta_log"; fi
    [ -e "$mta_log" ] || install -m 0640 -o root -g adm /dev/null "$mta_log"
    chown root:adm "$mta_log" && chmod 0640 "$mta_log" ;;
  dns)
    managed_dir "$KNOT_ZONE_DIR" root:knot 0750 ;;
esac
if [ -n "$tls_mode" ]; then
  managed_dir "$TLS_LIVE" root:root 0755
  target_dir "$TLS_PEERS"
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

export role stage work has_nft NFT_CONF KNOT_CONF KNOT_ZONE_DIR BACKUP_SCRIPT PROMETHEUS_CONFIG ALERTMANAGER_CONFIG MTAIL_PROGRAMS
export VALKEY_CONF SENTINEL_CONF VALKEY_GROUP VALKEY_UNIT SENTINEL_UNIT SIEVE_DIR UNBOUND_ROOT_KEY UNBOUND_ROOT_SEED MTA_STS_CONF DANE_FIRST DANE_FIRST_UNIT
export -f validate check_unbound seed_root_anchor check_postfix check_rspamd check_nginx check_dovecot check_backup check_knot check_nft check_valkey check_postsrsd check_mta_sts check_dane_first as_valkey check_exporter is_exporter exporter_args pushed_unit
if ! unshare --mount --propagation private -- bash -c 'set -euo pipefail; validate "$@"' validate "${daemons[@]}" >"$work/check.log" 2>&1; then
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
    unshare --net -- sh -c 'nft -f "$1" && nft get element "$4" "$5" "$2" "{ $3 }"' lockout "$stage$NFT_CONF" "$set" "$from" "${FIREWALL_TABLE[@]}" \
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
  target_dir "$TLS_PEERS"
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
record_bundle
echo "deploy[$role]: ${#changed[@]} of ${#paths[@]} files changed, ${#removed[@]} removed, ${daemons[*]} reloaded"
start_certs
