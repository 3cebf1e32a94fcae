/**
 * The lab stack's whole life under the real Pulumi engine (the CLI that scripts/setup/pulumi-cli.sh
 * provides, a file backend in a temp folder, the passphrase secrets provider), run through the
 * Automation API as the driver runs it. Each step builds on the one before.
 */
import assert from "node:assert/strict";
import { createPrivateKey, createPublicKey, X509Certificate } from "node:crypto";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { OutputMap, Stack } from "@pulumi/pulumi/automation";
import { readStackConfig } from "../../components/config";
import { RenderedFile } from "../../components/render/file";
import { DKIM_KEY_TABLE } from "../../components/render/rspamd";
import { openStack } from "../../scripts/engine";
import { keyTableEntry, pkcs8Pem } from "../support/dkimVerify";
import { HASH } from "../support/fixtures";
import { filesUnder, LAB_PASSPHRASE, labSandbox, labStackShape, reveal, runScript, Sandbox } from "../support/engineSandbox";

const DKIM = "pulumi-nodejs:dynamic/mailfleet:DkimKey";
const CA = "pulumi-nodejs:dynamic/mailfleet:FleetCa";
const CERT = "pulumi-nodejs:dynamic/mailfleet:HostCertificate";
const TSIG = "pulumi-nodejs:dynamic/mailfleet:TsigKey";
const { hosts: HOSTS, domains: DOMAINS, resources: RESOURCES } = labStackShape();

interface StateResource {
  type: string;
  name: string;
  id?: string;
  outputs: Record<string, any>;
}

/** The stack's resources as the engine holds them, secrets decrypted. */
async function stateResources(stack: Stack): Promise<StateResource[]> {
  const exported = await stack.exportStack();
  return (exported.deployment.resources ?? []).map((r: any) => ({
    type: r.type,
    name: r.urn.split("::").pop(),
    id: r.id,
    outputs: reveal(r.outputs ?? {}),
  }));
}

const ofType = (resources: StateResource[], type: string) => resources.filter((r) => r.type === type);
/** The key resources in a fixed order (the engine stores resources in the order they completed). */
const keyMaterial = (resources: StateResource[]) =>
  resources.filter((r) => [DKIM, CA, CERT, TSIG].includes(r.type)).sort((a, b) => a.name.localeCompare(b.name));

function fileOf(outputs: OutputMap, host: string, path: string): RenderedFile {
  const file = (outputs.hostFiles.value[host] as RenderedFile[]).find((f) => f.path === path);
  assert.ok(file, `${host} has no ${path}`);
  return file;
}

/** Host -> the paths whose content differs between two hostFiles outputs. */
function changedFiles(before: OutputMap, after: OutputMap): Record<string, string[]> {
  return Object.fromEntries(
    HOSTS.map((host) => {
      const old = new Map((before.hostFiles.value[host] as RenderedFile[]).map((f) => [f.path, f.content]));
      const now = after.hostFiles.value[host] as RenderedFile[];
      return [host, now.filter((f) => old.get(f.path) !== f.content).map((f) => f.path).sort()];
    }),
  );
}

