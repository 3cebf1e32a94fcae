/**
 * The compute backends' pure parts: the first-boot script, the firewall plan, the IPv6 subnet and
 * the reverse DNS each backend sets, as the plan prints it.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { buildFleet, givenAddresses } from "../../components/build";
import { firstSubnet64 } from "../../components/compute/aws";
import { FleetSpec, parseFleetConfig, readStackConfig } from "../../components/config";
import { loadOrCreateKeys } from "../../components/keys/offline";
import { formatPlan } from "../../components/plan";
import { AddressBook, standInAddresses } from "../../components/topology/addresses";
import { ingressRules } from "../../components/compute/firewall";
import { ROLE_PACKAGES, userData } from "../../components/compute/userData";
import { DEPLOY_SCRIPT_PATH } from "../../components/push/bundle";
import { buildTopology, hostsOf } from "../../components/topology";
import { VMAIL } from "../../components/topology/vmail";
import { labInput } from "../support/lab";
import { exampleSpec } from "../support/harness";

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

  it("creates the vmail user Dovecot runs mail access as (one set of ids, topology/vmail.ts)", () => {
    const { topology, addresses, keys } = labInput();
    const store = hostsOf(topology, "store")[0];
    const script = userData({ ...topology.spec, ssh: { ...topology.spec.ssh, publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOv3 test" } }, store);
    const conf = buildFleet(topology.spec, addresses, keys).hostFiles[store.name].find((f) => f.path === "/etc/dovecot/dovecot.conf")!.content;
    const setting = (name: string) => conf.match(new RegExp(`^${name} = (\\S+)$`, "m"))?.[1];
    assert.equal(setting("mail_uid"), VMAIL.user);
    assert.equal(setting("first_valid_uid"), String(VMAIL.uid));
    assert.equal(setting("first_valid_gid"), String(VMAIL.gid));
    assert.ok(script.includes(`useradd --system --uid ${VMAIL.uid} --gid ${VMAIL.gid} --home-dir ${VMAIL.home} `), script);
    assert.ok(conf.includes(`mail_home = ${VMAIL.home}/`), "mailboxes live in the vmail user's home");
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

describe("plan: reverse DNS lists only the PTRs the backend will set", () => {
  const planOf = (stack: string, passphrase: string | undefined, addressesOf: (spec: FleetSpec) => AddressBook) => {
    const spec = parseFleetConfig(readStackConfig(stack, { passphrase }).raw);
    const topology = buildTopology(spec);
    const addresses = addressesOf(spec);
    const build = buildFleet(spec, addresses, loadOrCreateKeys(mkdtempSync(join(tmpdir(), "mailfleet-plan-")), topology));
    const plan = formatPlan(build, addresses, { stack, placeholderAddresses: false, redactedSecrets: false, outDir: "out" });
    const section = plan.slice(plan.indexOf("REVERSE DNS"), plan.indexOf("MTA-STS POLICY"));
    return { build, section };
  };

  it("aws (dev stack): the Elastic IPs' PTRs, and the IPv6 addresses named as having none", () => {
    const { build, section } = planOf("dev", "mailfleet-example", (spec) => standInAddresses(buildTopology(spec)));
    assert.ok(build.topology.spec.ipv6, "the dev stack has IPv6, so it has addresses without a PTR");
    const ipv4 = build.recordSet.ptr.filter((p) => !p.address.includes(":"));
    const ipv6 = build.recordSet.ptr.filter((p) => p.address.includes(":"));
    assert.ok(ipv6.length > 0);
    const lines = section.trimEnd().split("\n");
    assert.equal(lines[0], "REVERSE DNS (PTR), set by this stack, on each host's Elastic IP");
    assert.deepEqual(lines.filter((l) => l.includes(" -> ")), ipv4.map((p) => `  ${p.address} -> ${p.name}`));
    const none = lines.filter((l) => l.startsWith("  no PTR"));
    const why = "EC2 offers no custom PTR for IPv6 addresses; on AWS the hosts send over IPv4 only";
    assert.deepEqual(none, [`  no PTR (${why}): ${ipv6.map((p) => `${p.address} (${p.host})`).join(", ")}`]);
  });

  it("byo (lab stack): every PTR, none left out", () => {
    const { build, section } = planOf("lab", "mailfleet-lab", givenAddresses);
    const lines = section.trimEnd().split("\n");
    assert.equal(lines[0], "REVERSE DNS (PTR), set by the owner of the addresses (see NEXT STEPS)");
    assert.deepEqual(lines.slice(1), build.recordSet.ptr.map((p) => `  ${p.address} -> ${p.name}`));
    assert.ok(build.recordSet.ptr.some((p) => p.address.includes(":")), "the lab's IPv6 PTRs are listed too");
  });
});
