# --- certificates. The daemons read $TLS_LIVE/<lineage>.{pem,crt,key}, which no
# bundle writes: mailfleet-cert-deploy installs them, from the bundle's bootstrap certificate when
# a lineage has none yet (and on every push with tls.mode fleet-ca, its only source), from
# certbot's lineage when certbot issues or renews one. So the first push starts with a
# certificate, and no push ever overwrites one that certbot manages.
tls_mode='' lineages=()
# The staged lineages file: "<mode> <lineage> <daemon>..." per line; sets tls_mode and lineages.
read_lineages() {
  local line mode name
  [ -f "$stage$TLS_LINEAGES" ] || return 0
  while read -r line; do
    case "$line" in '#'*|'') continue ;; esac
    [[ $line =~ $LINEAGE_LINE ]] || die "bad line in $TLS_LINEAGES: '${line:0:80}'"
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
    cp "$stage$TLS_KEY" "$boot/$l/privkey.pem"
    cp "$stage$TLS_CERT" "$boot/$l/fullchain.pem"
    RENEWED_LINEAGE=$boot/$l MAILFLEET_TLS_LIVE=$into MAILFLEET_BOOTSTRAP=1 "$stage$CERT_DEPLOY" >/dev/null || return 1
  done
  # The fleet CA for a bootstrap certificate, the system's trust store for an ACME one.
  cat "$stage$TLS_CA" $([ ! -f /etc/ssl/certs/ca-certificates.crt ] || echo /etc/ssl/certs/ca-certificates.crt) > "$into/.peers.new"
  chmod 0644 "$into/.peers.new"
  mv -f "$into/.peers.new" "$into/${TLS_PEERS##*/}"
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
    systemctl daemon-reload && systemctl start --no-block "$CERTS_UNIT"
  else
    (close_fds && setsid nohup "$CERTS" </dev/null >>"$CERTS_LOG" 2>&1 &)
  fi || { log "could not start mailfleet-certs: run it on the host (the certificates stay as they are)"; return 0; }
  log "mailfleet-certs started: see $CERTS_LOG"
}

