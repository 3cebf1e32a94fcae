/** The primary nameserver's exporters and their scrape jobs (Debian's tools check them in monitoring.daemon.test.ts). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parse } from "yaml";
import { argsPath, EXPORTER_UNITS, KNOT_EXPORTER_UNIT, prometheusConfig, renderNameserverExporters } from "../../components/render/monitoring";
import { alertRules } from "../../components/render/monitoring/rules";
import { labInput } from "../support/lab";

const input = labInput();
const withoutZone = { ...input.topology, spec: { ...input.topology.spec, dns: "cloudflare" as const } };

test("the nameserver's node exporter and knot-exporter listen on its IPv4 only, knot-exporter as knot from its pushed unit", () => {
  const files = renderNameserverExporters(input.topology);
  const content = (path: string) => files.find((f) => f.path === path)!.content;
  assert.deepEqual(files.map((f) => f.path).sort(), [argsPath(EXPORTER_UNITS.knot), argsPath(EXPORTER_UNITS.node), KNOT_EXPORTER_UNIT].sort());
  assert.match(content(argsPath(EXPORTER_UNITS.node)), /^ARGS="--web\.listen-address=192\.0\.2\.53:9100 /m);
  assert.match(content(argsPath(EXPORTER_UNITS.knot)), /^ARGS="--web-listen-addr 192\.0\.2\.53 --web-listen-port 9433 --knot-socket-path \/run\/knot\/knot\.sock"$/m);
  const unit = content(KNOT_EXPORTER_UNIT);
  assert.match(unit, /^User=knot$/m);
  assert.match(unit, /^EnvironmentFile=\/etc\/default\/knot-exporter$/m);
  assert.match(unit, /^ExecStart=\/usr\/sbin\/knot-exporter \$ARGS$/m);
});

test("Prometheus scrapes the nameserver's exporters labelled host ns1, role dns; its alerts only with dns: zone", () => {
  const jobs = (topology: typeof input.topology) =>
    (parse(prometheusConfig(topology, input.hosts, "192.0.2.41")) as { scrape_configs: { job_name: string; static_configs: { targets: string[]; labels: object }[] }[] }).scrape_configs;
  const job = (name: string) => jobs(input.topology).find((j) => j.job_name === name)!.static_configs;
  assert.deepEqual(job("knot"), [{ targets: ["192.0.2.53:9433"], labels: { host: "ns1", role: "dns" } }]);
  assert.deepEqual(job("node").at(-1), { targets: ["192.0.2.53:9100"], labels: { host: "ns1", role: "dns" } });
  const alerts = (topology: typeof input.topology) => alertRules(topology).groups[0].rules.map((r) => r.alert);
  assert.ok(["KnotDown", "ZoneNotServed", "ZoneExpiresSoon"].every((a) => alerts(input.topology).includes(a)));
  // Cloudflare serves the zones: no nameserver of the fleet's to watch.
  assert.deepEqual(renderNameserverExporters(withoutZone), []);
  assert.equal(jobs(withoutZone).find((j) => j.job_name === "knot"), undefined);
  assert.ok(!jobs(withoutZone).find((j) => j.job_name === "node")!.static_configs.some((g) => g.targets[0].startsWith("192.0.2.53:")));
  assert.ok(!alerts(withoutZone).some((a) => a.startsWith("Zone") || a === "KnotDown"));
});
