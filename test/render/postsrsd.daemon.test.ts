/**
 * The edges' SRS (render/postsrsd.ts) run by Debian 13's postsrsd through Debian's own launcher, asked
 * through the tables the edge's Postfix names (the reverse one behind the SRS address filter): a
 * forward's sender is rewritten under the forwarding domain and reversed again, also when a mailer on
 * the way folded its case, a tampered hash is not reversed, and during a rotation (a new secret put
 * first) addresses signed with the old secret still reverse while new ones use the new.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { renderPostsrsd } from "../../components/render/postsrsd";
import { renderEdgePostfix } from "../../components/render/postfix";
import { hostNamed, SRS_FORWARD_PORT, SRS_REVERSE_PORT } from "../../components/topology";
import { forwardingDomain } from "../../components/topology/naming";
import { Debian13Host } from "../support/debian13";
import { labInput } from "../support/lab";

const OLD = "1".repeat(64);
const NEW = "2".repeat(64);

/** postsrsd's tables as the edge's main.cf and master.cf name them (postconf -x, expanded). */
const TABLES: Record<number, string[]> = { [SRS_FORWARD_PORT]: ["-P", "srscleanup/unix/sender_canonical_maps"], [SRS_REVERSE_PORT]: ["recipient_canonical_maps"] };

/** Runs postsrsd with the rendered files and the given secrets, and hands over a lookup on one of its tables, as the edge's Postfix makes it. */
function withPostsrsd(secrets: string[], check: (lookup: (port: number, key: string) => string) => void): void {
  const input = labInput((spec) => spec);
  const edge = { ...input, keys: { ...input.keys, srs: secrets } };
  // postmap reads main.cf: the edge's own, as its Postfix has it.
  const host = new Debian13Host([...renderPostsrsd(edge), ...renderEdgePostfix(edge, hostNamed(input.topology, "mx1"))]).boot();
  try {
    assert.equal(host.exec(["sh", "-c", "setsid /usr/share/postsrsd/postsrsd-systemd-launcher </dev/null >/tmp/postsrsd.log 2>&1 &"]).code, 0);
    const lookup = (port: number, key: string) => {
      const table = host.exec(["postconf", "-xh", ...TABLES[port]]).stdout.trim();
      assert.ok(table.includes(`tcp:127.0.0.1:${port}`), table);
      return host.exec(["postmap", "-q", key, table]).stdout.trim();
    };
    for (let i = 0; i < 50 && host.exec(["bash", "-c", `exec 3<>/dev/tcp/127.0.0.1/${SRS_REVERSE_PORT}`]).code !== 0; i++) host.exec(["sleep", "0.1"]);
    check(lookup);
  } finally {
    host.dispose();
  }
}

test("a forward's sender becomes an SRS address under the forwarding domain and reverses; a tampered hash does not", () => {
  const fwd = forwardingDomain(labInput().topology.spec);
  withPostsrsd([OLD], (lookup) => {
    const srs = lookup(SRS_FORWARD_PORT, "carol@example.net");
    assert.match(srs, new RegExp(`^SRS0=([^=]{4})=[^=]{2}=example\\.net=carol@${fwd.replace(/\./g, "\\.")}$`));
    assert.equal(lookup(SRS_REVERSE_PORT, srs), "carol@example.net");
    assert.equal(lookup(SRS_REVERSE_PORT, srs.toLowerCase()), "carol@example.net", "folded on the way back");
    const hash = /^SRS0=([^=]+)=/.exec(srs)![1];
    const tampered = srs.replace(`=${hash}=`, `=${hash === "AAAA" ? "BBBB" : "AAAA"}=`);
    assert.equal(lookup(SRS_REVERSE_PORT, tampered), "", "a bad hash is no recipient (relay_recipient_maps finds nothing)");
    assert.equal(lookup(SRS_FORWARD_PORT, srs), "", "an address already in the forwarding domain is left alone");
  });
});

test("rotation: with a new secret first, new addresses use it and the old secret's addresses still reverse", () => {
  let signedWithOld = "";
  withPostsrsd([OLD], (lookup) => (signedWithOld = lookup(SRS_FORWARD_PORT, "carol@example.net")));
  withPostsrsd([NEW, OLD], (lookup) => {
    assert.equal(lookup(SRS_REVERSE_PORT, signedWithOld), "carol@example.net");
    assert.notEqual(lookup(SRS_FORWARD_PORT, "carol@example.net").split("=")[1], signedWithOld.split("=")[1], "the new secret signs");
  });
  withPostsrsd([NEW], (lookup) => assert.equal(lookup(SRS_REVERSE_PORT, signedWithOld), "", "once the old secret is dropped its addresses are refused"));
});
