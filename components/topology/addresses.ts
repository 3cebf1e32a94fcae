/** The static addresses of each host, known after the compute backend has allocated them. */
export interface HostAddresses {
  ipv4: string;
  ipv6?: string;
}

/** Host name (label, e.g. `mx1`) -> its addresses. */
export type AddressBook = Record<string, HostAddresses>;
