/**
 * The offline plan (`./mf start`, components/plan.ts formatPlan): what it prints must be what the
 * stack does, so its NEXT STEPS are checked against the steps the fleet component exports under
 * mocks, and its hosts table against the addresses the build used.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { buildFleet, givenAddresses } from "../../components/build";
import { FleetSpec } from "../../components/config";
import { MailFleet } from "../../components/fleet";
import { loadOrCreateKeys } from "../../components/keys/offline";
import { formatPlan, PlanNotes } from "../../components/plan";
import { AddressBook, standInAddresses } from "../../components/topology/addresses";
import { buildTopology } from "../../components/topology";
import { exampleSpec, labSpec, reveal, underMocks } from "../support/harness";

/** One key folder for the file: loadOrCreateKeys reuses what fits and issues what does not. */
const KEY_DIR = mkdtempSync(join(tmpdir(), "mailfleet-plan-"));
const NOTES: PlanNotes = { stack: "test", placeholderAddresses: false, redactedSecrets: false, outDir: "out/test" };

function planOf(spec: FleetSpec, addresses: AddressBook, notes: PlanNotes = NOTES): string {
  const topology = buildTopology(spec);
  const build = buildFleet(spec, addresses, loadOrCreateKeys(KEY_DIR, topology));
  return formatPlan(build, addresses, notes);
}

