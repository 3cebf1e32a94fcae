/**
 * The host firewall: every host's rule set opens exactly its role's ports, each to exactly the
 * sources the topology names (nft itself loads them in firewall.daemon.test.ts).
 * Who can really connect from outside is tested in the lab (test/lab/mail.test.ts, "exposure").
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Role } from "../../components/config/spec";
import { hostsOf, MTAIL_PORT, POSTFIX_EXPORTER_PORT, RSPAMD_METRICS_PORT, Topology } from "../../components/topology";
import { AddressBook } from "../../components/topology/addresses";
import { build, input, natted, overlappingAdmins, rulesOf } from "./firewall.fixtures";

/** Elements of a named set, as rendered. */
function setMembers(rules: string, name: string): string[] {
  const body = new RegExp(`set ${name} \\{\\n([\\s\\S]*?)\\n  \\}`).exec(rules);
  assert.ok(body, `set ${name} is defined`);
  const elements = /elements = \{ ([^}]*) \}/.exec(body[1]);
  return elements ? elements[1].split(", ").sort() : [];
}

/** Ports accepted from anywhere, and port -> sets it is accepted from. */
function openings(rules: string): { anyone: number[]; fromSets: Map<number, string[]> } {
  const anyone: number[] = [];
  const fromSets = new Map<number, string[]>();
  for (const m of rules.matchAll(/^\s+(tcp|udp) dport (\d+) (?:ip6? saddr @(\S+) )?accept/gm)) {
    const port = Number(m[2]);
    if (!m[3]) anyone.push(port);
    else fromSets.set(port, [...(fromSets.get(port) ?? []), m[3]].sort());
  }
  return { anyone: [...new Set(anyone)].sort((a, b) => a - b), fromSets };
}

const addressesOfRole = (topology: Topology, addresses: AddressBook, role: Role, family: 4 | 6) =>
  [...new Set(hostsOf(topology, role).flatMap((h) => {
    const a = addresses[h.name];
    return family === 4 ? [a.privateIpv4 ?? a.ipv4, a.ipv4] : a.ipv6 ? [a.ipv6] : [];
  }))].sort();

test("a store opens IMAPS and ManageSieve to anyone, LMTP only to edges and stores, auth only to outbound, SSH only to admins", () => {
  const fleet = build(natted);
  const rules = rulesOf(fleet.hostFiles.store1);
  const { anyone, fromSets } = openings(rules);
  assert.deepEqual(anyone, [993, 4190]);
  assert.deepEqual(fromSets.get(24), ["edge_v4", "edge_v6", "monitoring_v4", "monitoring_v6", "store_v4", "store_v6"]);
  assert.deepEqual(fromSets.get(12345), ["outbound_v4", "outbound_v6"]);
  assert.deepEqual(fromSets.get(22), ["admin_v4", "admin_v6"]);
  // The hosts connect from their own interface's (private) address; both it and the published one are in.
  assert.deepEqual(setMembers(rules, "edge_v4"), addressesOfRole(fleet.topology, natted, "edge", 4));
  assert.ok(setMembers(rules, "edge_v4").includes(natted.mx1.privateIpv4!));
  assert.deepEqual(setMembers(rules, "edge_v6"), addressesOfRole(fleet.topology, natted, "edge", 6));
  assert.deepEqual(setMembers(rules, "outbound_v4"), addressesOfRole(fleet.topology, natted, "outbound", 4));
  const adminV4 = fleet.topology.spec.adminSshCidrs.filter((c) => !c.includes(":"));
  assert.ok(adminV4.length > 0);
  assert.deepEqual(setMembers(rules, "admin_v4"), adminV4.sort());
  assert.match(rules, /policy drop;/);
});

test("only the auth store opens Dovecot auth, and only to the outbound hosts", () => {
  const fleet = build(input.addresses);
  assert.equal(fleet.topology.authStore, "store1");
  assert.equal(openings(rulesOf(fleet.hostFiles.store2)).fromSets.get(12345), undefined);
  assert.deepEqual(openings(rulesOf(fleet.hostFiles.store2)).fromSets.get(24), ["edge_v4", "edge_v6", "monitoring_v4", "monitoring_v6", "store_v4", "store_v6"]);
});

test("edges and outbound hosts open only their public mail ports to anyone", () => {
  const fleet = build(input.addresses);
  assert.deepEqual(openings(rulesOf(fleet.hostFiles.mx1)).anyone, [25, 80, 443]);
  assert.deepEqual(openings(rulesOf(fleet.hostFiles.out1)).anyone, [465, 587]);
  // mx2 runs no state service; mx1 and out1 are state hosts (the first of their roles): only SSH, the exporters (mtail,
  // node, postfix, rspamd's metrics path), the state ports and (on the edges) rspamd's controller for the stores are restricted.
  const restricted = (host: string) => [...openings(rulesOf(fleet.hostFiles[host])).fromSets.keys()].sort((a, b) => a - b);
  assert.deepEqual(restricted("mx2"), [22, 3903, 9100, 9154, 11334, 11336], "mx2: only SSH, the exporters and the controller are restricted, nothing else is open");
  assert.deepEqual(restricted("mx1"), [22, 3903, 6379, 9100, 9154, 11334, 11336, 26379], "mx1: only SSH, the state service, the exporters and the controller are restricted, nothing else is open");
  assert.deepEqual(restricted("out1"), [22, 3903, 6379, 9100, 9154, 11336, 26379], "out1: only SSH, the state service and the exporters are restricted, nothing else is open");
});

