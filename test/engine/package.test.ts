/**
 * mailfleet as a component package: the plugin's schema as the CLI reads it (`pulumi package
 * get-schema`) against the stack config's schema, and a YAML program that uses the package
 * (installed from the tarball scripts/plugin-tarball.sh builds) deploying the lab fleet through the
 * real engine and the YAML language host, next to the TypeScript program with the same stack values.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { readStackConfig } from "../../components/config";
import { KEYS } from "../../components/config/schema";
import { spkiSha256 } from "../../components/keys/material";
import { pkcs8Pem } from "../support/dkimVerify";
import { CliRun, filesUnder, LAB_PASSPHRASE, labSandbox, labStackShape, pulumi, reveal, Sandbox } from "../support/engineSandbox";
import { openStack, REPO_ROOT } from "../../scripts/engine";

const FLEET = "mailfleet:index:MailFleet";
/** Stack + the component's provider + MailFleet + the keys: as many as the TypeScript program's. */
const { hosts: HOSTS, resources: RESOURCES } = labStackShape();

function ok(run: CliRun): string {
  assert.equal(run.status, 0, run.stdout + run.stderr);
  return run.stdout;
}

type Spec = { type?: string; items?: Spec; additionalProperties?: Spec; $ref?: string; oneOf?: Spec[]; secret?: boolean };
interface Schema {
  resources: Record<string, { inputProperties: Record<string, Spec>; requiredInputs: string[]; properties: Record<string, Spec> }>;
  types: Record<string, { properties: Record<string, Spec>; required?: string[] }>;
}

/**
 * Where `value` does not fit `spec` in the package schema (key paths), as the engine would judge
 * a program's input: a check of the schema's types that does not read the config schema.
 */
function misfits(schema: Schema, spec: Spec, value: unknown, path: string): string[] {
  if (spec.oneOf) return spec.oneOf.some((s) => misfits(schema, s, value, path).length === 0) ? [] : [`${path}: fits no type of ${JSON.stringify(spec.oneOf)}`];
  if (spec.$ref === "pulumi.json#/Any") return [];
  if (spec.$ref) {
    const type = schema.types[spec.$ref.replace("#/types/", "")];
    if (!value || typeof value !== "object" || Array.isArray(value)) return [`${path}: not an object`];
    const o = value as Record<string, unknown>;
    return [
      ...(type.required ?? []).filter((k) => !(k in o)).map((k) => `${path}.${k}: required`),
      ...Object.entries(o).flatMap(([k, v]) => (type.properties[k] ? misfits(schema, type.properties[k], v, `${path}.${k}`) : [`${path}.${k}: no such input`])),
    ];
  }
  switch (spec.type) {
    case "array":
      return Array.isArray(value) ? value.flatMap((v, i) => misfits(schema, spec.items!, v, `${path}[${i}]`)) : [`${path}: not a list`];
    case "object":
      return value && typeof value === "object" && !Array.isArray(value)
        ? Object.entries(value).flatMap(([k, v]) => misfits(schema, spec.additionalProperties!, v, `${path}.${k}`))
        : [`${path}: not a map`];
    case "integer":
      return Number.isInteger(value) ? [] : [`${path}: not an integer`];
    default:
      return typeof value === spec.type ? [] : [`${path}: not a ${spec.type}`];
  }
}

/** Every secret input's key path (`mailboxes[].passwordHash`). */
function secretPaths(schema: Schema, props: Record<string, Spec>, path = ""): string[] {
  const walk = (spec: Spec, at: string): string[] => [
    ...(spec.secret ? [at] : []),
    ...(spec.$ref?.startsWith("#/types/") ? secretPaths(schema, schema.types[spec.$ref.slice(8)].properties, at) : []),
    ...(spec.items ? walk(spec.items, `${at}[]`) : []),
    ...(spec.additionalProperties ? walk(spec.additionalProperties, `${at}.*`) : []),
    ...(spec.oneOf ?? []).flatMap((s) => walk(s, at)),
  ];
  return [...new Set(Object.entries(props).flatMap(([k, spec]) => walk(spec, path ? `${path}.${k}` : k)))];
}

/** A stack file's `mailfleet:` values typed as a program gives them (config keeps top-level scalars as text). */
function typedStackValues(stack: string): Record<string, unknown> {
  // Other stacks' secrets stand as placeholders: their types are what counts here.
  const { raw } = readStackConfig(stack, { dir: join(REPO_ROOT, "stacks"), passphrase: stack === "lab" ? LAB_PASSPHRASE : undefined });
  return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, v === "true" || v === "false" ? v === "true" : typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v]));
}

