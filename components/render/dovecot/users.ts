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
import { oncePer } from "../../memo";
import { Host, Topology, hostsOf } from "../../topology";
import { internalIpv4, PlacedHosts } from "../../topology/addresses";
import { RenderInput } from "../input";

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

/** A store's mailboxes as each kind of store lists them, one line per mailbox, newline-terminated. */
interface StoreLines {
  /** In the store's own file: hash and quota. */
  own: string;
  /** In the auth store's file: hash and proxy fields. */
  proxiedWithHash: string;
  /** In any other store's file: proxy fields, no hash. */
  proxied: string;
}

/**
 * Made once per build: a store's proxy lines are the same in every other store's file, so 40 stores
 * of 50 000 mailboxes format 150 000 lines, not 2 million.
 */
const linesByStore = oncePer((input: RenderInput): Map<string, StoreLines> => {
  const proxies = proxyFields(input.topology, input.hosts);
  const byStore = Map.groupBy(input.topology.spec.mailboxes, (m) => input.topology.mailboxStore[m.address]);
  for (const [store, mailboxes] of byStore) if (!proxies.has(store)) throw new Error(`no store ${store} for ${mailboxes[0].address}`);
  const block = (mailboxes: readonly MailboxSpec[], line: (m: MailboxSpec) => string) => mailboxes.map((m) => `${line(m)}\n`).join("");
  return new Map(
    [...proxies].map(([store, proxy]) => {
      const mailboxes = byStore.get(store) ?? [];
      return [
        store,
        {
          own: block(mailboxes, (m) => usersLine(m.address, m.passwordHash, `userdb_quota_storage_size=${m.quotaMb}M`)),
          proxiedWithHash: block(mailboxes, (m) => usersLine(m.address, m.passwordHash, proxy)),
          proxied: block(mailboxes, (m) => usersLine(m.address, "", `${proxy} nopassword=y`)),
        },
      ];
    }),
  );
});

export function renderUsers(input: RenderInput, host: Host): string {
  const authStore = input.topology.authStore === host.name;
  const stores = linesByStore(input);
  const others = [...stores].filter(([store]) => store !== host.name).map(([, lines]) => (authStore ? lines.proxiedWithHash : lines.proxied));
  const what = authStore ? "every mailbox of the fleet with its hash (the auth store)" : "every mailbox; hashes of this store's own only";
  return `# Rendered by mailfleet for ${host.fqdn}: ${what}; those on other stores are proxied.\n${stores.get(host.name)!.own}${others.join("")}`;
}
