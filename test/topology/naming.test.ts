/** Host names and mailbox placement: topology's, from what the stack wrote. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, parseFleetConfig } from "../../components/config";
import { buildTopology, namedHosts, topologyProblems } from "../../components/topology";
import { validRaw } from "../support/fixtures";

const SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGrIP5eunMn/RAZCcf6cQAy8CQCTtrHPB+pEShYpXiQ+ mailfleet-example-deploy";
function counted(edge: number, outbound: number, store: number) {
  const raw = validRaw();
  Object.assign(raw, { compute: "aws", ssh: { publicKey: SSH_KEY }, hosts: { edge: { count: edge }, outbound: { count: outbound }, store: { count: store } } });
  for (const m of raw.mailboxes) m.store = "store1";
  return raw;
}

describe("host names", () => {
  it("the spec keeps what the stack wrote: no names for counted hosts", () => {
    assert.ok(parseFleetConfig(counted(2, 1, 2)).hosts.every((h) => h.name === undefined));
  });
  it("counted hosts are numbered in their role, under the server domain", () => {
    const topology = buildTopology(parseFleetConfig(counted(3, 2, 2)));
    assert.deepEqual(topology.hosts.map((h) => h.fqdn), [
      "mx1.mail.example.com", "mx2.mail.example.com", "mx3.mail.example.com",
      "out1.mail.example.com", "out2.mail.example.com", "store1.mail.example.com", "store2.mail.example.com",
    ]);
  });
  it("listed hosts keep their labels, and name problems point at the label", () => {
    const spec = parseFleetConfig(validRaw());
    assert.deepEqual(namedHosts(spec).map((n) => [n.host.name, n.namePath.join(".")]), [
      ["mx1", "hosts.edge.0.name"], ["mx2", "hosts.edge.1.name"], ["out1", "hosts.outbound.0.name"], ["store1", "hosts.store.0.name"], ["store2", "hosts.store.1.name"],
    ]);
  });
  it("a listed name that repeats a counted one is refused at its role", () => {
    const spec = parseFleetConfig(counted(1, 1, 1));
    const clash = { ...spec, hosts: spec.hosts.map((h) => (h.role === "outbound" ? { ...h, name: "store1" } : h)) };
    assert.deepEqual(topologyProblems(clash), [{ path: "hosts.store", message: 'host name "store1" is used twice', hint: "host names must be unique across roles" }]);
    assert.throws(() => buildTopology(clash), (e: unknown) => e instanceof ConfigError && e.problems[0].path === "hosts.store");
  });
});

describe("mailbox placement", () => {
  it("a mailbox without a store lives on the one store", () => {
    const raw = counted(1, 1, 1);
    for (const m of raw.mailboxes) delete m.store;
    const spec = parseFleetConfig(raw);
    assert.equal(spec.mailboxes[0].store, undefined, "the spec keeps what the stack wrote");
    assert.deepEqual(buildTopology(spec).mailboxStore, { "alice@example.com": "store1", "bob@example.org": "store1" });
  });
  it("a mailbox on a counted store names it as topology does", () => {
    const raw = counted(1, 1, 3);
    raw.mailboxes[1].store = "store3";
    assert.equal(buildTopology(parseFleetConfig(raw)).mailboxStore["bob@example.org"], "store3");
  });
});
