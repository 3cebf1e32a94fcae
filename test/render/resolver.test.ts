/** The senders' resolver files (render/resolver.ts) and the `resolver` config key. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseFleetConfig } from "../../components/config";
import { renderResolver, RESOLVER_PATHS } from "../../components/render/resolver";
import { renderHost } from "../../components/render";
import { labInput } from "../support/lab";

test("edges, outbound and monitoring hosts get the resolver and a resolv.conf that names it and trusts its AD bit; stores do not", () => {
  const input = labInput();
  const paths = (name: string) => renderHost(input, input.topology.hosts.find((h) => h.name === name)!).map((f) => f.path);
  for (const host of ["mx1", "out1", "mon"]) assert.ok(paths(host).includes(RESOLVER_PATHS.conf), host);
  assert.ok(!paths("store1").includes(RESOLVER_PATHS.conf));
  const resolv = renderResolver(input.topology.spec).find((f) => f.path === RESOLVER_PATHS.resolvConf)!.content;
  assert.match(resolv, /^nameserver 127\.0\.0\.1$/m);
  assert.match(resolv, /^options trust-ad$/m);
  assert.doesNotMatch(renderResolver(input.topology.spec)[0].content, /forward-zone/, "no forwarders: it iterates from the root");
});
