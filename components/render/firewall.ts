/**
 * Every host's own firewall: an nftables rule set rendered from the topology's ports table, so a
 * host of any backend answers only on its role's public ports, and LMTP, Dovecot auth and SSH
 * only to the hosts and networks that need them. On AWS the security groups say the same a second
 * time; on own servers this is the only wall. deploy.sh validates it (`nft -c`), refuses one that
 * would lock out the push (the admin sets below must hold the pusher's address), and loads it.
 */
import { Host, hostNamed, hostsOf, NAMESERVER_PORTS, Port, Topology } from "../topology";
import { cidrFamily, HostAddresses, internalIpv4, PlacedHosts } from "../topology/addresses";
import { file, RenderedFile } from "./file";

/** Where Debian's nftables.service loads the rule set from at boot. */
export const NFTABLES_CONF = "/etc/nftables.conf";
/** The one table the fleet owns; other tables (fail2ban, a container runtime) are left alone. */
export const FIREWALL_TABLE = "inet mailfleet";

type Family = "v4" | "v6";
const FAMILIES: Family[] = ["v4", "v6"];
const SADDR: Record<Family, string> = { v4: "ip saddr", v6: "ip6 saddr" };
const SET_TYPE: Record<Family, string> = { v4: "ipv4_addr", v6: "ipv6_addr" };

/** A named source set per family: `admin_v4`, `edge_v6`, … */
interface SourceSet {
  name: string;
  why: string;
  members: Record<Family, string[]>;
}

function byFamily(members: string[]): Record<Family, string[]> {
  const unique = [...new Set(members)];
  return { v4: unique.filter((m) => cidrFamily(m) === "ipv4"), v6: unique.filter((m) => cidrFamily(m) === "ipv6") };
}

/** Every address a host of the fleet may connect from: its own interface's and its published ones. */
function hostSources(a: HostAddresses): string[] {
  return [internalIpv4(a), a.ipv4, ...(a.ipv6 ? [a.ipv6] : [])];
}

function sourceSets(topology: Topology, hosts: PlacedHosts, ports: Port[]): Map<Port["from"], SourceSet> {
  const sets = new Map<Port["from"], SourceSet>();
  for (const { from } of ports) {
    if (from === "any" || sets.has(from)) continue;
    sets.set(
      from,
      from === "admin"
        ? { name: "admin", why: "the push and the admins (adminSshCidrs)", members: byFamily(topology.spec.adminSshCidrs) }
        : from === "scrapers"
          ? {
              name: "scrapers",
              why: "the fleet's monitoring hosts and the operator's own Prometheus (monitoring.cidrs)",
              members: byFamily([...hostsOf(topology, "monitoring").flatMap((h) => hostSources(hosts[h.name].addresses)), ...topology.spec.monitoring.cidrs]),
            }
          : {
            name: from,
            why: from === "state" ? "the state hosts (Valkey replication, Sentinel)" : `the fleet's ${from} hosts`,
            members: byFamily(
              (from === "state" ? topology.state.hosts.map((name) => hostNamed(topology, name)) : hostsOf(topology, from)).flatMap((h) => hostSources(hosts[h.name].addresses)),
            ),
          },
    );
  }
  return sets;
}

function renderSet(set: SourceSet, family: Family): string[] {
  const members = set.members[family];
  return [
    ...(family === "v4" ? [`  # ${set.why}`] : []),
    `  set ${set.name}_${family} {`,
    `    type ${SET_TYPE[family]}`,
    // Overlapping networks (a /24 and an address inside it) merge instead of failing the load.
    "    flags interval",
    "    auto-merge",
    ...(members.length > 0 ? [`    elements = { ${members.join(", ")} }`] : []),
    "  }",
  ];
}

function portRules(port: Port, sets: Map<Port["from"], SourceSet>): string[] {
  const protocols = port.udp ? ["tcp", "udp"] : ["tcp"];
  const set = sets.get(port.from);
  return protocols.flatMap((proto) => {
    const accept = `${proto} dport ${port.port}`;
    const comment = `comment "${port.service} from ${port.from}"`;
    if (!set) return [`    ${accept} accept ${comment}`];
    return FAMILIES.map((family) => `    ${accept} ${SADDR[family]} @${set.name}_${family} accept ${comment}`);
  });
}

/** The rule set of a host named `fqdn` that serves these ports (each role's ports include SSH from admin). */
function renderRuleSet(topology: Topology, hosts: PlacedHosts, fqdn: string, ports: Port[]): string {
  const sets = sourceSets(topology, hosts, ports);
  return [
    "#!/usr/sbin/nft -f",
    `# Rendered by mailfleet: the firewall of ${fqdn}, from the topology's ports table.`,
    // Creating the table first makes the delete valid on a host that never had it; the whole
    // file is one transaction, so the host is never without rules while it loads.
    `table ${FIREWALL_TABLE} {}`,
    `delete table ${FIREWALL_TABLE}`,
    `table ${FIREWALL_TABLE} {`,
    ...[...sets.values()].flatMap((set) => FAMILIES.flatMap((family) => renderSet(set, family))),
    "  chain input {",
    "    type filter hook input priority filter; policy drop;",
    '    iif "lo" accept',
    "    ct state established,related accept",
    "    ct state invalid drop",
    // IPv6 does not work without neighbour discovery; both families need PMTU and error messages.
    "    icmpv6 type { destination-unreachable, packet-too-big, time-exceeded, parameter-problem, echo-request, " +
      "nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept",
    "    icmp type { destination-unreachable, time-exceeded, parameter-problem, echo-request } accept",
    ...ports.flatMap((port) => portRules(port, sets)),
    "  }",
    "}",
    "",
  ].join("\n");
}

export function renderHostFirewall(topology: Topology, hosts: PlacedHosts, host: Host): RenderedFile {
  return file(NFTABLES_CONF, renderRuleSet(topology, hosts, host.fqdn, host.ports));
}

/** The zone backend's primary nameserver is no fleet host, but gets the same kind of wall. */
export function renderNameserverFirewall(topology: Topology, hosts: PlacedHosts, fqdn: string): RenderedFile {
  return file(NFTABLES_CONF, renderRuleSet(topology, hosts, fqdn, NAMESERVER_PORTS));
}
