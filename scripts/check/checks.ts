/**
 * The deliverability checks: the stack's expected record set against what DNS answers and what the
 * MX hosts and the MTA-STS host serve. Every failure names the fix. The network is reached only
 * through Probes, so the same code runs against a hand-written zone in the unit tests.
 */
import { isIPv4 } from "node:net";
import { validateMx } from "mailauth/lib/mta-sts";
import { reverseDnsPlan } from "../../components/compute/nextSteps";
import { SPF_LOOKUP_LIMIT } from "../../components/config";
import { DnsRecord, RecordSet } from "../../components/records";
import { FleetSpec } from "../../components/config/spec";
import { HTTPS_PORT, Host, hostsOf, IMAPS_PORT, SUBMISSION_PORT, SUBMISSIONS_PORT, Topology } from "../../components/topology";
import { Dns, normalAddress } from "./dns";
import {
  dnsblQuery,
  dnsblVerdict,
  MtaStsPolicy,
  nameMatches,
  parseDkimRecord,
  parseDmarc,
  parseMtaStsPolicy,
  parseMtaStsTxt,
  parseTlsRpt,
} from "./parse";
import { PolicyFetch, TlsProbe } from "./probes";
import { BackupStatus, backupVerdict } from "./backup";
import { CheckName, CHECKS, CheckResult, Status, worst } from "./result";
import { checkHost, countSpfLookups, fetchSpf, parseSpf } from "./spf";

export interface Expected {
  /** The stack's name, for the commands a fix names. */
  stack: string;
  topology: Topology;
  recordSet: RecordSet;
  /** Whether the DKIM public keys in recordSet are the real ones (else only their form is checked). */
  dkimKeysKnown: boolean;
  /** DNSBL zones to look the sending addresses up in. */
  dnsbls: string[];
}

/** A TLS endpoint of the fleet, as clients reach it: the name they ask for (SNI) at one address. */
export interface TlsEndpoint {
  host: Host;
  name: string;
  address: string;
  port: number;
  starttls: boolean;
}

export interface Probes {
  dns: Dns;
  /** A store's `mailfleet-backup status`, over SSH; absent without SSH access (no backup lines then). */
  backupStatus?(store: string): Promise<BackupStatus>;
  /** SMTP STARTTLS on port 25 of an MX, as a sending MTA sees it. */
  starttls(host: string, address: string): Promise<TlsProbe>;
  tls(endpoint: TlsEndpoint): Promise<TlsProbe>;
  policy(domain: string, address: string): Promise<PolicyFetch>;
  now: Date;
}

/**
 * certbot renews 30 days before expiry (Let's Encrypt's 90-day certificates): one with under 20
 * days left missed renewals for 10 days; under 7, clients will soon refuse it.
 */
export const CERT_WARN_DAYS = 20;
export const CERT_FAIL_DAYS = 7;

type Finding = { status: Status; text: string; fix?: string };

/** One result line from several findings: the worst status, every text, every fix. */
function merge(check: CheckName, subject: string, findings: Finding[], passText: string): CheckResult {
  const bad = findings.filter((f) => f.status !== "pass");
  const status = worst(findings.map((f) => f.status));
  const fixes = [...new Set(bad.map((f) => f.fix).filter((f): f is string => !!f))];
  return {
    check,
    subject,
    status,
    detail: bad.length > 0 ? bad.map((f) => f.text).join("; ") : [passText, ...findings.map((f) => f.text)].filter((t) => t).join("; "),
    ...(fixes.length > 0 ? { fix: fixes.join("; ") } : {}),
  };
}

/** Runs one check; a failed DNS query or connection becomes a fail that says so. */
async function guarded(check: CheckName, subject: string, run: () => Promise<CheckResult | CheckResult[]>): Promise<CheckResult[]> {
  try {
    const r = await run();
    return Array.isArray(r) ? r : [r];
  } catch (error) {
    return [
      {
        check,
        subject,
        status: "fail",
        detail: `query failed: ${(error as Error).message}`,
        fix: "make the zone's nameservers answer (and --dns point at one of them)",
      },
    ];
  }
}

const quoted = (text: string) => `"${text}"`;
const sameSet = (a: string[], b: string[]) => a.length === b.length && a.every((x) => b.includes(x));