describe("engine: the lab stack from up to rm", () => {
  let box: Sandbox;
  let stack: Stack;
  let firstResources: StateResource[];
  let firstOutputs: OutputMap;
  const env = () => ({ PULUMI_BACKEND_URL: box.backendUrl, PULUMI_CONFIG_PASSPHRASE: LAB_PASSPHRASE });

  before(async () => {
    box = labSandbox();
  });
  after(async () => {
    // A failed step must not leave a stack behind (the temp folder goes with it anyway).
    if (stack && existsSync(box.stateDir)) {
      await stack.destroy().catch(() => undefined);
      await stack.workspace.removeStack("lab", { preserveConfig: true }).catch(() => undefined);
    }
    box.remove();
  });

  it("up (through the driver) creates the DKIM keys and TLS certificates as dynamic resources", async () => {
    const run = runScript("scripts/stack.ts", ["up", "--stack", "lab", "--dir", box.workDir], box.workDir, env());
    assert.equal(run.status, 0, run.stdout + run.stderr);
    // The driver prints the engine's own progress output.
    assert.match(run.stdout, /^Updating \(lab\):/m);
    assert.match(run.stdout, new RegExp(`\\+ +${DKIM} dkim-lab1-example\\.com created`));
    assert.match(run.stdout, new RegExp(`\\+ +${RESOURCES} created`));

    stack = await openStack("lab", { workDir: box.workDir, backendUrl: box.backendUrl, passphrase: LAB_PASSPHRASE });
    firstResources = await stateResources(stack);
    firstOutputs = await stack.outputs();

    // One DKIM key per hosted domain and selector: RSA 2048 (RFC 8301), the public half published.
    const dkim = ofType(firstResources, DKIM);
    assert.deepEqual(dkim.map((r) => r.id).sort(), DOMAINS.map((d) => `lab1._domainkey.${d}`));
    for (const key of dkim) {
      const privateKey = createPrivateKey(key.outputs.privateKeyPem);
      assert.equal(privateKey.asymmetricKeyDetails?.modulusLength, 2048);
      const spki = createPublicKey(privateKey).export({ type: "spki", format: "der" }).toString("base64");
      assert.equal(key.outputs.publicKey, spki);
    }

    // The fleet CA, and one certificate per host that the CA signed for the host's own name.
    const [ca] = ofType(firstResources, CA);
    const caCert = new X509Certificate(ca.outputs.certPem);
    assert.equal(caCert.ca, true);
    const certs = ofType(firstResources, CERT);
    assert.deepEqual(certs.map((r) => r.name).sort(), HOSTS.map((h) => `cert-${h}`));
    for (const cert of certs) {
      const x509 = new X509Certificate(cert.outputs.certPem);
      assert.equal(x509.verify(caCert.publicKey), true, `${cert.name} is not signed by the fleet CA`);
      assert.ok(x509.subjectAltName?.split(", ").includes(`DNS:${cert.outputs.fqdn}`), `${cert.name}: ${x509.subjectAltName}`);
      assert.equal(x509.checkPrivateKey(createPrivateKey(cert.outputs.keyPem)), true);
    }
  });

  it("the outputs hold the record set and every host's files, made from the engine's keys", () => {
    const records = firstOutputs.dnsRecords.value as any[];
    // RFC 5321 §5.1: MX of equal preference are tried in random order, spreading inbound mail.
    for (const domain of DOMAINS) {
      const mx = records.filter((r) => r.type === "MX" && r.name === domain);
      assert.deepEqual(mx.map((r) => r.exchange).sort(), ["mx1.mail.example.com", "mx2.mail.example.com"]);
      assert.equal(new Set(mx.map((r) => r.priority)).size, 1);
    }
    // RFC 6376 §3.6.1: the key record at <selector>._domainkey.<domain> carries the engine's key.
    for (const key of ofType(firstResources, DKIM)) {
      assert.equal(firstOutputs.dkimTxt.value[key.id!], `v=DKIM1; k=rsa; p=${key.outputs.publicKey}`);
      const txt = records.find((r) => r.type === "TXT" && r.name === key.id);
      assert.equal(txt?.text, `v=DKIM1; k=rsa; p=${key.outputs.publicKey}`);
    }

    // The files hold keys and password hashes: the whole output is secret.
    assert.equal(firstOutputs.hostFiles.secret, true);
    assert.deepEqual(Object.keys(firstOutputs.hostFiles.value).sort(), HOSTS);
    const [ca] = ofType(firstResources, CA);
    for (const cert of ofType(firstResources, CERT)) {
      const host = cert.name.replace(/^cert-/, "");
      // The chain a client is sent: the host's certificate, then the CA that issued it.
      assert.equal(fileOf(firstOutputs, host, "/etc/mailfleet/tls/host.crt").content, cert.outputs.certPem + ca.outputs.certPem);
      const key = fileOf(firstOutputs, host, "/etc/mailfleet/tls/host.key");
      assert.equal(key.content, cert.outputs.keyPem);
      assert.equal(key.mode, 0o600);
    }
    const keyTable = fileOf(firstOutputs, "out1", DKIM_KEY_TABLE);
    // Root's, readable by rspamd's group only: rspamd reads its keys and never owns them.
    assert.deepEqual([keyTable.mode, keyTable.owner, keyTable.group], [0o640, "root", "_rspamd"]);
    for (const key of ofType(firstResources, DKIM)) {
      assert.deepEqual(keyTableEntry(keyTable.content, key.outputs.domain), { selector: key.outputs.selector, pem: pkcs8Pem(key.outputs.privateKeyPem) });
    }
    // The nameserver's zones publish the same DKIM record.
    const zone = (firstOutputs.dnsServerFiles.value as RenderedFile[]).find((f) => f.path.endsWith("/example.com.zone"));
    assert.ok(zone?.content.includes("lab1._domainkey.example.com."), zone?.content);
  });

  it("a second up changes nothing: every resource the same, keys and certificates byte-identical", async () => {
    const result = await stack.up();
    assert.deepEqual(result.summary.resourceChanges, { same: RESOURCES });
    assert.deepEqual(keyMaterial(await stateResources(stack)), keyMaterial(firstResources));
    assert.deepEqual(await stack.outputs(), firstOutputs);
  });

  it("adding a mailbox changes the files of the hosts it concerns and no key", async () => {
    await stack.setConfig("mailfleet:mailboxes[3].address", { value: "dave@example.com" }, true);
    await stack.setConfig("mailfleet:mailboxes[3].passwordHash", { value: HASH, secret: true }, true);
    await stack.setConfig("mailfleet:mailboxes[3].store", { value: "store1" }, true);
    const result = await stack.up();
    assert.deepEqual(result.summary.resourceChanges, { same: RESOURCES });
    assert.deepEqual(keyMaterial(await stateResources(stack)), keyMaterial(firstResources));
    const outputs = await stack.outputs();
    // The edges learn where dave's mail goes, the outbound MTA that dave may send as dave@ (Postfix
    // for the envelope, rspamd for the header From), and both stores his login (a store proxies
    // IMAP logins for mailboxes the other one holds).
    assert.deepEqual(changedFiles(firstOutputs, outputs), {
      mx1: ["/etc/postfix/mailboxes"],
      mx2: ["/etc/postfix/mailboxes"],
      out1: ["/etc/postfix/sender_login", "/etc/rspamd/local.d/sender_login.map"],
      store1: ["/etc/dovecot/users"],
      store2: ["/etc/dovecot/users"],
      mon: [],
    });
    assert.match(fileOf(outputs, "mx1", "/etc/postfix/mailboxes").content, /^dave@example\.com\s/m);
    assert.ok(fileOf(outputs, "store1", "/etc/dovecot/users").content.includes(HASH));
    firstOutputs = outputs;
  });

  it("adding a DKIM selector creates exactly one new key per hosted domain and publishes both selectors", async () => {
    await stack.setConfig("mailfleet:dkim.selectors[1]", { value: "lab2" }, true);
    const result = await stack.up();
    assert.deepEqual(result.summary.resourceChanges, { same: RESOURCES, create: DOMAINS.length });
    const resources = await stateResources(stack);
    const dkim = ofType(resources, DKIM);
    assert.deepEqual(dkim.map((r) => r.id).sort(), [...DOMAINS.map((d) => `lab1._domainkey.${d}`), ...DOMAINS.map((d) => `lab2._domainkey.${d}`)].sort());
    // The old keys stay as they were: mail signed with lab1 in flight still verifies.
    assert.deepEqual(keyMaterial(resources).filter((r) => r.outputs.selector !== "lab2"), keyMaterial(firstResources));
    const outputs = await stack.outputs();
    for (const key of dkim) assert.equal(outputs.dkimTxt.value[key.id!], `v=DKIM1; k=rsa; p=${key.outputs.publicKey}`);
    // The newest selector becomes the active one: the outbound MTA signs with the new keys.
    for (const key of dkim.filter((k) => k.outputs.selector === "lab2")) {
      assert.deepEqual(keyTableEntry(fileOf(outputs, "out1", DKIM_KEY_TABLE).content, key.outputs.domain), { selector: "lab2", pem: pkcs8Pem(key.outputs.privateKeyPem) });
    }
    for (const domain of DOMAINS) {
      const zone = (outputs.dnsServerFiles.value as RenderedFile[]).find((f) => f.path.endsWith(`/${domain}.zone`));
      assert.ok(zone?.content.includes(`lab1._domainkey.${domain}.`) && zone.content.includes(`lab2._domainkey.${domain}.`), zone?.content);
    }
  });

  it("the state on disk holds no private key, password or password hash in plain text", async () => {
    const secrets: string[] = [];
    for (const r of keyMaterial(await stateResources(stack))) {
      for (const pem of [r.outputs.privateKeyPem, r.outputs.keyPem].filter(Boolean)) {
        // A line of the key's base64 body, in case a PEM were stored without its header.
        secrets.push(pem.split(/\r?\n/)[1]);
      }
      if (r.type === TSIG) secrets.push(r.outputs.secret);
    }
    const config = readStackConfig("lab", { dir: `${box.workDir}/stacks`, passphrase: LAB_PASSPHRASE });
    const mailboxes = config.raw.mailboxes as { address: string; passwordHash: string }[];
    assert.equal(mailboxes.length, 4);
    for (const m of mailboxes) secrets.push(m.passwordHash, `${m.address.split("@")[0]}-lab-password`);
    assert.ok(secrets.length >= 4 + 2 * 4 + 4 + HOSTS.length);

    const files = filesUnder(box.stateDir);
    assert.ok(files.some((f) => f.path.endsWith("/stacks/mailfleet/lab.json")), "no state file where the file backend keeps it");
    for (const file of files) {
      assert.doesNotMatch(file.content, /-----BEGIN [A-Z ]*PRIVATE KEY-----/, file.path);
      for (const secret of secrets) assert.ok(!file.content.includes(secret), `${file.path} holds a secret in plain text`);
    }
  });

  it("destroy leaves no resources and the driver's rm removes the stack, keeping its config file", async () => {
    const result = await stack.destroy();
    assert.deepEqual(result.summary.resourceChanges, { delete: RESOURCES + DOMAINS.length });
    assert.deepEqual(await stateResources(stack), []);
    const rm = runScript("scripts/stack.ts", ["rm", "--stack", "lab", "--dir", box.workDir], box.workDir, env());
    assert.equal(rm.status, 0, rm.stdout + rm.stderr);
    assert.deepEqual(await stack.workspace.listStacks(), []);
    // stacks/Pulumi.lab.yaml is the operator's committed config, not the engine's to delete.
    assert.equal(existsSync(box.stackFile), true);
  });
});
