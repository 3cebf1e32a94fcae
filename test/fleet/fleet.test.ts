/**
 * The MailFleet component under Pulumi mocks: the example stacks (aws + cloudflare) and the lab
 * stack (byo + zone), as the resources they register. Expectations are written from what each
 * resource is for (RFC 5321 MX, EC2 reverse DNS, the port plan), not read back from the code.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { FleetSpec } from "../../components/config";
import { cloudflareRecordArgs } from "../../components/dns/cloudflare";
import { DS_COMMAND } from "../../components/dns/zone";
import { MailFleet } from "../../components/fleet";
import { deployCommand } from "../../components/push/bundle";
import { spkiSha256 } from "../../components/keys/material";
import { DnsRecord } from "../../components/records";
import { buildTopology, hostsOf } from "../../components/topology";
import { forwardingDomain } from "../../components/topology/naming";
import {
  byName,
  Dependencies,
  dependencyRecorder,
  DYNAMIC_PREFIX,
  EXAMPLE_STACKS,
  exampleSpec,
  isSecretAt,
  labSpec,
  MOCK_DS_DIGEST,
  ofType,
  Registered,
  reveal,
  underMocks,
} from "../support/harness";

const EIP = "aws:ec2/eip:Eip";
const PTR = "aws:ec2/eipDomainName:EipDomainName";
const GROUP = "aws:ec2/securityGroup:SecurityGroup";
const INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule";
const INSTANCE = "aws:ec2/instance:Instance";
const CF_RECORD = "cloudflare:index/dnsRecord:DnsRecord";
const COMMAND = "command:remote:Command";
const UPLOAD = "command:remote:CopyToRemote";

interface Run {
  spec: FleetSpec;
  resources: Registered[];
  deps: Dependencies;
  fleet: MailFleet;
  dnsRecords: DnsRecord[];
}

async function runFleet(spec: FleetSpec): Promise<Run> {
  const recorder = dependencyRecorder();
  const { resources, result: fleet } = await underMocks(() => new MailFleet("mailfleet", { spec }, { transformations: [recorder.transformation] }));
  return { spec, resources, deps: await recorder.resolve(), fleet, dnsRecords: (await reveal(fleet.dnsRecords)).value };
}

/** A deploy key for stacks that push over SSH in these tests (never used to connect). */
function deployKey(): string {
  return generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
}

