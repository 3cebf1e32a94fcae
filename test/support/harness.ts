/**
 * Runs the Pulumi layer under mocks (pulumi.runtime.setMocks, no engine) and records every
 * resource it registers with its resolved inputs.
 *
 * The key resources are not faked: the mock loads each dynamic resource's serialized provider
 * (its `__provider` input, the very text the engine's dynamic provider host would load) and runs
 * its create, so the tests also show that the providers serialize and run on their own. Created
 * keys are kept per resource name and inputs for the whole test process, as state would keep them:
 * a second run of the same stack gets the same keys.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { join } from "node:path";
import { runInThisContext } from "node:vm";
import * as pulumi from "@pulumi/pulumi";
import { FleetSpec, parseFleetConfig, readStackConfig } from "../../components/config";
import { DS_COMMAND } from "../../components/dns/zone";

export interface Registered {
  type: string;
  name: string;
  /** Inputs as a provider that takes no secrets gets them: plain values. */
  inputs: Record<string, any>;
  /** Inputs as the monitor got them: secret values still wrapped (see isSecretValue). */
  rawInputs: Record<string, any>;
  state: Record<string, any>;
}

/** The wire form of a secret value (@pulumi/pulumi runtime/rpc). */
const SECRET_SIG = { key: "4dabf18193072939515e22adb298388d", value: "1b47061264138c4ac30d75fd1eb44270" };

export function isSecretValue(value: unknown): boolean {
  return typeof value === "object" && value !== null && (value as Record<string, unknown>)[SECRET_SIG.key] === SECRET_SIG.value;
}

/** Whether the value at path is secret, itself or as part of a secret around it. */
export function isSecretAt(value: any, path: string[]): boolean {
  if (isSecretValue(value)) return true;
  if (path.length === 0 || value === null || typeof value !== "object") return false;
  return isSecretAt(value[path[0]], path.slice(1));
}

