/** The edge web server's files (served by nginx for real in web.daemon.test.ts). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { NGINX_CONF, renderEdgeWeb } from "../../components/render/web";
import { hostNamed } from "../../components/topology";
import { labInput } from "../support/lab";

const input = labInput();
const mx1 = hostNamed(input.topology, "mx1");

const paths = (files: { path: string }[]) => files.map((f) => f.path);

test("an edge's web files are the same few whatever the number of hosted domains", () => {
  const many = labInput((spec) => ({ ...spec, domains: [...spec.domains, ...Array.from({ length: 50 }, (_, i) => `d${i}.example`)] }));
  assert.deepEqual(paths(renderEdgeWeb(many, hostNamed(many.topology, "mx1"))), paths(renderEdgeWeb(input, mx1)));
  const noBimi = labInput((spec) => ({ ...spec, bimi: {} }));
  assert.deepEqual(paths(renderEdgeWeb(noBimi, hostNamed(noBimi.topology, "mx1"))), [NGINX_CONF, "/var/www/mailfleet/mta-sts.txt", "/var/www/mailfleet/autodiscover.xml"]);
});

test("a domain's BIMI logo and mark certificate are files of their own, served only on its MTA-STS name", () => {
  const files = renderEdgeWeb(input, mx1);
  const { logo, certificate } = input.topology.spec.bimi["example.com"];
  assert.deepEqual(paths(files).slice(3), ["/var/www/mailfleet/bimi/example.com.svg", "/var/www/mailfleet/bimi/example.com.pem"]);
  assert.equal(files[3].content, logo);
  assert.equal(files[4].content, certificate);
  const conf = files[0].content;
  assert.match(conf, /map \$host \$mailfleet_bimi \{\n {8}default "";\n {8}mta-sts\.example\.com example\.com;\n {4}\}/);
  assert.match(conf, /location = \/bimi\/logo\.svg \{\n.*return 404;.*\n {12}default_type image\/svg\+xml;\n {12}alias \/var\/www\/mailfleet\/bimi\/\$mailfleet_bimi\.svg;/);
});
