/**
 * Topology: what the fleet is, derived from the spec alone (no addresses, no keys).
 * Host and service names, who sends mail, who may reach which port, where each mailbox lives.
 */
import { ConfigError } from "../config/errors";
import { FleetSpec, MAIL_ROLES, Role } from "../config/spec";
import { namedHosts, NamedHostSpec } from "./naming";
import { topologyProblems } from "./rules";

export { namedHosts } from "./naming";
export { topologyProblems } from "./rules";

/**
 * Who may connect to a port: anyone, only hosts of a role, only the state hosts, only the admin
 * networks, or whoever scrapes the exporters (the monitoring hosts and an operator's own Prometheus,
 * monitoring.cidrs).
 */
export type PortSource = "any" | "admin" | "state" | "scrapers" | Role;
export interface Port {
  port: number;
  service: string;
  from: PortSource;
  /** Also open for UDP (DNS); every other service is TCP only. */
  udp?: boolean;
}

/**
 * The zone backend's primary nameserver is no fleet host, but the push deploys it and Prometheus
 * labels it by role like one: every role a host the fleet manages may have.
 */
export type HostRole = Role | "dns";

export interface Host extends NamedHostSpec {
  /** `<name>.<serverDomain>`: its A/AAAA name, its PTR target and its HELO name. */
  fqdn: string;
  /** Sends mail to the Internet (needs FCrDNS and a HELO SPF record). */
  sends: boolean;
  ports: Port[];
}

/** The fleet's ports by service, in one place: the port table below, the SRV records, the AWS SSH rule and the lab take them from here. */
export const SSH_PORT = 22;
export const SMTP_PORT = 25;
export const DNS_PORT = 53;
export const HTTP_PORT = 80;
export const HTTPS_PORT = 443;
export const SUBMISSIONS_PORT = 465;
export const SUBMISSION_PORT = 587;
export const IMAPS_PORT = 993;
export const POP3S_PORT = 995;
export const LMTP_PORT = 24;
/**
 * Parallel LMTP deliveries from one edge to one store. Every delivery into a store starts at an
 * edge, so this (times the edges) bounds what a store takes at once; the store sets no per-user
 * limit of its own, which would turn a burst to one mailbox into deferrals and retries.
 */
export const LMTP_CONCURRENCY = 10;
/** Dovecot auth over TCP for the outbound MTA's SASL (the port Dovecot's own docs use). */
export const AUTH_PORT = 12345;
export const SIEVE_PORT = 4190;
/** rspamd's shared state: Valkey and its Sentinels (render/valkey.ts). */
export const VALKEY_PORT = 6379;
export const SENTINEL_PORT = 26379;
/** rspamd's controller on the edges: the stores send what users move into or out of Junk to it (render/dovecot/learn.ts). */
export const RSPAMD_CONTROLLER_PORT = 11334;
/** Observability (components/render/monitoring): Debian's exporters and the monitoring host's own daemons, on their usual ports. */
export const NODE_EXPORTER_PORT = 9100;
export const PROMETHEUS_PORT = 9090;
export const ALERTMANAGER_PORT = 9093;
/** The blackbox exporter listens on the monitoring host's loopback: only its own Prometheus asks it to probe. */
export const BLACKBOX_PORT = 9115;
/** Dovecot 2.4's own OpenMetrics endpoint (service stats, inet_listener http) on the stores. */
export const DOVECOT_METRICS_PORT = 9900;
/**
 * Forwarding on the edges (render/postfix/forwarding.ts), on loopback only and so in no firewall rule:
 * postsrsd's two lookup tables (Debian's ports) and the smtpd that forwarded mail passes through to
 * have its envelope sender rewritten.
 */
export const SRS_FORWARD_PORT = 10001;
export const SRS_REVERSE_PORT = 10002;
export const FORWARD_PORT = 10027;
/**
 * Outbound TLS policy (render/outboundTls.ts), on loopback only and so in no firewall rule: Debian's
 * mta-sts-daemon on its default port, and the DANE-first socketmap Postfix asks before it.
 */