/** Unwraps secrets, as the engine does for a provider that does not accept them (the dynamic provider host). */
export function plain(value: any): any {
  if (isSecretValue(value)) return plain(value.value);
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

const ROOT = join(__dirname, "..", "..");
const providerRequire = createRequire(join(ROOT, "index.ts"));
const providers = new Map<string, pulumi.dynamic.ResourceProvider>();
const dynamicState = new Map<string, Record<string, unknown>>();

function loadProvider(text: string): pulumi.dynamic.ResourceProvider {
  let provider = providers.get(text);
  if (!provider) {
    const module = { exports: {} as { handler: () => pulumi.dynamic.ResourceProvider } };
    runInThisContext(`(function (exports, require, module) {\n${text}\n})`)(module.exports, providerRequire, module);
    provider = module.exports.handler();
    providers.set(text, provider);
  }
  return provider;
}

/** Deterministic per resource name, so two runs of one stack see the same addresses. */
function octet(name: string): number {
  return (createHash("sha256").update(name).digest()[0] % 250) + 2;
}

export const DYNAMIC_PREFIX = "pulumi-nodejs:dynamic/mailfleet:";
/** Where the mocked AWS resources are. */
export const MOCK_REGION = "eu-central-1";
export const MOCK_ZONE = "eu-central-1b";

/** The digest both mocked signers give: Knot's keymgr and Cloudflare sign the same zone shape with the same key here. */
export const MOCK_DS_DIGEST = "9090E3B8344113F52C12A4AB140D472157A05ABE1CBDD9E66880706ADB678328";
/** keymgr's `ds` output for one zone, as Knot 3.4 prints it: a SHA-256 and a SHA-384 line. */
export function mockKeymgrDs(zone: string): string {
  return `${zone}. DS 2371 13 2 ${MOCK_DS_DIGEST.toLowerCase()}\n${zone}. DS 2371 13 4 ${"ab".repeat(48)}`;
}

async function newResource(args: pulumi.runtime.MockResourceArgs): Promise<{ id: string; state: Record<string, any> }> {
  const inputs = plain(args.inputs) as Record<string, any>;
  if (args.type.startsWith(DYNAMIC_PREFIX)) {
    const { __provider, ...rest } = inputs;
    const key = `${args.type} ${args.name} ${JSON.stringify(rest)}`;
    if (!dynamicState.has(key)) {
      const created = await loadProvider(__provider).create(rest);
      dynamicState.set(key, { ...created.outs, __id: created.id });
    }
    const outs = dynamicState.get(key)!;
    return { id: String(outs.__id), state: outs };
  }
  switch (args.type) {
    case "aws:ec2/eip:Eip":
      return { id: `eipalloc-${args.name}`, state: { ...inputs, publicIp: `198.51.100.${octet(args.name)}`, allocationId: `eipalloc-${args.name}` } };
    case "aws:ec2/networkInterface:NetworkInterface":
      return {
        id: `eni-${args.name}`,
        state: {
          ...inputs,
          privateIp: `10.77.0.${octet(args.name)}`,
          ipv6Addresses: inputs.ipv6AddressCount ? [`2001:db8:77::${octet(args.name).toString(16)}`] : [],
        },
      };
    case "cloudflare:index/apiToken:ApiToken":
      return { id: `token-${args.name}`, state: { ...inputs, value: `mocktoken${"0".repeat(31)}${octet(args.name)}` } };
    case "cloudflare:index/zoneDnssec:ZoneDnssec":
      // What Cloudflare answers for a signed zone: its KSK's DS fields (key tag, ECDSA P-256, SHA-256).
      return { id: `dnssec-${args.name}`, state: { ...inputs, keyTag: 2371, algorithm: "13", digestType: "2", digest: MOCK_DS_DIGEST } };
    case "command:remote:Command":
      // Knot's keymgr on the nameserver, for each zone the DS command names (components/dns/ds.ts).
      if (args.name !== DS_COMMAND) return { id: `${args.name}-id`, state: inputs };
      return { id: `${DS_COMMAND}-id`, state: { ...inputs, stdout: [...String(inputs.create).matchAll(/for z in ([^;]*); do/g)][0][1].split(" ").map(mockKeymgrDs).join("\n") } };
    case "aws:ec2/vpc:Vpc":
      return { id: `vpc-${args.name}`, state: { ...inputs, ipv6CidrBlock: "2001:db8:77::/56" } };
    case "aws:ec2/subnet:Subnet":
      return { id: `subnet-${args.name}`, state: { ...inputs, availabilityZone: MOCK_ZONE } };
    case "aws:ebs/volume:Volume": {
      const id = `vol-${createHash("sha256").update(args.name).digest("hex").slice(0, 17)}`;
      return { id, state: { ...inputs, arn: `arn:aws:ec2:${MOCK_REGION}:123456789012:volume/${id}` } };
    }
    case "aws:iam/role:Role":
    case "aws:iam/instanceProfile:InstanceProfile": {
      // Auto-named as Pulumi names them: the resource name and a suffix.
      const name = `${args.name}-5e6f7a8`;
      const kind = args.type === "aws:iam/role:Role" ? "role" : "instance-profile";
      return { id: name, state: { ...inputs, name, arn: `arn:aws:iam::123456789012:${kind}/${name}` } };
    }
    case "aws:s3/bucket:Bucket": {
      const bucket = `${args.name}-1a2b3c4`;
      return { id: bucket, state: { ...inputs, bucket, arn: `arn:aws:s3:::${bucket}`, region: MOCK_REGION } };
    }
    default:
      return { id: `${args.name}-id`, state: inputs };
  }
}

function call(args: pulumi.runtime.MockCallArgs): Record<string, any> {
  switch (args.token) {
    case "aws:ec2/getAmi:getAmi":
      return { id: "ami-0123456789abcdef0" };
    case "aws:ec2/getSubnet:getSubnet":
      return { id: args.inputs.id, vpcId: "vpc-given", availabilityZone: MOCK_ZONE };
    case "cloudflare:index/getZone:getZone":
      return { id: `zone-of-${args.inputs.filter.name}` };
    case "cloudflare:index/getApiTokenPermissionGroupsList:getApiTokenPermissionGroupsList":
      // What Cloudflare answers for the name filter: the group by its display name.
      return { results: [{ id: `group-${args.inputs.name}`, name: decodeURIComponent(args.inputs.name), scopes: [args.inputs.scope] }] };
    default:
      throw new Error(`unexpected call ${args.token}`);
  }
}

// Internal to the SDK, but exactly what is needed: wait until every registration has gone out.
const { waitForRPCs } = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs: () => Promise<void> };

