/**
 * Publicly trusted certificates end to end (issue 13): the lab stack runs `tls.mode: acme` against
 * Pebble on the lab's "Internet", which validates every DNS-01 challenge by asking the lab's Knot.
 * Every TLS endpoint is checked from the client host with openssl, curl and mta-sts-query trusting
 * Pebble's root alone; a forced renewal changes every certificate with no failed connection; a
 * host's TSIG key changes nothing but its own challenge names; a host cut off from the CA keeps
 * serving its certificate and `./mf check` names the problem.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import { describe, test } from "node:test";
import { buildFleet, givenAddresses } from "../../components/build";
import { certificateLineages, IMAPS_PORT, SMTP_PORT, SUBMISSION_PORT, SUBMISSIONS_PORT, HTTPS_PORT } from "../../components/topology";
import {
  ACME,
  CA_FILE,
  clientTrustFile,
  CLIENT,
  deployFiles,
  dig,
  exec,
  execOk,
  ExecResult,
  LAB_PASSPHRASE,
  labHost,
  LabFleet,
  mtaStsQuery,
  netnsName,
  presentedCertificate,
  push,
  startOn,
  waitUntil,
} from "../../scripts/lab";
import { CheckResult } from "../../scripts/check/result";
import { restoreHosts, useLab } from "../support/lab";

const REPO = resolve(__dirname, "../..");
let fleet: LabFleet;
useLab((up) => (fleet = up));

interface Endpoint {
  host: string;
  port: number;
  starttls?: "smtp";
  /** The name a client asks for (SNI and the name checked). */
  name: string;
  /** Every name the certificate presented there must carry. */
  names: string[];
}

/** Every TLS endpoint of the fleet, with the names its certificate must carry. */
function endpoints(): Endpoint[] {
  return fleet.build.topology.hosts.flatMap((host): Endpoint[] => {
    const [own, ...web] = certificateLineages(fleet.build.topology, host);
    const at = (port: number, starttls?: "smtp") => own.names.map((name) => ({ host: host.name, port, starttls, name, names: own.names }));
    switch (host.role) {
      case "edge":
        return [...at(SMTP_PORT, "smtp"), ...web.flatMap((l) => l.names.map((name) => ({ host: host.name, port: HTTPS_PORT, name, names: l.names })))];
      case "outbound":
        return [...at(SUBMISSION_PORT, "smtp"), ...at(SUBMISSIONS_PORT)];
      case "store":
        return at(IMAPS_PORT);
      case "monitoring":
        return [];
    }
  });
}

const probe = (e: Endpoint, address = labHost(fleet, e.host).ipv4) =>
  presentedCertificate({ address, port: e.port, name: e.name, ...(e.starttls ? { starttls: e.starttls } : {}) });

