/**
 * A host's TLS files: the bootstrap certificate from the fleet CA (TLS_PATHS), the list of its
 * certificate lineages, the installer every certificate goes through, and with tls.mode acme the
 * certbot side (components/render/acme.ts).
 */
import { CertificateLineage, certificateLineages, Host } from "../topology";
import { renderAcmeFiles } from "./acme";
import { RenderedFile, file } from "./file";
import { TEXTFILE_DIR } from "./monitoring";
import { CERT_DEPLOY_HOOK, RenderInput, TLS_LINEAGES, TLS_LIVE_DIR, TLS_PATHS } from "./input";

function lineagesFile(mode: string, lineages: CertificateLineage[]): string {
  return [
    "# Rendered by mailfleet: <tls mode> <certificate lineage> <daemons that serve it>",
    ...lineages.map((l) => [mode, l.name, ...l.daemons].join(" ")),
    "",
  ].join("\n");
}

/**
 * Installs lineage $RENEWED_LINEAGE (a directory with privkey.pem and fullchain.pem, as certbot
 * passes its deploy hooks) into TLS_LIVE_DIR, each file by one rename in its own directory, then
 * reloads gracefully the daemons of this host that serve it — by their own commands, which work
 * with and without systemd. MAILFLEET_TLS_LIVE and MAILFLEET_BOOTSTRAP are deploy.sh's: it
 * installs the bootstrap certificate through this same script (into its staging tree for
 * validation, then live) and reloads by itself. With tls.mode fleet-ca, a certbot left from an
 * earlier acme mode is ignored: the bootstrap certificate is the one to serve.
 */
function deployHook(): string {
  return `#!/bin/sh
# Rendered by mailfleet: certbot's deploy hook (and deploy.sh's installer of the bootstrap certificate).
set -eu
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
umask 077
src=\${RENEWED_LINEAGE:?certbot sets it to /etc/letsencrypt/live/<lineage>}
name=\${src##*/}
live=\${MAILFLEET_TLS_LIVE:-${TLS_LIVE_DIR}}
case $name in ''|*[!a-z0-9-]*) echo "mailfleet-cert-deploy: bad lineage name '$name'" >&2; exit 1 ;; esac
if [ -z "\${MAILFLEET_BOOTSTRAP:-}" ] && [ "$(awk -v n="$name" '$2 == n { print $1 }' ${TLS_LINEAGES})" != acme ]; then
  echo "mailfleet-cert-deploy: $name is not an ACME lineage of this host (tls.mode fleet-ca?): left as it is" >&2
  exit 0
fi
[ -s "$src/privkey.pem" ] && [ -s "$src/fullchain.pem" ] || { echo "mailfleet-cert-deploy: no key or chain in $src" >&2; exit 1; }
trap 'rm -f "$live/.$name".*' EXIT
new() { mktemp "$live/.$name.XXXXXXXX"; }
pem=$(new) key=$(new) crt=$(new)
cat "$src/privkey.pem" "$src/fullchain.pem" > "$pem"
cat "$src/privkey.pem" > "$key"
cat "$src/fullchain.pem" > "$crt"
chmod 0644 "$crt"
# Each a whole file at once; Postfix reads key and chain from the one .pem, the others read both
# files only when reloaded below.
mv -f "$pem" "$live/$name.pem"
mv -f "$key" "$live/$name.key"
mv -f "$crt" "$live/$name.crt"
echo "mailfleet-cert-deploy: installed $name"
# The served lineage's end, for node_exporter's textfile collector (the alert CertificateExpiresSoon).
metrics=${TEXTFILE_DIR}
if [ "$live" = ${TLS_LIVE_DIR} ] && [ -d "$metrics" ]; then
  end=$(date -d "$(openssl x509 -enddate -noout -in "$live/$name.crt" | cut -d= -f2)" +%s)
  printf 'mailfleet_certificate_not_after_seconds{lineage="%s"} %s\n' "$name" "$end" > "$metrics/.$name.tmp"
  chmod 0644 "$metrics/.$name.tmp"
  mv -f "$metrics/.$name.tmp" "$metrics/mailfleet_certificate_$name.prom"
fi
[ -z "\${MAILFLEET_BOOTSTRAP:-}" ] || exit 0
alive() { [ -s "$1" ] && kill -0 "$(tr -dc 0-9 < "$1")" 2>/dev/null; }
for daemon in $(awk -v n="$name" '$2 == n { for (i = 3; i <= NF; i++) print $i }' ${TLS_LINEAGES}); do
  # Graceful: running sessions finish on the old certificate, new ones get the new one; a daemon
  # that is not running reads the new files when it starts.
  case $daemon in
    postfix) postfix status >/dev/null 2>&1 || continue; postfix reload ;;
    dovecot) alive /run/dovecot/master.pid || continue; doveadm reload ;;
    nginx) alive /run/nginx.pid || continue; nginx -s reload ;;
  esac
  echo "mailfleet-cert-deploy: $daemon reloaded for $name"
done
`;
}

export function renderTlsFiles(input: RenderInput, host: Host): RenderedFile[] {
  const cert = input.keys.hosts[host.name];
  if (!cert) throw new Error(`no certificate for host ${host.name}`);
  const pem = (s: string) => (s.endsWith("\n") ? s : `${s}\n`);
  const { tls } = input.topology.spec;
  const lineages = certificateLineages(input.topology, host);
  return [
    // Leaf first, then the CA: Postfix, Dovecot and nginx send the file whole, so a peer sees the
    // full chain and an operator can pin the fleet CA from any handshake.
    file(TLS_PATHS.cert, pem(cert.certPem) + pem(input.keys.caCertPem)),
    // Read by each daemon's master process as root before it drops privileges.
    file(TLS_PATHS.key, pem(cert.keyPem), { secret: true }),
    file(TLS_PATHS.ca, pem(input.keys.caCertPem)),
    file(TLS_LINEAGES, lineagesFile(tls.mode, lineages)),
    file(CERT_DEPLOY_HOOK, deployHook(), { mode: 0o755 }),
    ...(tls.mode === "acme" ? renderAcmeFiles(input, host, lineages) : []),
  ];
}