/** A resource's explicit dependencies (dependsOn), as resource names. */
export type Dependencies = Map<string, string[]>;

/**
 * Records every resource's dependsOn. The mock monitor is not told about dependencies, so this
 * reads them where the SDK applies a parent's transformations to each child.
 */
export function dependencyRecorder(): { transformation: pulumi.ResourceTransformation; resolve: () => Promise<Dependencies> } {
  const pending: { name: string; deps: pulumi.Resource[] }[] = [];
  return {
    transformation: (args) => {
      const deps = args.opts.dependsOn;
      pending.push({ name: args.name, deps: deps === undefined ? [] : Array.isArray(deps) ? (deps as pulumi.Resource[]) : [deps as pulumi.Resource] });
      return undefined;
    },
    resolve: async () => {
      const names = async (deps: pulumi.Resource[]) =>
        Promise.all(deps.map((d) => new Promise<string>((resolve) => d.urn.apply((urn) => resolve(urn.slice(urn.lastIndexOf("::") + 2))))));
      return new Map(await Promise.all(pending.map(async (p) => [p.name, await names(p.deps)] as const)));
    },
  };
}

/**
 * Sets fresh mocks, runs `program`, waits for every registration, and returns what was
 * registered, with the program's result or the error it failed with.
 */
export async function settleUnderMocks<T>(
  program: () => T | Promise<T>,
  stack = "test",
): Promise<{ resources: Registered[]; result?: T; error?: unknown }> {
  const resources: Registered[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource: async (args) => {
        const made = await newResource(args);
        resources.push({ type: args.type, name: args.name, inputs: plain(args.inputs), rawInputs: args.inputs, state: made.state });
        return made;
      },
      call: (args) => call(args),
    },
    "mailfleet",
    stack,
    false,
  );
  try {
    const result = await program();
    await waitForRPCs();
    return { resources, result };
  } catch (error) {
    await waitForRPCs();
    return { resources, error };
  }
}

export async function underMocks<T>(program: () => T | Promise<T>, stack?: string): Promise<{ resources: Registered[]; result: T }> {
  const { resources, result, error } = await settleUnderMocks(program, stack);
  if (error !== undefined) throw error;
  return { resources, result: result as T };
}

/** The value and secretness of an Output, once it resolves. */
export async function reveal<T>(output: pulumi.Output<T>): Promise<{ value: T; secret: boolean }> {
  const value = await new Promise<T>((resolve) => output.apply((v) => resolve(v)));
  return { value, secret: await pulumi.isSecret(output) };
}

export const EXAMPLE_STACKS = ["dev", "staging", "prod"] as const;

/** An example stack (aws + cloudflare), decrypted with its example-only passphrase. */
export function exampleSpec(stack: string, change: (raw: Record<string, any>) => void = () => undefined): FleetSpec {
  const raw = readStackConfig(stack, { passphrase: "mailfleet-example" }).raw;
  change(raw);
  return parseFleetConfig(raw);
}

export function labSpec(change: (raw: Record<string, any>) => void = () => undefined): FleetSpec {
  const raw = readStackConfig("lab", { passphrase: "mailfleet-lab" }).raw;
  change(raw);
  return parseFleetConfig(raw);
}

/** The one resource of that name; fails the test if there is none. */
export function byName(resources: Registered[], name: string): Registered {
  const found = resources.find((r) => r.name === name);
  if (!found) throw new assert.AssertionError({ message: `no resource named ${name}` });
  return found;
}

export function ofType(resources: Registered[], type: string): Registered[] {
  return resources.filter((r) => r.type === type);
}
