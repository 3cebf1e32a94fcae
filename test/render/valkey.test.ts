/**
 * The shared state (issue 23), pure: its config keys and their refusals, where topology places it,
 * what the security groups admit, and the files Valkey, Sentinel and rspamd get. The daemons' own
 * checks of these files are in valkey.daemon.test.ts; the lab proves them in test/lab/state.test.ts.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { parseFleet } from "../../components/build";
import { ingressRules } from "../../components/compute/firewall";
import { renderEdgeRspamd, renderOutboundRspamd } from "../../components/render/rspamd";
import { renderValkey, VALKEY_PATHS, VALKEY_UNITS } from "../../components/render/valkey";
import { buildTopology, hostNamed } from "../../components/topology";
import { problemsOf, validRaw } from "../support/fixtures";
import { labInput } from "../support/lab";

const input = labInput();
const content = (files: { path: string; content: string }[], path: string) => files.find((f) => f.path === path)?.content ?? "";

test("the state hosts default to the first host of each role, so scaling a role out never moves the state", () => {
  const topology = buildTopology(parseFleet(validRaw()));
  assert.deepEqual(topology.state, { hosts: ["mx1", "out1", "store1"], primary: "mx1", quorum: 2 });
  const more = validRaw();
  more.hosts.edge.push({ name: "mx3", ipv4: "192.0.2.13", ipv6: "2001:db8::13" });
  assert.deepEqual(buildTopology(parseFleet(more)).state.hosts, ["mx1", "out1", "store1"], "a third edge adds a client, not a primary or replica");
  const listed = { ...validRaw(), state: { hosts: ["store2", "mx2", "out1", "mx1", "store1"] } };
  assert.deepEqual(buildTopology(parseFleet(listed)).state, { hosts: ["store2", "mx2", "out1", "mx1", "store1"], primary: "store2", quorum: 3 });
});

test("bad state and spam keys are refused with their key path and a fix", () => {
  const hosts = problemsOf({ ...validRaw(), state: { hosts: ["mx1", "mx1", "nohost"] } });
  assert.match(hosts.get("state.hosts[1]") ?? "", /listed twice/);
  assert.match(hosts.get("state.hosts[2]") ?? "", /not a mail host \(edge, outbound or store\) — mail hosts: mx1, mx2, out1, store1, store2/);
  const sizes = problemsOf({ ...validRaw(), state: { maxMemoryMb: 8, failoverAfterSeconds: 0 } });
  assert.match(sizes.get("state.maxMemoryMb") ?? "", /from 32 to 65536/);
  assert.match(sizes.get("state.failoverAfterSeconds") ?? "", /from 1 to 600/);
  assert.match(problemsOf({ ...validRaw(), state: { hosts: ["mx1", "mx2"] } }).get("state.hosts") ?? "", /quorum needs at least 3.*list three hosts/);
  const spam = problemsOf({ ...validRaw(), spam: { greylist: "sometimes", bayesMinLearns: 0, ratelimits: { perSenderIpPerMinute: 0, recipientsPerMessage: 1.5, perLoginRecipientsPerHour: 100_001 } } });
  assert.match(spam.get("spam.greylist") ?? "", /true, false, or \{ delaySeconds: 300 \}/);
  assert.match(spam.get("spam.ratelimits.perSenderIpPerMinute") ?? "", /from 1 to 100000/);
  assert.match(spam.get("spam.ratelimits.recipientsPerMessage") ?? "", /whole number of recipients/);
  assert.match(spam.get("spam.ratelimits.perLoginRecipientsPerHour") ?? "", /whole number of recipients per hour from 1 to 100000 — like 500/);
  assert.match(spam.get("spam.bayesMinLearns") ?? "", /learned messages of each class .* like 200/);
  const defaults = parseFleet(validRaw()).spam;
  assert.deepEqual([defaults.bayesMinLearns, defaults.ratelimits.perLoginRecipientsPerHour], [200, 500], "rspamd's own min_learns; recipients well above a person, far below a spam run");
  assert.match(problemsOf({ ...validRaw(), spam: { greylist: { delaySeconds: 0 } } }).get("spam.greylist.delaySeconds") ?? "", /from 1 to 3600/);
});

test("Valkey and Sentinel: private address and loopback only, no login-free access, no password of rspamd's or Sentinel's in the server's file, nothing evicted", () => {
  for (const name of input.topology.state.hosts) {
    const host = hostNamed(input.topology, name);
    const files = renderValkey(input, host);
    const server = content(files, VALKEY_PATHS.server);
    const sentinel = content(files, VALKEY_PATHS.sentinel);
    assert.match(server, new RegExp(`^bind ${input.addresses[name].ipv4} 127\\.0\\.0\\.1$`, "m"));
    assert.match(server, /^user default off$/m);
    assert.match(server, /^maxmemory-policy noeviction$/m);
    assert.match(server, /^maxmemory 64mb$/m);
    assert.match(server, /^appendonly yes$/m);
    assert.ok(!server.includes(input.keys.state.rspamd) && !server.includes(input.keys.state.sentinel), "ACL users carry SHA-256 hashes only");
    assert.match(server, new RegExp(`^user rspamd on #${createHash("sha256").update(input.keys.state.rspamd).digest("hex")} .* -@admin -@dangerous`, "m"));
    assert.equal(/^replicaof /m.test(server), name !== "mx1", "the others start as mx1's replicas");
    assert.match(sentinel, /^sentinel monitor mailfleet 192\.0\.2\.11 6379 2$/m);
    assert.match(sentinel, /^sentinel down-after-milliseconds mailfleet 2000$/m);
    assert.match(sentinel, /^user default on nopass resetchannels -@all \+ping \+sentinel\|masters/m, "without a login, only where the primary is");
    for (const f of files) {
      // The configs hold passwords; the units' drop-ins name the configs only.
      const config = Object.values(VALKEY_PATHS).includes(f.path as (typeof VALKEY_PATHS)[keyof typeof VALKEY_PATHS]);
      assert.deepEqual([f.secret, f.mode, f.group], config ? [true, 0o640, "valkey"] : [false, 0o644, "root"], f.path);
    }
    assert.deepEqual(files.map((f) => f.path).sort(), [...Object.values(VALKEY_PATHS), ...Object.values(VALKEY_UNITS).map((u) => u.dropIn)].sort());
  }
  assert.deepEqual(renderValkey(input, hostNamed(input.topology, "mx2")), [], "mx2 is no state host");
});

test("rspamd on edges and outbound hosts finds the state through every Sentinel; greylisting follows spam.greylist", () => {
  const mx1 = hostNamed(input.topology, "mx1");
  const edge = renderEdgeRspamd(input, mx1);
  const redis = edge.find((f) => f.path.endsWith("/redis.conf"))!;
  assert.match(redis.content, /^sentinels = \["192\.0\.2\.11:26379", "192\.0\.2\.21:26379", "192\.0\.2\.31:26379"\];$/m);
  assert.deepEqual([redis.secret, redis.mode, redis.group], [true, 0o640, "_rspamd"]);
  assert.match(content(renderOutboundRspamd(input, hostNamed(input.topology, "out1")), "/etc/rspamd/local.d/redis.conf"), /^username = "rspamd";$/m);
  assert.match(content(edge, "/etc/rspamd/local.d/actions.conf"), /^greylist = 4;$/m);
  assert.match(content(edge, "/etc/rspamd/local.d/greylist.conf"), /^timeout = 4s;$/m);
  const off = labInput((s) => ({ ...s, spam: { ...s.spam, greylist: { enabled: false, delaySeconds: 300 } } }));
  const offEdge = renderEdgeRspamd(off, hostNamed(off.topology, "mx1"));
  assert.match(content(offEdge, "/etc/rspamd/local.d/actions.conf"), /^greylist = null;$/m);
  assert.equal(content(offEdge, "/etc/rspamd/local.d/greylist.conf"), "enabled = false;\n");
});

test("the security groups admit Valkey and Sentinel from the edge, outbound and state roles' groups only", () => {
  const rules = ingressRules(buildTopology(parseFleet(validRaw()))).filter((r) => r.port === 6379 || r.port === 26379);
  for (const r of rules) assert.equal(r.source.kind, "group", `${r.role} ${r.port}: never from a CIDR`);
  const sources = (role: string, port: number) => rules.filter((r) => r.role === role && r.port === port).map((r) => (r.source.kind === "group" ? r.source.role : "")).sort();
  for (const role of ["edge", "outbound", "store"]) assert.deepEqual(sources(role, 6379), ["edge", "outbound", "store"], `${role} group`);
});
