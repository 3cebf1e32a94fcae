/**
 * Forwarding (issue 25): the forwarding domain's records, postsrsd's files, the edges' ARC sealing and
 * the `forwarding` key's refusals. The mail path itself is proven in test/lab/forwarding.test.ts and by
 * the real daemons in postsrsd.daemon.test.ts and postfix.daemon.test.ts.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { RenderedFile } from "../../components/render/file";
import { POSTSRSD_PATHS, renderPostsrsd } from "../../components/render/postsrsd";
import { ARC_KEY, renderEdgeRspamd } from "../../components/render/rspamd";
import { hostNamed, hostsOf } from "../../components/topology";
import { forwardingDomain } from "../../components/topology/naming";
import { problemsOf, validRaw } from "../support/fixtures";
import { labInput } from "../support/lab";
import { lab } from "../support/labRecords";

const input = labInput();
const fwd = forwardingDomain(input.topology.spec);
const byPath = (files: RenderedFile[], path: string): RenderedFile => files.find((f) => f.path === path) ?? assert.fail(`no ${path}`);

test("the forwarding domain has the edges as MX, an SPF record naming them, and the ARC key", () => {
  const { set, topology, spec } = lab();
  const at = (type: string) => set.records.filter((r) => r.name === fwd && r.type === type);
  assert.deepEqual(at("MX").map((r) => (r.type === "MX" ? r.exchange : "")).sort(), hostsOf(topology, "edge").map((h) => h.fqdn).sort());
  assert.deepEqual(at("TXT").map((r) => (r.type === "TXT" ? r.text : "")), ["v=spf1 mx -all"]);
  const arc = set.records.filter((r) => r.name === `${spec.forwarding.arcSelector}._domainkey.${fwd}`);
  assert.equal(arc.length, 1);
  assert.match(arc[0].type === "TXT" ? arc[0].text : "", /^v=DKIM1; k=rsa; p=/);
});

test("postsrsd: the forwarding domain on loopback, every secret one a line with the first signing, secret and root's only", () => {
  const files = renderPostsrsd({ ...input, keys: { ...input.keys, srs: ["1".repeat(64), "2".repeat(64)] } });
  const settings = byPath(files, POSTSRSD_PATHS.settings);
  assert.match(settings.content, new RegExp(`^SRS_DOMAIN=${fwd.replace(/\./g, "\\.")}$`, "m"));
  assert.match(settings.content, /^SRS_LISTEN_ADDR=127\.0\.0\.1$/m);
  const secrets = byPath(files, POSTSRSD_PATHS.secrets);
  assert.equal(secrets.content, `${"1".repeat(64)}\n${"2".repeat(64)}\n`);
  assert.deepEqual([secrets.secret, secrets.mode, secrets.owner], [true, 0o600, "root"]);
  assert.throws(() => renderPostsrsd({ ...input, keys: { ...input.keys, srs: ["x\nSRS_DOMAIN=evil"] } }), /64 hex digits/);
});

test("the edges seal inbound mail with ARC as the forwarding domain, with a key only rspamd's group reads", () => {
  const files = renderEdgeRspamd(input, hostNamed(input.topology, "mx1"));
  const conf = byPath(files, "/etc/rspamd/local.d/arc.conf").content;
  assert.match(conf, /^sign_inbound = true;$/m);
  assert.match(conf, new RegExp(`^use_domain_sign_inbound = "${fwd.replace(/\./g, "\\.")}";$`, "m"));
  assert.match(conf, new RegExp(`selector = "${input.topology.spec.forwarding.arcSelector}"; path = "${ARC_KEY}";`));
  const key = byPath(files, ARC_KEY);
  assert.deepEqual([key.secret, key.mode, key.group, key.content], [true, 0o640, "_rspamd", input.keys.arc.privateKeyPem]);
});

test("forwarding's key names: each SRS key once, names that fit a file and a selector", () => {
  assert.match(problemsOf({ ...validRaw(), forwarding: { srsKeys: ["srs2", "srs1", "srs2"] } }).get("forwarding.srsKeys[2]") ?? "", /listed twice/);
  assert.match(problemsOf({ ...validRaw(), forwarding: { arcSelector: "ARC 1" } }).get("forwarding.arcSelector") ?? "", /not a selector/);
  assert.match(problemsOf({ ...validRaw(), forwarding: { srsKeys: [] } }).get("forwarding.srsKeys") ?? "", /at least one SRS key/);
});
