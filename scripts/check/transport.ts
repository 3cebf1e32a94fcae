/**
 * Transport and certificates: STARTTLS on port 25 of every MX as senders reach it, every TLS
 * endpoint mail clients and MTA-STS fetchers reach, the MTA-STS policy each edge serves over HTTPS,
 * and the certificates' names, chains and days left.
 */
import { validateMx } from "mailauth/lib/mta-sts";
import { FleetSpec } from "../../components/config/spec";
import { domainWebNames, HTTPS_PORT, Host, IMAPS_PORT, SUBMISSION_PORT, SUBMISSIONS_PORT } from "../../components/topology";
import { smtpTlsaName } from "../../components/records/labels";
import { mtaStsTxtFindings } from "./authentication";
import { addressesOf, Expected } from "./expect";
import { MtaStsPolicy, nameMatches, parseMtaStsPolicy, samePolicy } from "./parse";
import { PolicyFetch, Probes, TlsEndpoint, TlsProbe } from "./probes";
import { CheckResult, each, fail, Finding, finding, merge, perDomain, Status, warn } from "./result";

/**
 * certbot renews 30 days before expiry (Let's Encrypt's 90-day certificates): one with under 20
 * days left missed renewals for 10 days; under 7, clients will soon refuse it.
 */
export const CERT_WARN_DAYS = 20;
export const CERT_FAIL_DAYS = 7;

/** What senders make of the policy one edge address serves: well-formed, the stack's, covering every MX. */
function servedPolicyFindings(got: PolicyFetch, host: string, address: string, expected: MtaStsPolicy, mxHosts: string[]): Finding[] {
  const url = `https://${host}/.well-known/mta-sts.txt`;
  const at = `${url} via ${address}`;
  const serveFix = `serve the policy at ${url} from every edge host with a certificate for ${host}`;
  if (got.error !== undefined) return [fail(`${at}: ${got.error}`, serveFix)];
  if (got.status !== 200) return [fail(`${at}: HTTP ${got.status}`, serveFix)];
  const findings: Finding[] = [];
  if (!/^text\/plain\b/i.test(got.contentType ?? "")) findings.push(warn(`${at}: Content-Type ${got.contentType ?? "missing"}, RFC 8461 §3.3 says text/plain`, serveFix));
  const parsed = parseMtaStsPolicy(got.body ?? "");
  if (!("policy" in parsed)) return [...findings, fail(`${at}: ${parsed.problem}`, serveFix)];
  parsed.warnings.forEach((w) => findings.push(warn(`${at}: ${w}`, serveFix)));
  const served = parsed.policy;
  if (!samePolicy(served, expected)) {
    findings.push(
      fail(
        `${at}: serves mode ${served.mode}, mx ${served.mx.join(" ")}, max_age ${served.maxAge}; ` +
          `the stack's is mode ${expected.mode}, mx ${expected.mx.join(" ")}, max_age ${expected.maxAge}`,
        "push the current policy to the edge hosts (`pulumi up`)",
      ),
    );
  }
  for (const mx of mxHosts) {
    if (!validateMx(mx, served).valid) {
      const severity = served.mode === "enforce" ? fail : warn;
      findings.push(severity(`MX ${mx} is not covered by the policy's mx lines: senders in enforce mode refuse to deliver to it`, "list the MX in the policy (mx: *.<server domain>)"));
    }
  }
  return findings;
}

/** Each domain's MTA-STS: its TXT (see authentication), and the policy every address of mta-sts.<domain> serves. */
export async function checkMtaSts(e: Expected, p: Probes): Promise<CheckResult[]> {
  const expected = parseMtaStsPolicy(e.recordSet.mtaSts.policy);
  if (!("policy" in expected)) throw new Error(`the record set's own MTA-STS policy is invalid: ${expected.problem}`);
  return perDomain("mta-sts", e, async (domain) => {
    const host = domainWebNames(domain).mtaSts;
    const findings = await mtaStsTxtFindings(e, p, domain);
    const addresses = [...(await p.dns.a(host)), ...(await p.dns.aaaa(host))];
    if (addresses.length === 0)
      findings.push(fail(`${host} does not resolve: senders cannot fetch the policy`, `publish ${host} (a CNAME to ${e.topology.services.mtaSts.fqdn})`));
    const mxHosts = (await p.dns.mx(domain)).map((m) => m.exchange);
    for (const address of addresses) findings.push(...servedPolicyFindings(await p.policy(domain, address), host, address, expected.policy, mxHosts));
    return merge(findings, `id=${e.recordSet.mtaSts.id}, mode ${expected.policy.mode}, served by ${addresses.join(", ")}`);
  });
}

