/**
 * The compute backends' pure parts: the first-boot script, the firewall plan and the IPv6 subnet.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { firstSubnet64 } from "../../components/compute/aws";
import { ingressRules } from "../../components/compute/firewall";
import { ROLE_PACKAGES, userData } from "../../components/compute/userData";
import { DEPLOY_SCRIPT_PATH } from "../../components/push/bundle";
import { buildTopology, hostsOf } from "../../components/topology";
import { exampleSpec } from "./harness";

describe("userData", () => {
  it("installs the same packages per role as deploy.sh makes sure of", () => {
    const script = readFileSync(DEPLOY_SCRIPT_PATH, "utf8");
    for (const role of ["edge", "outbound", "store"] as const) {
      const line = script.split("\n").find((l) => l.trim().startsWith(`${role}) packages=(`));
      assert.ok(line, `deploy.sh has a package list for ${role}`);
      assert.deepEqual(line.slice(line.indexOf("(") + 1, line.indexOf(")", line.indexOf("("))).split(" "), [...ROLE_PACKAGES[role]]);
    }
  });

  it("runs as a shell script: packages first, the deploy user with its key last", () => {
    const topology = buildTopology(exampleSpec("prod"));
    const store = hostsOf(topology, "store")[0];
    const script = userData(topology.spec, store);
    assert.ok(script.startsWith("#!/bin/sh\n"));
    const install = script.indexOf("apt-get install");
    const key = script.indexOf(topology.spec.ssh.publicKey!);
    assert.ok(install > 0 && key > install, "the push can log in only once the packages are there");
    assert.match(script, /useradd --system --uid 5000 --gid 5000 .* vmail/);
    assert.ok(script.includes(`'${topology.spec.ssh.user} ALL=(root) NOPASSWD: ALL'`), "deploy.sh runs as root through sudo");
  });
});

describe("ingressRules", () => {
  it("opens POP3S on the stores only when pop3 is on", () => {
    const pop3 = (on: boolean) => ingressRules(buildTopology({ ...exampleSpec("prod"), pop3: on })).filter((r) => r.port === 995);
    assert.deepEqual(pop3(false), []);
    assert.deepEqual([...new Set(pop3(true).map((r) => r.role))], ["store"]);
  });

  it("gives no IPv6 source when ipv6 is off", () => {
    const rules = ingressRules(buildTopology({ ...exampleSpec("prod"), ipv6: false }));
    assert.ok(rules.every((r) => !(r.source.kind === "cidr" && r.source.cidr.includes(":"))));
  });
});

describe("firstSubnet64", () => {
  it("takes the first /64 of the VPC's /56", () => {
    assert.equal(firstSubnet64("2001:db8:77:ab00::/56"), "2001:db8:77:ab00::/64");
    assert.throws(() => firstSubnet64("2001:db8::/48"), /56/);
    // AWS may spell the network long-hand; the subnet gets one canonical form (ipaddr.js).
    assert.equal(firstSubnet64("2001:0db8:0077:ab00:0000::/56"), "2001:db8:77:ab00::/64");
    assert.throws(() => firstSubnet64("10.77.0.0/56"));
  });
});
