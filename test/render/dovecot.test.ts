/** The Dovecot 2.4 files of the IMAP stores (run by Dovecot itself in dovecot.daemon.test.ts). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hostNamed } from "../../components/topology";
import { filesOf, LAB } from "./dovecot.fixtures";

describe("Dovecot 2.4 files of the IMAP stores", () => {
  it("give every store every mailbox: local ones with their quota, others proxied to their store; hashes on the auth store and the own store only", () => {
    assert.equal(LAB.topology.authStore, "store1");
    for (const store of ["store1", "store2"]) {
      const users = filesOf(LAB, store).find((f) => f.path === "/etc/dovecot/users")!;
      assert.deepEqual({ mode: users.mode, owner: users.owner, group: users.group, secret: users.secret }, { mode: 0o640, owner: "root", group: "dovecot", secret: true });
      const lines = users.content.split("\n").filter((l) => l && !l.startsWith("#"));
      // Each mailbox once; the store's own come first, in no order Dovecot cares about.
      assert.deepEqual(lines.map((l) => l.split(":")[0]).sort(), ["alice@example.com", "bob@example.org", "carol@example.com"]);
      for (const line of lines) {
        const [address, hash, uid, gid, gecos, home, shell, extra, ...rest] = line.split(":");
        const mailbox = LAB.topology.spec.mailboxes.find((m) => m.address === address)!;
        // The auth store answers SASL for everyone; any other store checks only its own users' passwords.
        const checksHere: boolean = LAB.topology.mailboxStore[address] === store || store === LAB.topology.authStore;
        assert.equal(hash, checksHere ? mailbox.passwordHash : "", `${address} on ${store}`);
        assert.deepEqual([uid, gid, gecos, home, shell, rest], ["", "", "", "", "", []], "uid, gid and home come from dovecot.conf");
        const other = hostNamed(LAB.topology, LAB.topology.mailboxStore[address]);
        const proxy = `proxy=y host=${other.fqdn} hostip=${LAB.addresses[other.name]!.ipv4}`;
        assert.equal(
          extra,
          LAB.topology.mailboxStore[address] === store ? `userdb_quota_storage_size=${mailbox.quotaMb}M` : checksHere ? proxy : `${proxy} nopassword=y`,
          `${address} on ${store}`,
        );
      }
    }
  });

  it("are made for stores only", () => {
    assert.throws(() => filesOf(LAB, "mx1"), /mx1 is a edge host, not an IMAP store/);
  });
});
