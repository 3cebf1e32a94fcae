/**
 * The component package's Pulumi schema, made from the stack config's own zod schema
 * (components/config/schema.ts KEYS): every `mailfleet:` key is an input of the same type, a key
 * the config marks secret (SECRET_META) is a secret input, and a key with neither default nor
 * `optional` is required. So the inputs of a YAML, Python or Go program are the stack file's keys,
 * and the two cannot drift. Pure: `pulumi package get-schema` prints what this returns.
 */
import { z } from "zod";
import { KEYS } from "../config/schema";

export const PACKAGE_NAME = "mailfleet";
/** The component's type token: what MailFleet registers as, and what other languages name. */
export const MAILFLEET_TYPE = `${PACKAGE_NAME}:index:MailFleet`;

/** A property or type in Pulumi's package schema (the parts this package uses). */
export interface TypeSpec {
  type?: "string" | "integer" | "number" | "boolean" | "array" | "object";
  items?: TypeSpec;
  additionalProperties?: TypeSpec;
  $ref?: string;
  oneOf?: TypeSpec[];
}
export interface PropertySpec extends TypeSpec {
  description?: string;
  secret?: boolean;
}
export interface ObjectTypeSpec {
  type: "object";
  properties: Record<string, PropertySpec>;
  required?: string[];
}

const ANY: TypeSpec = { $ref: "pulumi.json#/Any" };

/**
 * The component's outputs, by name: what operators need after `up` (MX hosts, addresses, the
 * record set, DKIM TXT values, next steps) and, for `push: none`, every host's files. The keys are
 * those of MailFleet.outputs(); a test holds them together. DNSSEC's DS records (issue 24) go
 * here, beside dkimTxt, once the fleet exports them.
 */
export const OUTPUTS: Record<string, PropertySpec & { optional?: true }> = {
  mxHosts: { type: "array", items: { type: "string" }, description: "The edge hosts' names: every hosted domain's MX, all at one priority." },
  hostAddresses: {
    type: "object",
    additionalProperties: { type: "object", additionalProperties: { type: "string" } },
    description: "Host name -> its addresses (ipv4, ipv6, privateIpv4).",
  },
  dnsRecords: { type: "array", items: ANY, description: "Every record the fleet publishes: { zone, name, type, ttl, … }." },
  dkimTxt: { type: "object", additionalProperties: { type: "string" }, description: "`<selector>._domainkey.<domain>` -> the DKIM TXT value." },
  mtaStsPolicy: { type: "string", description: "Served at https://mta-sts.<domain>/.well-known/mta-sts.txt." },
  nextSteps: { type: "array", items: { type: "string" }, description: "What the operator does next (delegations, PTRs outside the cloud, …)." },
  hostFiles: {
    type: "object",
    additionalProperties: { type: "array", items: ANY },
    secret: true,
    optional: true,
    description: "push: none only — host name -> its files ({ path, content, mode, owner, group }); secret (keys, password hashes).",
  },
  dnsServerFiles: { type: "array", items: ANY, secret: true, optional: true, description: "push: none with dns: zone only — the nameserver's Knot config and zone files." },
  backupBucket: { type: "string", optional: true, description: "aws only — the S3 bucket the stores' restic backups go to." },
  monitoring: {
    type: "object",
    additionalProperties: ANY,
    description: "For an operator's own Prometheus and Grafana: file_sd targets with role and host labels, the alert rules, the blackbox modules, the dashboard.",
  },
  dnssecDs: { type: "object", additionalProperties: { type: "array", items: { type: "string" } }, optional: true, description: "Signed zones only — zone -> the DS records its parent must publish." },
};

/** The zod schema under its wrappers (optional, default, …) and whether a value may be left out. */
function unwrap(schema: z.ZodType): { inner: z.ZodType; optional: boolean } {
  const def = schema._zod.def as { type: string; innerType?: z.ZodType; in?: z.ZodType };
  switch (def.type) {
    case "optional":
    case "default":
    case "prefault":
    case "catch":
      return { inner: unwrap(def.innerType!).inner, optional: true };
    case "nullable":
    case "readonly":
      return unwrap(def.innerType!);
    case "pipe": {
      // A transform (like hosts.<role>) says what it accepts in its `shape` meta; else its input.
      const shape = z.globalRegistry.get(def.in!)?.shape as z.ZodType | undefined;
      return unwrap(shape ?? def.in!);
    }
    default:
      return { inner: schema, optional: false };
  }
}

