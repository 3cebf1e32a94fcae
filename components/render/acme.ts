/**
 * tls.mode acme on a host: Debian 13's certbot asks the ACME CA for each certificate lineage by
 * DNS-01 through the stack's DNS backend (RFC 2136 to the zone backend's Knot, or the Cloudflare
 * API), and renews it on certbot.timer; its deploy hook (render/tls.ts) installs each new
 * certificate and reloads the daemons that serve it.
 */
import { zoneBackend } from "../records/zoneFile";
import { CertificateLineage, Host } from "../topology";
import { RenderedFile, file } from "./file";
import { CERT_DEPLOY_HOOK, RenderInput, TLS_PATHS } from "./input";
import { tsigKeyName } from "./knot";

export const ACME_DIR = "/etc/mailfleet/acme";
export const ACME_PATHS = {
  /** The DNS plugin's credentials: root's alone (certbot refuses a credentials file others can read). */
  credentials: `${ACME_DIR}/dns-credentials.ini`,
  eabHmac: `${ACME_DIR}/eab-hmac`,
  /** The CA of the ACME server's own HTTPS certificate (private ACME servers only). */
  caBundle: `${ACME_DIR}/ca-bundle.pem`,
  script: "/usr/local/sbin/mailfleet-certs",
  log: "/var/log/mailfleet-certs.log",
  unit: "/etc/systemd/system/mailfleet-certs.service",
  /** certbot.timer's `certbot renew` must reach a private ACME server too. */
  renewDropIn: "/etc/systemd/system/certbot.service.d/mailfleet-ca.conf",
} as const;

/** The certbot DNS plugin for the stack's DNS backend, by its option prefix. */
function dnsPlugin(input: RenderInput, host: Host): { name: string; credentials: string } {
  const { spec } = input.topology;
  if (spec.dns === "zone") {
    const secret = input.keys.tsig[host.name];
    if (!secret) throw new Error(`no TSIG key for host ${host.name}`);
    return {
      name: "dns-rfc2136",
      credentials: [
        "# Rendered by mailfleet: signs this host's DNS-01 updates; Knot lets the key change only TXT at its own _acme-challenge names.",
        `dns_rfc2136_server = ${zoneBackend(spec).nameservers[0].ipv4}`,
        "dns_rfc2136_port = 53",
        `dns_rfc2136_name = ${tsigKeyName(host)}`,
        `dns_rfc2136_secret = ${secret}`,
        "dns_rfc2136_algorithm = HMAC-SHA256",
        "",
      ].join("\n"),
    };
  }
  const token = input.keys.cloudflareAcmeToken;
  if (!token) throw new Error("no Cloudflare API token for DNS-01 (mailfleet:cloudflare.acmeApiToken, or the one the stack creates)");
  return {
    name: "dns-cloudflare",
    credentials: ["# Rendered by mailfleet: Zone:DNS:Edit on the stack's zones, for DNS-01.", `dns_cloudflare_api_token = ${token}`, ""].join("\n"),
  };
}

/** The certbot arguments every lineage shares (all values passed components/config: no quoting needed). */
function certbotArguments(input: RenderInput, host: Host): string[] {
  const { acme } = input.topology.spec.tls;
  const plugin = dnsPlugin(input, host).name;
  return [
    "--non-interactive",
    "--agree-tos",
    "--server",
    acme.directory,
    ...(acme.email ? ["-m", acme.email] : ["--register-unsafely-without-email"]),
    ...(acme.eab ? ["--eab-kid", acme.eab.kid, "--eab-hmac-key", `"$(cat ${ACME_PATHS.eabHmac})"`] : []),
    "--preferred-challenges",
    "dns",
    `--${plugin}`,
    `--${plugin}-credentials`,
    ACME_PATHS.credentials,
    `--${plugin}-propagation-seconds`,
    String(acme.propagationSeconds),
    "--keep-until-expiring",
    "--expand",
    // A renewal keeps the key (certbot saves the option for certbot renew): the key's hash in the
    // MX's TLSA record stays true across renewals, and a pinned key stays pinned.
    "--reuse-key",
    "--deploy-hook",
    CERT_DEPLOY_HOOK,
  ];
}

/**
 * DANE: the lineage an edge serves on port 25 must carry the host key its TLSA record pins (the push's
 * TLS_PATHS.key). certbot makes a key of its own at a lineage's first issuance; `pin` puts the pinned
 * key in its place and has the certificate issued again for it, and --reuse-key keeps it from then on.
 * It compares public keys, so a run that was stopped between the two steps is finished by the next.
 */