function recordsNamed(recordSet: RecordSet, type: DnsRecord["type"]): Map<string, DnsRecord[]> {
  const map = new Map<string, DnsRecord[]>();
  for (const r of recordSet.records.filter((r) => r.type === type)) map.set(r.name, [...(map.get(r.name) ?? []), r]);
  return map;
}

function txtOf(recordSet: RecordSet, name: string): string | undefined {
  const r = recordSet.records.find((r) => r.type === "TXT" && r.name === name);
  return r?.type === "TXT" ? r.text : undefined;
}

/** A/AAAA of every host and service name: exactly the published addresses. */
async function checkAddresses(e: Expected, p: Probes): Promise<CheckResult[]> {
  const names = new Set([...recordsNamed(e.recordSet, "A").keys(), ...recordsNamed(e.recordSet, "AAAA").keys()]);
  const out: CheckResult[] = [];
  for (const name of names) {
    out.push(
      ...(await guarded("address", name, async () => {
        const want = e.recordSet.records.flatMap((r) => (r.name === name && (r.type === "A" || r.type === "AAAA") ? [normalAddress(r.address)] : []));
        const have = [...(await p.dns.a(name)), ...(await p.dns.aaaa(name))];
        const missing = want.filter((a) => !have.includes(a));
        const extra = have.filter((a) => !want.includes(a));
        if (missing.length === 0 && extra.length === 0) return { check: "address", subject: name, status: "pass", detail: want.join(", ") };
        const type = (a: string) => (isIPv4(a) ? "A" : "AAAA");
        return {
          check: "address",
          subject: name,
          status: "fail",
          detail: [missing.length ? `missing ${missing.join(", ")}` : "", extra.length ? `unexpected ${extra.join(", ")}` : ""].filter((x) => x).join("; "),
          fix: [...missing.map((a) => `publish ${name} ${type(a)} ${a}`), ...extra.map((a) => `remove ${name} ${type(a)} ${a}`)].join("; "),
        };
      })),
    );
  }
  return out;
}

async function checkCnames(e: Expected, p: Probes): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const [name, records] of recordsNamed(e.recordSet, "CNAME")) {
    const target = records[0].type === "CNAME" ? records[0].target : "";
    out.push(
      ...(await guarded("cname", name, async () => {
        const have = await p.dns.cname(name);
        return have.length === 1 && have[0] === target
          ? { check: "cname", subject: name, status: "pass", detail: `→ ${target}` }
          : {
              check: "cname",
              subject: name,
              status: "fail",
              detail: have.length ? `points to ${have.join(", ")}` : "no CNAME",
              fix: `publish ${name} CNAME ${target}`,
            };
      })),
    );
  }
  return out;
}

async function checkSrv(e: Expected, p: Probes): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  const text = (s: { priority: number; weight: number; port: number; target: string }) => `${s.priority} ${s.weight} ${s.port} ${s.target}`;
  for (const [name, records] of recordsNamed(e.recordSet, "SRV")) {
    const want = records.map((r) => (r.type === "SRV" ? text(r) : ""));
    out.push(
      ...(await guarded("srv", name, async () => {
        const have = (await p.dns.srv(name)).map(text);
        return sameSet(want, have)
          ? { check: "srv", subject: name, status: "pass", detail: want.join(", ") }
          : {
              check: "srv",
              subject: name,
              status: "warn",
              detail: have.length ? `is ${have.join(", ")}` : "no SRV record",
              fix: `publish ${name} SRV ${want.join(" and ")} (mail clients use it to find the servers)`,
            };
      })),
    );
  }
  return out;
}