const pascal = (path: string[]) => path.map((p) => p.charAt(0).toUpperCase() + p.slice(1)).join("");

/** Walks the zod schemas into Pulumi types; each object becomes a named type (once). */
class SchemaWriter {
  readonly types: Record<string, ObjectTypeSpec> = {};
  private readonly names = new Map<z.ZodType, string>();

  property(schema: z.ZodType, path: string[]): { spec: PropertySpec; optional: boolean } {
    const { inner, optional } = unwrap(schema);
    const secret = z.globalRegistry.get(inner)?.secret === true;
    return { spec: { ...this.type(inner, path), ...(secret ? { secret: true } : {}) }, optional };
  }

  private type(schema: z.ZodType, path: string[]): TypeSpec {
    const def = schema._zod.def as any;
    switch (def.type) {
      case "string":
      case "enum":
        return { type: "string" };
      case "boolean":
        return { type: "boolean" };
      case "number":
        return { type: (schema as z.ZodNumber).isInt ? "integer" : "number" };
      case "array":
        return { type: "array", items: this.property(def.element, path).spec };
      case "record":
        return { type: "object", additionalProperties: this.property(def.valueType, path).spec };
      case "union":
        return { oneOf: def.options.map((o: z.ZodType) => this.property(o, path).spec) };
      case "object":
        return { $ref: `#/types/${this.objectType(schema as z.ZodObject, path)}` };
      case "literal": {
        // A choice of values (monitoring.thresholds.queueStuckSeconds): their one JSON type.
        const values = def.values as unknown[];
        if (values.every((v) => typeof v === "number")) return { type: values.every(Number.isInteger) ? "integer" : "number" };
        if (values.every((v) => typeof v === "string")) return { type: "string" };
        if (values.every((v) => typeof v === "boolean")) return { type: "boolean" };
        throw new Error(`config key ${path.join(".")}: a literal of mixed types has no package schema type`);
      }
      default:
        throw new Error(`config key ${path.join(".")}: a ${def.type} schema has no package schema type — add it to components/package/schema.ts`);
    }
  }

  private objectType(schema: z.ZodObject, path: string[]): string {
    const known = this.names.get(schema);
    if (known) return known;
    // A shape used under several keys names itself (its title); others are named by their key path.
    const title = z.globalRegistry.get(schema)?.title;
    const token = `${PACKAGE_NAME}:index:${title ?? pascal(path)}`;
    if (this.types[token]) throw new Error(`config key ${path.join(".")}: a second type named ${token} — give its schema a title`);
    this.names.set(schema, token);
    this.types[token] = this.object(schema.shape, path);
    return token;
  }

  object(shape: Record<string, z.ZodType>, path: string[]): ObjectTypeSpec {
    const properties: Record<string, PropertySpec> = {};
    const required: string[] = [];
    for (const [key, schema] of Object.entries(shape)) {
      const { spec, optional } = this.property(schema, [...path, key]);
      properties[key] = spec;
      if (!optional) required.push(key);
    }
    return { type: "object", properties, ...(required.length ? { required } : {}) };
  }
}

/** The whole package schema, as `pulumi package get-schema` prints it. */
export function packageSchema(version: string) {
  const writer = new SchemaWriter();
  const inputs = writer.object(KEYS, []);
  const outputs = Object.fromEntries(Object.entries(OUTPUTS).map(([name, { optional: _, ...spec }]) => [name, spec]));
  return {
    name: PACKAGE_NAME,
    version,
    displayName: "mailfleet",
    description: "A horizontally scaled, self-hosted mail platform that stays deliverable",
    resources: {
      [MAILFLEET_TYPE]: {
        isComponent: true,
        description: "The whole fleet: its inputs are the keys of a mailfleet stack file (README, Stack config).",
        inputProperties: inputs.properties,
        requiredInputs: inputs.required ?? [],
        properties: outputs,
        required: Object.keys(OUTPUTS).filter((name) => !OUTPUTS[name].optional),
      },
    },
    types: writer.types,
  };
}
