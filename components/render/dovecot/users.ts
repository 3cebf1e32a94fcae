/**
 * /etc/dovecot/users: Dovecot's passwd-file, the passdb and userdb of a store. Every store lists
 * every mailbox of the fleet, so any store can take any session (imap.<serverDomain> resolves to
 * all of them, and the edge hands LMTP to any store); a mailbox that lives on another store carries
 * proxy fields that send the session there instead. Password hashes are kept where they are checked:
 * a store holds the hashes of its own mailboxes, and the auth store, which answers the outbound
 * MTA's SASL for every user, holds them all. Any other store proxies another store's user without
 * checking the password (nopassword): the user's own store checks it, so each store's file stays
 * small and a hash lives on two hosts at most.
 */
import { MailboxSpec } from "../../config/spec";
import { Host, Topology, hostsOf } from "../../topology";
import { internalIpv4, PlacedHosts } from "../../topology/addresses";

/** Where Dovecot reads it; dovecot.conf names it for both databases. */
export const USERS_PATH = "/etc/dovecot/users";

/**
 * One passwd-file line: `user:password:uid:gid:gecos:home:shell:extra_fields`. uid, gid and home
 * stay empty (the global mail_uid, mail_gid and mail_home apply); extra fields are space-separated
 * key=value pairs, passdb fields as they are and userdb fields behind a `userdb_` prefix.
 */
export function usersLine(address: string, passwordHash: string, extraFields: string): string {
  return `${address}:${passwordHash}::::::${extraFields}`;
}

/**
 * The proxy fields that send a session to `store`: `host` is the name its certificate carries (the
 * TLS check matches it), `hostip` where to connect: no DNS lookup on the way, and no dependence on
 * DNS being up. How to reach it (port, TLS) depends on the protocol and is set in dovecot.conf.
 */
function proxyFields(topology: Topology, hosts: PlacedHosts): Map<string, string> {
  return new Map(
    hostsOf(topology, "store").map((store) => [store.name, `proxy=y host=${store.fqdn} hostip=${internalIpv4(hosts[store.name].addresses)}`]),
  );
}

/** The passwd-file line of one mailbox as seen from `host`. */
function mailboxLine(mailbox: MailboxSpec, host: Host, authStore: boolean, proxies: Map<string, string>): string {
  if (mailbox.store === host.name) return usersLine(mailbox.address, mailbox.passwordHash, `userdb_quota_storage_size=${mailbox.quotaMb}M`);
  const proxy = proxies.get(mailbox.store);
  if (!proxy) throw new Error(`no store ${mailbox.store} for ${mailbox.address}`);
  return authStore ? usersLine(mailbox.address, mailbox.passwordHash, proxy) : usersLine(mailbox.address, "", `${proxy} nopassword=y`);
}

export function renderUsers(topology: Topology, hosts: PlacedHosts, host: Host): string {
  const proxies = proxyFields(topology, hosts);
  const authStore = topology.authStore === host.name;
  const lines = topology.spec.mailboxes.map((m) => mailboxLine(m, host, authStore, proxies));
  const what = authStore ? "every mailbox of the fleet with its hash (the auth store)" : "every mailbox; hashes of this store's own only";
  return `# Rendered by mailfleet for ${host.fqdn}: ${what}; those on other stores are proxied.\n${lines.join("\n")}\n`;
}