/** MX of every domain: exactly the edge hosts, all at one priority so senders spread over them. */
async function checkMx(e: Expected, p: Probes): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const domain of e.topology.spec.domains) {
    const want = e.recordSet.records.flatMap((r) => (r.type === "MX" && r.name === domain ? [r] : []));
    const wantText = want.map((r) => `${r.priority} ${r.exchange}`).join(", ");
    out.push(
      ...(await guarded("mx", domain, async () => {
        const have = await p.dns.mx(domain);
        const findings: Finding[] = [];
        const fix = `publish exactly: ${want.map((r) => `${domain} MX ${r.priority} ${r.exchange}`).join(", ")}`;
        if (have.length === 0)
          return { check: "mx", subject: domain, status: "fail", detail: "no MX record: senders fall back to the domain's A record or bounce", fix };
        const missing = want.filter((w) => !have.some((h) => h.exchange === w.exchange));
        const extra = have.filter((h) => !want.some((w) => w.exchange === h.exchange));
        if (missing.length) findings.push({ status: "fail", text: `missing ${missing.map((m) => m.exchange).join(", ")}`, fix });
        if (extra.length) findings.push({ status: "fail", text: `unexpected ${extra.map((m) => `${m.priority} ${m.exchange}`).join(", ")}`, fix });
        const priorities = [...new Set(have.map((h) => h.priority))];
        if (priorities.length > 1) {
          findings.push({
            status: "fail",
            text:
              `priorities differ (${have.map((h) => `${h.priority} ${h.exchange}`).join(", ")}): senders use the higher numbers ` +
              "only when the lowest fails, so the edge hosts do not share the load",
            fix,
          });
        }
        for (const h of have) {
          if ((await p.dns.cname(h.exchange)).length > 0)
            findings.push({ status: "fail", text: `${h.exchange} is a CNAME, which RFC 2181 §10.3 forbids for an MX target`, fix });
        }
        return merge("mx", domain, findings, have.map((h) => `${h.priority} ${h.exchange}`).join(", ") || wantText);
      })),
    );
  }
  return out;
}

function ptrFix(e: Expected, address: string, name: string): string {
  const { spec } = e.topology;
  if (spec.compute === "aws")
    return (
      `set the reverse DNS of Elastic IP ${address} to ${name} ` +
      `(aws ec2 modify-address-attribute --domain-name ${name}; AWS checks that ${name} resolves to it first)`
    );
  if (spec.dns === "zone") return `publish the PTR ${address} → ${name} in the reverse zone, and make sure the reverse zone is delegated to your nameservers`;
  return `ask the provider of ${address} to set its reverse DNS to ${name}`;
}

/** PTR of every host address: the host's name (its HELO name), which resolves back (FCrDNS). */
async function checkPtr(e: Expected, p: Probes): Promise<CheckResult[]> {
  const reverse = reverseDnsPlan(e);
  // Addresses the backend cannot give a PTR (IPv6 on AWS): the hosts do not send from them.
  const out: CheckResult[] = reverse.none.map((wish) => ({
    check: "ptr",
    subject: wish.address,
    status: "pass",
    detail: `no PTR expected: ${reverse.noneWhy}`,
  }));
  for (const wish of reverse.set) {
    const host = e.topology.hosts.find((h) => h.name === wish.host);
    // Receivers judge senders by FCrDNS; for a host that never sends, a wrong PTR is only untidy.
    const severity: Status = host?.sends ? "fail" : "warn";
    out.push(
      ...(await guarded("ptr", wish.address, async () => {
        const names = await p.dns.ptr(wish.address);
        const fix = ptrFix(e, wish.address, wish.name);
        if (names.length === 0)
          return {
            check: "ptr",
            subject: wish.address,
            status: severity,
            detail: `no PTR (should be ${wish.name}); many receivers reject mail from addresses without reverse DNS`,
            fix,
          };
        if (!names.includes(wish.name))
          return { check: "ptr", subject: wish.address, status: severity, detail: `PTR is ${names.join(", ")}, not the HELO name ${wish.name}`, fix };
        const forward = isIPv4(wish.address) ? await p.dns.a(wish.name) : await p.dns.aaaa(wish.name);
        if (!forward.includes(normalAddress(wish.address))) {
          return {
            check: "ptr",
            subject: wish.address,
            status: severity,
            detail: `${wish.name} does not resolve back to ${wish.address} (FCrDNS fails)`,
            fix: `publish ${wish.name} ${isIPv4(wish.address) ? "A" : "AAAA"} ${wish.address}`,
          };
        }
        if (names.length > 1)
          return {
            check: "ptr",
            subject: wish.address,
            status: "warn",
            detail: `several PTR records (${names.join(", ")}); receivers pick one at random`,
            fix: `keep only ${wish.name}`,
          };
        return { check: "ptr", subject: wish.address, status: "pass", detail: `${wish.name}, which resolves back (FCrDNS)` };
      })),
    );
  }
  return out;
}

function addressesOf(e: Expected, host: Host): string[] {
  return e.recordSet.ptr.filter((w) => w.host === host.name).map((w) => w.address);
}

