/** The edge web server's files (served by nginx for real in web.daemon.test.ts). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { NGINX_CONF, renderEdgeWeb, renderOutboundWeb } from "../../components/render/web";
import { hostNamed, RSPAMD_METRICS_PORT } from "../../components/topology";
import { labInput } from "../support/lab";
import { testRenderInput } from "../support/renderInput";

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

test("rspamd's metrics path listens on the private address of a NATed host, passes GET /metrics alone to the loopback controller, 404 to the rest", () => {
  // An AWS host: the published address is an Elastic IP, the private one is on its interface.
  const natted = Object.fromEntries(Object.entries(input.addresses).map(([name, a], i) => [name, { ...a, privateIpv4: `10.0.0.${10 + i}` }]));
  const aws = testRenderInput(input.topology, natted, input.keys, input.mtaStsPolicy);
  const [edgeConf] = renderEdgeWeb(aws, mx1);
  const [outboundConf, ...others] = renderOutboundWeb(aws, hostNamed(aws.topology, "out1"));
  assert.deepEqual([outboundConf.path, others], [NGINX_CONF, []]);
  for (const [name, conf] of [["mx1", edgeConf.content], ["out1", outboundConf.content]]) {
    const server = conf.slice(conf.indexOf("# rspamd's metrics"));
    assert.match(server, new RegExp(`^ {8}listen ${natted[name].privateIpv4!.replaceAll(".", "\\.")}:${RSPAMD_METRICS_PORT};$`, "m"), name);
    assert.match(server, /location = \/metrics \{\n {12}limit_except GET \{ deny all; \}\n {12}proxy_pass http:\/\/127\.0\.0\.1:11334\/metrics;/, name);
    assert.match(server, /location \/ \{\n {12}return 404;/, name);
    assert.equal(conf.match(/proxy_pass /g)?.length, 1, `${name}: nothing else is passed on`);
  }
  // The outbound host's nginx serves nothing else: no TLS, no other port.
  assert.deepEqual(outboundConf.content.match(/^\s*listen .*$/gm)?.map((l) => l.trim()), [`listen ${natted.out1.privateIpv4}:${RSPAMD_METRICS_PORT};`]);
});
