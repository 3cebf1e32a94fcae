/**
 * The names the record set uses, in one place: the builder (./index.ts) writes its records at these
 * names, and recordNameProblems checks a stack against them before anything is built, so a name
 * that cannot be published is refused with the key that makes it.
 */
import { ConfigProblem, configProblem } from "../config/errors";
import { FleetSpec } from "../config/spec";
import { domainWebNames, namedHosts, Topology } from "../topology";
import { forwardingDomain } from "../topology/naming";

/** The names under a hosted domain that hold its policy TXT records. */
export function domainPolicyNames(domain: string) {
  return { dmarc: `_dmarc.${domain}`, mtaStsId: `_mta-sts.${domain}`, tlsRpt: `_smtp._tls.${domain}` };
}

/** The names under a hosted domain that hold its client SRV records (RFC 6186, RFC 8314 §5.1, autodiscover). */
export function domainSrvNames(domain: string) {
  return {
    submission: `_submission._tcp.${domain}`,
    submissions: `_submissions._tcp.${domain}`,
    imaps: `_imaps._tcp.${domain}`,
    imap: `_imap._tcp.${domain}`,
    pop3s: `_pop3s._tcp.${domain}`,
    pop3: `_pop3._tcp.${domain}`,
    autodiscover: `_autodiscover._tcp.${domain}`,
  };
}

/** Where a DANE sender looks up an MX host's TLSA records: port 25 over TCP (RFC 7672 §2.2). */
export function smtpTlsaName(mxHost: string): string {
  return `_25._tcp.${mxHost}`;
}

/** BIMI's assertion record for the default selector (the one receivers look up without a BIMI-Selector header). */
export function bimiRecordName(domain: string): string {
  return `default._bimi.${domain}`;
}

export function dkimRecordName(selector: string, domain: string): string {
  return `${selector}._domainkey.${domain}`;
}

/**
 * RFC 7489 §7.1: reports for a domain go to an address in another domain only if that domain
 * agrees at this name; receivers drop the rua otherwise. Only a hosted report domain can agree.
 */
export function dmarcReportAuthorization(spec: Pick<FleetSpec, "dmarc" | "domains">, domain: string): string | undefined {
  const reportDomain = spec.dmarc.rua?.slice(spec.dmarc.rua.lastIndexOf("@") + 1);
  return reportDomain && reportDomain !== domain && spec.domains.includes(reportDomain) ? `${domain}._report._dmarc.${reportDomain}` : undefined;
}

export interface Cname {
  name: string;
  target: string;
}

/**
 * A hosted domain's web names, each a CNAME to the edges' service name: the MTA-STS policy host,
 * Thunderbird's autoconfig and Outlook's autodiscover. A name that is its own target (the server
 * domain is a hosted domain) gets none: it holds the edges' addresses already.
 */
export function domainCnames(topology: Topology, domain: string): Partial<Record<"mtaSts" | "autoconfig" | "autodiscover", Cname>> {
  const { web, mtaSts } = topology.services;
  const names = domainWebNames(domain);
  const cnames = {
    mtaSts: { name: names.mtaSts, target: mtaSts.fqdn },
    autoconfig: { name: names.autoconfig, target: web.fqdn },
    autodiscover: { name: names.autodiscover, target: web.fqdn },
  };
  return Object.fromEntries(Object.entries(cnames).filter(([, c]) => c.name !== c.target));
}

/** RFC 1035 §3.1 / RFC 2181 §11: a domain name is at most 253 characters in text form. */
const MAX_NAME = 253;

/** Who makes a set of names, where the stack says so, and what to change when one cannot be published. */
interface NameOwner {
  path: (string | number)[];
  /** Each name with the record types published there. */
  names: [name: string, types: string][];
  shorten: string;
  rename: string;
}

