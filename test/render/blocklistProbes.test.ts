/**
 * The blocklist probes (render/monitoring/targets.ts): every sending address of the fleet, IPv4 and
 * IPv6, in every zone of spam.dnsbls, each a blackbox module of its own asking through the
 * monitoring host's resolver, in the monitoring host's Prometheus and in the stack outputs alike.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parse } from "yaml";
import { MONITORING_PATHS, monitoringOutputs, renderMonitoringHost } from "../../components/render/monitoring";
import { blocklistProbes, blocklistTargets } from "../../components/render/monitoring/targets";
import { hostNamed } from "../../components/topology";
import { labInput } from "../support/lab";

const input = labInput();

test("each sending address of the edges and outbound hosts, IPv4 and IPv6, in each list, reversed as the lists expect", () => {
  const probes = blocklistProbes(input.topology, input.hosts);
  assert.deepEqual(
    probes.map((p) => `${p.module} ${p.labels.host} ${p.labels.role} ${p.labels.address} ${p.labels.zone}`),
    [
      "dnsbl_mx1_ipv4_bl.example.net mx1 edge 192.0.2.11 bl.example.net",
      "dnsbl_mx1_ipv6_bl.example.net mx1 edge 2001:db8:0:1::11 bl.example.net",
      "dnsbl_mx2_ipv4_bl.example.net mx2 edge 192.0.2.12 bl.example.net",
      "dnsbl_mx2_ipv6_bl.example.net mx2 edge 2001:db8:0:1::12 bl.example.net",
      "dnsbl_out1_ipv4_bl.example.net out1 outbound 192.0.2.21 bl.example.net",
      "dnsbl_out1_ipv6_bl.example.net out1 outbound 2001:db8:0:1::21 bl.example.net",
    ],
  );
  const out1 = probes.filter((p) => p.labels.host === "out1").map((p) => p.query);
  assert.deepEqual(out1, ["21.2.0.192.bl.example.net", `1.2.0.0.${"0.".repeat(12)}1.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.example.net`]);
});

test("a zone listed twice (with other replies or weights) is asked once; without IPv6 only the IPv4 addresses", () => {
  const dnsbls = ["zen.spamhaus.org=127.0.0.[2..3]*3", "zen.spamhaus.org=127.0.0.[10;11]*1", "bl.spamcop.net"];
  const { topology, hosts } = labInput((spec) => ({ ...spec, ipv6: false, spam: { ...spec.spam, dnsbls } }));
  const probes = blocklistProbes(topology, hosts);
  assert.deepEqual(
    probes.filter((p) => p.labels.host === "out1").map((p) => p.module),
    ["dnsbl_out1_ipv4_zen.spamhaus.org", "dnsbl_out1_ipv4_bl.spamcop.net"],
  );
});

test("the monitoring host asks each through its own resolver with the probe's module, and the stack outputs give the same", () => {
  const files = renderMonitoringHost(input, hostNamed(input.topology, "mon"));
  const yaml = (path: string) => parse(files.find((f) => f.path === path)!.content);
  const probes = blocklistProbes(input.topology, input.hosts);
  const job = yaml(MONITORING_PATHS.prometheusConfig).scrape_configs.find((j: { job_name: string }) => j.job_name === "dnsbl");
  assert.equal(job.params, undefined, "no job-wide module: each target names its own");
  assert.deepEqual(job.static_configs, blocklistTargets(probes));
  for (const group of job.static_configs) assert.deepEqual(group.targets, ["127.0.0.1:53"]);
  const modules = yaml(MONITORING_PATHS.blackboxConfig).modules;
  for (const p of probes) {
    assert.equal(modules[p.module].prober, "dns");
    assert.equal(modules[p.module].dns.query_name, p.query);
  }
  const outputs = monitoringOutputs(input.topology, input.hosts);
  assert.deepEqual(outputs.fileSd.blocklists, { job: "dnsbl", targets: blocklistTargets(probes) });
  assert.deepEqual(parse(outputs.blackboxModules).modules[probes[0].module], modules[probes[0].module]);
});
