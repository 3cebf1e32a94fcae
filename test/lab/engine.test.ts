/**
 * The engine's outputs configure real hosts: the lab stack goes `pulumi up` as operators run it
 * (the real CLI and its Node.js language host on the project's index.ts), then
 * every lab host is pushed the files the engine exported (with the deploy command the Pulumi push
 * runs, over SSH) in place of the lab's offline render, and mail flows in and out. The DKIM key
 * that signs is the one the engine holds, and the record that verifies it is the one it published.
 * The lab stack takes ACME certificates: those certbot issued at the lab's up stay through the
 * engine's push (it never overwrites what certbot manages), and the clients trust Pebble's root alone.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { RenderedFile } from "../../components/render/file";
import { DKIM_KEY_TABLE } from "../../components/render/rspamd";
import * as lab from "../../scripts/lab";
import { labDnsFiles } from "../../scripts/lab/peers";
import { keyTableEntry, pkcs8Pem } from "../support/dkimVerify";
import { CliRun, projectSandbox, pulumi, reveal, Sandbox } from "../support/engineSandbox";
import { forgetPublished, restoreHosts, useLab } from "../support/lab";

const ALICE = "alice@example.com";
const EXT_ADDRESS = `${lab.EXT_USER}@${lab.EXT_DOMAIN}`;

/** The stack's outputs as `pulumi stack output --json --show-secrets` prints them. */
type StackOutputs = { hostFiles: Record<string, RenderedFile[]>; dnsServerFiles: RenderedFile[]; dkimTxt: Record<string, string> };

/** Each lab host's files from the engine's outputs; the nameserver also gets the lab's peer zones. */
function engineFiles(outputs: StackOutputs, host: lab.LabHost, fleet: lab.LabFleet): RenderedFile[] {
  if (host.role === "dns") return labDnsFiles(outputs.dnsServerFiles, host, fleet.ext.spkiSha256);
  const files = outputs.hostFiles[host.name];
  assert.ok(files, `the engine exported no files for ${host.name}`);
  return files;
}

const tag = (name: string) => `${name} ${Date.now()}`;

describe("engine + lab: hosts configured from the engine's outputs", { timeout: 20 * 60_000 }, () => {
  const labFleet = useLab();
  let box: Sandbox;
  let outputs: StackOutputs;
  let dkimKeyPem: string;
  /** The TLS endpoints probed here (once the lab is up), and their certificates before the engine's push. */
  let endpoints: { address: string; port: number; name: string; starttls?: "smtp" }[];
  let issued: lab.PresentedCertificate[];

  before(async () => {
    box = projectSandbox();
    const ok = (run: CliRun) => {
      assert.equal(run.status, 0, run.stdout + run.stderr);
      return run.stdout;
    };
    ok(pulumi(box, ["stack", "init", "lab"]));
    ok(pulumi(box, ["up", "--yes", "--stack", "lab"]));
    outputs = JSON.parse(ok(pulumi(box, ["stack", "output", "--stack", "lab", "--json", "--show-secrets"])));
    const exported = reveal(JSON.parse(ok(pulumi(box, ["stack", "export", "--stack", "lab", "--show-secrets"]))));
    dkimKeyPem = exported.deployment.resources.find((r: any) => r.id === "lab1._domainkey.example.com").outputs.privateKeyPem;

    const fleet = labFleet();
    endpoints = [
      { address: lab.labHost(fleet, "store1").ipv4, port: 993, name: "imap.mail.example.com" },
      { address: lab.labHost(fleet, "out1").ipv4, port: 587, name: "smtp.mail.example.com", starttls: "smtp" },
    ];
    issued = endpoints.map(lab.presentedCertificate);
    const hosts = fleet.hosts.filter((h) => h.ssh);
    for (const host of hosts) {
      const result = await lab.push(host, engineFiles(outputs, host, labFleet()));
      assert.equal(result.code, 0, `${host.name}: ${result.stdout}${result.stderr}`);
    }
    // The engine's DKIM key replaced the lab's: ext must not verify with the record it cached before.
    forgetPublished();
  });

  after(async () => {
    try {
      // The lab's own files and keys again, for the suites after this one.
      await restoreHosts(labFleet(), labFleet().hosts.filter((h) => h.ssh));
    } finally {
      pulumi(box, ["destroy", "--yes", "--stack", "lab"]);
      pulumi(box, ["stack", "rm", "--yes", "--preserve-config", "lab"]);
      box.remove();
    }
  });


  it("every host now holds the engine's files", () => {
    for (const host of labFleet().hosts.filter((h) => h.ssh)) {
      for (const f of engineFiles(outputs, host, labFleet())) {
        assert.equal(readFileSync(join(lab.hostRoot(host.name), f.path), "utf8"), f.content, `${host.name}:${f.path}`);
      }
    }
    assert.deepEqual(keyTableEntry(readFileSync(join(lab.hostRoot("out1"), DKIM_KEY_TABLE), "utf8"), "example.com"), { selector: "lab1", pem: pkcs8Pem(dkimKeyPem) });
  });

  it("the certificates certbot issued stay through the engine's push and verify against Pebble's root alone", () => {
    for (const [i, endpoint] of endpoints.entries()) {
      const cert = lab.presentedCertificate(endpoint);
      assert.equal(cert.verified, true, `${endpoint.name}: ${cert.verifyResult}`);
      assert.match(cert.issuer, /Pebble/);
      assert.equal(cert.serial, issued[i].serial, `${endpoint.name}: the push replaced certbot's certificate`);
    }
  });

  it("inbound: mail sent by MX lookup lands in the mailbox and is read back over IMAPS with the store's ACME certificate", async () => {
    const subject = tag("engine inbound");
    lab.sendByMx(`someone@${lab.EXT_DOMAIN}`, ALICE, subject);
    const messages = await lab.waitUntil(
      () => lab.imapMessages("store1.mail.example.com", ALICE, lab.labPassword(ALICE), subject),
      (m) => m.length > 0,
      90_000,
    );
    assert.equal(messages.length, 1);
    assert.equal(messages[0].subject, `${subject} 1`);
  });

  it("submission: the outbound MTA signs with the engine's DKIM key and the published record verifies it", async () => {
    // The record the receiver looks up is the one the engine exported.
    const published = lab.dig("lab1._domainkey.example.com", "TXT", lab.EXT.name).map(lab.txtValue);
    assert.deepEqual(published, [outputs.dkimTxt["lab1._domainkey.example.com"]]);

    const subject = tag("engine submission");
    const sent = lab.smtpSend({
      server: "smtp.mail.example.com",
      port: 587,
      mode: "starttls",
      auth: { user: ALICE, password: lab.labPassword(ALICE) },
      from: ALICE,
      to: [EXT_ADDRESS],
      subject,
    });
    assert.equal(sent.ok, true, JSON.stringify(sent));
    const received = await lab.waitUntil(
      () => lab.extMessages().filter((m) => m.includes(subject)),
      (m) => m.length > 0,
      90_000,
    );
    assert.equal(received.length, 1);
    const fields = lab.headers(received[0]);
    const signature = fields.find((f) => f.name === "dkim-signature")?.value ?? "";
    assert.match(signature, /(^|;)\s*d=example\.com\s*(;|$)/);
    assert.match(signature, /(^|;)\s*s=lab1\s*(;|$)/);
    // ext's rspamd checked the signature against the DNS record (RFC 8601 Authentication-Results).
    const results = fields.filter((f) => f.name === "authentication-results").map((f) => f.value).join("\n");
    assert.match(results, /dkim=pass header\.d=example\.com header\.s=lab1/);
  });
});
