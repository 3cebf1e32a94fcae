import { isIPv6 } from "node:net";
import type { FleetSpec } from "../config/spec";
import type { Host, Topology } from ".";
import { namedHosts } from "./naming";

/** The static addresses of each host, known after the compute backend has allocated them. */
export interface HostAddresses {
  /** The published address: A record, PTR, SPF. */
  ipv4: string;
  ipv6?: string;
  /**
   * The address on the host's own interface when the published one is NATed to it (an AWS
   * Elastic IP is never on the instance). Daemons bind to it, and the fleet's hosts reach each
   * other on it (cloud firewalls match group rules only on private traffic). Defaults to ipv4.
   */
  privateIpv4?: string;
}

/** The IPv4 address a host binds to and the fleet's other hosts connect to. */
export function internalIpv4(addresses: HostAddresses): string {
  return addresses.privateIpv4 ?? addresses.ipv4;
}

/** Host name (label, e.g. `mx1`) -> its addresses. */
export type AddressBook = Record<string, HostAddresses>;

/** A host joined with the addresses the compute backend gave it. */
export type PlacedHost = Host & { addresses: HostAddresses };
/** Host name -> the placed host: every host of the topology. */
export type PlacedHosts = Record<string, PlacedHost>;

/** Joins each host with its addresses, once: the one place a missing address is refused. */
export function placeHosts(topology: Topology, addresses: AddressBook): PlacedHosts {
  const missing = topology.hosts.filter((h) => !addresses[h.name]).map((h) => h.name);
  if (missing.length > 0) throw new Error(`no addresses for ${missing.join(", ")}: the compute backend must give every host an IPv4 address`);
  // One rule for IPv6 everywhere: with ipv6 off no host uses an IPv6 address, with it on every host
  // has one (unbound, the kernel would pick any address, one without PTR or SPF cover).
  const noIpv6 = topology.spec.ipv6 ? topology.hosts.filter((h) => !addresses[h.name].ipv6).map((h) => h.name) : [];
  if (noIpv6.length > 0) throw new Error(`${noIpv6.join(", ")} ha${noIpv6.length > 1 ? "ve" : "s"} no IPv6 address, but ipv6 is true: give one or set ipv6: false`);
  return Object.fromEntries(
    topology.hosts.map((h) => {
      const { ipv6, ...ipv4Only } = addresses[h.name];
      return [h.name, { ...h, addresses: topology.spec.ipv6 ? { ...ipv4Only, ipv6 } : ipv4Only }];
    }),
  );
}

/** The addresses of existing servers (compute: byo), as the stack gives them. */
export function givenAddresses(spec: FleetSpec): AddressBook {
  return Object.fromEntries(
    namedHosts(spec)
      .map((n) => n.host)
      .filter((h) => h.ipv4)
      .map((h) => [h.name, { ipv4: h.ipv4!, ...(h.ipv6 ? { ipv6: h.ipv6 } : {}), ...(h.privateIpv4 ? { privateIpv4: h.privateIpv4 } : {}) }]),
  );
}

/**
 * Stand-ins with the shape the real addresses will have, for a cloud that allocates them at `pulumi up`:
 * a public IPv4 per host (documentation range), on AWS the private IPv4 in the fleet VPC's subnet
 * (compute/aws.ts SUBNET_CIDR) that the Elastic IP is NATed to, and IPv6 when ipv6 is on. The offline
 * render and the DNS plan use them; they never reach a resource.
 */
export function standInAddresses(topology: Topology): AddressBook {
  const { compute, ipv6 } = topology.spec;
  return Object.fromEntries(
    topology.hosts.map((h, i) => [
      h.name,
      {
        ipv4: `192.0.2.${i + 1}`,
        ...(compute === "aws" ? { privateIpv4: `10.77.0.${i + 10}` } : {}),
        ...(ipv6 ? { ipv6: `2001:db8::${(i + 1).toString(16)}` } : {}),
      },
    ]),
  );
}

/** Whether an address or network (`192.0.2.0/24`, `2001:db8::/32`) is IPv4 or IPv6. */
export function cidrFamily(cidr: string): "ipv4" | "ipv6" {
  return isIPv6(cidr.split("/")[0]) ? "ipv6" : "ipv4";
}