test("rspamd's controller opens on the edges only, to the stores only (their Junk reports)", () => {
  const fleet = build(natted);
  for (const host of fleet.topology.hosts) {
    const from = openings(rulesOf(fleet.hostFiles[host.name])).fromSets.get(11334);
    assert.deepEqual(from, host.role === "edge" ? ["store_v4", "store_v6"] : undefined, host.name);
  }
});

test("Valkey and Sentinel open only on the state hosts, only to the edges, the outbound hosts and the state hosts", () => {
  const fleet = build(natted);
  const users = ["edge_v4", "edge_v6", "outbound_v4", "outbound_v6", "state_v4", "state_v6"];
  for (const host of fleet.topology.state.hosts) {
    const rules = rulesOf(fleet.hostFiles[host]);
    assert.deepEqual(openings(rules).fromSets.get(6379), users, `${host}: Valkey`);
    assert.deepEqual(openings(rules).fromSets.get(26379), users, `${host}: Sentinel`);
    assert.ok(!openings(rules).anyone.includes(6379) && !openings(rules).anyone.includes(26379));
    // Replication and Sentinel gossip come from the state hosts' own (private) addresses.
    assert.ok(setMembers(rules, "state_v4").includes(natted.store1.privateIpv4!));
    assert.ok(!setMembers(rules, "state_v4").includes(natted.store2.privateIpv4!), "store2 is no state host");
  }
  for (const host of ["mx2", "store2"]) assert.equal(openings(rulesOf(fleet.hostFiles[host])).fromSets.get(6379), undefined, `${host} runs no Valkey`);
});

test("every host's exporter admits only the monitoring hosts and monitoring.cidrs; the monitoring host's UIs only the admins", () => {
  const fleet = build(input.addresses, (s) => ({ ...s, monitoring: { ...s.monitoring, cidrs: ["198.51.100.0/24", "2001:db8:99::/48"] } }));
  for (const host of fleet.topology.hosts) {
    const rules = rulesOf(fleet.hostFiles[host.name]);
    assert.deepEqual(openings(rules).fromSets.get(9100), ["scrapers_v4", "scrapers_v6"], host.name);
    // The postfix exporter, mtail and rspamd's metrics path on the MTAs, to the same scrapers; nowhere else.
    for (const port of [POSTFIX_EXPORTER_PORT, MTAIL_PORT, RSPAMD_METRICS_PORT]) assert.deepEqual(openings(rules).fromSets.get(port), host.sends ? ["scrapers_v4", "scrapers_v6"] : undefined, `${host.name}:${port}`);
    assert.deepEqual(setMembers(rules, "scrapers_v4"), [...addressesOfRole(fleet.topology, input.addresses, "monitoring", 4), "198.51.100.0/24"].sort());
    assert.deepEqual(setMembers(rules, "scrapers_v6"), [...addressesOfRole(fleet.topology, input.addresses, "monitoring", 6), "2001:db8:99::/48"].sort());
  }
  const mon = openings(rulesOf(fleet.hostFiles.mon));
  assert.deepEqual(mon.anyone, []);
  assert.deepEqual(mon.fromSets.get(9090), ["admin_v4", "admin_v6"]);
  assert.deepEqual(mon.fromSets.get(9093), ["admin_v4", "admin_v6"]);
});

test("POP3S opens 995 on the stores only when pop3 is on", () => {
  assert.ok(!openings(rulesOf(build(input.addresses).hostFiles.store1)).anyone.includes(995));
  assert.ok(openings(rulesOf(build(input.addresses, (s) => ({ ...s, pop3: true })).hostFiles.store1)).anyone.includes(995));
});

test("the nameserver answers DNS over UDP and TCP to anyone, SSH only to admins, its exporters only to the scrapers", () => {
  const rules = rulesOf(build(input.addresses).dnsServerFiles);
  assert.match(rules, /^\s+udp dport 53 accept/m);
  assert.match(rules, /^\s+tcp dport 53 accept/m);
  assert.deepEqual([...openings(rules).fromSets.entries()], [
    [9433, ["scrapers_v4", "scrapers_v6"]],
    [9100, ["scrapers_v4", "scrapers_v6"]],
    [22, ["admin_v4", "admin_v6"]],
  ]);
  assert.deepEqual(setMembers(rules, "scrapers_v4"), ["192.0.2.41"], "the monitoring host mon");
});

test("an admin network that overlaps another merges instead of failing", () => {
  const rules = rulesOf(overlappingAdmins().hostFiles.mx1);
  assert.deepEqual(setMembers(rules, "admin_v6"), ["2001:db8:0:9::/64"]);
});