/** SPF of a name: one valid record, at most 10 lookups, and a pass for every address given. */
async function spfFindings(p: Probes, name: string, senders: string[], expectedText: string | undefined): Promise<{ findings: Finding[]; summary: string }> {
  const fix = expectedText ? `publish ${name} TXT ${quoted(expectedText)}` : `publish one SPF record at ${name}`;
  const fetched = await fetchSpf(p.dns, name);
  if ("problem" in fetched) return { findings: [{ status: "fail", text: fetched.problem, fix }], summary: "" };
  const findings: Finding[] = [];
  const parsed = parseSpf(fetched.record);
  parsed.errors.forEach((err) => findings.push({ status: "fail", text: `syntax: ${err}`, fix }));
  parsed.warnings.forEach((w) => findings.push({ status: "warn", text: w, fix }));
  const lookups = await countSpfLookups(p.dns, name);
  lookups.errors.filter((err) => !err.startsWith(`${name}: `)).forEach((err) => findings.push({ status: "fail", text: err, fix: "fix or drop that include" }));
  if (lookups.count > SPF_LOOKUP_LIMIT) {
    findings.push({
      status: "fail",
      text: `${lookups.count} DNS lookups, over the limit of ${SPF_LOOKUP_LIMIT}: receivers return permerror (${lookups.trail.join(", ")})`,
      fix: "drop includes or replace them with ip4:/ip6: terms",
    });
  }
  for (const ip of senders) {
    const verdict = await checkHost(p.dns, ip, name);
    if (verdict.result !== "pass") findings.push({ status: "fail", text: `does not authorise ${ip} (${verdict.result}: ${verdict.why})`, fix });
  }
  if (expectedText !== undefined && fetched.record !== expectedText && findings.every((f) => f.status === "pass")) {
    findings.push({ status: "warn", text: `differs from the record set: ${quoted(fetched.record)}`, fix });
  }
  return { findings, summary: `${quoted(fetched.record)}, ${lookups.count} lookups, authorises ${senders.join(", ")}` };
}

async function checkSpf(e: Expected, p: Probes): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  // Edge hosts send too: they forward mail for aliases with foreign targets.
  const senders = e.topology.hosts.filter((h) => h.sends).flatMap((h) => addressesOf(e, h));
  for (const domain of e.topology.spec.domains) {
    out.push(
      ...(await guarded("spf", domain, async () => {
        const { findings, summary } = await spfFindings(p, domain, senders, txtOf(e.recordSet, domain));
        return merge("spf", domain, findings, summary);
      })),
    );
  }
  // The HELO name's own SPF: what bounces (empty MAIL FROM) are judged by.
  for (const host of e.topology.hosts.filter((h) => h.sends)) {
    out.push(
      ...(await guarded("spf", `${host.fqdn} (HELO)`, async () => {
        const { findings, summary } = await spfFindings(p, host.fqdn, addressesOf(e, host), txtOf(e.recordSet, host.fqdn));
        return merge("spf", `${host.fqdn} (HELO)`, findings, summary);
      })),
    );
  }
  return out;
}

async function checkDkim(e: Expected, p: Probes): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const domain of e.topology.spec.domains) {
    for (const selector of e.topology.spec.dkim.selectors) {
      const name = `${selector}._domainkey.${domain}`;
      const expectedText = txtOf(e.recordSet, name);
      const fix = e.dkimKeysKnown && expectedText ? `publish ${name} TXT ${quoted(expectedText)}` : `publish the DKIM key of ${name} from the stack's outputs`;
      out.push(
        ...(await guarded("dkim", name, async () => {
          const texts = await p.dns.txt(name);
          if (texts.length === 0)
            return { check: "dkim", subject: name, status: "fail", detail: "no TXT record: every signature with this selector fails", fix };
          if (texts.length > 1) return { check: "dkim", subject: name, status: "fail", detail: `${texts.length} TXT records; verifiers may take either`, fix };
          const parsed = parseDkimRecord(texts[0]);
          if ("problem" in parsed) return { check: "dkim", subject: name, status: "fail", detail: parsed.problem, fix };
          if (parsed.key.bits < 1024)
            return {
              check: "dkim",
              subject: name,
              status: "fail",
              detail: `${parsed.key.bits}-bit key: RFC 8301 says verifiers must not accept keys under 1024 bits`,
              fix: "rotate to a new selector with a 2048-bit key",
            };
          const expected = expectedText ? parseDkimRecord(expectedText) : undefined;
          if (e.dkimKeysKnown && expected && "key" in expected && expected.key.publicKey !== parsed.key.publicKey) {
            return {
              check: "dkim",
              subject: name,
              status: "fail",
              detail: "the published key is not the key the outbound MTA signs with: signatures fail",
              fix,
            };
          }
          const known = e.dkimKeysKnown ? "the signing key" : "a well-formed key (signing key not given: pass --outputs to compare)";
          if (parsed.key.bits < 2048)
            return {
              check: "dkim",
              subject: name,
              status: "warn",
              detail: `${parsed.key.bits}-bit RSA, ${known}`,
              fix: "rotate to a new selector with a 2048-bit key",
            };
          return { check: "dkim", subject: name, status: "pass", detail: `${parsed.key.bits}-bit RSA, ${known}` };
        })),
      );
    }
  }
  return out;
}

