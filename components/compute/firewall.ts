/**
 * The cloud firewall, planned from the topology's ports: which source may reach which port of
 * which role. Pure; the aws backend turns each rule into one security group rule.
 */
import { Role, ROLES } from "../config/spec";
import { hostsOf, Topology } from "../topology";

export type RuleSource =
  | { kind: "cidr"; cidr: string }
  /**
   * The security group of every host of a role. The fleet's hosts reach each other on their
   * private addresses (topology/addresses internalIpv4), which is what a group reference matches.
   */
  | { kind: "group"; role: Role };

export interface IngressRule {
  /** The role whose security group gets the rule. */
  role: Role;
  port: number;
  service: string;
  source: RuleSource;
}

const ANYWHERE_V4 = "0.0.0.0/0";
const ANYWHERE_V6 = "::/0";

export function ingressRules(topology: Topology): IngressRule[] {
  const { spec } = topology;
  const rules: IngressRule[] = [];
  // A security group is per role, so "the state hosts" is every role that has one (each host's nftables narrows it to the hosts).
  const stateRoles = ROLES.filter((role) => hostsOf(topology, role).some((h) => topology.state.hosts.includes(h.name)));
  // A role without hosts has no security group (a stack without monitoring hosts): nothing to admit.
  const groupOf = (role: Role): RuleSource[] => (hostsOf(topology, role).length > 0 ? [{ kind: "group", role }] : []);
  for (const role of ROLES) {
    // The union of the role's hosts' ports: only some hosts of a role run the state service.
    const ports = new Map(hostsOf(topology, role).flatMap((h) => h.ports).map((p) => [`${p.port}/${p.service}/${p.from}`, p]));
    for (const { port, service, from } of ports.values()) {
      const sources: RuleSource[] =
        from === "any"
          ? [{ kind: "cidr", cidr: ANYWHERE_V4 }, ...(spec.ipv6 ? [{ kind: "cidr" as const, cidr: ANYWHERE_V6 }] : [])]
          : from === "admin"
            ? spec.adminSshCidrs.map((cidr) => ({ kind: "cidr" as const, cidr }))
            : from === "scrapers"
              ? [...groupOf("monitoring"), ...spec.monitoring.cidrs.map((cidr) => ({ kind: "cidr" as const, cidr }))]
              : from === "state"
                ? stateRoles.map((role) => ({ kind: "group" as const, role }))
                : groupOf(from);
      sources.forEach((source) => rules.push({ role, port, service, source }));
    }
  }
  // The same port from the same group twice (edge, and state on an edge) is one rule.
  const seen = new Set<string>();
  return rules.filter((r) => !seen.has(ruleName(r)) && seen.add(ruleName(r)));
}

/** A stable, readable name for a rule's resource: `store-24-lmtp-from-mx1-ipv4`. */
export function ruleName(rule: IngressRule): string {
  const { source } = rule;
  const from = source.kind === "cidr" ? source.cidr : `${source.role}-group`;
  return `${rule.role}-${rule.port}-${rule.service}-from-${from}`;
}