/** The lines of one section: from its heading to the next blank line. */
function section(plan: string, heading: string): string[] {
  const lines = plan.split("\n");
  const start = lines.findIndex((l) => l.startsWith(heading));
  assert.ok(start >= 0, `the plan has a ${heading} section`);
  const end = lines.indexOf("", start);
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

async function exportedSteps(spec: FleetSpec): Promise<string[]> {
  const { result: fleet } = await underMocks(() => new MailFleet("mailfleet", { spec }));
  return (await reveal(fleet.nextSteps)).value;
}

describe("formatPlan: NEXT STEPS", () => {
  const stacks: [string, () => FleetSpec, (spec: FleetSpec) => AddressBook][] = [
    ["lab (byo + zone)", () => labSpec(), givenAddresses],
    ["dev (aws + cloudflare)", () => exampleSpec("dev"), (spec) => standInAddresses(buildTopology(spec))],
  ];
  for (const [name, specOf, addressesOf] of stacks) {
    it(`${name}: every step the stack exports, in its order, then the plan's own`, async () => {
      const spec = specOf();
      const exported = await exportedSteps(spec);
      const steps = section(planOf(spec, addressesOf(spec)), "NEXT STEPS");
      assert.deepEqual(steps.slice(0, exported.length), exported.map((s) => `  - ${s}`));
      assert.equal(steps.length, exported.length + 2, "then the preview/up and the live check");
      assert.match(steps.at(-1)!, /\.\/mf check --stack test/);
    });
  }

  it("lab: the zone delegation names every nameserver with its addresses", () => {
    const spec = labSpec();
    const steps = section(planOf(spec, givenAddresses(spec)), "NEXT STEPS").join("\n");
    const delegation = steps.split("\n").find((l) => l.startsWith("  - Delegation:"));
    assert.ok(delegation, steps);
    for (const ns of spec.zone!.nameservers) assert.ok(delegation.includes(`${ns.name} (${ns.ipv4}`), `${ns.name} with its IPv4`);
    for (const zone of spec.dnsZones) assert.ok(delegation.includes(zone));
  });

  it("aws: AWS allows 5 Elastic IPs per region by default; a fleet over 5 hosts is told to raise the quota", () => {
    const quotaStep = (spec: FleetSpec) => {
      const step = section(planOf(spec, standInAddresses(buildTopology(spec))), "NEXT STEPS").find((l) => l.startsWith("  - Elastic IPs:"));
      assert.ok(step, "an Elastic IP step");
      return step;
    };
    const small = exampleSpec("dev");
    assert.equal(small.hosts.length, 3);
    const within = quotaStep(small);
    assert.match(within, /AWS allows 5 per region by default, and this fleet needs 3 \(one per host\)/);
    assert.doesNotMatch(within, /ask AWS for a higher/);

    const big = exampleSpec("dev", (raw) => (raw.hosts.edge.count = 3));
    assert.equal(big.hosts.length, 5, "at the quota: still within it");
    assert.doesNotMatch(quotaStep(big), /ask AWS for a higher/);
    const over = exampleSpec("dev", (raw) => (raw.hosts.edge.count = 4));
    assert.equal(over.hosts.length, 6);
    assert.match(quotaStep(over), /needs 6 \(one per host\), over the default: ask AWS for a higher Elastic IP quota in this region before `pulumi up`/);
  });

  it("byo: no Elastic IP step (the addresses are the operator's)", () => {
    const spec = labSpec();
    assert.ok(!section(planOf(spec, givenAddresses(spec)), "NEXT STEPS").some((l) => l.includes("Elastic IP")));
  });
});

describe("formatPlan: the header and the hosts", () => {
  it("one row per host with the addresses the build used, its role and its ports", () => {
    const spec = exampleSpec("dev");
    const addresses = standInAddresses(buildTopology(spec));
    const rows = section(planOf(spec, addresses), "HOSTS");
    assert.match(rows[0], /^HOST\s+ROLE\s+IPv4\s+IPv6\s+SIZE\s+PORTS$/);
    const hosts = buildTopology(spec).hosts;
    assert.equal(rows.length, hosts.length + 1);
    for (const [i, host] of hosts.entries()) {
      const cells = rows[i + 1].split(/\s{2,}/);
      assert.deepEqual(cells.slice(0, 5), [host.fqdn, host.role, addresses[host.name].ipv4, addresses[host.name].ipv6 ?? "-", host.instanceType]);
      assert.ok(cells[5].split(" ").includes("22/ssh(admin)"), `${host.name}: SSH for the admins only`);
    }
    const edge = rows.find((r) => r.includes(" edge "))!;
    assert.ok(edge.includes("25/smtp ") && edge.includes("443/https"), edge);
    // Columns line up: every row's ROLE starts where the header's does.
    const roleAt = rows[0].indexOf("ROLE");
    for (const row of rows.slice(1)) assert.match(row.slice(roleAt), /^(edge|outbound|store) /);
  });

  it("says when the addresses are stand-ins and when secrets are redacted, and only then", () => {
    const spec = labSpec();
    const head = (notes: Partial<PlanNotes>) => planOf(spec, givenAddresses(spec), { ...NOTES, ...notes }).split("\n\n")[0];
    assert.doesNotMatch(head({}), /note:/);
    assert.match(head({ placeholderAddresses: true }), /note: addresses are placeholders/);
    assert.match(head({ redactedSecrets: true }), /note: secrets are redacted \(set PULUMI_CONFIG_PASSPHRASE/);
    const summary = `mailfleet plan for stack "test": ${spec.domains.length} hosted domain(s), ${spec.hosts.length} host(s), compute byo, dns zone`;
    assert.ok(head({}).startsWith(summary), head({}));
  });

  it("lists every record of the record set and names the zone files it wrote", () => {
    const spec = labSpec();
    const topology = buildTopology(spec);
    const build = buildFleet(spec, givenAddresses(spec), loadOrCreateKeys(KEY_DIR, topology));
    const plan = formatPlan(build, givenAddresses(spec), NOTES);
    assert.equal(section(plan, "DNS RECORDS").length, build.recordSet.records.length);
    const files = section(plan, "FILES").join("\n");
    for (const zone of build.zoneFiles) assert.ok(files.includes(zone.origin), zone.origin);
  });
});

describe("standInAddresses", () => {
  it("aws: documentation addresses, one per host, and the private address the daemons bind to", () => {
    const spec = exampleSpec("dev");
    assert.ok(spec.ipv6);
    const addresses = standInAddresses(buildTopology(spec));
    const all = Object.values(addresses);
    assert.equal(all.length, spec.hosts.length);
    for (const a of all) {
      assert.match(a.ipv4, /^192\.0\.2\.\d+$/);
      assert.match(a.privateIpv4!, /^10\.77\.0\.\d+$/, "in the fleet VPC's subnet");
      assert.match(a.ipv6!, /^2001:db8::/);
    }
    for (const family of ["ipv4", "privateIpv4", "ipv6"] as const) assert.equal(new Set(all.map((a) => a[family])).size, all.length, `distinct ${family}`);
    const noV6 = standInAddresses(buildTopology(exampleSpec("dev", (raw) => (raw.ipv6 = false))));
    assert.ok(Object.values(noV6).every((a) => a.ipv6 === undefined));
  });

  it("aws: the offline render binds Postfix to the private stand-in, as real AWS hosts bind to their private address", () => {
    const spec = exampleSpec("dev");
    const topology = buildTopology(spec);
    const addresses = standInAddresses(topology);
    const build = buildFleet(spec, addresses, loadOrCreateKeys(KEY_DIR, topology));
    for (const host of topology.hosts.filter((h) => h.sends)) {
      const main = build.hostFiles[host.name].find((f) => f.path === "/etc/postfix/main.cf")!.content;
      assert.match(main, new RegExp(`^smtp_bind_address = ${addresses[host.name].privateIpv4!.replaceAll(".", "\\.")}$`, "m"), host.name);
    }
  });

  it("byo: no private stand-in (the hosts' addresses are on their own interfaces)", () => {
    const addresses = standInAddresses(buildTopology(labSpec()));
    assert.ok(Object.values(addresses).every((a) => a.privateIpv4 === undefined));
  });
});