async function checkDmarc(e: Expected, p: Probes): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  const { spec } = e.topology;
  for (const domain of spec.domains) {
    const name = `_dmarc.${domain}`;
    const expectedText = txtOf(e.recordSet, name);
    const fix = `publish ${name} TXT ${quoted(expectedText ?? "v=DMARC1; p=reject")}`;
    out.push(
      ...(await guarded("dmarc", domain, async () => {
        const texts = (await p.dns.txt(name)).filter((t) => /^v\s*=\s*DMARC1/i.test(t));
        if (texts.length === 0)
          return { check: "dmarc", subject: domain, status: "fail", detail: `no DMARC record at ${name}: receivers apply no policy and send no reports`, fix };
        if (texts.length > 1) {
          const detail = `${texts.length} DMARC records: receivers ignore them all (RFC 7489 §6.6.3)`;
          return { check: "dmarc", subject: domain, status: "fail", detail, fix };
        }
        const parsed = parseDmarc(texts[0]);
        if ("problem" in parsed) return { check: "dmarc", subject: domain, status: "fail", detail: parsed.problem, fix };
        const findings: Finding[] = [];
        const d = parsed.dmarc;
        if (d.p !== spec.dmarc.policy) findings.push({ status: "fail", text: `p=${d.p}, the stack says p=${spec.dmarc.policy}`, fix });
        else if (d.p === "none")
          findings.push({
            status: "warn",
            text: "p=none only monitors: spoofed mail is still delivered",
            fix: "raise mailfleet:dmarc.policy to quarantine or reject once the reports are clean",
          });
        if (spec.dmarc.rua && !d.rua.includes(spec.dmarc.rua.toLowerCase()))
          findings.push({ status: "fail", text: `reports do not go to ${spec.dmarc.rua}`, fix });
        for (const rua of d.rua) {
          const ruaDomain = rua.slice(rua.lastIndexOf("@") + 1);
          if (ruaDomain === domain) continue;
          const auth = `${domain}._report._dmarc.${ruaDomain}`;
          const granted = (await p.dns.txt(auth)).some((t) => /^v\s*=\s*DMARC1/i.test(t));
          if (!granted)
            findings.push({
              status: "warn",
              text: `${ruaDomain} does not accept reports for ${domain}: receivers drop them (RFC 7489 §7.1)`,
              fix: `publish ${auth} TXT "v=DMARC1"`,
            });
        }
        return merge("dmarc", domain, findings, `p=${d.p}${d.rua.length ? `, reports to ${d.rua.join(", ")}` : ""}`);
      })),
    );
  }
  return out;
}

async function checkTlsRpt(e: Expected, p: Probes): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const domain of e.topology.spec.domains) {
    const name = `_smtp._tls.${domain}`;
    const fix = `publish ${name} TXT ${quoted(txtOf(e.recordSet, name) ?? "v=TLSRPTv1; rua=mailto:…")}`;
    out.push(
      ...(await guarded("tls-rpt", domain, async () => {
        const texts = (await p.dns.txt(name)).filter((t) => /^v\s*=\s*TLSRPTv1/i.test(t));
        if (texts.length !== 1)
          return {
            check: "tls-rpt",
            subject: domain,
            status: "fail",
            detail: texts.length ? `${texts.length} TLS-RPT records` : `no TLS-RPT record at ${name}: TLS failures of senders go unreported`,
            fix,
          };
        const parsed = parseTlsRpt(texts[0]);
        if ("problem" in parsed) return { check: "tls-rpt", subject: domain, status: "fail", detail: parsed.problem, fix };
        const want = e.topology.spec.tlsRpt.rua.toLowerCase();
        if (!parsed.rua.includes(want))
          return { check: "tls-rpt", subject: domain, status: "fail", detail: `reports go to ${parsed.rua.join(", ")}, not ${want}`, fix };
        return { check: "tls-rpt", subject: domain, status: "pass", detail: `reports to ${parsed.rua.join(", ")}` };
      })),
    );
  }
  return out;
}

