/**
 * The lab's layout, pure: which namespaces exist, their names and documentation-range addresses.
 * The fleet hosts and the nameserver take exactly the addresses of the lab stack; the lab's own
 * peers (a user's machine, a foreign mail server, the admin host the push runs from) sit on the
 * other documentation ranges, so every mail path crosses "the Internet" between prefixes.
 */
import { FleetSpec, Role } from "../../components/config/spec";
import { zoneBackend } from "../../components/records";
import { buildTopology } from "../../components/topology";

/**
 * A second lab on the same machine (another checkout's) sets MAILFLEET_LAB_INSTANCE to a short
 * name of its own: its state and namespaces then never meet the default lab's. No prefix is a
 * prefix of another ("mflab-" against "mflab2-"), so a lab's `down` ends only its own hosts.
 */
export function labInstance(instance: string): { dir: string; prefix: string } {
  if (!/^[a-z0-9]{0,6}$/.test(instance)) {
    throw new Error(`MAILFLEET_LAB_INSTANCE=${JSON.stringify(instance)}: use up to 6 lower-case letters or digits (or leave it unset for the default lab)`);
  }
  return { dir: instance ? `/var/lib/mailfleet-lab-${instance}` : "/var/lib/mailfleet-lab", prefix: `mflab${instance}-` };
}
const INSTANCE = labInstance(process.env.MAILFLEET_LAB_INSTANCE ?? "");
export const LAB_DIR = INSTANCE.dir;
export const NS_PREFIX = INSTANCE.prefix;
/** The namespace holding the bridge every host's veth is plugged into. */
export const BRIDGE_NS = `${NS_PREFIX}net`;
/** Every documentation range, routed on-link over each host's one interface (no default route: nothing leaves the lab). */
export const DOC_ROUTES = ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32"];

/** Where client and ext find the lab's mail test tool and the CA they trust (Pebble's root, fetched at up). */
export const LAB_TOOLS = "/usr/local/share/mailfleet-lab";
export const MAILTOOL = `${LAB_TOOLS}/mailtool.py`;
export const CA_FILE = `${LAB_TOOLS}/ca.crt`;
/** The DS of the lab's root zone, the trust anchor of client's and ext's validating resolvers: unbound's form and delv's. */
export const ROOT_ANCHOR = `${LAB_TOOLS}/root.ds`;
export const DELV_ANCHOR = `${LAB_TOOLS}/root-anchor.conf`;
/** Where the alert receiver (scripts/lab/webhook.py) lives on the peer that runs it. */
export const WEBHOOK = `${LAB_TOOLS}/webhook.py`;

/** The foreign domain the lab's `ext` host receives mail for. */
export const EXT_DOMAIN = "example.net";

export type LabKind = "fleet" | "dns" | "client" | "ext" | "admin" | "acme" | "backup" | "rbl" | "root" | "relay";

export interface LabHost {
  /** Label: mx1, dns1, client, … */
  name: string;
  fqdn: string;
  ipv4: string;
  ipv6: string;
  kind: LabKind;
  /** Deploy role (fleet hosts and dns1). */
  role?: Role | "dns";
  /** Runs an SSH server the push connects to. */
  ssh: boolean;
}

export function netnsName(host: string): string {
  return `${NS_PREFIX}${host}`;
}

export const LAB_PEERS: LabHost[] = [
  { name: "admin", fqdn: "admin.mail.lab", ipv4: "192.0.2.2", ipv6: "2001:db8:0:1::2", kind: "admin", ssh: false },
  { name: "client", fqdn: `client.${EXT_DOMAIN}`, ipv4: "198.51.100.10", ipv6: "2001:db8:0:2::10", kind: "client", ssh: false },
  { name: "ext", fqdn: `mx.${EXT_DOMAIN}`, ipv4: "203.0.113.25", ipv6: "2001:db8:0:3::25", kind: "ext", ssh: false },
  // A public ACME CA (Pebble), validating DNS-01 against the lab's nameserver like Let's Encrypt does.
  { name: "acme", fqdn: `acme.${EXT_DOMAIN}`, ipv4: "203.0.113.14", ipv6: "2001:db8:0:3::14", kind: "acme", ssh: false },
  // The lab's DNS root: a signed root zone delegating every zone of the lab to dns1, with their DS records.
  { name: "root", fqdn: "a.root.lab", ipv4: "203.0.113.53", ipv6: "2001:db8:0:3::53", kind: "root", ssh: false },
  // An off-site backup target: restic's REST server.
  { name: "backup", fqdn: `backup.${EXT_DOMAIN}`, ipv4: "203.0.113.40", ipv6: "2001:db8:0:3::40", kind: "backup", ssh: false },
  // DNS block- and allowlists (rbldnsd) for the edges' postscreen and rspamd: scripts/lab/rbl.ts.
  { name: "rbl", fqdn: "rbl.example.net", ipv4: "203.0.113.54", ipv6: "2001:db8:0:3::54", kind: "rbl", ssh: false },
  // A relay provider's smarthost (Postfix, SASL by Dovecot after STARTTLS) that a domain may send through.
  { name: "relay", fqdn: `relay.${EXT_DOMAIN}`, ipv4: "203.0.113.26", ipv6: "2001:db8:0:3::26", kind: "relay", ssh: false },
];

/** Pebble's ACME API and its management API (which serves the root it issues under). */
export const PEBBLE_PORT = 14000;
export const PEBBLE_MANAGEMENT_PORT = 15000;
export const REST_SERVER_PORT = 8000;

/** Every lab host: the stack's fleet hosts and first nameserver, then the lab's own peers. */
export function labHosts(spec: FleetSpec): LabHost[] {
  const ns = zoneBackend(spec).nameservers[0];
  if (!ns.ipv6) throw new Error("the lab stack's nameserver needs an IPv6 address");
  const fleet = buildTopology(spec).hosts.map((h): LabHost => {
    if (!h.ipv4 || !h.ipv6) throw new Error(`lab host ${h.name} needs ipv4 and ipv6 in the lab stack`);
    return { name: h.name, fqdn: h.fqdn, ipv4: h.ipv4, ipv6: h.ipv6, kind: "fleet", role: h.role, ssh: true };
  });
  const dns: LabHost = { name: "dns1", fqdn: ns.name, ipv4: ns.ipv4, ipv6: ns.ipv6, kind: "dns", role: "dns", ssh: true };
  return [dns, ...fleet, ...LAB_PEERS];
}

/** The prefix length a host's own address is configured with (its reverse zone's size). */
export function prefixOf(address: string): number {
  return address.includes(":") ? 64 : 24;
}