describe("engine: the component package's schema, as pulumi package get-schema prints it", () => {
  let box: Sandbox;
  let schema: Schema;
  before(() => {
    box = labSandbox();
    schema = JSON.parse(ok(pulumi(box, ["package", "get-schema", join(REPO_ROOT, "pulumi-resource-mailfleet")])));
  });
  after(() => box.remove());

  it("has every config key as an input, required exactly where the config has no default", () => {
    const fleet = schema.resources[FLEET];
    assert.deepEqual(Object.keys(fleet.inputProperties).sort(), Object.keys(KEYS).sort());
    const required = Object.entries(KEYS).filter(([, s]) => !s.safeParse(undefined).success).map(([k]) => k);
    assert.deepEqual([...fleet.requiredInputs].sort(), required.sort());
  });

  it("marks exactly the config's secrets as secret inputs", () => {
    assert.deepEqual(secretPaths(schema, schema.resources[FLEET].inputProperties).sort(), [
      "backup.password",
      "cloudflare.acmeApiToken",
      "domainSmarthosts.*.password",
      "mailboxes[].passwordHash",
      "monitoring.email.relay.password",
      "monitoring.webhookUrl",
      "smarthost.password",
      "ssh.privateKey",
      "tls.acme.eab.hmac",
    ]);
  });

  it("types every input so the repo's stack files (byo lists, aws counts) fit it, and refuses what the config refuses", () => {
    const inputs = schema.resources[FLEET].inputProperties;
    for (const stack of ["lab", "prod", "staging", "dev"]) {
      const values = typedStackValues(stack);
      assert.deepEqual(Object.entries(values).flatMap(([k, v]) => misfits(schema, inputs[k], v, k)), [], stack);
    }
    const wrongHosts = { edge: { count: "2" }, outbound: [{ name: "out1", ipv4: 1 }], store: { count: 1 } };
    assert.deepEqual(misfits(schema, inputs.hosts, wrongHosts, "hosts").map((m) => m.split(":")[0]), ["hosts.edge", "hosts.outbound"]);
    assert.deepEqual(misfits(schema, inputs.dnsTtl, 1.5, "dnsTtl"), ["dnsTtl: not an integer"]);
    assert.deepEqual(misfits(schema, inputs.ipv6, "yes", "ipv6"), ["ipv6: not a boolean"]);
  });

  it("has the outputs operators need", () => {
    const outputs = schema.resources[FLEET].properties;
    for (const name of ["mxHosts", "hostAddresses", "dnsRecords", "dkimTxt", "nextSteps"]) assert.ok(outputs[name], name);
    assert.equal(outputs.hostFiles.secret, true);
  });
});

/** A DKIM key as rspamd's key table holds it: base64 PKCS#8 DER on one line. */
const pkcs8Der = (pem: string) => pkcs8Pem(pem).replace(/-----[A-Z ]+-----|\s/g, "");

/** Each engine-made key, certificate, TSIG secret and password in a stack export -> a name that is the same in either stack. */
function keyNames(exported: any): [string, string][] {
  return reveal(exported.deployment.resources).flatMap((r: any) => {
    const name = r.urn.split("::").pop();
    const o = r.outputs ?? {};
    return [
      ...(o.privateKeyPem ? [[o.privateKeyPem, `${name}.privateKeyPem`], [pkcs8Der(o.privateKeyPem), `${name}.pkcs8`], [o.publicKey, `${name}.publicKey`]] : []),
      ...(o.certPem ? [[o.certPem, `${name}.certPem`]] : []),
      // A host key stands in the TLSA records too, as its SPKI hash (upper case in zone files).
      ...(o.keyPem ? [[o.keyPem, `${name}.keyPem`], ...[spkiSha256(o.keyPem)].flatMap((h) => [[h, `${name}.spki`], [h.toUpperCase(), `${name}.spki`]])] : []),
      ...(r.type.endsWith(":TsigKey") ? [[o.secret, `${name}.secret`]] : []),
      // Valkey's ACL lines hold a password as its SHA-256.
      ...(r.type.endsWith(":Password") ? [[o.password, `${name}.password`], [createHash("sha256").update(o.password).digest("hex"), `${name}.sha256`]] : []),
    ] as [string, string][];
  });
}

/** The outputs with every key replaced by its name: what is left is what the config made. */
function withoutKeys(outputs: Record<string, unknown>, names: [string, string][]): Record<string, unknown> {
  // Zone files split a long TXT value into strings of 255: joined, the key is found there too.
  let text = JSON.stringify(outputs).replaceAll('\\" \\"', "");
  for (const [key, name] of names.sort((a, b) => b[0].length - a[0].length)) text = text.split(JSON.stringify(key).slice(1, -1)).join(`<${name}>`);
  return JSON.parse(text);
}