for (const stack of EXAMPLE_STACKS) {
  describe(`example stack ${stack} (aws + cloudflare)`, () => {
    let run: Run;
    before(async () => {
      run = await runFleet(exampleSpec(stack));
    });

    it("gives every host one Elastic IP and one reverse-DNS entry naming the host", () => {
      const topology = buildTopology(run.spec);
      const eips = ofType(run.resources, EIP);
      const ptrs = ofType(run.resources, PTR);
      assert.equal(eips.length, topology.hosts.length);
      assert.equal(ptrs.length, topology.hosts.length);
      for (const host of topology.hosts) {
        const eip = byName(run.resources, `${host.name}-ip`);
        const ptr = ptrs.filter((p) => p.inputs.allocationId === eip.state.allocationId);
        assert.equal(ptr.length, 1, `${host.name}: one PTR on its own Elastic IP`);
        assert.equal(ptr[0].inputs.domainName, host.fqdn);
      }
    });

    it("sets reverse DNS only after the host's A record exists (AWS checks the forward name)", () => {
      for (const host of buildTopology(run.spec).hosts) {
        const eip = byName(run.resources, `${host.name}-ip`);
        const ptr = ofType(run.resources, PTR).find((p) => p.inputs.allocationId === eip.state.allocationId)!;
        const aRecords = ofType(run.resources, CF_RECORD).filter(
          (r) => r.inputs.type === "A" && r.inputs.name === host.fqdn && r.inputs.content === eip.state.publicIp,
        );
        assert.equal(aRecords.length, 1, `${host.fqdn}: one A record with its Elastic IP`);
        assert.ok(run.deps.get(ptr.name)?.includes(aRecords[0].name), `${ptr.name} depends on ${aRecords[0].name}`);
      }
    });

    it("publishes, for every domain, one MX per edge host, all at the same priority", () => {
      const edges = hostsOf(buildTopology(run.spec), "edge").map((h) => h.fqdn).sort();
      const published = ofType(run.resources, CF_RECORD).filter((r) => r.inputs.type === "MX");
      for (const domain of run.spec.domains) {
        const mx = published.filter((r) => r.inputs.name === domain);
        assert.deepEqual(mx.map((r) => r.inputs.content).sort(), edges);
        const priorities = new Set(mx.map((r) => r.inputs.priority));
        assert.equal(priorities.size, 1, `${domain}: equal-priority MX (RFC 5321 §5.1 spreads load over them)`);
        assert.ok(mx.every((r) => Number.isInteger(r.inputs.priority) && r.inputs.priority >= 0 && r.inputs.priority <= 65535), "an MX preference is a 16-bit number");
      }
      // Besides the hosted domains only the forwarding domain has MX: its SRS return addresses lead to the edges.
      const forwarding = published.filter((r) => r.inputs.name === forwardingDomain(run.spec));
      assert.deepEqual(forwarding.map((r) => r.inputs.content).sort(), edges);
      assert.equal(published.length, (run.spec.domains.length + 1) * edges.length, "no MX anywhere else");
    });

    it("opens each role's ports to exactly the sources the role needs", () => {
      const role = new Map(ofType(run.resources, GROUP).map((g) => [`${g.name}-id`, g.name.replace(/-group$/, "")]));
      const rules = ofType(run.resources, INGRESS).map((r) => ({
        role: role.get(r.inputs.securityGroupId),
        port: r.inputs.fromPort,
        toPort: r.inputs.toPort,
        source: r.inputs.cidrIpv4 ?? r.inputs.cidrIpv6 ?? `group:${role.get(r.inputs.referencedSecurityGroupId)}`,
      }));
      const sources = (r: string, port: number) => rules.filter((x) => x.role === r && x.port === port).map((x) => x.source).sort();
      const anywhere = ["0.0.0.0/0", ...(run.spec.ipv6 ? ["::/0"] : [])].sort();

      assert.ok(rules.every((r) => r.role && r.port === r.toPort), "single-port rules on known groups");
      assert.deepEqual(sources("edge", 25), anywhere);
      for (const port of [587, 465]) assert.deepEqual(sources("outbound", port), anywhere);
      assert.deepEqual(sources("store", 993), anywhere);
      assert.equal(rules.filter((r) => r.port === 25 && r.role !== "edge").length, 0, "SMTP 25 on the edge only: no 25 on stores");
      // LMTP: the edge delivers, and a store proxies mail for a mailbox it does not hold to its store.
      assert.deepEqual(sources("store", 24), ["group:edge", "group:store"], "LMTP only from the edge and the other stores");
      assert.deepEqual(sources("store", 12345), ["group:outbound"], "Dovecot auth only from the outbound hosts");
      for (const r of ["edge", "outbound", "store"]) assert.deepEqual(sources(r, 22), [...run.spec.adminSshCidrs].sort(), `${r}: SSH from the admin networks`);
      assert.equal(rules.filter((r) => r.port === 22 && (r.source === "0.0.0.0/0" || r.source === "::/0")).length, 0, "no SSH from anywhere");
    });

    it("pushes each host after its instance exists and SSH is let in", () => {
      for (const host of buildTopology(run.spec).hosts) {
        const deps = run.deps.get(`push-${host.name}`) ?? [];
        assert.ok(deps.includes(host.name), `push-${host.name} waits for its instance`);
        for (const cidr of run.spec.adminSshCidrs) assert.ok(deps.includes(`${host.role}-22-ssh-from-${cidr}`), `push-${host.name} waits for SSH from ${cidr}`);
      }
    });

    it("keeps private keys and password hashes out of the push inputs: the bundles travel as private files", async () => {
      const pushes = deploys(run.resources);
      assert.equal(pushes.length, buildTopology(run.spec).hosts.length);
      const hash = run.spec.mailboxes[0].passwordHash;
      for (const push of ofType(run.resources, COMMAND).concat(ofType(run.resources, UPLOAD))) {
        assert.ok(isSecretAt(push.rawInputs, ["connection", "privateKey"]), `${push.name}: the SSH key is secret`);
        assert.ok(!JSON.stringify(push.inputs).includes(hash), `${push.name}: no password hash in its inputs`);
      }
      const bundles = await Promise.all(pushes.filter((p) => p.name.startsWith("push-store")).map((p) => stagedBundle(run.resources, p.name)));
      assert.ok(bundles.every((b) => b.startsWith("mailfleet-bundle 1 ")));
      assert.ok(bundles.some((b) => bundleHolds(b, hash)), "the stores' bundles carry the password hashes");
      assert.equal(await pulumi.isSecret(run.fleet.dnsRecords), false, "the DNS records are public");
    });

    it("creates the hosts' DNS-01 token with DNS Write on the stack's zones only, and gives it to every host, secret", async () => {
      const [token] = ofType(run.resources, "cloudflare:index/apiToken:ApiToken");
      assert.ok(token, "an ApiToken resource");
      assert.equal(ofType(run.resources, "cloudflare:index/apiToken:ApiToken").length, 1);
      assert.deepEqual(token.inputs.policies, [
        {
          effect: "allow",
          permissionGroups: [{ id: "group-DNS%20Write" }],
          resources: JSON.stringify(Object.fromEntries(run.spec.dnsZones.map((z) => [`com.cloudflare.api.account.zone.zone-of-${z}`, "*"]))),
        },
      ]);
      const value = String(token.state.value);
      for (const push of deploys(run.resources)) {
        const bundle = await stagedBundle(run.resources, push.name);
        assert.ok(bundleHolds(bundle, `dns_cloudflare_api_token = ${value}`), `${push.name} carries the token`);
      }
    });

    it("publishes through Cloudflare exactly the core's record set", () => {
      const published = ofType(run.resources, CF_RECORD).map((r) => ({ zoneId: r.inputs.zoneId, ...cloudflareFields(r.inputs) }));
      const expected = run.dnsRecords.map((record) => ({ zoneId: `zone-of-${record.zone}`, ...cloudflareFields(cloudflareRecordArgs(record)) }));
      const sort = (list: object[]) => list.map(canonical).sort();
      assert.deepEqual(sort(published), sort(expected));
      assert.ok(published.every((r) => r.proxied === false), "no record behind Cloudflare's HTTP proxy");
    });

    it("tells the operator about AWS's port-25 block and the missing IPv6 PTR", async () => {
      const steps = (await reveal(run.fleet.nextSteps)).value.join("\n");
      assert.match(steps, /blocks outbound TCP port 25/);
      assert.match(steps, /no custom PTR for IPv6/);
      for (const host of hostsOf(buildTopology(run.spec), "outbound")) assert.ok(steps.includes(host.fqdn), `names ${host.fqdn}`);
    });

    it("boots each instance with its role's packages and the deploy key", () => {
      for (const host of buildTopology(run.spec).hosts) {
        const script: string = byName(run.resources, host.name).inputs.userData;
        assert.ok(script.includes(run.spec.ssh.publicKey!), `${host.name}: deploy key installed`);
        assert.equal(script.includes("--uid 5000"), host.role === "store", `${host.name}: vmail only on stores`);
        assert.ok(script.includes(host.role === "store" ? "dovecot-imapd" : "postfix"));
      }
      assert.ok(ofType(run.resources, INSTANCE).every((i) => i.inputs.ami === "ami-0123456789abcdef0"), "the looked-up Debian image");
    });
  });
}