describe("ACME certificates from the lab's Pebble", () => {
  test("every TLS endpoint presents a certificate that verifies against Pebble's root alone, with its names (IPv4 and IPv6)", () => {
    const all = endpoints();
    assert.ok(all.length > 20, `${all.length} endpoints`);
    for (const e of all) {
      for (const address of [labHost(fleet, e.host).ipv4, labHost(fleet, e.host).ipv6]) {
        const cert = probe(e, address);
        assert.equal(cert.verified, true, `${e.host} ${address} port ${e.port} as ${e.name}: ${cert.verifyResult} (issuer ${cert.issuer})`);
        assert.match(cert.issuer, /Pebble/);
        assert.deepEqual([...cert.names].sort(), [...e.names].sort(), `${e.host} port ${e.port}`);
      }
    }
  });

  test("curl fetches every domain's MTA-STS policy and autoconfig over HTTPS trusting Pebble's root alone", () => {
    for (const domain of fleet.spec.domains) {
      const policy = execOk(CLIENT.name, ["curl", "-sS", "--fail", "--cacert", CA_FILE, `https://mta-sts.${domain}/.well-known/mta-sts.txt`]);
      assert.equal(policy, fleet.build.recordSet.mtaSts.policy);
      const config = execOk(CLIENT.name, ["curl", "-sS", "--fail", "--cacert", CA_FILE, `https://autoconfig.${domain}/mail/config-v1.1.xml?emailaddress=alice@${domain}`]);
      assert.match(config, /<incomingServer type="imap">/);
    }
  });

  test("mta-sts-query returns VALID with the stack's policy for every hosted domain, in testing and then in enforce mode", async () => {
    for (const domain of fleet.spec.domains) {
      const r = mtaStsQuery(domain);
      assert.equal(r.result, "VALID", `${domain}: ${r.result}`);
      assert.deepEqual(r.policy, { version: "STSv1", mode: "testing", mx: [`*.${fleet.spec.serverDomain}`], max_age: fleet.spec.mtaSts.maxAge });
    }
    const spec = { ...fleet.spec, mtaSts: { ...fleet.spec.mtaSts, mode: "enforce" as const } };
    const enforced = { ...fleet, spec, build: buildFleet(spec, givenAddresses(spec), fleet.keys) };
    try {
      for (const host of [...fleet.hosts.filter((h) => h.role === "edge" || h.role === "dns")]) {
        const r = await push(host, deployFiles(enforced, host));
        assert.equal(r.code, 0, r.stderr);
      }
      for (const domain of fleet.spec.domains) {
        const r = mtaStsQuery(domain);
        assert.equal(r.result, "VALID", `${domain}: ${r.result}`);
        assert.equal(r.policy?.mode, "enforce");
      }
    } finally {
      await restoreHosts(fleet, fleet.hosts.filter((h) => h.role === "edge" || h.role === "dns"));
    }
  });

  test("a forced renewal puts a new certificate on every endpoint, and clients looping on IMAPS and submission meanwhile see no failed connection", async () => {
    const all = endpoints().filter((e, i, list) => list.findIndex((o) => o.host === e.host && o.port === e.port && o.names === e.names) === i);
    const serials = new Map(all.map((e) => [e, probe(e).serial]));
    // A client on each protocol, connecting again and again, each handshake verified; bounded in count
    // and time, and paced under the submission port's limit of 60 connections a minute per client.
    const loop = (target: string, name: string, starttls: string) =>
      startOn(
        CLIENT.name,
        [
          "bash",
          "-c",
          'ok=0 bad=0; for i in $(seq 1 200); do sleep 1.2; if echo | timeout 10 openssl s_client -connect "$0" -servername "$1" -verify_hostname "$1" -verify_return_error -CAfile "$2" -no-CApath -no-CAstore ${3:+-starttls "$3"} >/dev/null 2>&1; then ok=$((ok+1)); else bad=$((bad+1)); fi; [ -e /tmp/stop-loop ] && break; done; echo "$ok $bad"',
          target,
          name,
          CA_FILE,
          starttls,
        ],
        240_000,
      );
    execOk(CLIENT.name, ["rm", "-f", "/tmp/stop-loop"]);
    const loops = [
      loop(`${labHost(fleet, "store1").ipv4}:${IMAPS_PORT}`, `imap.${fleet.spec.serverDomain}`, ""),
      loop(`${labHost(fleet, "out1").ipv4}:${SUBMISSION_PORT}`, `smtp.${fleet.spec.serverDomain}`, "smtp"),
      loop(`${labHost(fleet, "out1").ipv4}:${SUBMISSIONS_PORT}`, `smtp.${fleet.spec.serverDomain}`, ""),
    ];
    try {
      for (const host of fleet.hosts.filter((h) => h.kind === "fleet")) {
        const r = exec(host.name, ["mailfleet-certs", "--force-renewal"], { timeoutMs: 180_000 });
        assert.equal(r.code, 0, `${host.name}: ${r.stdout}${r.stderr}`);
      }
      for (const e of all) {
        const now = await waitUntil(() => probe(e), (c) => c.serial !== serials.get(e), 60_000, 1000);
        assert.notEqual(now.serial, serials.get(e), `${e.host} port ${e.port} still serves serial ${now.serial}`);
        assert.equal(now.verified, true, `${e.host} port ${e.port}: ${now.verifyResult}`);
      }
    } finally {
      execOk(CLIENT.name, ["touch", "/tmp/stop-loop"]);
    }
    for (const [i, l] of loops.entries()) {
      const { stdout } = await l.done;
      const [ok, bad] = stdout.trim().split(" ").map(Number);
      assert.ok(ok > 5, `loop ${i}: too few connections: ${stdout}`);
      assert.equal(bad, 0, `loop ${i}: ${bad} of ${ok + bad} connections failed during the renewal`);
    }
  });

  test("a host's TSIG key may only change TXT at its own _acme-challenge names: an A record, or another host's challenge, is refused by Knot", () => {
    const credentials = readHostFile("mx1", "/etc/mailfleet/acme/dns-credentials.ini");
    const value = (key: string) => credentials.match(new RegExp(`^${key} = (.*)$`, "m"))![1];
    const key = `hmac-sha256:${value("dns_rfc2136_name")}:${value("dns_rfc2136_secret")}`;
    const update = (line: string) =>
      exec("mx1", ["knsupdate", "-y", key], { input: `server ${value("dns_rfc2136_server")}\nzone example.com.\n${line}\nsend\nanswer\n` });
    const own = update(`update add _acme-challenge.mx1.${fleet.spec.serverDomain}. 60 TXT "lab-probe"`);
    assert.equal(own.code, 0, own.stdout + own.stderr);
    const a = update(`update add mx1.${fleet.spec.serverDomain}. 60 A 192.0.2.99`);
    assert.notEqual(a.code, 0, "an A record update with mx1's key went through");
    const other = update(`update add _acme-challenge.out1.${fleet.spec.serverDomain}. 60 TXT "lab-probe"`);
    assert.notEqual(other.code, 0, "mx1's key changed out1's challenge name");
    assert.deepEqual(dig(`mx1.${fleet.spec.serverDomain}`, "A"), [labHost(fleet, "mx1").ipv4]);
    assert.deepEqual(dig(`_acme-challenge.out1.${fleet.spec.serverDomain}`, "TXT"), []);
    update(`update delete _acme-challenge.mx1.${fleet.spec.serverDomain}. TXT`);
  });

  test("a host cut off from its ACME CA keeps serving its last certificate, and `./mf check` names the problem and the fix before it ends", async () => {
    const e = endpoints().find((x) => x.host === "mx1" && x.port === SMTP_PORT)!;
    const served = probe(e);
    // Cut off by mx1's routes, not by stopping Pebble: the routes go again, the CA and its root stay.
    const routes = [`${ACME.ipv4}/32`, `${ACME.ipv6}/128`];
    for (const to of routes) execOk("mx1", ["ip", "route", "add", "prohibit", to]);
    let r: ExecResult;
    try {
      r = exec("mx1", ["mailfleet-certs", "--force-renewal"], { timeoutMs: 180_000 });
    } finally {
      for (const to of routes) execOk("mx1", ["ip", "route", "del", "prohibit", to]);
    }
    assert.notEqual(r.code, 0, "certbot renewed without its CA");
    assert.match(r.stdout + r.stderr, /mx1 failed: see \/var\/log\/letsencrypt/);
    const still = probe(e);
    assert.equal(still.serial, served.serial, "mx1 serves its last certificate");
    assert.equal(still.verified, true);
    // Today the certificate has weeks left: nothing to say. 85 days on (Pebble issues for 90, as
    // Let's Encrypt does), with no renewal in between, the check fails it and says where to look.
    const mx1 = (at?: Date) => check(at).filter((x) => x.check === "starttls" && x.subject.includes(labHost(fleet, "mx1").ipv4));
    assert.deepEqual(mx1().map((x) => x.status), ["pass"]);
    const [late] = mx1(new Date(Date.now() + 85 * 86_400_000));
    assert.equal(late.status, "fail", JSON.stringify(late));
    assert.match(late.detail, /expires in [0-5] days/);
    assert.match(late.fix ?? "", /certbot on mx1\.mail\.example\.com has not renewed it: run `mailfleet-certs` there/);
  });
});

function readHostFile(host: string, path: string): string {
  return execOk(host, ["cat", path]);
}

/** `./mf check` from the client host, trusting Pebble's root alone; `at`: as of that time. */
function check(at?: Date): CheckResult[] {
  const ca = clientTrustFile();
  const run = spawnSync(
    "ip",
    [
      "netns", "exec", netnsName("client"),
      process.execPath, join(REPO, "node_modules/tsx/dist/cli.mjs"), join(REPO, "scripts/check.ts"),
      "--stack", "lab", "--dns", "192.0.2.53", "--ca", ca, "--json", ...(at ? ["--at", at.toISOString()] : []),
    ],
    { cwd: REPO, encoding: "utf8", env: { ...process.env, PULUMI_CONFIG_PASSPHRASE: LAB_PASSPHRASE }, timeout: 5 * 60_000 },
  );
  assert.ok(run.stdout.trim().startsWith("["), `the check printed no results:\n${run.stdout}\n${run.stderr}`);
  return JSON.parse(run.stdout) as CheckResult[];
}