function pinScript(): string[] {
  return [
    "pin() {",
    "  lineage=$1",
    "  shift",
    '  key=$(readlink -f "/etc/letsencrypt/live/$lineage/privkey.pem") && [ -f "$key" ] || return 0',
    `  [ "$(openssl x509 -in "/etc/letsencrypt/live/$lineage/cert.pem" -noout -pubkey)" = "$(openssl pkey -in ${TLS_PATHS.key} -pubout)" ] && return 0`,
    '  echo "mailfleet-certs: $lineage: issuing again for the key its TLSA record pins"',
    `  install -m 0600 ${TLS_PATHS.key} "$key"`,
    '  issue "$lineage" --force-renewal "$@"',
    "}",
  ];
}

function certsScript(input: RenderInput, host: Host, lineages: CertificateLineage[]): string {
  const { acme } = input.topology.spec.tls;
  // The edge's own lineage (its host name, what Postfix serves on 25) when its TLSA is published.
  const pinned = input.topology.spec.dnssec && host.role === "edge" ? host.name : undefined;
  return [
    "#!/bin/sh",
    `# Rendered by mailfleet for ${host.fqdn}: asks the ACME CA for each of this host's certificates by`,
    "# DNS-01. certbot keeps one that is not yet due (--keep-until-expiring), so running this again is",
    "# cheap; deploy.sh starts it after each push, and certbot.timer's `certbot renew` renews each",
    "# lineage with the options saved here (deploy hook included). Arguments go to every certbot run:",
    "# mailfleet-certs --force-renewal, mailfleet-certs --dry-run. A lineage that fails leaves the",
    "# others (and the certificate served) alone; the exit status says whether any failed.",
    "set -u",
    "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ...(acme.caBundle ? ["# The ACME server's HTTPS certificate is from a private CA.", `export REQUESTS_CA_BUNDLE=${ACME_PATHS.caBundle}`] : []),
    "status=0",
    "issue() {",
    "  lineage=$1",
    "  shift",
    '  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) mailfleet-certs: $lineage"',
    `  certbot certonly ${certbotArguments(input, host).join(" ")} --cert-name "$lineage" "$@" ||`,
    '    { echo "mailfleet-certs: $lineage failed: see /var/log/letsencrypt/letsencrypt.log" >&2; status=1; }',
    "}",
    ...(pinned ? pinScript() : []),
    ...lineages.map((l) => {
      const domains = l.names.map((n) => `-d ${n}`).join(" ");
      return [`issue ${l.name} "$@" ${domains}`, ...(l.name === pinned ? [`pin ${l.name} "$@" ${domains}`] : [])].join("\n");
    }),
    "exit $status",
    "",
  ].join("\n");
}

export function renderAcmeFiles(input: RenderInput, host: Host, lineages: CertificateLineage[]): RenderedFile[] {
  const { acme } = input.topology.spec.tls;
  const unit = [
    "# Rendered by mailfleet: the first issuance, started by the push (deploy.sh); renewals are certbot.timer's.",
    "[Unit]",
    "Description=mailfleet: request this host's ACME certificates",
    "Wants=network-online.target",
    "After=network-online.target",
    "",
    "[Service]",
    "Type=oneshot",
    `ExecStart=${ACME_PATHS.script}`,
    `StandardOutput=append:${ACME_PATHS.log}`,
    `StandardError=append:${ACME_PATHS.log}`,
    "",
  ].join("\n");
  return [
    file(ACME_PATHS.script, certsScript(input, host, lineages), { mode: 0o755 }),
    file(ACME_PATHS.credentials, dnsPlugin(input, host).credentials, { secret: true }),
    file(ACME_PATHS.unit, unit),
    ...(acme.eab ? [file(ACME_PATHS.eabHmac, `${acme.eab.hmac}\n`, { secret: true })] : []),
    ...(acme.caBundle
      ? [
          file(ACME_PATHS.caBundle, acme.caBundle.endsWith("\n") ? acme.caBundle : `${acme.caBundle}\n`),
          file(ACME_PATHS.renewDropIn, `# Rendered by mailfleet: certbot renew reaches the private ACME server too.\n[Service]\nEnvironment=REQUESTS_CA_BUNDLE=${ACME_PATHS.caBundle}\n`),
        ]
      : []),
  ];
}