export const MTA_STS_RESOLVER_PORT = 8461;
export const DANE_FIRST_PORT = 8462;
/** Knot's own exporter (Debian's knot-exporter, its default port) on the zone backend's primary nameserver. */
export const KNOT_EXPORTER_PORT = 9433;
/** Debian's prometheus-postfix-exporter (queues from showq, counters from Postfix's own log) on the edges and outbound hosts. */
export const POSTFIX_EXPORTER_PORT = 9154;
/** mtail's metrics (deliveries by transport and status, from Postfix's own log) beside it. */
export const MTAIL_PORT = 3903;
/**
 * rspamd's metrics on the edges and outbound hosts: nginx answers GET /metrics from the loopback
 * controller and nothing else (render/web/metrics.ts). Next to rspamd's own ports (11335 is its fuzzy storage's).
 */
export const RSPAMD_METRICS_PORT = 11336;

/** Names users and other MTAs see, besides host names; each resolves to every host of a role. */
export interface ServiceName {
  fqdn: string;
  role: Role;
  purpose: string;
}

export interface Topology {
  spec: FleetSpec;
  hosts: Host[];
  services: { smtp: ServiceName; imap: ServiceName; web: ServiceName; mtaSts: ServiceName };
  /** Mailbox address -> store host name. */
  mailboxStore: Record<string, string>;
  /** The store whose Dovecot answers the outbound MTA's SASL queries: the one store that holds every user's hash. */
  authStore: string;
  state: StatePlacement;
}

/** Where rspamd's shared state runs: Valkey and a Sentinel on each of these hosts. */
export interface StatePlacement {
  hosts: string[];
  /** The host that starts as the primary; after a failover the Sentinels know the current one. */
  primary: string;
  /** Sentinels that must agree a primary is down: a majority. */
  quorum: number;
}

/**
 * The stack's state.hosts, or the first host of each mail role: three machines of different roles, none
 * of which moves when a role scales out (adding an edge adds a client, never a primary or a replica).
 */
function placeState(spec: FleetSpec, named: NamedHostSpec[]): StatePlacement {
  const hosts = spec.state.hosts ?? MAIL_ROLES.map((role) => named.find((h) => h.role === role)!.name);
  return { hosts, primary: hosts[0], quorum: Math.floor(hosts.length / 2) + 1 };
}

/** The state service's ports, on the state hosts: rspamd (edges, outbound) and the state hosts themselves (replication, Sentinel gossip). */
const STATE_PORTS: Port[] = (["edge", "outbound", "state"] as const).flatMap((from) => [
  { port: VALKEY_PORT, service: "valkey", from },
  { port: SENTINEL_PORT, service: "sentinel", from },
]);

/** SSH on every host, for the push and the admins only. */
const ssh: Port = { port: SSH_PORT, service: "ssh", from: "admin" };
/** Every host's metrics, for the fleet's monitoring hosts and the operator's own Prometheus only. */
const nodeExporter: Port = { port: NODE_EXPORTER_PORT, service: "node-exporter", from: "scrapers" };
/** An MTA's queue, delivery and scanning metrics (edge and outbound), for the same scrapers. */
const mtaExporters: Port[] = [
  { port: POSTFIX_EXPORTER_PORT, service: "postfix-exporter", from: "scrapers" },
  { port: MTAIL_PORT, service: "mtail", from: "scrapers" },
  { port: RSPAMD_METRICS_PORT, service: "rspamd-metrics", from: "scrapers" },
];

