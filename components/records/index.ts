/**
 * The DNS record set: every record the fleet needs, derived from topology + addresses + DKIM keys.
 * Pure and deterministic (same input, same records in the same order); both DNS backends
 * (Cloudflare records, RFC 1035 zone files) publish exactly this list.
 */
import { ConfigError } from "../config/errors";
import { spfIncludes, spfNamesEdgesByMx } from "../config/spf";
import { arcKeyName, DaneKey, DkimKey, findDkimKey } from "../keys/material";
import { forwardingDomain } from "../topology/naming";
import { bimiUrls, Host, hostsOf, HTTPS_PORT, IMAPS_PORT, POP3S_PORT, SUBMISSION_PORT, SUBMISSIONS_PORT, Topology } from "../topology";
import { AddressBook, PlacedHost, placeHosts, PlacedHosts } from "../topology/addresses";
import { bimiRecordName, Cname, dkimRecordName, smtpTlsaName, dmarcReportAuthorization, domainCnames, domainPolicyNames, domainSrvNames, recordNameProblems } from "./labels";
import { mtaStsPolicy } from "./mtaSts";
import { DnsRecord, PtrRecord, RecordData, RecordOwner, RecordSet } from "./types";
import { zoneOf } from "./zones";

export * from "./types";
export { recordNameProblems, recordNames } from "./labels";
export { mtaStsPolicy } from "./mtaSts";
export { txtStrings } from "./txt";
export * from "./zones";
export * from "./zoneFile";

/**
 * Every edge host is an MX at this one priority: senders pick among equal-priority MX at random
 * (RFC 5321 §5.1), so inbound load spreads over all of them and scaling is adding a host.
 */
export const MX_PRIORITY = 10;

type AddressData = Extract<RecordData, { type: "A" | "AAAA" }>;

/** The addresses a host is published with (its A/AAAA records); PTR wishes cover exactly these, so FCrDNS holds. */
function published(host: PlacedHost): AddressData[] {
  const a = host.addresses;
  const v6: AddressData[] = a.ipv6 ? [{ type: "AAAA", address: a.ipv6, host: host.name }] : [];
  return [{ type: "A", address: a.ipv4, host: host.name }, ...v6];
}

/** Reverse DNS, a step of its own: each address a host is published with should resolve back to the host's name. */
function ptrWishes(topology: Topology, placed: PlacedHosts): PtrRecord[] {
  return dedupe(topology.hosts.flatMap((h) => published(placed[h.name]).map((a) => ({ address: a.address, name: h.fqdn, host: h.name }))));
}

/** A DKIM public key as the record set needs it. */
export type DkimPublicKey = Pick<DkimKey, "domain" | "selector" | "publicKey">;

/** The record set from the hosts' addresses as a backend gives them (joined here, placeHosts). */
export function buildRecordSet(topology: Topology, addresses: AddressBook, dkim: DkimPublicKey[], dane: readonly DaneKey[] = []): RecordSet {
  return recordSetOf(topology, placeHosts(topology, addresses), dkim, dane);
}