function samePolicy(a: MtaStsPolicy, b: MtaStsPolicy): boolean {
  return a.mode === b.mode && a.maxAge === b.maxAge && sameSet(a.mx, b.mx);
}

async function checkMtaSts(e: Expected, p: Probes): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  const expected = parseMtaStsPolicy(e.recordSet.mtaSts.policy);
  if (!("policy" in expected)) throw new Error(`the record set's own MTA-STS policy is invalid: ${expected.problem}`);
  for (const domain of e.topology.spec.domains) {
    const txtName = `_mta-sts.${domain}`;
    const host = `mta-sts.${domain}`;
    out.push(
      ...(await guarded("mta-sts", domain, async () => {
        const findings: Finding[] = [];
        const txtFix = `publish ${txtName} TXT "v=STSv1; id=${e.recordSet.mtaSts.id}"`;
        const texts = (await p.dns.txt(txtName)).filter((t) => /^v\s*=\s*STSv1/i.test(t));
        if (texts.length !== 1) {
          findings.push({
            status: "fail",
            text: texts.length ? `${texts.length} MTA-STS TXT records: senders ignore them` : `no TXT at ${txtName}: senders never look for the policy`,
            fix: txtFix,
          });
        } else {
          const txt = parseMtaStsTxt(texts[0]);
          if ("problem" in txt) findings.push({ status: "fail", text: `TXT ${txt.problem}`, fix: txtFix });
          else if (txt.id !== e.recordSet.mtaSts.id) {
            findings.push({
              status: "fail",
              text: `TXT id=${txt.id} is not the policy's id ${e.recordSet.mtaSts.id}: senders keep a stale cached policy`,
              fix: txtFix,
            });
          }
        }
        const addresses = [...(await p.dns.a(host)), ...(await p.dns.aaaa(host))];
        if (addresses.length === 0)
          findings.push({
            status: "fail",
            text: `${host} does not resolve: senders cannot fetch the policy`,
            fix: `publish ${host} (a CNAME to ${e.topology.services.mtaSts.fqdn})`,
          });
        const mxHosts = (await p.dns.mx(domain)).map((m) => m.exchange);
        for (const address of addresses) {
          const got = await p.policy(domain, address);
          const at = `https://${host}/.well-known/mta-sts.txt via ${address}`;
          const serveFix = `serve the policy at ${at.split(" via ")[0]} from every edge host with a certificate for ${host}`;
          if (got.error !== undefined) {
            findings.push({ status: "fail", text: `${at}: ${got.error}`, fix: serveFix });
            continue;
          }
          if (got.status !== 200) {
            findings.push({ status: "fail", text: `${at}: HTTP ${got.status}`, fix: serveFix });
            continue;
          }
          if (!/^text\/plain\b/i.test(got.contentType ?? ""))
            findings.push({ status: "warn", text: `${at}: Content-Type ${got.contentType ?? "missing"}, RFC 8461 §3.3 says text/plain`, fix: serveFix });
          const parsed = parseMtaStsPolicy(got.body ?? "");
          if (!("policy" in parsed)) {
            findings.push({ status: "fail", text: `${at}: ${parsed.problem}`, fix: serveFix });
            continue;
          }
          parsed.warnings.forEach((w) => findings.push({ status: "warn", text: `${at}: ${w}`, fix: serveFix }));
          if (!samePolicy(parsed.policy, expected.policy)) {
            findings.push({
              status: "fail",
              text:
                `${at}: serves mode ${parsed.policy.mode}, mx ${parsed.policy.mx.join(" ")}, max_age ${parsed.policy.maxAge}; ` +
                `the stack's is mode ${expected.policy.mode}, mx ${expected.policy.mx.join(" ")}, max_age ${expected.policy.maxAge}`,
              fix: "push the current policy to the edge hosts (`pulumi up`)",
            });
          }
          for (const mx of mxHosts) {
            if (!validateMx(mx, parsed.policy).valid) {
              findings.push({
                status: parsed.policy.mode === "enforce" ? "fail" : "warn",
                text: `MX ${mx} is not covered by the policy's mx lines: senders in enforce mode refuse to deliver to it`,
                fix: "list the MX in the policy (mx: *.<server domain>)",
              });
            }
          }
        }
        return merge("mta-sts", domain, findings, `id=${e.recordSet.mtaSts.id}, mode ${expected.policy.mode}, served by ${addresses.join(", ")}`);
      })),
    );
  }
  return out;
}