function portsFor(role: Role, spec: FleetSpec): Port[] {
  switch (role) {
    case "edge":
      return [
        { port: SMTP_PORT, service: "smtp", from: "any" },
        // MTA-STS policy and mail client autoconfig are served over HTTPS from the edge.
        { port: HTTP_PORT, service: "http", from: "any" },
        { port: HTTPS_PORT, service: "https", from: "any" },
        // The users' spam and ham reports (rspamd's learn API, behind its enable_password).
        { port: RSPAMD_CONTROLLER_PORT, service: "rspamd-controller", from: "store" },
        ...mtaExporters,
        nodeExporter,
        ssh,
      ];
    case "outbound":
      return [
        { port: SUBMISSION_PORT, service: "submission", from: "any" },
        { port: SUBMISSIONS_PORT, service: "submissions", from: "any" },
        ...mtaExporters,
        nodeExporter,
        ssh,
      ];
    case "store":
      return [
        { port: IMAPS_PORT, service: "imaps", from: "any" },
        ...(spec.pop3 ? [{ port: POP3S_PORT, service: "pop3s", from: "any" as const }] : []),
        { port: SIEVE_PORT, service: "managesieve", from: "any" },
        // LMTP and auth carry no TLS of their own: only the fleet's own hosts may reach them.
        { port: LMTP_PORT, service: "lmtp", from: "edge" },
        // A store proxies LMTP for a mailbox it does not hold to the store that does.
        { port: LMTP_PORT, service: "lmtp", from: "store" },
        { port: AUTH_PORT, service: "dovecot-auth", from: "outbound" },
        // The monitoring host reads the LMTP banner (a probe never sends a message).
        { port: LMTP_PORT, service: "lmtp", from: "monitoring" },
        { port: DOVECOT_METRICS_PORT, service: "dovecot-metrics", from: "scrapers" },
        nodeExporter,
        ssh,
      ];
    case "monitoring":
      // The admins reach the Prometheus and Alertmanager UIs (over an SSH tunnel or from their networks).
      return [
        { port: PROMETHEUS_PORT, service: "prometheus", from: "admin" },
        { port: ALERTMANAGER_PORT, service: "alertmanager", from: "admin" },
        nodeExporter,
        ssh,
      ];
  }
}

/** The zone backend's primary nameserver: authoritative DNS for everyone, SSH for the push, its metrics for the scrapers. */
export const NAMESERVER_PORTS: Port[] = [
  { port: DNS_PORT, service: "dns", from: "any", udp: true },
  { port: KNOT_EXPORTER_PORT, service: "knot-exporter", from: "scrapers" },
  nodeExporter,
  ssh,
];

/** The fleet a spec describes; a ConfigError (with key paths) when its host names or mailbox stores do not add up. */
export function buildTopology(spec: FleetSpec): Topology {
  const problems = topologyProblems(spec);
  if (problems.length > 0) throw new ConfigError(problems);
  const named = namedHosts(spec).map((n) => n.host);
  const authStore = named.find((h) => h.role === "store")!.name;
  const state = placeState(spec, named);
  const hosts: Host[] = named.map((h) => ({
    ...h,
    fqdn: `${h.name}.${spec.serverDomain}`,
    sends: h.role === "edge" || h.role === "outbound",
    ports: [
      // Only the auth store listens for the outbound MTA's SASL queries.
      ...portsFor(h.role, spec).filter((p) => p.port !== AUTH_PORT || h.name === authStore),
      ...(state.hosts.includes(h.name) ? STATE_PORTS : []),
    ],
  }));
  const service = (label: string, role: Role, purpose: string): ServiceName => ({ fqdn: `${label}.${spec.serverDomain}`, role, purpose });
  return {
    spec,
    hosts,
    services: {
      smtp: service("smtp", "outbound", `mail submission (${SUBMISSION_PORT}, ${SUBMISSIONS_PORT})`),
      imap: service("imap", "store", `IMAPS (${IMAPS_PORT}); a store proxies users it does not hold to their own store`),
      web: service("mail", "edge", "mail client autoconfig and autodiscover"),
      mtaSts: service("mta-sts", "edge", "MTA-STS policy over HTTPS"),
    },
    // A mailbox the stack places on no store lives on the one store (topologyProblems holds there is one).
    mailboxStore: Object.fromEntries(spec.mailboxes.map((m) => [m.address, m.store ?? authStore])),
    authStore,
    state,
  };
}

export function hostsOf(topology: Topology, role: Role): Host[] {
  return topology.hosts.filter((h) => h.role === role);
}

