/** The rule sets both halves of the firewall tests render (firewall.test.ts, firewall.daemon.test.ts). */
import { buildFleet } from "../../components/build";
import { FleetSpec } from "../../components/config/spec";
import { NFTABLES_CONF } from "../../components/render/firewall";
import { AddressBook } from "../../components/topology/addresses";
import { labInput } from "../support/lab";

export const input = labInput();
/** The lab's addresses with a private IPv4 per host, as behind 1:1 NAT. */
export const natted: AddressBook = Object.fromEntries(
  Object.entries(input.addresses).map(([name, a], i) => [name, { ...a, privateIpv4: `198.51.100.${100 + i}` }]),
);
export const build = (addresses: AddressBook, change: (s: FleetSpec) => FleetSpec = (s) => s) => {
  const { topology, keys } = labInput(change);
  return buildFleet(topology.spec, addresses, keys);
};
export const rulesOf = (files: { path: string; content: string }[]) => files.find((f) => f.path === NFTABLES_CONF)!.content;
/** An admin network that overlaps another (192.0.2.2/32 inside 192.0.2.0/24): merged, not refused. */
export const overlappingAdmins = () => build(input.addresses, (s) => ({ ...s, adminSshCidrs: ["192.0.2.0/24", "192.0.2.2/32", "2001:db8:0:9::/64"] }));
