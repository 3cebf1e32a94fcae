/**
 * Authentication records: SPF of every domain and HELO name (syntax, lookups, every sending address
 * authorised), the DKIM key of every selector, DMARC, the MTA-STS TXT and TLS-RPT; each against the
 * record set the stack publishes.
 */
import { SPF_LOOKUP_LIMIT } from "../../components/config";
import { RecordSet } from "../../components/records";
import { dkimRecordName, domainPolicyNames } from "../../components/records/labels";
import { addressesOf, Expected } from "./expect";
import { parseDkimRecord, parseDmarc, parseMtaStsTxt, parseTlsRpt } from "./parse";
import { Probes } from "./probes";
import { CheckResult, each, fail, Finding, merge, pass, perDomain, warn } from "./result";
import { checkHost, countSpfLookups, fetchSpf, parseSpf } from "./spf";

const quoted = (text: string) => `"${text}"`;

function txtOf(recordSet: RecordSet, name: string): string | undefined {
  const r = recordSet.records.find((r) => r.type === "TXT" && r.name === name);
  return r?.type === "TXT" ? r.text : undefined;
}

/** SPF of a name: one valid record, at most 10 lookups, and a pass for every address given. */
async function spfVerdict(p: Probes, name: string, senders: string[], expectedText: string | undefined): Promise<Finding> {
  const fix = expectedText ? `publish ${name} TXT ${quoted(expectedText)}` : `publish one SPF record at ${name}`;
  const fetched = await fetchSpf(p.dns, name);
  if ("problem" in fetched) return fail(fetched.problem, fix);
  const findings: Finding[] = [];
  const parsed = parseSpf(fetched.record);
  parsed.errors.forEach((err) => findings.push(fail(`syntax: ${err}`, fix)));
  parsed.warnings.forEach((w) => findings.push(warn(w, fix)));
  const lookups = await countSpfLookups(p.dns, name);
  lookups.errors.filter((err) => !err.startsWith(`${name}: `)).forEach((err) => findings.push(fail(err, "fix or drop that include")));
  if (lookups.count > SPF_LOOKUP_LIMIT) {
    findings.push(
      fail(
        `${lookups.count} DNS lookups, over the limit of ${SPF_LOOKUP_LIMIT}: receivers return permerror (${lookups.trail.join(", ")})`,
        "drop includes or replace them with ip4:/ip6: terms",
      ),
    );
  }
  for (const ip of senders) {
    const verdict = await checkHost(p.dns, ip, name);
    if (verdict.result !== "pass") findings.push(fail(`does not authorise ${ip} (${verdict.result}: ${verdict.why})`, fix));
  }
  if (expectedText !== undefined && fetched.record !== expectedText && findings.every((f) => f.status === "pass")) {
    findings.push(warn(`differs from the record set: ${quoted(fetched.record)}`, fix));
  }
  return merge(findings, `${quoted(fetched.record)}, ${lookups.count} lookups, authorises ${senders.join(", ")}`);
}

export async function checkSpf(e: Expected, p: Probes): Promise<CheckResult[]> {
  // Edge hosts send too: they forward mail for aliases with foreign targets.
  const sending = e.topology.hosts.filter((h) => h.sends);
  const senders = sending.flatMap((h) => addressesOf(e, h));
  const domains = await perDomain("spf", e, (domain) => spfVerdict(p, domain, senders, txtOf(e.recordSet, domain)));
  // The HELO name's own SPF: what bounces (empty MAIL FROM) are judged by.
  const helo = await each("spf", sending, (host) => `${host.fqdn} (HELO)`, (host) => spfVerdict(p, host.fqdn, addressesOf(e, host), txtOf(e.recordSet, host.fqdn)));
  return [...domains, ...helo];
}

export async function checkDkim(e: Expected, p: Probes): Promise<CheckResult[]> {
  const { domains, dkim } = e.topology.spec;
  const names = domains.flatMap((domain) => dkim.selectors.map((selector) => dkimRecordName(selector, domain)));
  return each("dkim", names, (name) => name, async (name) => {
    const expectedText = txtOf(e.recordSet, name);
    const fix = e.dkimKeysKnown && expectedText ? `publish ${name} TXT ${quoted(expectedText)}` : `publish the DKIM key of ${name} from the stack's outputs`;
    const texts = await p.dns.txt(name);
    if (texts.length === 0) return fail("no TXT record: every signature with this selector fails", fix);
    if (texts.length > 1) return fail(`${texts.length} TXT records; verifiers may take either`, fix);
    const parsed = parseDkimRecord(texts[0]);
    if ("problem" in parsed) return fail(parsed.problem, fix);
    const rotate = "rotate to a new selector with a 2048-bit key";
    if (parsed.key.bits < 1024) return fail(`${parsed.key.bits}-bit key: RFC 8301 says verifiers must not accept keys under 1024 bits`, rotate);
    const expected = expectedText ? parseDkimRecord(expectedText) : undefined;
    if (e.dkimKeysKnown && expected && "key" in expected && expected.key.publicKey !== parsed.key.publicKey)
      return fail("the published key is not the key the outbound MTA signs with: signatures fail", fix);
    const known = e.dkimKeysKnown ? "the signing key" : "a well-formed key (signing key not given: pass --outputs to compare)";
    if (parsed.key.bits < 2048) return warn(`${parsed.key.bits}-bit RSA, ${known}`, rotate);
    return pass(`${parsed.key.bits}-bit RSA, ${known}`);
  });
}

