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
    if nft list table "${FIREWALL_TABLE[@]}" >/dev/null 2>&1; then nft delete table "${FIREWALL_TABLE[@]}"; fi
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
  # Compiled next to the scripts as root: the mail user could not write the binaries there.
  if [ -d "$SIEVE_DIR" ]; then sievec "$SIEVE_DIR" || return 1; fi
  if alive /run/dovecot/master.pid; then doveadm reload; else dovecot; fi || return 1
  comes_up /run/dovecot/master.pid && stays_alive /run/dovecot/master.pid
}
reload_knot() {
  if knotc status >/dev/null 2>&1; then
    knotc reload >/dev/null
  else
    install -d -o knot -g knot -m 0755 /run/knot
    knotd -d -c "$KNOT_CONF"
    local n
    for n in $(seq 1 50); do knotc status >/dev/null 2>&1 && return 0; sleep 0.2; done
    return 1
  fi
}
# Debian's Prometheus packages run `/usr/bin/<unit> $ARGS` from /etc/default/<unit>
# (render/monitoring): changed flags need a restart, a changed config file only a HUP. Without
# systemd the script does the unit's job, as the unit's user with its supplementary groups, and
# keeps the flags it started the daemon with beside its pid.
exporter_run=/run/mailfleet-exporters
is_exporter() { [[ $1 == prometheus* || $1 == mtail ]]; }
# The flags the unit starts the daemon with; Debian's mtail unit builds them from four variables.
exporter_args() {
  local ARGS='' LOGS='' HOST='' PORT='' EXTRA_ARGS=''
  # shellcheck source=/dev/null
  . "/etc/default/$1"
  if [ "$1" = mtail ]; then ARGS="--progs $MTAIL_PROGRAMS --logtostderr --address $HOST --port $PORT --logs $LOGS $EXTRA_ARGS"; fi
  printf '%s' "$ARGS"
}
# User= and SupplementaryGroups= of Debian's unit: the postfix exporter reads the log (adm) and showq (postdrop).
unit_field() { sed -n "s/^$2=//p" "/usr/lib/systemd/system/$1.service" | head -1; }
reload_exporter() {
  local unit=$1 ARGS
  ARGS=$(exporter_args "$unit")
  install -d -m 0755 "$exporter_run"
  local pid=$exporter_run/$unit.pid started=$exporter_run/$unit.args same=false
  [ "$(cat "$started" 2>/dev/null)" = "$ARGS" ] && same=true
  # The node and postfix exporters read nothing but their flags and die on SIGHUP (no handler):
  # with the same flags they are left running. The others reread their config on SIGHUP.
  local rereads=true
  case $unit in prometheus-node-exporter|prometheus-postfix-exporter) rereads=false ;; esac
  if $systemd; then
    if ! $same || ! systemctl is-active --quiet "$unit"; then systemctl restart "$unit"; elif $rereads; then systemctl reload "$unit"; fi || return 1
    systemctl enable --quiet "$unit"
  elif $same && alive "$pid"; then
    if $rereads; then kill -HUP "$(tr -dc 0-9 < "$pid")"; fi
  else
    if alive "$pid"; then
      kill "$(tr -dc 0-9 < "$pid")"
      local n
      for n in $(seq 1 50); do alive "$pid" || break; sleep 0.2; done
    fi
    local user groups extra
    user=$(unit_field "$unit" User)
    groups=$(id -Gn "$user" | tr ' ' ,)
    extra=$(unit_field "$unit" SupplementaryGroups)
    [ -z "$extra" ] || groups=$groups,${extra// /,}
    # shellcheck disable=SC2086 # ARGS is the list of flags
    setsid setpriv --reuid="$user" --regid="$user" --groups="$groups" "/usr/bin/$unit" $ARGS </dev/null >>"/var/log/$unit.log" 2>&1 &
    echo $! > "$pid"
  fi
  printf '%s' "$ARGS" > "$started"
  $systemd || { comes_up "$pid" && stays_alive "$pid"; }
}
# Knot diffs a changed zone file against the zone it serves (zonefile-load: difference-no-serial),
# which drops the hosts' pending DNS-01 TXT records (their dynamic updates): they are put back
# once the zones have reloaded, so a push in the middle of an issuance does not fail it.
acme_challenges() { knotc zone-read -- 2>/dev/null | grep -E '^\[[a-z0-9.-]+\] _acme-challenge\.[a-z0-9._-]+ [0-9]+ TXT ' || true; }
restore_challenges() {
  local zone owner ttl data
  knotc -b zone-reload >/dev/null || return 1
  while read -r zone owner ttl _ data; do
    zone=${zone#[} zone=${zone%]}
    if knotc zone-read "$zone" "$owner" TXT 2>/dev/null | grep -qF -- "$data"; then continue; fi
    { knotc zone-begin "$zone" && knotc zone-set "$zone" "$owner" "$ttl" TXT "$data" && knotc zone-commit "$zone"; } >/dev/null ||
      { knotc zone-abort "$zone" >/dev/null 2>&1; return 1; }
  done <<< "$1"
}
close_fds() {
  local f n
  for f in "/proc/$BASHPID/fd/"*; do
    n=${f##*/}
    if [ "$n" -gt 2 ] && [ "$n" != 255 ]; then eval "exec $n>&-"; fi
  done 2>/dev/null
}
# A store's backup timer (render/backup.ts) runs under systemd only; without it (the lab) the
# operator's `./mf backup` runs the same script. A timer whose file left the bundle is stopped.
reload_backup_timer() {
  $systemd || return 0
  systemctl daemon-reload
  if [ -f "$BACKUP_TIMER" ]; then
    # A restart takes a new schedule; Persistent=true runs a backup the old one missed.
    systemctl enable --quiet "$BACKUP_TIMER_UNIT"
    systemctl restart "$BACKUP_TIMER_UNIT"
  elif systemctl is-active --quiet "$BACKUP_TIMER_UNIT"; then
    systemctl stop "$BACKUP_TIMER_UNIT"
    # Its unit file is gone already: disabling may find nothing to do, and a leftover link is inert.
    systemctl disable --quiet "$BACKUP_TIMER_UNIT" 2>/dev/null || true
  fi
}
# rspamd's shared state (render/valkey.ts), on the state hosts only: the rendered files say whether
# this host is one. Valkey has no reload: a changed config restarts it (SIGTERM saves the data set
# first), an unchanged one leaves it running. Sentinel runs from its own copy, which it rewrites as
# it learns; the copy is made again only when the rendered file changes.
# Waits for the process, not its pid file, which Valkey removes before it lets go of its ports.
stop_pid() {
  local n pid
  alive "$1" || return 0
  pid=$(tr -dc 0-9 < "$1")
  kill -TERM "$pid"
  for n in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  return 1
}
as_valkey() { setpriv --reuid="$VALKEY_GROUP" --regid="$VALKEY_GROUP" --init-groups "$@"; }
reload_valkey() {
  local server=/run/valkey/valkey-server.pid sentinel=/run/valkey/valkey-sentinel.pid sum
  if [ ! -f "$VALKEY_CONF" ]; then
    stop_pid "$sentinel" && stop_pid "$server"
    return
  fi
  # Debian's own units would hold 127.0.0.1:6379 with Debian's config: the fleet's run instead.
  if $systemd; then systemctl disable --now --quiet valkey-server valkey-sentinel 2>/dev/null || true; fi
  install -d -o "$VALKEY_GROUP" -g "$VALKEY_GROUP" -m 0750 /run/valkey
  sum=$(sha256sum < "$VALKEY_CONF")
  if ! alive "$server" || [ "$(cat /run/valkey/server.sum 2>/dev/null)" != "$sum" ]; then
    stop_pid "$server" || return 1
    as_valkey valkey-server "$VALKEY_CONF" || return 1
    comes_up "$server" || return 1
    echo "$sum" > /run/valkey/server.sum
  fi
  sum=$(sha256sum < "$SENTINEL_CONF")
  if [ "$(cat "$SENTINEL_STATE.sum" 2>/dev/null)" != "$sum" ]; then
    stop_pid "$sentinel" || return 1
    install -o "$VALKEY_GROUP" -g "$VALKEY_GROUP" -m 0640 "$SENTINEL_CONF" "$SENTINEL_STATE"
    echo "$sum" > "$SENTINEL_STATE.sum"
  fi
  if ! alive "$sentinel"; then
    as_valkey valkey-sentinel "$SENTINEL_STATE" || return 1
  fi
  comes_up "$sentinel" && stays_alive "$server" && stays_alive "$sentinel"
}
# The bundle this host runs, for node_exporter's textfile collector: which one, and since when.
record_bundle() {
  local hash
  [ -d "$TEXTFILE_DIR" ] || return 0
  hash=$(for i in "${!paths[@]}"; do printf '%s %s\n' "${paths[$i]}" "${contents[$i]}"; done | sha256sum | cut -c1-16)
  printf 'mailfleet_bundle_info{role="%s",hash="%s"} 1\nmailfleet_bundle_applied_timestamp_seconds %s\n' "$role" "$hash" "$(date +%s)" > "$TEXTFILE_DIR/.bundle.tmp"
  mv -f "$TEXTFILE_DIR/.bundle.tmp" "$TEXTFILE_DIR/mailfleet_bundle.prom"
}
reload_all() {
  local d challenges=''
  reload_nft || { log "the firewall did not load"; return 1; }
  for d in "${daemons[@]}"; do
    if [ "$d" = knot ]; then challenges=$(acme_challenges); fi
    if is_exporter "$d"; then
      reload_exporter "$d" || { log "$d did not reload"; return 1; }
    elif $systemd && [ "$d" != valkey ]; then
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