async function checkStartTls(e: Expected, p: Probes): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  const enforce = e.topology.spec.mtaSts.mode === "enforce";
  const exchanges = new Set<string>();
  for (const domain of e.topology.spec.domains) (await p.dns.mx(domain)).forEach((m) => exchanges.add(m.exchange));
  // The hosts senders really reach: those DNS names as MX, at the addresses DNS gives for them.
  for (const exchange of exchanges) {
    const addresses = [...(await p.dns.a(exchange)), ...(await p.dns.aaaa(exchange))];
    for (const address of addresses) {
      const subject = `${exchange} ${address}`;
      out.push(
        ...(await guarded("starttls", subject, async () => {
          const probe = await p.starttls(exchange, address);
          if (probe.error && !probe.tls)
            return {
              check: "starttls",
              subject,
              status: "fail",
              detail: probe.error,
              fix: `make ${exchange} accept SMTP on port 25 (firewall, security group, Postfix running; a cloud provider's port-25 block lifted)`,
            };
          if (!probe.starttls)
            return {
              check: "starttls",
              subject,
              status: "fail",
              detail: "no STARTTLS in the EHLO reply: mail to it travels in clear text",
              fix: "set smtpd_tls_security_level = may with a certificate on the edge hosts",
            };
          const tls = probe.tls!;
          const servedBy = e.topology.hosts.find((h) => h.fqdn === exchange);
          const findings = certificateFindings(tls, exchange, p.now, {
            spec: e.topology.spec,
            host: servedBy?.fqdn ?? exchange,
            refused: "MTA-STS and DANE senders refuse it",
            untrusted: enforce ? "fail" : "warn",
            untrustedWhy: enforce ? ": with MTA-STS enforce, senders refuse to deliver" : "",
          });
          return merge(
            "starttls",
            subject,
            findings,
            `${tls.protocol}, certificate for ${tls.names.join(", ")}, valid until ${tls.validTo.toISOString().slice(0, 10)}`,
          );
        })),
      );
    }
  }
  return out;
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
    findings.push({
      status: "fail",
      text: `certificate names ${tls.names.join(", ") || "(none)"} do not include ${name}: ${on.refused}`,
      fix: acme
        ? `certbot on ${on.host} has no certificate for ${name} yet: run \`mailfleet-certs\` there and look at /var/log/mailfleet-certs.log`
        : `issue the certificate of ${on.host} for ${name} (\`pulumi up\`)`,
    });
  }
  const daysLeft = (tls.validTo.getTime() - now.getTime()) / 86_400_000;
  if (daysLeft < 0) findings.push({ status: "fail", text: `certificate expired ${tls.validTo.toISOString()}`, fix: renew });
  else if (daysLeft < CERT_FAIL_DAYS) findings.push({ status: "fail", text: `certificate expires in ${Math.floor(daysLeft)} days`, fix: renew });
  else if (daysLeft < CERT_WARN_DAYS) findings.push({ status: "warn", text: `certificate expires in ${Math.floor(daysLeft)} days`, fix: renew });
  if (!tls.trusted) {
    findings.push({
      status: on.untrusted,
      text: `certificate not trusted (${tls.trustError ?? "unknown issuer"})${on.untrustedWhy}`,
      fix: acme
        ? `certbot on ${on.host} has not replaced the bootstrap certificate yet: run \`mailfleet-certs\` there and look at /var/log/mailfleet-certs.log (or pass --ca for a private ACME CA)`
        : "set tls.mode: acme for publicly trusted certificates (or pass --ca with the fleet CA)",
    });
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
        return spec.domains.flatMap((d) => [`mta-sts.${d}`, `autoconfig.${d}`]).map((name) => ({ name, port: HTTPS_PORT, starttls: false }));
    }
  };
  return topology.hosts.flatMap((host) => addressesOf(e, host).flatMap((address) => perHost(host).map((ep) => ({ host, address, ...ep }))));
}