/** The record set of hosts already joined with their addresses: a fleet's build joins once for its records and its files. */
export function recordSetOf(topology: Topology, placed: PlacedHosts, dkim: DkimPublicKey[], dane: readonly DaneKey[] = []): RecordSet {
  const { spec } = topology;
  const problems = recordNameProblems(topology);
  if (problems.length > 0) throw new ConfigError(problems);
  const records: DnsRecord[] = [];
  // Each record is made for one owner: a host's own name, or a domain (set before each group below).
  let owner: RecordOwner = { domain: spec.serverDomain };
  const add = (name: string, data: RecordData) => records.push({ name, zone: zoneOf(spec.dnsZones, name), ttl: spec.dnsTtl, owner, ...data });
  const txt = (name: string, text: string) => add(name, { type: "TXT", text });
  const srv = (name: string, priority: number, weight: number, port: number, target: string) =>
    add(name, { type: "SRV", priority, weight, port, target });
  const cname = (c: Cname | undefined) => c && add(c.name, { type: "CNAME", target: c.target });

  const addressesOf = (host: Host) => published(placed[host.name]);
  const publishAt = (name: string, hosts: Host[]) => hosts.forEach((h) => addressesOf(h).forEach((a) => add(name, a)));

  // Hosts: their own names (HELO names, MX targets, PTR targets).
  for (const host of topology.hosts) {
    owner = { host: host.name };
    publishAt(host.fqdn, [host]);
    // Receivers check SPF for the HELO name too (RFC 7208 §2.3); a bounce (empty MAIL FROM) is
    // judged on it alone, so without this record the fleet's own bounces fail SPF.
    if (host.sends) txt(host.fqdn, "v=spf1 a -all");
    // DANE: a sender that finds this signed TLSA accepts only a certificate with the pinned key (RFC 7672).
    for (const key of dane.filter((k) => k.host === host.name)) {
      add(smtpTlsaName(host.fqdn), { type: "TLSA", usage: 3, selector: 1, matchingType: 1, digest: key.spkiSha256, generation: key.generation });
    }
  }
  // Service names resolve to every host of their role: clients spread over them, and adding a
  // host needs no client change.
  owner = { domain: spec.serverDomain };
  for (const service of Object.values(topology.services)) publishAt(service.fqdn, hostsOf(topology, service.role));

  const edges = hostsOf(topology, "edge");
  const outboundAddresses = hostsOf(topology, "outbound").flatMap(addressesOf);
  const ipTerms = (list: AddressData[]) => list.map((a) => `${a.type === "A" ? "ip4" : "ip6"}:${a.address}`);
  // `mx` covers the edge hosts (they forward aliases to foreign targets) for one lookup; ip4/ip6
  // terms cost none. Past 10 MX the `mx` term itself would be a permerror, so a large edge tier is
  // listed instead (config/spf.ts counts the lookups the same way).
  const edgeTerms = spfNamesEdgesByMx(edges.length) ? ["mx"] : ipTerms(edges.flatMap(addressesOf));
  const spf = ["v=spf1", ...edgeTerms, ...ipTerms(outboundAddresses), ...spfIncludes(spec).map((i) => `include:${i}`), "-all"].join(" ");

  // Forwarding: the SRS return addresses (SRS0=…@fwd.<serverDomain>) lead back to the edges, which
  // forward with them as the envelope sender; the ARC key the edges seal with sits beside them.
  const forwarding = forwardingDomain(spec);
  owner = { domain: spec.serverDomain };
  for (const edge of edges) add(forwarding, { type: "MX", priority: MX_PRIORITY, exchange: edge.fqdn });
  txt(forwarding, ["v=spf1", ...edgeTerms, "-all"].join(" "));
  const arcName = arcKeyName(spec);
  const arc = findDkimKey(dkim, arcName.domain, arcName.selector);
  if (!arc) throw new Error(`no ARC key for ${dkimRecordName(arcName.selector, arcName.domain)}: the record set needs the key of forwarding.arcSelector`);
  txt(dkimRecordName(arc.selector, arc.domain), `v=DKIM1; k=rsa; p=${arc.publicKey}`);

  const dmarc = [
    "v=DMARC1",
    `p=${spec.dmarc.policy}`,
    ...(spec.dmarc.rua ? [`rua=mailto:${spec.dmarc.rua}`] : []),
    `adkim=${spec.dmarc.alignment === "strict" ? "s" : "r"}`,
    `aspf=${spec.dmarc.alignment === "strict" ? "s" : "r"}`,
  ].join("; ");
  const mtaSts = mtaStsPolicy(topology);
  const { smtp, imap, web } = topology.services;

  for (const D of spec.domains) {
    owner = { domain: D };
    const policy = domainPolicyNames(D);
    const srvAt = domainSrvNames(D);
    const cnames = domainCnames(topology, D);
    for (const edge of edges) add(D, { type: "MX", priority: MX_PRIORITY, exchange: edge.fqdn });
    txt(D, spf);

    // Every listed selector stays published: during a rotation mail signed with the old key is
    // still in flight and must keep verifying.
    for (const selector of spec.dkim.selectors) {
      const key = findDkimKey(dkim, D, selector);
      if (!key) throw new Error(`no DKIM key for ${selector}._domainkey.${D}: every domain needs a key per selector in dkim.selectors`);
      txt(dkimRecordName(selector, D), `v=DKIM1; k=rsa; p=${key.publicKey}`);
    }

    txt(policy.dmarc, dmarc);
    const reportAuthorization = dmarcReportAuthorization(spec, D);
    if (reportAuthorization) txt(reportAuthorization, "v=DMARC1");

    // BIMI: the logo (and mark certificate) on the domain's MTA-STS name; an empty a= says there is no certificate.
    const bimi = spec.bimi[D];
    if (bimi) {
      const urls = bimiUrls(D);
      txt(bimiRecordName(D), `v=BIMI1; l=${urls.logo}; a=${bimi.certificate ? urls.certificate : ""}`);
    }

    txt(policy.mtaStsId, `v=STSv1; id=${mtaSts.id}`);
    cname(cnames.mtaSts);
    txt(policy.tlsRpt, `v=TLSRPTv1; rua=mailto:${spec.tlsRpt.rua}`);

    // Client discovery (RFC 6186, RFC 8314 §5.1): implicit TLS and submission with STARTTLS are
    // offered; target "." says a service is not offered at all (RFC 6186 §4), so clients do not
    // fall back to plain IMAP/POP3.
    srv(srvAt.submission, 0, 1, SUBMISSION_PORT, smtp.fqdn);
    srv(srvAt.submissions, 0, 1, SUBMISSIONS_PORT, smtp.fqdn);
    srv(srvAt.imaps, 0, 1, IMAPS_PORT, imap.fqdn);
    srv(srvAt.imap, 0, 0, 0, ".");
    if (spec.pop3) srv(srvAt.pop3s, 0, 1, POP3S_PORT, imap.fqdn);
    else srv(srvAt.pop3s, 0, 0, 0, ".");
    srv(srvAt.pop3, 0, 0, 0, ".");
    // Thunderbird (autoconfig) and Outlook (autodiscover) find their settings on the edge's web server.
    cname(cnames.autoconfig);
    cname(cnames.autodiscover);
    srv(srvAt.autodiscover, 0, 1, HTTPS_PORT, web.fqdn);
  }

  // A record made for two owners (a host named like a service) is published once, for the first: the host.
  const unique = dedupe(records, ({ owner: _, ...record }) => record);
  return { records: unique, ptr: ptrWishes(topology, placed), mtaSts };
}

function dedupe<T>(items: T[], identity: (item: T) => unknown = (item) => item): T[] {
  const seen = new Set<string>();
  return items.filter((item) => {
    const key = JSON.stringify(identity(item));
    return !seen.has(key) && seen.add(key);
  });
}
