/**
 * tls.mode acme on a host: Debian 13's certbot asks the ACME CA for each certificate lineage by
 * DNS-01 through the stack's DNS backend (RFC 2136 to the zone backend's Knot, or the Cloudflare
 * API), and renews it on certbot.timer; its deploy hook (render/tls.ts) installs each new
 * certificate and reloads the daemons that serve it.
 */
import { daneKeys, holdsDaneKeys } from "../keys/material";
import { smtpTlsaName } from "../records/labels";
import { zoneBackend } from "../records/zoneFile";
import { zoneOf } from "../records/zones";
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
  /** An edge's DANE keys, one file per generation it holds (keys/material.ts daneGenerations). */
  daneKeys: "/etc/mailfleet/dane",
  /**
   * This host's DANE memory: `seen/<hash>`, when it first saw that key's TLSA served by every
   * nameserver (the switch's clock); `pinned-<lineage>`, that the lineage carries a DANE key.
   */
  daneState: "/var/lib/mailfleet-certs",
} as const;

export const daneKeyPath = (generation: number) => `${ACME_PATHS.daneKeys}/${generation}.key`;

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
 * DANE: the lineage an edge serves on port 25 carries the DANE key of tls.daneKeyGeneration. certbot
 * makes a key of its own at a lineage's first issuance; `pin` puts the DANE key in its place and has
 * the certificate issued again for it, and --reuse-key keeps it from then on. It compares public
 * keys, so a run that was stopped between the two steps is finished by the next.
 *
 * A key rollover is staged (README, "DANE key rollover"): once a lineage carries a DANE key, a switch
 * to another waits until every nameserver of the zone serves the new key's TLSA, and for twice the
 * TTL after this edge first saw that, so no resolver still holds a TLSA answer without it. Not yet
 * served: the switch is refused and the old key stays. Served too recently: a retry is scheduled
 * for the moment the wait ends.
 */