async function checkTls(e: Expected, p: Probes): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const endpoint of tlsEndpoints(e)) {
    const { host, name, address, port } = endpoint;
    const subject = `${name}:${port} ${host.name} ${address}`;
    out.push(
      ...(await guarded("tls", subject, async () => {
        const probe = await p.tls(endpoint);
        const reach = `make ${host.fqdn} accept TLS on port ${port} (firewall, security group, the daemon running)`;
        if (probe.error && !probe.tls) return { check: "tls", subject, status: "fail", detail: probe.error, fix: reach };
        if (!probe.tls) return { check: "tls", subject, status: "fail", detail: "no STARTTLS in the EHLO reply", fix: reach };
        const findings = certificateFindings(probe.tls, name, p.now, {
          spec: e.topology.spec,
          host: host.fqdn,
          refused: "clients refuse it",
          // Mail clients and MTA-STS fetchers verify the chain: untrusted is refused.
          untrusted: "fail",
          untrustedWhy: ": mail clients and MTA-STS fetchers refuse it",
        });
        const tls = probe.tls;
        return merge("tls", subject, findings, `${tls.protocol}, certificate for ${tls.names.join(", ")}, valid until ${tls.validTo.toISOString().slice(0, 10)}`);
      })),
    );
  }
  return out;
}

async function checkDnsbl(e: Expected, p: Probes): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  if (e.dnsbls.length === 0)
    return [{ check: "dnsbl", subject: "-", status: "warn", detail: "no DNSBL zones to check", fix: "set mailfleet:spam.dnsbls or pass --dnsbl <zone>" }];
  for (const host of e.topology.hosts.filter((h) => h.sends)) {
    for (const address of addressesOf(e, host)) {
      out.push(
        ...(await guarded("dnsbl", address, async () => {
          const findings: Finding[] = [];
          for (const zone of e.dnsbls) {
            const verdict = dnsblVerdict(await p.dns.a(dnsblQuery(address, zone)));
            if ("unknown" in verdict) findings.push({ status: "warn", text: `${zone}: ${verdict.unknown}` });
            else if (verdict.listed) {
              const reason = (await p.dns.txt(dnsblQuery(address, zone)))[0];
              findings.push({
                status: "fail",
                text: `listed in ${zone} (${verdict.codes.join(", ")}${reason ? `: ${reason}` : ""}): receivers using it reject mail from ${host.fqdn}`,
                fix: `find out why (open relay? a compromised account?), stop it, then request delisting from ${zone}`,
              });
            }
          }
          return merge("dnsbl", address, findings, `${host.fqdn} not listed in ${e.dnsbls.join(", ")}`);
        })),
      );
    }
  }
  return out;
}

/** Each store's newest snapshot, when the stack backs up and the check has SSH access to the stores. */
async function checkBackup(e: Expected, p: Probes): Promise<CheckResult[]> {
  const backup = e.topology.spec.backup;
  const status = p.backupStatus;
  if (!backup || !status) return [];
  // All stores at once: a store whose repository does not answer takes the whole probe time.
  const stores = hostsOf(e.topology, "store");
  const statuses = await Promise.all(stores.map((store) => status(store.name)));
  return stores.map((store, i) => backupVerdict(e.stack, store.name, statuses[i], backup.intervalMinutes, p.now));
}

const RUNNERS: Record<CheckName, (e: Expected, p: Probes) => Promise<CheckResult[]>> = {
  mx: checkMx,
  address: checkAddresses,
  cname: checkCnames,
  srv: checkSrv,
  ptr: checkPtr,
  spf: checkSpf,
  dkim: checkDkim,
  dmarc: checkDmarc,
  "mta-sts": checkMtaSts,
  "tls-rpt": checkTlsRpt,
  starttls: checkStartTls,
  tls: checkTls,
  dnsbl: checkDnsbl,
  backup: checkBackup,
};

/** Every check not skipped, in a fixed order (the order of CHECKS). */
export async function runChecks(expected: Expected, probes: Probes, skip: ReadonlySet<CheckName> = new Set()): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const name of CHECKS) {
    if (!skip.has(name)) out.push(...(await guarded(name, "-", () => RUNNERS[name](expected, probes))));
  }
  return out;
}