/** The deploy commands: one per host (and the nameserver), beside their upload and upload-directory resources. */
function deploys(resources: Registered[]): Registered[] {
  return ofType(resources, COMMAND).filter((c) => !c.name.endsWith("-dir") && c.name !== DS_COMMAND);
}

/** The bundle a push uploads: the local file its CopyToRemote names. */
async function stagedBundle(resources: Registered[], push: string): Promise<string> {
  return readFileSync(await byName(resources, `${push}-upload`).rawInputs.source.path, "utf8");
}

/** Does a bundle (one base64 content per line) hold this text in one of its files? */
function bundleHolds(bundle: string, text: string): boolean {
  return bundle
    .split("\n")
    .slice(1)
    .some((line) => Buffer.from(line.split(" ")[4] ?? "", "base64").toString("utf8").includes(text));
}

/** JSON with sorted keys: the wire does not keep key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.entries(value).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** The fields a DNS record resource publishes (what it says, not the provider's bookkeeping). */
function cloudflareFields(r: Record<string, any>) {
  return { name: r.name, type: r.type, ttl: r.ttl, proxied: r.proxied, content: r.content ?? null, priority: r.priority ?? null, data: r.data ?? null };
}

describe("the lab stack (byo + zone)", () => {
  it("with push none creates only the keys and exports each host's files and the nameserver's, secret", async () => {
    const run = await runFleet(labSpec());
    const types = new Set(run.resources.map((r) => r.type.startsWith(DYNAMIC_PREFIX) ? "keys" : r.type));
    assert.deepEqual([...types].sort(), ["keys", "mailfleet:index:MailFleet"]);
    const hostFiles = await reveal(run.fleet.hostFiles!);
    assert.ok(hostFiles.secret, "host files hold keys and password hashes");
    assert.deepEqual(Object.keys(hostFiles.value).sort(), buildTopology(run.spec).hosts.map((h) => h.name).sort());
    const dnsFiles = await reveal(run.fleet.dnsServerFiles!);
    assert.ok(dnsFiles.value.some((f) => f.path === "/etc/knot/knot.conf"));
    const files = Object.values(hostFiles.value).flat();
    assert.ok(files.some((f) => f.secret && f.content.includes("PRIVATE KEY-----")), "private keys are among them");
  });

  it("exports for an operator's own Prometheus: every exporter at its private address with host and role, each probe, the rules and the blackbox modules", async () => {
    const run = await runFleet(labSpec());
    const { value, secret } = await reveal(run.fleet.monitoring);
    assert.equal(secret, false, "nothing secret in it: no webhook URL");
    const topology = buildTopology(run.spec);
    assert.deepEqual(
      value.fileSd.node.map((g) => `${g.labels.host} ${g.labels.role} ${g.targets.join()}`).sort(),
      [...topology.hosts.map((h) => `${h.name} ${h.role} ${h.ipv4}:9100`), "ns1 dns 192.0.2.53:9100"].sort(),
    );
    assert.deepEqual(value.fileSd.knot, [{ targets: ["192.0.2.53:9433"], labels: { host: "ns1", role: "dns" } }], "the primary nameserver's knot-exporter");
    assert.deepEqual(value.fileSd.probes.map((p) => `${p.job}:${p.module}`), ["smtp:smtp_starttls", "tls:tls_connect", "lmtp:lmtp_banner", "mta_sts:mta_sts"]);
    assert.ok(value.fileSd.probes.find((p) => p.job === "lmtp")!.targets.some((g) => g.labels.host === "store1" && g.targets[0] === "192.0.2.31:24"));
    assert.match(value.rules, /alert: Watchdog/);
    assert.doesNotMatch(value.rules + value.blackboxModules, /192\.0\.2\.2:9099/);
    assert.match(value.blackboxModules, /smtp_starttls:/);
  });

  it("with push ssh pushes every host at its own address and the zones to the primary nameserver", async () => {
    const spec = labSpec((raw) => {
      raw.push = "ssh";
      raw.ssh = { user: "deploy", privateKey: deployKey() };
    });
    const run = await runFleet(spec);
    const pushes = deploys(run.resources);
    assert.equal(pushes.length, spec.hosts.length + 1);
    for (const host of buildTopology(spec).hosts) {
      const push = byName(pushes, `push-${host.name}`);
      assert.equal(push.inputs.connection.host, host.ipv4);
      assert.equal(push.inputs.connection.user, "deploy");
      assert.ok(push.inputs.create.includes(deployCommand(host.role)), `push-${host.name} runs deploy.sh for its role`);
      assert.equal(byName(run.resources, `push-${host.name}-upload`).inputs.connection.host, host.ipv4);
    }
    const zone = byName(pushes, "zone-push");
    assert.equal(zone.inputs.connection.host, spec.zone!.nameservers[0].ipv4);
    assert.ok(zone.inputs.create.includes(deployCommand("dns")));
    assert.ok(bundleHolds(await stagedBundle(run.resources, "zone-push"), "$ORIGIN example.com."), "the zone files travel in the bundle");
    assert.deepEqual(run.deps.get("zone-push"), ["zone-push-upload"], "the nameserver's deploy runs after its upload");
    assert.equal(ofType(run.resources, EIP).length + ofType(run.resources, CF_RECORD).length, 0);
    // The lab takes ACME certificates: a host's push (which starts certbot) waits for the nameserver's, which holds its TSIG key.
    assert.equal(spec.tls.mode, "acme");
    for (const host of buildTopology(spec).hosts) assert.ok(run.deps.get(`push-${host.name}`)?.includes("zone-push"), `push-${host.name} waits for the zone push`);
    const fleetCa = await runFleet({ ...spec, tls: { ...spec.tls, mode: "fleet-ca" } });
    for (const host of buildTopology(spec).hosts) assert.ok(!fleetCa.deps.get(`push-${host.name}`)?.includes("zone-push"), `push-${host.name} need not wait with the fleet CA`);
  });
});