export function hostNamed(topology: Topology, name: string): Host {
  const host = topology.hosts.find((h) => h.name === name);
  if (!host) throw new Error(`no host named ${name}`);
  return host;
}

/** A hosted domain's web names, served by the edge hosts: each is a CNAME to a service name of the edge. */
export interface DomainWebNames {
  /** The MTA-STS policy host (RFC 8461 §3.3), a CNAME to services.mtaSts. */
  mtaSts: string;
  /** Thunderbird's autoconfig host, a CNAME to services.web. */
  autoconfig: string;
  /** Outlook's autodiscover host, a CNAME to services.web. */
  autodiscover: string;
}

/** The one place a domain's web names are spelled: records, certificates, nginx and the live check read them here. */
export function domainWebNames(domain: string): DomainWebNames {
  return { mtaSts: `mta-sts.${domain}`, autoconfig: `autoconfig.${domain}`, autodiscover: `autodiscover.${domain}` };
}

/** Where a domain's BIMI logo and mark certificate are served on its web names. */
export const BIMI_PATHS = { logo: "/bimi/logo.svg", certificate: "/bimi/certificate.pem" } as const;

/**
 * The URLs of a domain's BIMI files: on its MTA-STS name, which the edges' certificates already
 * cover (receivers fetch them over HTTPS only), so BIMI needs no name or certificate of its own.
 */
export function bimiUrls(domain: string): Record<keyof typeof BIMI_PATHS, string> {
  const host = domainWebNames(domain).mtaSts;
  return { logo: `https://${host}${BIMI_PATHS.logo}`, certificate: `https://${host}${BIMI_PATHS.certificate}` };
}

/**
 * The names a host's certificate must carry: its own name, the service names of its role, and on
 * edge hosts the per-domain web names that CNAME to it (MTA-STS policy, client autoconfig).
 */
export function hostCertificateNames(topology: Topology, host: Host): string[] {
  return certificateLineages(topology, host).flatMap((l) => l.names);
}

/** Let's Encrypt issues at most 100 names per certificate. */
export const MAX_NAMES_PER_CERTIFICATE = 100;

/** A daemon that reads a certificate, and so is reloaded when it is renewed. */
export type TlsDaemon = "postfix" | "dovecot" | "nginx";

/** One ACME certificate (a certbot lineage) of a host: its name, its names, the daemons that serve it. */
export interface CertificateLineage {
  /** `<host>` for the host and service names, `<host>-web-<n>` for chunks of the per-domain web names. */
  name: string;
  names: string[];
  daemons: TlsDaemon[];
}

const ROLE_DAEMONS: Record<Role, TlsDaemon[]> = { edge: ["postfix", "nginx"], outbound: ["postfix"], store: ["dovecot"], monitoring: [] };

/**
 * A host's certificates: one for its own name and its role's service names (what every daemon of
 * the role serves by default), and on edges the per-domain web names in chunks of whole domains of
 * at most MAX_NAMES_PER_CERTIFICATE names, which only nginx serves (picked by SNI).
 */
export function certificateLineages(topology: Topology, host: Host): CertificateLineage[] {
  const services = Object.values(topology.services).filter((s) => s.role === host.role).map((s) => s.fqdn);
  const own: CertificateLineage = { name: host.name, names: [host.fqdn, ...services], daemons: ROLE_DAEMONS[host.role] };
  if (host.role !== "edge") return [own];
  const webNames = (domain: string) => Object.values(domainWebNames(domain));
  const perChunk = Math.floor(MAX_NAMES_PER_CERTIFICATE / webNames("x").length);
  const domains = topology.spec.domains;
  const chunks = Array.from({ length: Math.ceil(domains.length / perChunk) }, (_, i) => domains.slice(i * perChunk, (i + 1) * perChunk));
  return [own, ...chunks.map((chunk, i) => ({ name: `${host.name}-web-${i + 1}`, names: chunk.flatMap(webNames), daemons: ["nginx" as const] }))];
}
