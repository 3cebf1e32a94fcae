/** The edge web server's files (served by nginx for real in web.daemon.test.ts). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { NGINX_CONF, renderEdgeWeb } from "../../components/render/web";
import { hostNamed } from "../../components/topology";
import { labInput } from "../support/lab";

const input = labInput();
const mx1 = hostNamed(input.topology, "mx1");

test("an edge's web files are the same few whatever the number of hosted domains", () => {
  const many = labInput((spec) => ({ ...spec, domains: [...spec.domains, ...Array.from({ length: 50 }, (_, i) => `d${i}.example`)] }));
  const paths = (files: { path: string }[]) => files.map((f) => f.path);
  assert.deepEqual(paths(renderEdgeWeb(many, hostNamed(many.topology, "mx1"))), paths(renderEdgeWeb(input, mx1)));
  assert.deepEqual(paths(renderEdgeWeb(input, mx1)), [NGINX_CONF, "/var/www/mailfleet/mta-sts.txt", "/var/www/mailfleet/autodiscover.xml"]);
});
