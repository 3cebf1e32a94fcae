/** The fleet's Grafana dashboard: every panel asks Prometheus per host, for this fleet's hosts. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { monitoringOutputs } from "../../components/render/monitoring";
import { DASHBOARD_PANELS, grafanaDashboard } from "../../components/render/monitoring/dashboard";
import { labInput } from "../support/lab";

const input = labInput();

interface Dashboard {
  uid: string;
  templating: { list: { name: string; query: string }[] };
  panels: { title: string; gridPos: { x: number; y: number }; targets: { expr: string }[] }[];
}

test("every panel queries by the host variable, which lists the fleet's hosts", () => {
  const d = grafanaDashboard(input.topology) as Dashboard;
  assert.deepEqual(d.panels.map((p) => p.title), DASHBOARD_PANELS.map((p) => p.title));
  for (const p of d.panels) assert.match(p.targets[0].expr, /host=~"\$host"/, p.title);
  const host = d.templating.list.find((v) => v.name === "host")!;
  assert.deepEqual(host.query.split(","), [...input.topology.hosts.map((h) => h.name), "ns1"], "the fleet's hosts and the primary nameserver");
  // No two panels on one spot.
  assert.equal(new Set(d.panels.map((p) => `${p.gridPos.x},${p.gridPos.y}`)).size, d.panels.length);
});

test("is the stack output's, with a uid of its own per fleet that Grafana accepts (at most 40 characters)", () => {
  const d = grafanaDashboard(input.topology) as Dashboard;
  assert.deepEqual(JSON.parse(monitoringOutputs(input.topology, input.hosts).dashboard), d);
  assert.ok(d.uid.length <= 40, d.uid);
  const other = grafanaDashboard({ ...input.topology, spec: { ...input.topology.spec, serverDomain: "mail.example.org" } }) as Dashboard;
  assert.notEqual(other.uid, d.uid);
});