function owners(topology: Topology): { services: NameOwner; hosts: NameOwner[]; domains: NameOwner[] } {
  const { spec } = topology;
  const addressTypes = spec.ipv6 ? "A, AAAA" : "A";
  const namePaths = new Map(namedHosts(spec).map((n) => [n.host.name, n.namePath]));
  return {
    services: {
      path: ["serverDomain"],
      // The forwarding domain: SRS return addresses of forwarded mail, and the edges' ARC key.
      names: [
        ...Object.values(topology.services).map((s): [string, string] => [s.fqdn, addressTypes]),
        [forwardingDomain(spec), "MX, TXT"],
        [dkimRecordName(spec.forwarding.arcSelector, forwardingDomain(spec)), "TXT"],
      ],
      shorten: "use a shorter server domain (or ARC selector)",
      rename: "choose another server domain",
    },
    hosts: topology.hosts.map((h) => ({
      path: namePaths.get(h.name)!,
      names: [[h.fqdn, addressTypes], ...(spec.dnssec && h.role === "edge" ? [[smtpTlsaName(h.fqdn), "TLSA"] as [string, string]] : [])],
      shorten: "use a shorter host name or server domain",
      rename: "rename the host",
    })),
    domains: spec.domains.map((d, i) => {
      const report = dmarcReportAuthorization(spec, d);
      return {
        path: ["domains", i],
        names: [
          [d, "MX, TXT"],
          ...Object.values(domainPolicyNames(d)).map((n): [string, string] => [n, "TXT"]),
          ...Object.values(domainSrvNames(d)).map((n): [string, string] => [n, "SRV"]),
          ...spec.dkim.selectors.map((s): [string, string] => [dkimRecordName(s, d), "TXT"]),
          ...(report ? [[report, "TXT"] as [string, string]] : []),
          ...(spec.bimi[d] ? [[bimiRecordName(d), "TXT"] as [string, string]] : []),
          ...Object.values(domainCnames(topology, d)).map((c): [string, string] => [c.name, "CNAME"]),
        ],
        shorten: "use a shorter domain (or DKIM selector, or DMARC report domain)",
        rename: "host that domain under another name",
      };
    }),
  };
}

/** Every name the record set publishes records at, from the shapes above (the builder holds to them: test/records). */
export function recordNames(topology: Topology): string[] {
  const { services, hosts, domains } = owners(topology);
  return [services, ...hosts, ...domains].flatMap((o) => o.names.map(([name]) => name));
}

/**
 * Names the record set cannot publish, each at the key that makes it: one over 253 characters, or
 * one that would be a CNAME and hold other records too (RFC 1034 §3.6.2: resolvers return one or
 * the other), such as a host labelled like a web name when the server domain is a hosted domain.
 */
export function recordNameProblems(topology: Topology): ConfigProblem[] {
  const { services, hosts, domains } = owners(topology);
  const tooLong = (owner: NameOwner): ConfigProblem[] => {
    const name = owner.names.map(([n]) => n).reduce((a, b) => (b.length > a.length ? b : a));
    return name.length > MAX_NAME
      ? [configProblem(owner.path, `gives the DNS name ${name.slice(0, 40)}… of ${name.length} characters, over the limit of ${MAX_NAME}`, owner.shorten)]
      : [];
  };
  const long = tooLong(services);
  // Host names are checked only under a server domain that fits: the server domain is what to shorten first.
  const lengths = [...long, ...(long.length === 0 ? hosts.flatMap(tooLong) : []), ...domains.flatMap(tooLong)];

  const holders = new Map<string, { owner: NameOwner; types: string }>();
  for (const owner of [...hosts, services, ...domains]) {
    for (const [name, types] of owner.names) if (types !== "CNAME" && !holders.has(name)) holders.set(name, { owner, types });
  }
  const clashes = topology.spec.domains.flatMap((domain) =>
    Object.values(domainCnames(topology, domain)).flatMap(({ name, target }) => {
      const holder = holders.get(name);
      if (!holder) return [];
      const { owner, types } = holder;
      return [configProblem(owner.path, `${name} would be a CNAME and also have ${types} records`, `${owner.rename}: ${name} is ${domain}'s CNAME to ${target}`)];
    }),
  );
  return [...lengths, ...clashes];
}
