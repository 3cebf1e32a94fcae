/** The lookup tables' contents, as pure functions of the spec and topology. */
import { FleetSpec, SmarthostSpec } from "../../config/spec";
import { LMTP_PORT, Topology } from "../../topology";
import { internalIpv4, PlacedHosts } from "../../topology/addresses";
import { oncePer } from "../../memo";
import { TableEntries } from "./format";

const domainOf = (address: string) => address.slice(address.lastIndexOf("@") + 1);

/**
 * Hosted aliases for the edge: each alias to its targets (hosted or foreign), each catch-all as
 * `@domain`. Postfix tries the full address before `@domain`, but a catch-all would still take
 * the mail of every mailbox in its domain, so those mailboxes are listed as mapping to themselves.
 */
export const hostedAliases = oncePer((spec: FleetSpec): TableEntries => {
  const caught = new Set(Object.keys(spec.catchAll));
  return [
    ...Object.entries(spec.aliases).map(([from, to]) => [from, to] as const),
    ...spec.mailboxes.filter((m) => caught.has(domainOf(m.address))).map((m) => [m.address, [m.address]] as const),
    ...Object.entries(spec.catchAll).map(([domain, target]) => [`@${domain}`, [target]] as const),
  ];
});

/**
 * Mailbox -> the LMTP service of the store that holds it. The one table answers both "does this
 * mailbox exist" (virtual_mailbox_maps) and "where does it go" (transport_maps).
 */
export function mailboxTransports(topology: Topology, hosts: PlacedHosts): TableEntries {
  return Object.entries(topology.mailboxStore).map(([mailbox, store]) => {
    return [mailbox, [`lmtp:inet:[${internalIpv4(hosts[store].addresses)}]:${LMTP_PORT}`]] as const;
  });
}

/**
 * Which SASL logins may use a sender address: each mailbox itself, and each alias the hosted
 * mailboxes it expands to (through nested aliases), so alice may send as sales@. An alias
 * whose targets are all foreign has no owner, and nobody may send as it. Every outbound host's
 * Postfix and rspamd read the same table: computed once per spec.
 */
export const senderLogins = oncePer((spec: FleetSpec): TableEntries => {
  const mailboxes = new Set(spec.mailboxes.map((m) => m.address));
  const owners = (address: string, seen: ReadonlySet<string>): string[] => {
    if (mailboxes.has(address)) return [address];
    if (seen.has(address)) return [];
    const next = new Set(seen).add(address);
    return (spec.aliases[address] ?? []).flatMap((target) => owners(target, next));
  };
  const aliasOwners = Object.keys(spec.aliases)
    .map((alias) => [alias, [...new Set(owners(alias, new Set()))].sort()] as const)
    .filter(([, logins]) => logins.length > 0);
  return [...spec.mailboxes.map((m) => [m.address, [m.address]] as const), ...aliasOwners];
});

/** `[host]:port` as relayhost names it: brackets skip the MX lookup, the smarthost is a host. */
export function relayhost(smarthost: SmarthostSpec): string {
  return `[${smarthost.host}]:${smarthost.port}`;
}

/** The smarthost's SASL login, keyed exactly as relayhost is written. Secret. */
export function smarthostPasswords(smarthost: SmarthostSpec): TableEntries {
  return [[relayhost(smarthost), [`${smarthost.username}:${smarthost.password}`]]];
}
