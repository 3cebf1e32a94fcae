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
# The root's trust anchor Debian's unbound drop-in names, seeded once from the bundle's IANA DS
# records where dns-root-data did not (render/resolver.ts); unbound keeps it current from then on.
seed_root_anchor() {
  [ -s "$UNBOUND_ROOT_KEY" ] || install -o unbound -g unbound -m 0644 "$UNBOUND_ROOT_SEED" "$UNBOUND_ROOT_KEY"
}
# Without systemd the script does Debian's unit's job; unbound daemonizes and writes /run/unbound.pid.
reload_unbound() {
  local pid=/run/unbound.pid
  seed_root_anchor || return 1
  if alive "$pid"; then
    kill -HUP "$(tr -dc 0-9 < "$pid")"
  else
    unbound || return 1
  fi
  comes_up "$pid" && stays_alive "$pid"
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
is_exporter() { [[ $1 == prometheus* || $1 == mtail || $1 == knot-exporter ]]; }
# The flags the unit starts the daemon with; Debian's mtail unit builds them from four variables.
exporter_args() {
  local ARGS='' LOGS='' HOST='' PORT='' EXTRA_ARGS=''
  # shellcheck source=/dev/null
  . "/etc/default/$1"
  if [ "$1" = mtail ]; then ARGS="--progs $MTAIL_PROGRAMS --logtostderr --address $HOST --port $PORT --logs $LOGS $EXTRA_ARGS"; fi
  printf '%s' "$ARGS"
}
# A unit the push installs (knot-exporter's: Debian ships none) lies in /etc and wins, as under systemd.
pushed_unit() { local f=/etc/systemd/system/$1.service; [ -f "$f" ] && echo "$f"; }
# User= and SupplementaryGroups= of the unit: the postfix exporter reads the log (adm) and showq (postdrop).
unit_field() { sed -n "s/^$2=//p" "$(pushed_unit "$1" || echo "/usr/lib/systemd/system/$1.service")" | head -1; }
reload_exporter() {
  local unit=$1 ARGS unit_file key
  ARGS=$(exporter_args "$unit")
  # What the daemon runs with: its flags, and a pushed unit's content (a changed one restarts it too).
  key=$ARGS
  if unit_file=$(pushed_unit "$unit"); then key="$ARGS $(sha256sum < "$unit_file")"; fi
  install -d -m 0755 "$exporter_run"
  local pid=$exporter_run/$unit.pid started=$exporter_run/$unit.args same=false
  [ "$(cat "$started" 2>/dev/null)" = "$key" ] && same=true
  # The node, postfix and Knot exporters read nothing but their flags and die on SIGHUP (no
  # handler): with the same flags they are left running. The others reread their config on SIGHUP.
  local rereads=true
  case $unit in prometheus-node-exporter|prometheus-postfix-exporter|knot-exporter) rereads=false ;; esac
  if $systemd; then
    if [ -n "$unit_file" ]; then systemctl daemon-reload; fi
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
    setsid setpriv --reuid="$user" --regid="$user" --groups="$groups" "$(command -v "$unit")" $ARGS </dev/null >>"/var/log/$unit.log" 2>&1 &
    echo $! > "$pid"
  fi
  printf '%s' "$key" > "$started"
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
# it learns; the copy is made again only when the rendered file changes. Under systemd Debian's
# units run them (their drop-ins name the fleet's files), so they start at boot and are restarted
# when they die; without it (the lab) this script starts them as the units would.
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
# The files each daemon was last started from, as one sum; root's, beside the deploy state.
valkey_sum() { cat "$@" 2>/dev/null | sha256sum; }
valkey_changed() { [ "$(cat "$S/${1%.service}.sum" 2>/dev/null)" != "$2" ]; }
# UNIT PIDFILE [CONFIG]: the unit under systemd; without it the daemon the unit runs, by its pid file.
valkey_stop() {
  if $systemd; then systemctl stop "$1"; else stop_pid "$2"; fi
}
valkey_running() {
  if $systemd; then systemctl is-active --quiet "$1"; else alive "$2"; fi
}
valkey_start() {
  if $systemd; then
    systemctl enable --quiet "$1" && systemctl restart "$1"
  else
    install -d -o "$VALKEY_GROUP" -g "$VALKEY_GROUP" -m 0755 "${2%/*}"
    as_valkey "${1%.service}" "$3" && comes_up "$2"
  fi
}
reload_valkey() {
  local sum
  if $systemd; then systemctl daemon-reload; fi
  if [ ! -f "$VALKEY_CONF" ]; then
    # Not (or no longer) a state host: Debian's units would run Debian's own config.
    if $systemd; then systemctl disable --now --quiet "$SENTINEL_UNIT" "$VALKEY_UNIT" 2>/dev/null || true; return 0; fi
    stop_pid "$SENTINEL_PID" && stop_pid "$VALKEY_PID"
    return
  fi
  sum=$(valkey_sum "$VALKEY_CONF" "$VALKEY_DROP_IN")
  if ! valkey_running "$VALKEY_UNIT" "$VALKEY_PID" || valkey_changed "$VALKEY_UNIT" "$sum"; then
    valkey_stop "$VALKEY_UNIT" "$VALKEY_PID" || return 1
    valkey_start "$VALKEY_UNIT" "$VALKEY_PID" "$VALKEY_CONF" || return 1
    echo "$sum" > "$S/${VALKEY_UNIT%.service}.sum"
  fi
  sum=$(valkey_sum "$SENTINEL_CONF" "$SENTINEL_DROP_IN")
  if valkey_changed "$SENTINEL_UNIT" "$sum"; then
    valkey_stop "$SENTINEL_UNIT" "$SENTINEL_PID" || return 1
    install -o "$VALKEY_GROUP" -g "$VALKEY_GROUP" -m 0640 "$SENTINEL_CONF" "$SENTINEL_STATE"
    echo "$sum" > "$S/${SENTINEL_UNIT%.service}.sum"
  fi
  if ! valkey_running "$SENTINEL_UNIT" "$SENTINEL_PID"; then
    valkey_start "$SENTINEL_UNIT" "$SENTINEL_PID" "$SENTINEL_STATE" || return 1
  fi
  if $systemd; then
    systemctl is-active --quiet "$VALKEY_UNIT" && systemctl is-active --quiet "$SENTINEL_UNIT"
  else
    stays_alive "$VALKEY_PID" && stays_alive "$SENTINEL_PID"
  fi
}
# Daemons that read their files only when they start and have no reload (postsrsd, and the ones of
# render/outboundTls.ts): changed files restart them, unchanged ones leave them running. Under
# systemd their units; without it (the lab) the command runs detached with a pid file.
# NAME UNIT "FILE..." COMMAND...
restart_on_change() {
  local name=$1 unit=$2 sum run=/run/mailfleet-$1
  local pid=$run/$name.pid
  # shellcheck disable=SC2086 # the list of files the daemon starts from
  sum=$(cat $3 | sha256sum)
  shift 3
  install -d -m 0700 "$run"
  if $systemd; then
    systemctl daemon-reload
    if [ "$(cat "$run/sum" 2>/dev/null)" != "$sum" ] || ! systemctl is-active --quiet "$unit"; then systemctl restart "$unit" || return 1; fi
    systemctl enable --quiet "$unit"
  else
    if ! alive "$pid" || [ "$(cat "$run/sum" 2>/dev/null)" != "$sum" ]; then
      stop_pid "$pid" || return 1
      setsid "$@" </dev/null >>"/var/log/$name.log" 2>&1 &
      echo $! > "$pid"
    fi
    comes_up "$pid" && stays_alive "$pid" || return 1
  fi
  echo "$sum" > "$run/sum"
}
# postsrsd (render/postsrsd.ts) reads its settings and secrets only at start; under systemd its unit
# runs Debian's launcher, which runs here without it.
reload_postsrsd() {
  restart_on_change postsrsd postsrsd "/etc/default/postsrsd /etc/postsrsd.secret" /usr/share/postsrsd/postsrsd-systemd-launcher
}
# Debian's mta-sts-daemon as its unit runs it: as _mta-sts, with its config.
reload_mta_sts() {
  restart_on_change mta-sts postfix-mta-sts-resolver "$MTA_STS_CONF" setpriv --reuid="$STS_USER" --regid="$STS_USER" --init-groups mta-sts-daemon --config "$MTA_STS_CONF"
}
# The DANE-first socketmap, as an unprivileged user (its unit's DynamicUser); a changed unit restarts it too.
reload_dane_first() {
  restart_on_change dane-first "${DANE_FIRST_UNIT##*/}" "$DANE_FIRST $DANE_FIRST_UNIT" setpriv --reuid=nobody --regid=nogroup --clear-groups python3 "$DANE_FIRST" "$DANE_FIRST_PORT"
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
    elif $systemd && ! [[ $d =~ ^(valkey|postsrsd|mta_sts|dane_first)$ ]]; then
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

