/**
 * /etc/dovecot/users: Dovecot's passwd-file, the passdb and userdb of a store. Every store holds
 * every mailbox of the fleet, so any store can authenticate anyone (imap.<serverDomain> resolves
 * to all of them, and the outbound MTA's SASL asks one store about every user); a mailbox that
 * lives on another store carries proxy fields that send the session there instead.
 */
import { MailboxSpec } from "../../config/spec";
import { Host, Topology, hostNamed } from "../../topology";
import { AddressBook, internalIpv4 } from "../../topology/addresses";

/** Where Dovecot reads it; dovecot.conf names it for both databases. */
export const USERS_PATH = "/etc/dovecot/users";

/**
 * One passwd-file line: `user:password:uid:gid:gecos:home:shell:extra_fields`. uid, gid and home
 * stay empty (the global mail_uid, mail_gid and mail_home apply); extra fields are space-separated
 * key=value pairs, passdb fields as they are and userdb fields behind a `userdb_` prefix.
 */
export function usersLine(mailbox: MailboxSpec, extraFields: string[]): string {
  return `${mailbox.address}:${mailbox.passwordHash}::::::${extraFields.join(" ")}`;
}

/**
 * The extra fields of one mailbox as seen from `host`: its quota when it lives here; otherwise
 * `proxy` and the address of its own store, so the login process (IMAP, POP3, ManageSieve) and
 * LMTP hand the session to that store instead of serving it from an empty local mailbox. How to
 * reach the other store (port, TLS) depends on the protocol and is set in dovecot.conf.
 */
export function mailboxFields(mailbox: MailboxSpec, host: Host, topology: Topology, addresses: AddressBook): string[] {
  const store = topology.mailboxStore[mailbox.address];
  if (store === host.name) return [`userdb_quota_storage_size=${mailbox.quotaMb}M`];
  const target = hostNamed(topology, store);
  const address = addresses[target.name];
  if (!address) throw new Error(`no address for store ${store} of ${mailbox.address}`);
  // host is the name the other store's certificate carries (the TLS check matches it), hostip
  // where to connect: no DNS lookup on the way, and no dependence on DNS being up.
  return ["proxy=y", `host=${target.fqdn}`, `hostip=${internalIpv4(address)}`];
}

export function renderUsers(topology: Topology, addresses: AddressBook, host: Host): string {
  const lines = topology.spec.mailboxes.map((m) => usersLine(m, mailboxFields(m, host, topology, addresses)));
  return `# Rendered by mailfleet for ${host.fqdn}: every mailbox of the fleet; those on other stores are proxied.\n${lines.join("\n")}\n`;
}
