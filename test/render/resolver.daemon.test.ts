/**
 * The senders' validating resolver (render/resolver.ts) as Debian 13's unbound reads it, with Debian's
 * own unbound.conf and its drop-ins (the root's trust anchor among them): what deploy.sh's
 * check_unbound runs accepts it, listens on loopback only, forwards where told, and refuses a broken one.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { file } from "../../components/render/file";
import { renderResolver, RESOLVER_PATHS, ROOT_KEY } from "../../components/render/resolver";
import { withDebian13Host } from "../support/debian13";
import { labSpec } from "../support/lab";

const option = (name: string) => ["unbound-checkconf", "-o", name];
/** What deploy.sh's check_unbound runs: the root's anchor seeded from the bundle where missing, then the checker. */
const CHECK = ["sh", "-c", `install -o unbound -g unbound -m 0644 ${RESOLVER_PATHS.rootAnchorSeed} ${ROOT_KEY} && unbound-checkconf`];

test("unbound-checkconf accepts the rendered drop-in: loopback only, Debian's root anchor, validation on", () => {
  withDebian13Host(renderResolver(labSpec()), (host) => {
    const check = host.run(CHECK);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.deepEqual(host.run(option("interface")).stdout.trim().split("\n"), ["127.0.0.1", "::1"]);
    assert.equal(host.run(option("auto-trust-anchor-file")).stdout.trim(), ROOT_KEY);
    assert.match(host.run(option("module-config")).stdout, /validator/);
  });
});

test("forwarders become a forward zone for the root; a broken drop-in is refused", () => {
  const spec = { ...labSpec(), resolver: { forwarders: ["192.0.2.53", "2001:db8::53"] } };
  const files = renderResolver(spec);
  const conf = files.find((f) => f.path === RESOLVER_PATHS.conf)!;
  assert.match(conf.content, /forward-zone:\n {2}name: "\."\n {2}forward-addr: 192\.0\.2\.53\n {2}forward-addr: 2001:db8::53\n/);
  withDebian13Host(files, (host) => {
    const check = host.run(CHECK);
    assert.equal(check.code, 0, check.stdout + check.stderr);
  });
  withDebian13Host(files.map((f) => (f === conf ? file(conf.path, `${conf.content}  forward-addr: not-an-address\n`) : f)), (host) => {
    const check = host.run(CHECK);
    assert.notEqual(check.code, 0, "a bad forwarder must be refused");
  });
});
