/**
 * deploy.sh on a systemd host (/run/systemd/system, a stand-in systemctl that records its calls) for
 * the nameserver's exporters: knot-exporter's unit is the push's own, so systemd rereads it before
 * the exporter starts, and a changed unit restarts the exporter although its flags stayed the same.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { KNOT_EXPORTER_UNIT, renderNameserverExporters } from "../../components/render/monitoring";
import { bootSystemdHost, SystemdHost } from "../support/systemdHost";
import { LAB, unsignedFiles } from "../render/knot.fixtures";

/** The nameserver's files without its firewall (this host has no pusher to keep in). */
const files = (restartSec = 5) =>
  [...unsignedFiles, ...renderNameserverExporters(LAB.topology)]
    .filter((f) => f.path !== "/etc/nftables.conf")
    .map((f) => (f.path === KNOT_EXPORTER_UNIT ? { ...f, content: f.content.replace("RestartSec=5", `RestartSec=${restartSec}`) } : f));

let lab: SystemdHost;
// Units are inactive until the first push has started them.
before(() => (lab = bootSystemdHost('[ "$1" != is-active ] || [ -f /tmp/started ]')));
after(() => lab?.host.dispose());

test("knot-exporter's pushed unit: systemd rereads it, the exporter starts and is enabled; a changed unit alone restarts it", () => {
  assert.equal(lab.sh("ip addr add 192.0.2.53/32 dev lo").code, 0);
  lab.deploy("dns", files());
  const first = lab.calls();
  for (const call of ["daemon-reload", "restart knot-exporter", "enable --quiet knot-exporter", "restart prometheus-node-exporter"]) assert.ok(first.includes(call), `${call}: ${first.join(", ")}`);
  assert.ok(first.indexOf("daemon-reload") < first.indexOf("restart knot-exporter"), "systemd reads the unit before it starts it");
  lab.sh("touch /tmp/started");

  const again = lab.deploy("dns", files());
  assert.match(again.stdout + again.stderr, /no change/);
  assert.deepEqual(lab.calls().filter((c) => c.startsWith("restart")), [], "the same files restart nothing");

  lab.deploy("dns", files(7));
  const changed = lab.calls();
  assert.ok(changed.includes("restart knot-exporter"), changed.join(", "));
  assert.ok(!changed.includes("restart prometheus-node-exporter"), "the node exporter, unchanged, keeps running");
});