/** The pass text of a good TLS endpoint. */
const certificateSummary = (tls: NonNullable<TlsProbe["tls"]>) =>
  `${tls.protocol}, certificate for ${tls.names.join(", ")}, valid until ${tls.validTo.toISOString().slice(0, 10)}`;

export async function checkStartTls(e: Expected, p: Probes): Promise<CheckResult[]> {
  const enforce = e.topology.spec.mtaSts.mode === "enforce";
  const exchanges = new Set<string>();
  for (const domain of e.topology.spec.domains) (await p.dns.mx(domain)).forEach((m) => exchanges.add(m.exchange));
  // The hosts senders really reach: those DNS names as MX, at the addresses DNS gives for them.
  const reached: { exchange: string; address: string }[] = [];
  for (const exchange of exchanges) {
    for (const address of [...(await p.dns.a(exchange)), ...(await p.dns.aaaa(exchange))]) reached.push({ exchange, address });
  }
  return each("starttls", reached, ({ exchange, address }) => `${exchange} ${address}`, async ({ exchange, address }) => {
    const probe = await p.starttls(exchange, address);
    if (probe.error && !probe.tls)
      return fail(probe.error, `make ${exchange} accept SMTP on port 25 (firewall, security group, Postfix running; a cloud provider's port-25 block lifted)`);
    if (!probe.starttls) return fail("no STARTTLS in the EHLO reply: mail to it travels in clear text", "set smtpd_tls_security_level = may with a certificate on the edge hosts");
    const tls = probe.tls!;
    const servedBy = e.topology.hosts.find((h) => h.fqdn === exchange);
    const findings = certificateFindings(tls, exchange, p.now, {
      spec: e.topology.spec,
      host: servedBy?.fqdn ?? exchange,
      refused: "MTA-STS and DANE senders refuse it",
      untrusted: enforce ? "fail" : "warn",
      untrustedWhy: enforce ? ": with MTA-STS enforce, senders refuse to deliver" : "",
    });
    if (servedBy?.role === "edge" && e.topology.spec.dnssec) {
      findings.push(...daneFindings(await p.dns.tlsa(smtpTlsaName(exchange)), tls.spkiSha256, exchange, servedDaneKey(e, exchange)));
    }
    return merge(findings, certificateSummary(tls));
  });
}

/** The hash of the DANE key the stack asks `exchange` to serve (tls.daneKeyGeneration's), from the record set. */
function servedDaneKey(e: Expected, exchange: string): string | undefined {
  const name = smtpTlsaName(exchange);
  const record = e.recordSet.records.find((r) => r.type === "TLSA" && r.name === name && r.generation === e.topology.spec.tls.daneKeyGeneration);
  return record?.type === "TLSA" ? record.digest : undefined;
}

/**
 * DANE (RFC 7672): a sender that finds the MX's TLSA records accepts only a certificate whose key one
 * of them pins (3 1 1: SHA-256 of the SPKI). None, or none that matches, is named with its fix; a
 * pinned key that is not the generation the stack asks for is a key switch still waiting or refused.
 */
export function daneFindings(tlsa: string[], spkiSha256: string, exchange: string, wanted?: string): Finding[] {
  const name = smtpTlsaName(exchange);
  if (tlsa.length === 0) return [fail(`no TLSA record at ${name}: DANE senders cannot verify ${exchange}`, "publish it with `pulumi up` (dnssec: true); with dns: zone, check that the push reached the nameserver")];
  if (!tlsa.some((t) => t.toLowerCase() === `3 1 1 ${spkiSha256}`)) {
    return [
      fail(
        `no TLSA record at ${name} pins the key of the certificate ${exchange} serves (SPKI SHA-256 ${spkiSha256}): DANE senders defer all mail to it`,
        `on ${exchange}, run mailfleet-certs (it issues the certificate again for the DANE key the stack asks for) and read /var/log/mailfleet-certs.log; if the key changed, run \`pulumi up\` to publish its TLSA`,
      ),
    ];
  }
  if (wanted && wanted !== spkiSha256) {
    return [
      warn(
        `${exchange} serves a DANE key its TLSA pins, but not the one of tls.daneKeyGeneration (SPKI SHA-256 ${wanted}): its key switch waits or was refused`,
        `read /var/log/mailfleet-certs.log on ${exchange}: a switch waits twice the TTL after every nameserver serves the new key's TLSA; once they do, run mailfleet-certs there. Do not raise the generation again before it has switched`,
      ),
    ];
  }
  return [];
}

/**
 * What a client makes of a certificate presented for `name`: the names, the days left (warn under
 * CERT_WARN_DAYS, fail under CERT_FAIL_DAYS) and the chain, each problem with its fix on `host`.
 */