function pinScript(input: RenderInput, host: Host): string[] {
  const { spec } = input.topology;
  const keys = daneKeys(spec, [host], input.keys);
  const served = daneKeyPath(spec.tls.daneKeyGeneration);
  const tlsaName = smtpTlsaName(host.fqdn);
  const holdSeconds = 2 * spec.dnsTtl;
  return [
    `published="${keys.map((k) => k.spkiSha256).join(" ")}"`,
    'spki_sha256() { openssl pkey -pubin -outform DER | sha256sum | cut -c1-64; }',
    "# Every address of every nameserver of the zone, as this host's validating resolver finds them.",
    "nameservers() {",
    `  for ns in $(kdig +short NS ${zoneOf(spec.dnsZones, tlsaName)}); do kdig +short A "$ns"; kdig +short AAAA "$ns"; done | grep -E '^[0-9a-fA-F:.]+$'`,
    "}",
    `state=${ACME_PATHS.daneState}`,
    "# Whether every nameserver ($servers, found once per run) serves the TLSA record for this key hash (the refusal says which does not).",
    "served_everywhere() {",
    '  [ -n "$servers" ] || { echo "no nameserver of the zone found"; return 1; }',
    "  for ns in $servers; do",
    `    kdig +short +norec "@$ns" TLSA ${tlsaName} | tr -d ' ' | tr 'A-F' 'a-f' | grep -qx "311$1" || { echo "nameserver $ns does not serve ${tlsaName} TLSA 3 1 1 $1"; return 1; }`,
    "  done",
    "}",
    "# Starts each published key's clock as early as this host can see it: the next rollover's wait counts from here.",
    "note_served() {",
    '  mkdir -p -m 0700 "$state" "$state/seen"',
    '  for h in $published; do [ -f "$state/seen/$h" ] || ! served_everywhere "$h" >/dev/null || date +%s > "$state/seen/$h"; done',
    "}",
    "# Whether a pinned lineage may switch to this key hash now. 0: yes; 1: refused (not served); 2: wait (a retry is scheduled).",
    "gate() {",
    '  why=$(served_everywhere "$1") || { echo "mailfleet-certs: DANE switch refused, the old key stays: $why. Once it is served, run $0 again"; return 1; }',
    '  [ -f "$state/seen/$1" ] || date +%s > "$state/seen/$1"',
    '  left=$(( $(cat "$state/seen/$1") + ' + String(holdSeconds) + ' - $(date +%s) ))',
    "  [ $left -le 0 ] && return 0",
    '  echo "mailfleet-certs: DANE switch in ${left}s: every nameserver serves the new key TLSA, but resolvers may still hold an answer without it (twice the TTL); retried then"',
    "  retry_in $left",
    "  return 2",
    "}",
    "# A retry that outlives this run: a transient timer under systemd, a detached sleep without it.",
    "retry_in() {",
    "  if [ -d /run/systemd/system ]; then",
    `    systemd-run --quiet --on-active="$1" --unit="mailfleet-certs-retry-$(date +%s)" systemctl start ${ACME_PATHS.unit.split("/").pop()}`,
    "  else",
    `    setsid nohup sh -c 'sleep "$0"; exec "$1"' "$1" "$0" </dev/null >>${ACME_PATHS.log} 2>&1 &`,
    "  fi",
    "}",
    "pin() {",
    "  lineage=$1",
    "  shift",
    '  key=$(readlink -f "/etc/letsencrypt/live/$lineage/privkey.pem") && [ -f "$key" ] || return 0',
    `  want=$(openssl pkey -in ${served} -pubout | spki_sha256)`,
    '  have=$(openssl x509 -in "/etc/letsencrypt/live/$lineage/cert.pem" -noout -pubkey | spki_sha256)',
    "  servers=$(nameservers)",
    "  note_served",
    '  [ "$have" = "$want" ] && { touch "$state/pinned-$lineage"; return 0; }',
    "  # Certbot's own first key is replaced at once: no TLSA pins it, so no sender could verify it anyway.",
    '  if [ -f "$state/pinned-$lineage" ]; then gate "$want" || { [ $? = 2 ] || status=1; return 0; }; fi',
    `  echo "mailfleet-certs: $lineage: issuing again for DANE key generation ${spec.tls.daneKeyGeneration}"`,
    `  install -m 0600 ${served} "$key"`,
    '  issue "$lineage" --force-renewal "$@" && touch "$state/pinned-$lineage"',
    "}",
  ];
}

function certsScript(input: RenderInput, host: Host, lineages: CertificateLineage[]): string {
  const { acme } = input.topology.spec.tls;
  // The edge's own lineage (its host name, what Postfix serves on 25) when its TLSA is published.
  const pinned = holdsDaneKeys(input.topology.spec) && host.role === "edge" ? host.name : undefined;
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
    '    { echo "mailfleet-certs: $lineage failed: see /var/log/letsencrypt/letsencrypt.log" >&2; status=1; return 1; }',
    "}",
    ...(pinned ? pinScript(input, host) : []),
    ...lineages.map((l) => {
      const domains = l.names.map((n) => `-d ${n}`).join(" ");
      return [`issue ${l.name} "$@" ${domains}`, ...(l.name === pinned ? [`pin ${l.name} "$@" ${domains}`] : [])].join("\n");
    }),
    "exit $status",
    "",
  ].join("\n");
}

/** The edge's DANE keys of every generation its TLSA records pin: the switch and its fallback need each. */
function daneKeyFiles(input: RenderInput, host: Host): RenderedFile[] {
  const held = input.keys.dane[host.name];
  if (!held) throw new Error(`no DANE keys for ${host.name}`);
  return held.map((k) => file(daneKeyPath(k.generation), k.keyPem.endsWith("\n") ? k.keyPem : `${k.keyPem}\n`, { secret: true }));
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
    ...(holdsDaneKeys(input.topology.spec) && host.role === "edge" ? daneKeyFiles(input, host) : []),
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