describe("engine: a YAML program runs the lab fleet through the component package", () => {
  let yaml: Sandbox;
  let yamlOutputs: Record<string, unknown>;
  let yamlExport: any;
  const cli = (args: string[]) => pulumi(yaml, args);

  before(() => {
    yaml = labSandbox();
    // The example program with the lab's stack file beside it, as examples/yaml/Pulumi.yaml says.
    copyFileSync(join(REPO_ROOT, "examples/yaml/Pulumi.yaml"), join(yaml.workDir, "Pulumi.yaml"));
    copyFileSync(yaml.stackFile, join(yaml.workDir, "Pulumi.lab.yaml"));
    const dist = join(yaml.workDir, "..", "dist");
    mkdirSync(dist);
    const tarball = execFileSync("bash", [join(REPO_ROOT, "scripts/plugin-tarball.sh"), dist], { encoding: "utf8" }).trim();
    ok(cli(["plugin", "install", "resource", "mailfleet", "v0.1.0", "--file", tarball]));
    ok(cli(["stack", "init", "lab"]));
  });
  after(() => {
    cli(["destroy", "--yes", "--stack", "lab"]);
    yaml.remove();
  });

  it("up deploys the fleet: the component, its keys, its outputs", () => {
    const stdout = ok(cli(["up", "--yes", "--stack", "lab"]));
    assert.match(stdout, new RegExp(`\\+ ${RESOURCES} created`));
    assert.doesNotMatch(stdout, /^\s*warning:/im);
    yamlOutputs = JSON.parse(ok(cli(["stack", "output", "--stack", "lab", "--json", "--show-secrets"])));
    yamlExport = JSON.parse(ok(cli(["stack", "export", "--stack", "lab", "--show-secrets"])));
    assert.ok(yamlExport.deployment.resources.some((r: any) => r.type === FLEET), "no MailFleet component in the state");
    assert.deepEqual(yamlOutputs.mxHosts, ["mx1.mail.example.com", "mx2.mail.example.com"]);
  });

  it("its host files, zone files and records are the TypeScript program's, byte for byte but for the engine's keys", async () => {
    const ts = labSandbox();
    try {
      const stack = await openStack("lab", { workDir: ts.workDir, backendUrl: ts.backendUrl, passphrase: LAB_PASSPHRASE });
      await stack.up();
      const tsOutputs = Object.fromEntries(Object.entries(await stack.outputs()).map(([k, o]) => [k, o.value]));
      const tsNames = keyNames(await stack.exportStack().then((deployment) => ({ deployment: (deployment as any).deployment })));
      const mine = withoutKeys(yamlOutputs, keyNames(yamlExport));
      const theirs = withoutKeys(tsOutputs, tsNames);
      assert.deepEqual(Object.keys(mine).sort(), Object.keys(theirs).sort());
      for (const key of Object.keys(theirs)) assert.deepEqual(mine[key], theirs[key], key);
      // The comparison is not empty: every host's files are there, keys named in them.
      assert.deepEqual(Object.keys(theirs.hostFiles as object).sort(), [...HOSTS].sort());
      assert.match(JSON.stringify(mine.hostFiles), /<cert-out1\.keyPem>/);
      await stack.destroy();
    } finally {
      ts.remove();
    }
  });

  it("a second up changes nothing", () => {
    const stdout = ok(cli(["up", "--yes", "--stack", "lab", "--expect-no-changes"]));
    assert.match(stdout, new RegExp(`${RESOURCES} unchanged`));
  });

  it("the secret inputs stay secret in the state: no password hash or password in plain text", () => {
    const values = typedStackValues("lab");
    const secrets = [...(values.mailboxes as { passwordHash: string }[]).map((m) => m.passwordHash), (values.backup as { password: string }).password];
    const files = filesUnder(yaml.stateDir);
    assert.ok(files.some((f) => f.path.endsWith("/stacks/mailfleet/lab.json")));
    for (const file of files) for (const secret of secrets) assert.ok(!file.content.includes(secret), `${file.path} holds a secret input in plain text`);
  });

  it("destroy removes every resource and stack rm the stack", () => {
    const stdout = ok(cli(["destroy", "--yes", "--stack", "lab"]));
    assert.match(stdout, new RegExp(`- ${RESOURCES} deleted`));
    ok(cli(["stack", "rm", "--yes", "--preserve-config", "lab"]));
    assert.deepEqual(JSON.parse(ok(cli(["stack", "ls", "--json"]))), []);
  });
});
