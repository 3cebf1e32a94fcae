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
