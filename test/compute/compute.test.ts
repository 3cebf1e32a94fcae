/**
 * The compute backends' pure parts: the first-boot script, the firewall plan, the IPv6 subnet and
 * the reverse DNS each backend sets, as the plan prints it.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
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
import { MAIL_FS_LABEL, mailVolumeLines, userData } from "../../components/compute/userData";
import { mailVolumeDevice } from "../../components/compute/awsStorage";
import { buildTopology, hostsOf, RSPAMD_METRICS_PORT } from "../../components/topology";
import { VMAIL } from "../../components/topology/vmail";
import { labInput } from "../support/lab";
import { exampleSpec } from "../support/harness";

/** A mail volume id as AWS writes them. */
const VOLUME_ID = "vol-0123456789abcdef0";

describe("userData", () => {
  it("runs as a shell script: packages first, the deploy user with its key last", () => {
    const topology = buildTopology(exampleSpec("prod"));
    const store = hostsOf(topology, "store")[0];
    const script = userData(topology.spec, store, VOLUME_ID);
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
    const script = userData({ ...topology.spec, ssh: { ...topology.spec.ssh, publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOv3 test" } }, store, VOLUME_ID);
    const conf = buildFleet(topology.spec, addresses, keys).hostFiles[store.name].find((f) => f.path === "/etc/dovecot/dovecot.conf")!.content;
    const setting = (name: string) => conf.match(new RegExp(`^${name} = (\\S+)$`, "m"))?.[1];
    assert.equal(setting("mail_uid"), VMAIL.user);
    assert.equal(setting("first_valid_uid"), String(VMAIL.uid));
    assert.equal(setting("first_valid_gid"), String(VMAIL.gid));
    assert.ok(script.includes(`useradd --system --uid ${VMAIL.uid} --gid ${VMAIL.gid} --home-dir ${VMAIL.home} `), script);
    assert.ok(conf.includes(`mail_home = ${VMAIL.home}/`), "mailboxes live in the vmail user's home");
  });
});

describe("userData: the store's mail volume", () => {
  const topology = buildTopology(exampleSpec("prod"));
  const store = hostsOf(topology, "store")[0];
  const script = userData(topology.spec, store, VOLUME_ID);
  const lines = script.split("\n");
  const at = (pattern: RegExp) => {
    const i = lines.findIndex((l) => pattern.test(l));
    assert.ok(i >= 0, `no line matching ${pattern} in\n${script}`);
    return i;
  };

  it("is valid shell for every role (sh -n)", () => {
    for (const host of topology.hosts) {
      const text = userData(topology.spec, host, host.role === "store" ? VOLUME_ID : undefined);
      const check = spawnSync("sh", ["-n"], { input: text, encoding: "utf8" });
      assert.equal(check.status, 0, `${host.name}: ${check.stderr}`);
    }
  });

  it("mounts the volume found by its id at the mail home, before packages and the vmail owner", () => {
    assert.equal(lines[at(/^dev=/)], `dev=${mailVolumeDevice(VOLUME_ID)}`);
    assert.ok(at(/^waited=0; while \[ ! -e "\$dev" \]/) < at(/blkid -p "\$dev"/), "waits for the device before probing it");
    // Formatted only in the branch where blkid found nothing at all (exit 2).
    assert.equal(lines.filter((l) => l.includes("mkfs")).length, 1);
    assert.match(lines[at(/mkfs/)], new RegExp(`^if \\[ "\\$found" -eq 2 \\]; then mkfs\\.ext4 -q -L ${MAIL_FS_LABEL} "\\$dev"; elif`));
    const fstab = lines[at(/\/etc\/fstab$/)];
    assert.ok(fstab.includes(`'UUID=%s ${VMAIL.home} ext4 defaults,nofail 0 2\\n' "$uuid"`), fstab);
    const mount = at(new RegExp(`mount ${VMAIL.home}$`));
    assert.ok(at(/^uuid=/) < at(/\/etc\/fstab$/) && at(/\/etc\/fstab$/) < mount);
    assert.ok(mount < at(/^apt-get install/), "mounted before a package could write under it");
    assert.ok(mount < at(new RegExp(`^install -d -o ${VMAIL.user} -g ${VMAIL.group} -m 0750 ${VMAIL.home}$`)), "the vmail owner is set on the volume, not under it");
    assert.ok(script.includes(`RequiresMountsFor=${VMAIL.home}`), "Dovecot never delivers onto the root disk");
  });

  it("leaves the other roles' disks alone, and refuses a store without its volume", () => {
    for (const host of topology.hosts.filter((h) => h.role !== "store")) assert.ok(!userData(topology.spec, host).includes("blkid"), host.name);
    assert.throws(() => userData(topology.spec, store), /a store, and only a store, boots with its mail volume/);
    assert.throws(() => userData(topology.spec, hostsOf(topology, "edge")[0], VOLUME_ID), /only a store/);
  });

  it("formats a blank volume once and never again, and leaves a partitioned one alone (blkid and mkfs.ext4 on image files)", (t) => {
    if (spawnSync("sh", ["-c", "command -v blkid && command -v mkfs.ext4"]).status !== 0) return t.skip("needs blkid and mkfs.ext4");
    // The lines from waiting for the device to its UUID, run on an image file instead: what decides about formatting.
    const volume = mailVolumeLines(VOLUME_ID);
    const decide = ["set -eu", 'dev="$1"', ...volume.slice(volume.findIndex((l) => l.startsWith("waited=")), volume.findIndex((l) => l.startsWith('[ -n "$uuid" ]')) + 1), 'echo "$uuid"'];
    const run = (image: string) => spawnSync("sh", ["-c", decide.join("\n"), "sh", image], { encoding: "utf8" });
    const dir = mkdtempSync(join(tmpdir(), "mailfleet-volume-"));
    const blank = join(dir, "blank.img");
    writeFileSync(blank, Buffer.alloc(16 * 1024 * 1024));
    const first = run(blank);
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stdout.trim(), /^[0-9a-f-]{36}$/, "a new file system with a UUID");
    const label = spawnSync("blkid", ["-s", "LABEL", "-o", "value", blank], { encoding: "utf8" });
    assert.equal(label.stdout.trim(), MAIL_FS_LABEL);
    const second = run(blank);
    assert.equal(second.status, 0, second.stderr);
    assert.equal(second.stdout.trim(), first.stdout.trim(), "the second boot (a replaced instance) keeps the file system and its mail");
    // A DOS partition table and no file system: not blank, not mountable: first boot stops, nothing is formatted.
    const partitioned = join(dir, "partitioned.img");
    const disk = Buffer.alloc(16 * 1024 * 1024);
    disk.set([0x00, 0x00, 0x02, 0x00, 0x83, 0x00, 0x00, 0x00], 446);
    disk.writeUInt32LE(2048, 454);
    disk.writeUInt32LE(16 * 2048 - 2048, 458);
    disk.set([0x55, 0xaa], 510);
    writeFileSync(partitioned, disk);
    const refused = run(partitioned);
    assert.notEqual(refused.status, 0);
    assert.deepEqual(readFileSync(partitioned), disk, "not formatted");
  });
});

describe("ingressRules", () => {
  it("opens POP3S on the stores only when pop3 is on", () => {
    const pop3 = (on: boolean) => ingressRules(buildTopology({ ...exampleSpec("prod"), pop3: on })).filter((r) => r.port === 995);
    assert.deepEqual(pop3(false), []);
    assert.deepEqual([...new Set(pop3(true).map((r) => r.role))], ["store"]);
  });

  it("admits the exporters from the monitoring group and monitoring.cidrs only, and no group a stack lacks", () => {
    const prod = exampleSpec("prod");
    const sources = (spec: FleetSpec, port: number) =>
      ingressRules(buildTopology(spec)).filter((r) => r.port === port).map((r) => `${r.role} ${r.source.kind === "cidr" ? r.source.cidr : `${r.source.role}-group`}`);
    const watched = { ...prod, hosts: [...prod.hosts, { role: "monitoring" as const, instanceType: "t3.small" }], monitoring: { ...prod.monitoring, cidrs: ["198.51.100.0/24"] } };
    assert.deepEqual(sources(watched, 9100).sort(), ["edge", "monitoring", "outbound", "store"].flatMap((role) => [`${role} 198.51.100.0/24`, `${role} monitoring-group`]));
    assert.deepEqual(sources(watched, 24).filter((s) => s.endsWith("monitoring-group")), ["store monitoring-group"], "the LMTP banner probe");
    // rspamd's metrics path: on the MTAs, to the same scrapers.
    assert.deepEqual(sources(watched, RSPAMD_METRICS_PORT).sort(), ["edge", "outbound"].flatMap((role) => [`${role} 198.51.100.0/24`, `${role} monitoring-group`]));
    assert.deepEqual(sources(watched, 9090), prod.adminSshCidrs.map((c) => `monitoring ${c}`));
    // Without monitoring hosts there is no monitoring group to name: only the operator's networks.
    assert.ok(sources({ ...prod, monitoring: { ...prod.monitoring, cidrs: [] } }, 9100).length === 0);
    assert.ok(ingressRules(buildTopology(prod)).every((r) => !(r.source.kind === "group" && r.source.role === "monitoring")));
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
