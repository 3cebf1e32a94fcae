# --- validation: each daemon's own checker, run by validate in a private mount namespace where the
# staged tree lies over the live one (step 5); a failure prints the checker's message.
check_postfix() {
  postfix check || return 1
  # postconf reports unknown or misspelt parameters only as warnings; here they are errors.
  local warnings
  warnings=$( { postconf -n >/dev/null; postconf -M >/dev/null; } 2>&1) || { echo "$warnings"; return 1; }
  [ -z "$warnings" ] || { echo "$warnings"; return 1; }
  # postfix check opens no regexp: table, and Postfix skips a line that does not compile with only a
  # warning: each one main.cf or master.cf names is opened here (a lookup compiles the whole file).
  local map
  for map in $( { postconf -nx; postconf -Px; } | grep -o 'regexp:[^ ,}]*' | sort -u); do
    # Not found (every probe) exits 1 as well: a message is what tells a bad table.
    warnings=$(postmap -q mailfleet-probe "$map" 2>&1 >/dev/null) || true
    [ -z "$warnings" ] || { echo "$warnings"; return 1; }
  done
}
# Debian's unbound.conf with every drop-in of unbound.conf.d, the staged one among them; the root's
# trust anchor it names is seeded first (daemons.sh), as Debian's unit does before it starts unbound.
check_unbound() {
  seed_root_anchor
  unbound-checkconf >/dev/null || { unbound-checkconf; return 1; }
}
check_rspamd() { rspamadm configtest >/dev/null || { rspamadm configtest; return 1; }; }
check_nginx() { nginx -t -q; }
# The global Sieve scripts compile (with the staged dovecot.conf's extensions) into a throwaway file.
check_dovecot() {
  doveconf -n >/dev/null || return 1
  local script out
  out=$(mktemp)
  for script in "$SIEVE_DIR"/*.sieve; do
    [ -e "$script" ] || continue
    sievec "$script" "$out" || { rm -f "$out"; return 1; }
  done
  rm -f "$out"
}
check_backup() { [ ! -f "$BACKUP_SCRIPT" ] || bash -n "$BACKUP_SCRIPT"; }
check_knot() {
  knotc -c "$KNOT_CONF" conf-check
  knotc -c "$KNOT_CONF" zone-check
  local z
  for z in "$KNOT_ZONE_DIR"/*.zone; do
    [ -e "$z" ] || continue
    kzonecheck -o "$(basename "$z" .zone)" "$z" || return 1
  done
}
# A dry start: with no port to listen on, valkey-server and valkey-sentinel read the whole file
# (directives, ACL users) and exit saying so; a bad file fails before that line.
check_valkey() {
  [ -f "$VALKEY_CONF" ] || return 0
  local dir out
  dir=$(mktemp -d)
  cp "$SENTINEL_CONF" "$dir/sentinel.conf"
  chown -R "$VALKEY_GROUP:$VALKEY_GROUP" "$dir"
  # Its own pid files: the live daemons' must keep naming them.
  out=$( { as_valkey timeout 10 valkey-server "$VALKEY_CONF" --daemonize no --port 0 --logfile "" --pidfile "$dir/server.pid" --dir "$dir" --replicaof no one --appendonly no
           as_valkey timeout 10 valkey-sentinel "$dir/sentinel.conf" --daemonize no --port 0 --logfile "" --pidfile "$dir/sentinel.pid"; } 2>&1) || true
  rm -rf "$dir"
  [ "$(grep -c 'Configured to not listen anywhere, exiting' <<< "$out")" = 2 ] || { echo "$out" | grep -v 'Memory overcommit'; return 1; }
  # Debian's units with the staged drop-ins, as systemd would load them (without looking up man pages).
  systemd-analyze verify --man=no "$VALKEY_UNIT" "$SENTINEL_UNIT"
}
# A Prometheus daemon parses its flags (a bad one fails), then its own checker reads its config.
check_exporter() {
  local unit=$1 ARGS out
  ARGS=$(exporter_args "$unit")
  case $unit in
    # mtail compiles its programs and exits: on a port of its own (the running mtail holds the
    # unit's), without --logs, with which it hangs after compiling, and logging to stderr, not to
    # files in /tmp.
    mtail) out=$(timeout 30 mtail --progs "$MTAIL_PROGRAMS" --compile_only --logtostderr --address 127.0.0.1 --port 0 2>&1) || { echo "$out"; return 1; }; return 0 ;;
    # Its argparse stops at --help before it reads what follows, and once it has parsed them it asks
    # knotd's control socket before it listens: with its flags and a socket that is not there, it must
    # get as far as that connect. Its unit (the push's own) is checked as systemd would load it.
    knot-exporter)
      # shellcheck disable=SC2086 # ARGS is the list of flags
      out=$("$unit" $ARGS --knot-socket-path /nonexistent/knot.sock 2>&1) || true
      [[ $out == *KnotCtlErrorConnect* ]] || { echo "$unit: bad flags in /etc/default/$unit: $out"; return 1; }
      systemd-analyze verify --man=no "$(pushed_unit "$unit")"
      return ;;
  esac
  # shellcheck disable=SC2086 # ARGS is the list of flags
  out=$("$unit" $ARGS --help 2>&1 >/dev/null) || { echo "$unit: bad flags in /etc/default/$unit: $out"; return 1; }
  case $unit in
    prometheus) out=$(promtool check config "$PROMETHEUS_CONFIG" 2>&1) || { echo "$out"; return 1; } ;;
    prometheus-alertmanager) out=$(amtool check-config "$ALERTMANAGER_CONFIG" 2>&1) || { echo "$out"; return 1; } ;;
    # shellcheck disable=SC2086
    prometheus-blackbox-exporter) out=$("$unit" $ARGS --config.check 2>&1) || { echo "$out"; return 1; } ;;
  esac
}
# postsrsd has no checker of its own: its settings file must be shell Debian's launcher can source,
# and there must be a secret to sign with.
check_postsrsd() {
  bash -n /etc/default/postsrsd || return 1
  [ -s /etc/postsrsd.secret ] || { echo "/etc/postsrsd.secret is empty: postsrsd would have no secret to sign with"; return 1; }
}
# mta-sts-daemon's own loader reads the config (YAML, its defaults filled in) and makes the cache it names.
check_mta_sts() {
  python3 -c 'import asyncio, sys
from postfix_mta_sts_resolver import utils
cfg = utils.load_config(sys.argv[1])
assert cfg["host"] in ("127.0.0.1", "::1"), "mta-sts-daemon must listen on loopback only"
utils.create_cache(cfg["cache"]["type"], cfg["cache"]["options"])' "$MTA_STS_CONF"
}
# The socketmap compiles (to no file), and its unit loads as systemd would load it.
check_dane_first() {
  python3 -c 'import sys; compile(open(sys.argv[1]).read(), sys.argv[1], "exec")' "$DANE_FIRST" || return 1
  systemd-analyze verify --man=no "$DANE_FIRST_UNIT"
}
check_nft() { if $has_nft; then nft -c -f "$NFT_CONF"; fi; }
# validate DAEMON...: under errexit, so the first failing check ends it (check_knot relies on that).
validate() {
  local dir d
  while read -r dir; do
    mount -t overlay mailfleet-stage -o "lowerdir=$stage$dir:$dir" "$dir"
  done < "$work/layers"
  check_nft || return 1
  for d in "$@"; do
    if is_exporter "$d"; then check_exporter "$d"; else "check_$d"; fi
  done
  if [ "$role" = store ]; then check_backup; fi
}