export function certificateFindings(
  tls: NonNullable<TlsProbe["tls"]>,
  name: string,
  now: Date,
  on: { spec: FleetSpec; host: string; refused: string; untrusted: Status; untrustedWhy: string },
): Finding[] {
  const findings: Finding[] = [];
  const acme = on.spec.tls.mode === "acme";
  const renew = acme
    ? `certbot on ${on.host} has not renewed it: run \`mailfleet-certs\` there and look at /var/log/mailfleet-certs.log and /var/log/letsencrypt/letsencrypt.log`
    : `\`pulumi up\` re-issues the bootstrap certificate of ${on.host} 30 days before it expires: run it`;
  if (!tls.names.some((n) => nameMatches(name, n))) {
    findings.push(
      fail(
        `certificate names ${tls.names.join(", ") || "(none)"} do not include ${name}: ${on.refused}`,
        acme
          ? `certbot on ${on.host} has no certificate for ${name} yet: run \`mailfleet-certs\` there and look at /var/log/mailfleet-certs.log`
          : `issue the certificate of ${on.host} for ${name} (\`pulumi up\`)`,
      ),
    );
  }
  const daysLeft = (tls.validTo.getTime() - now.getTime()) / 86_400_000;
  if (daysLeft < 0) findings.push(fail(`certificate expired ${tls.validTo.toISOString()}`, renew));
  else if (daysLeft < CERT_FAIL_DAYS) findings.push(fail(`certificate expires in ${Math.floor(daysLeft)} days`, renew));
  else if (daysLeft < CERT_WARN_DAYS) findings.push(warn(`certificate expires in ${Math.floor(daysLeft)} days`, renew));
  if (!tls.trusted) {
    findings.push(
      finding(
        on.untrusted,
        `certificate not trusted (${tls.trustError ?? "unknown issuer"})${on.untrustedWhy}`,
        acme
          ? `certbot on ${on.host} has not replaced the bootstrap certificate yet: run \`mailfleet-certs\` there and look at /var/log/mailfleet-certs.log (or pass --ca for a private ACME CA)`
          : "set tls.mode: acme for publicly trusted certificates (or pass --ca with the fleet CA)",
      ),
    );
  }
  return findings;
}

/**
 * The endpoints mail clients and MTA-STS fetchers reach: submission (587 STARTTLS, 465) on the
 * outbound hosts, IMAPS (993) on the stores, HTTPS (443) on the edges for every domain's
 * mta-sts. and autoconfig. names by SNI; each at every address of each host. (25 on the MX
 * hosts is the starttls check.)
 */
export function tlsEndpoints(e: Expected): TlsEndpoint[] {
  const { topology } = e;
  const { services, spec } = topology;
  const perHost = (host: Host): Omit<TlsEndpoint, "host" | "address">[] => {
    switch (host.role) {
      case "outbound":
        return [
          { name: services.smtp.fqdn, port: SUBMISSION_PORT, starttls: true },
          { name: services.smtp.fqdn, port: SUBMISSIONS_PORT, starttls: false },
        ];
      case "store":
        return [{ name: services.imap.fqdn, port: IMAPS_PORT, starttls: false }];
      case "edge":
        return spec.domains.flatMap((d) => [domainWebNames(d).mtaSts, domainWebNames(d).autoconfig]).map((name) => ({ name, port: HTTPS_PORT, starttls: false }));
      // Its UIs are for the admins only: nothing public to check.
      case "monitoring":
        return [];
    }
  };
  return topology.hosts.flatMap((host) => addressesOf(e, host).flatMap((address) => perHost(host).map((ep) => ({ host, address, ...ep }))));
}

export async function checkTls(e: Expected, p: Probes): Promise<CheckResult[]> {
  return each("tls", tlsEndpoints(e), (ep) => `${ep.name}:${ep.port} ${ep.host.name} ${ep.address}`, async (endpoint) => {
    const { host, name, port } = endpoint;
    const probe = await p.tls(endpoint);
    const reach = `make ${host.fqdn} accept TLS on port ${port} (firewall, security group, the daemon running)`;
    if (probe.error && !probe.tls) return fail(probe.error, reach);
    if (!probe.tls) return fail("no STARTTLS in the EHLO reply", reach);
    const findings = certificateFindings(probe.tls, name, p.now, {
      spec: e.topology.spec,
      host: host.fqdn,
      refused: "clients refuse it",
      // Mail clients and MTA-STS fetchers verify the chain: untrusted is refused.
      untrusted: "fail",
      untrustedWhy: ": mail clients and MTA-STS fetchers refuse it",
    });
    return merge(findings, certificateSummary(probe.tls));
  });
}