export async function checkDmarc(e: Expected, p: Probes): Promise<CheckResult[]> {
  const { spec } = e.topology;
  return perDomain("dmarc", e, async (domain) => {
    const name = domainPolicyNames(domain).dmarc;
    const fix = `publish ${name} TXT ${quoted(txtOf(e.recordSet, name) ?? "v=DMARC1; p=reject")}`;
    const texts = (await p.dns.txt(name)).filter((t) => /^v\s*=\s*DMARC1/i.test(t));
    if (texts.length === 0) return fail(`no DMARC record at ${name}: receivers apply no policy and send no reports`, fix);
    if (texts.length > 1) return fail(`${texts.length} DMARC records: receivers ignore them all (RFC 7489 §6.6.3)`, fix);
    const parsed = parseDmarc(texts[0]);
    if ("problem" in parsed) return fail(parsed.problem, fix);
    const findings: Finding[] = [];
    const d = parsed.dmarc;
    if (d.p !== spec.dmarc.policy) findings.push(fail(`p=${d.p}, the stack says p=${spec.dmarc.policy}`, fix));
    else if (d.p === "none")
      findings.push(warn("p=none only monitors: spoofed mail is still delivered", "raise mailfleet:dmarc.policy to quarantine or reject once the reports are clean"));
    if (spec.dmarc.rua && !d.rua.includes(spec.dmarc.rua.toLowerCase())) findings.push(fail(`reports do not go to ${spec.dmarc.rua}`, fix));
    for (const rua of d.rua) {
      const ruaDomain = rua.slice(rua.lastIndexOf("@") + 1);
      if (ruaDomain === domain) continue;
      const auth = `${domain}._report._dmarc.${ruaDomain}`;
      const granted = (await p.dns.txt(auth)).some((t) => /^v\s*=\s*DMARC1/i.test(t));
      if (!granted)
        findings.push(warn(`${ruaDomain} does not accept reports for ${domain}: receivers drop them (RFC 7489 §7.1)`, `publish ${auth} TXT "v=DMARC1"`));
    }
    return merge(findings, `p=${d.p}${d.rua.length ? `, reports to ${d.rua.join(", ")}` : ""}`);
  });
}

/** The MTA-STS TXT of a domain: one record, whose id is the policy's (the mta-sts check's first half). */
export async function mtaStsTxtFindings(e: Expected, p: Probes, domain: string): Promise<Finding[]> {
  const name = domainPolicyNames(domain).mtaStsId;
  const fix = `publish ${name} TXT "v=STSv1; id=${e.recordSet.mtaSts.id}"`;
  const texts = (await p.dns.txt(name)).filter((t) => /^v\s*=\s*STSv1/i.test(t));
  if (texts.length !== 1)
    return [fail(texts.length ? `${texts.length} MTA-STS TXT records: senders ignore them` : `no TXT at ${name}: senders never look for the policy`, fix)];
  const txt = parseMtaStsTxt(texts[0]);
  if ("problem" in txt) return [fail(`TXT ${txt.problem}`, fix)];
  if (txt.id !== e.recordSet.mtaSts.id)
    return [fail(`TXT id=${txt.id} is not the policy's id ${e.recordSet.mtaSts.id}: senders keep a stale cached policy`, fix)];
  return [];
}

export async function checkTlsRpt(e: Expected, p: Probes): Promise<CheckResult[]> {
  return perDomain("tls-rpt", e, async (domain) => {
    const name = domainPolicyNames(domain).tlsRpt;
    const fix = `publish ${name} TXT ${quoted(txtOf(e.recordSet, name) ?? "v=TLSRPTv1; rua=mailto:…")}`;
    const texts = (await p.dns.txt(name)).filter((t) => /^v\s*=\s*TLSRPTv1/i.test(t));
    if (texts.length !== 1)
      return fail(texts.length ? `${texts.length} TLS-RPT records` : `no TLS-RPT record at ${name}: TLS failures of senders go unreported`, fix);
    const parsed = parseTlsRpt(texts[0]);
    if ("problem" in parsed) return fail(parsed.problem, fix);
    const want = e.topology.spec.tlsRpt.rua.toLowerCase();
    if (!parsed.rua.includes(want)) return fail(`reports go to ${parsed.rua.join(", ")}, not ${want}`, fix);
    return pass(`reports to ${parsed.rua.join(", ")}`);
  });
}