describe("DNSSEC", () => {
  const DNSSEC = "cloudflare:index/zoneDnssec:ZoneDnssec";
  const expectedDs = (zone: string) => [`${zone}. IN DS 2371 13 2 ${MOCK_DS_DIGEST}`];

  it("cloudflare: turns DNSSEC on for every zone and exports each zone's DS; dnssec: false turns none on", async () => {
    const run = await runFleet(exampleSpec("prod"));
    const dnssec = ofType(run.resources, DNSSEC);
    assert.deepEqual(dnssec.map((d) => d.inputs).sort((a, b) => a.zoneId.localeCompare(b.zoneId)), run.spec.dnsZones.map((z) => ({ zoneId: `zone-of-${z}`, status: "active" })).sort((a, b) => a.zoneId.localeCompare(b.zoneId)));
    const ds = await reveal(run.fleet.dnssecDs!);
    assert.deepEqual(ds.value, Object.fromEntries(run.spec.dnsZones.map((z) => [z, expectedDs(z)])));
    assert.ok((await reveal(run.fleet.nextSteps)).value.some((s) => s.startsWith("DNSSEC: Cloudflare signs") && s.includes("dnssecDs")));
    const off = await runFleet(exampleSpec("prod", (raw) => (raw.dnssec = false)));
    assert.equal(ofType(off.resources, DNSSEC).length, 0);
    assert.equal(off.fleet.dnssecDs, undefined);
    assert.ok(!(await reveal(off.fleet.nextSteps)).value.some((s) => s.startsWith("DNSSEC")));
  });

  it("zone: reads every served zone's DS (reverse zones too) with keymgr on the primary after the push, the same lines Cloudflare gives", async () => {
    const spec = labSpec((raw) => {
      raw.push = "ssh";
      raw.ssh = { user: "deploy", privateKey: deployKey() };
    });
    const run = await runFleet(spec);
    const ds = byName(run.resources, DS_COMMAND);
    assert.equal(ds.inputs.connection.host, spec.zone!.nameservers[0].ipv4);
    assert.deepEqual(run.deps.get(DS_COMMAND), ["zone-push"], "the keys exist once the push has loaded the zones");
    assert.match(ds.inputs.create, /sudo sh -c 'for z in .*keymgr -c \/etc\/knot\/knot\.conf "\$z" ds/s);
    const zones = ["example.com", "example.org", "2.0.192.in-addr.arpa", "1.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"];
    assert.deepEqual(Object.keys((await reveal(run.fleet.dnssecDs!)).value).sort(), [...zones].sort());
    assert.deepEqual((await reveal(run.fleet.dnssecDs!)).value["example.com"], expectedDs("example.com"), "SHA-256 only, in Cloudflare's form");
    const off = await runFleet({ ...spec, dnssec: false });
    assert.equal(ofType(off.resources, COMMAND).filter((c) => c.name === DS_COMMAND).length, 0);
  });
});

describe("keys", () => {
  it("DANE: each edge's keys by generation, kept across a rollover; one Cloudflare TLSA record per key, pinning its SPKI SHA-256", async () => {
    const first = await runFleet(exampleSpec("prod"));
    const rolled = await runFleet(exampleSpec("prod", (raw) => (raw.tls = { ...raw.tls, daneKeyGeneration: 2 })));
    assert.equal(first.spec.dns, "cloudflare");
    const edges = hostsOf(buildTopology(first.spec), "edge");
    const dane = (run: Run) => run.resources.filter((r) => r.type === `${DYNAMIC_PREFIX}DaneKey`);
    const names = (run: Run) => dane(run).map((r) => r.name).sort();
    assert.deepEqual(names(first), edges.flatMap((h) => [1, 2].map((g) => `dane-${h.name}-${g}`)).sort());
    assert.deepEqual(names(rolled), edges.flatMap((h) => [1, 2, 3].map((g) => `dane-${h.name}-${g}`)).sort(), "the previous, the served and the next");
    for (const key of dane(first)) assert.equal(byName(dane(rolled), key.name).state.keyPem, key.state.keyPem, `${key.name} is kept`);
    for (const h of edges) {
      const tlsa = ofType(rolled.resources, CF_RECORD).filter((r) => r.inputs.type === "TLSA" && r.inputs.name === `_25._tcp.${h.name}.${first.spec.serverDomain}`);
      const pinned = [1, 2, 3].map((g) => spkiSha256(byName(dane(rolled), `dane-${h.name}-${g}`).state.keyPem));
      assert.deepEqual(tlsa.map((r) => r.inputs.data).sort((a, b) => a.certificate.localeCompare(b.certificate)), pinned.map((certificate) => ({ usage: 3, selector: 1, matchingType: 1, certificate })).sort((a, b) => a.certificate.localeCompare(b.certificate)));
    }
  });

  it("stay the same across runs, and a new selector adds one key per domain while the old stays published", async () => {
    const first = await runFleet(exampleSpec("prod"));
    const rotated = await runFleet(exampleSpec("prod", (raw) => (raw.dkim = { selectors: ["mf2026a", "mf2026b"], active: "mf2026b" })));
    const dkim = (run: Run) => run.resources.filter((r) => r.type === `${DYNAMIC_PREFIX}DkimKey`);
    assert.equal(dkim(first).length, first.spec.domains.length);
    assert.equal(dkim(rotated).length, 2 * first.spec.domains.length);
    for (const key of dkim(first)) {
      assert.deepEqual(byName(dkim(rotated), key.name).state.publicKey, key.state.publicKey, `${key.name} is kept`);
    }
    const txt = await reveal(rotated.fleet.dkimTxt);
    for (const domain of first.spec.domains) {
      for (const selector of ["mf2026a", "mf2026b"]) assert.match(txt.value[`${selector}._domainkey.${domain}`], /^v=DKIM1; k=rsa; p=[A-Za-z0-9+/]+=*$/);
    }
    const old = (await reveal(first.fleet.dkimTxt)).value;
    for (const [name, value] of Object.entries(old)) assert.equal(txt.value[name], value, `${name} unchanged during the rotation`);
  });
});
