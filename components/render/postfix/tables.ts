/** The lookup tables' contents, as pure functions of the spec and topology. */
import { FleetSpec, RelaySpec } from "../../config/spec";
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
export function relayhost(relay: RelaySpec): string {
  return `[${relay.host}]:${relay.port}`;
}

/**
 * The relays' SASL logins. Secret. The global smarthost's keyed exactly as relayhost is written; a
 * domain's keyed `@domain`, which Postfix looks up first by sender (smtp_sender_dependent_authentication),
 * so each domain logs in as itself even when two domains share one relay.
 */
export function relayPasswords(spec: Pick<FleetSpec, "smarthost" | "domainSmarthosts">): TableEntries {
  const login = (relay: RelaySpec) => [`${relay.username}:${relay.password}`];
  return [
    ...(spec.smarthost ? [[relayhost(spec.smarthost), login(spec.smarthost)] as const] : []),
    ...Object.entries(spec.domainSmarthosts).map(([domain, relay]) => [`@${domain}`, login(relay)] as const),
  ];
}

/** Sender domain -> its relay (sender_dependent_relayhost_maps). */
export function senderRelays(spec: Pick<FleetSpec, "domainSmarthosts">): TableEntries {
  return Object.entries(spec.domainSmarthosts).map(([domain, relay]) => [`@${domain}`, [relayhost(relay)]] as const);
}

/**
 * Each domain relay's TLS policy: `secure` (verified, whatever the default level), its name matched,
 * and only the trust given to it (`tafile`: its pinned CA, or the system's roots), so another relay's
 * pinned CA never vouches for it. One line per relay: the rules make relays at one place share a CA.
 */
export function relayTlsPolicies(spec: Pick<FleetSpec, "domainSmarthosts">, trustOf: (domain: string, relay: RelaySpec) => string): TableEntries {
  const byNexthop = new Map<string, readonly string[]>();
  for (const [domain, relay] of Object.entries(spec.domainSmarthosts)) {
    if (!byNexthop.has(relayhost(relay))) byNexthop.set(relayhost(relay), ["secure", `match=${relay.host}`, `tafile=${trustOf(domain, relay)}`]);
  }
  return [...byNexthop];
}
