/**
 * The fleet's keys as Pulumi dynamic resources: each key is made once by the same functions the
 * offline render uses (DKIM keys on the thread pool, so the engine's parallel creates use every
 * core), kept in the stack's state with its private part encrypted, and left alone on every later
 * `up`. A key changes only when what it is for changes: a DKIM key is rotated by adding a selector
 * (a new resource; the old key stays published), a host certificate is re-issued when its names
 * change or it nears expiry.
 *
 * Pulumi serializes a dynamic provider's functions with everything they reference and runs them
 * in its provider process: so the providers below reference only ./generate (which requires
 * node-forge and nothing else) and require Node built-ins inside themselves.
 */
import * as pulumi from "@pulumi/pulumi";
import { hostCertificateNames, hostsOf, Topology } from "../topology";
import { createFleetCa, generateDaneKey, generateDkimKeyAsync, generatePassword, generateTsigSecret, issueHostCertificate } from "./generate";
import { arcKeyName, daneGenerations, DkimKey, FleetKeys, holdsDaneKeys, STATE_USERS, StatePasswords } from "./material";

/** Dynamic resource type tokens: pulumi-nodejs:dynamic/mailfleet:<type>. */
const MODULE = "mailfleet";

/** A host certificate is re-issued this long before it expires, so no host ever serves an expired one. */
export const RENEW_BEFORE_DAYS = 30;

/** Replace when one of these inputs differs from the stored outputs; anything else (the provider's own code) is no change. */
function replaceOn(keys: string[], olds: Record<string, unknown>, news: Record<string, unknown>): pulumi.dynamic.DiffResult {
  const replaces = keys.filter((k) => JSON.stringify(olds[k]) !== JSON.stringify(news[k]));
  return { changes: replaces.length > 0, replaces };
}

interface DkimKeyInputs {
  domain: string;
  selector: string;
}

export const dkimKeyProvider: pulumi.dynamic.ResourceProvider<DkimKeyInputs, DkimKey> = {
  async create(inputs) {
    return { id: `${inputs.selector}._domainkey.${inputs.domain}`, outs: await generateDkimKeyAsync(inputs.domain, inputs.selector) };
  },
  async diff(_id, olds, news) {
    return replaceOn(["domain", "selector"], { ...olds }, { ...news });
  },
};

/** One DKIM key pair (RSA 2048) for one domain and selector. */
export class DkimKeyResource extends pulumi.dynamic.Resource {
  declare readonly domain: pulumi.Output<string>;
  declare readonly selector: pulumi.Output<string>;
  declare readonly publicKey: pulumi.Output<string>;
  declare readonly privateKeyPem: pulumi.Output<string>;

  constructor(name: string, args: DkimKeyInputs, opts?: pulumi.CustomResourceOptions) {
    super(
      dkimKeyProvider,
      name,
      { ...args, publicKey: undefined, privateKeyPem: undefined },
      { ...opts, additionalSecretOutputs: ["privateKeyPem"] },
      MODULE,
      "DkimKey",
    );
  }
}

/** The edges' ARC sealing key (forwarding): an RSA key made like a DKIM key, published at the forwarding domain. */
export class ArcKeyResource extends pulumi.dynamic.Resource {
  declare readonly publicKey: pulumi.Output<string>;
  declare readonly privateKeyPem: pulumi.Output<string>;

  constructor(name: string, args: DkimKeyInputs, opts?: pulumi.CustomResourceOptions) {
    super(dkimKeyProvider, name, { ...args, publicKey: undefined, privateKeyPem: undefined }, { ...opts, additionalSecretOutputs: ["privateKeyPem"] }, MODULE, "ArcKey");
  }
}

interface TsigKeyInputs {
  host: string;
}

export const tsigKeyProvider: pulumi.dynamic.ResourceProvider<TsigKeyInputs, TsigKeyInputs & { secret: string }> = {
  async create(inputs) {
    return { id: `tsig-${inputs.host}`, outs: { host: inputs.host, secret: generateTsigSecret() } };
  },
  async diff(_id, olds, news) {
    return replaceOn(["host"], { ...olds }, { ...news });
  },
};

/** A host's TSIG key for its DNS-01 updates (zone backend): made once, kept secret in the state. */
export class TsigKeyResource extends pulumi.dynamic.Resource {
  declare readonly secret: pulumi.Output<string>;

  constructor(name: string, args: TsigKeyInputs, opts?: pulumi.CustomResourceOptions) {
    super(tsigKeyProvider, name, { ...args, secret: undefined }, { ...opts, additionalSecretOutputs: ["secret"] }, MODULE, "TsigKey");
  }
}

interface DaneKeyInputs {
  host: string;
  generation: number;
}

export const daneKeyProvider: pulumi.dynamic.ResourceProvider<DaneKeyInputs, DaneKeyInputs & { keyPem: string }> = {
  async create(inputs) {
    return { id: `dane-${inputs.host}-${inputs.generation}`, outs: { ...inputs, keyPem: generateDaneKey() } };
  },
  async diff(_id, olds, news) {
    return replaceOn(["host", "generation"], { ...olds }, { ...news });
  },
};

/**
 * One DANE key generation of an edge (tls.mode acme with dnssec): made once, kept secret in the
 * state; the generation before the previous one leaves the program, and the state, at a rollover.
 */
export class DaneKeyResource extends pulumi.dynamic.Resource {
  declare readonly keyPem: pulumi.Output<string>;

  constructor(name: string, args: DaneKeyInputs, opts?: pulumi.CustomResourceOptions) {
    super(daneKeyProvider, name, { ...args, keyPem: undefined }, { ...opts, additionalSecretOutputs: ["keyPem"] }, MODULE, "DaneKey");
  }
}

interface PasswordInputs {
  user: string;
}

export const passwordProvider: pulumi.dynamic.ResourceProvider<PasswordInputs, PasswordInputs & { password: string }> = {
  async create(inputs) {
    return { id: `password-${inputs.user}`, outs: { user: inputs.user, password: generatePassword() } };
  },
  async diff(_id, olds, news) {
    return replaceOn(["user"], { ...olds }, { ...news });
  },
};

/** A state service user's password (render/valkey.ts): made once, kept secret in the state. */
export class PasswordResource extends pulumi.dynamic.Resource {
  declare readonly password: pulumi.Output<string>;

  constructor(name: string, args: PasswordInputs, opts?: pulumi.CustomResourceOptions) {
    super(passwordProvider, name, { ...args, password: undefined }, { ...opts, additionalSecretOutputs: ["password"] }, MODULE, "Password");
  }
}

interface FleetCaInputs {
  serverDomain: string;
}
interface FleetCaOutputs extends FleetCaInputs {
  certPem: string;
  keyPem: string;
}

export const fleetCaProvider: pulumi.dynamic.ResourceProvider<FleetCaInputs, FleetCaOutputs> = {
  async create(inputs) {
    return { id: `ca.${inputs.serverDomain}`, outs: { serverDomain: inputs.serverDomain, ...createFleetCa(inputs.serverDomain) } };
  },
  async diff(_id, olds, news) {
    return replaceOn(["serverDomain"], { ...olds }, { ...news });
  },
};

/** The fleet's bootstrap CA: issues the host certificates, trusted between the fleet's hosts. */
export class FleetCaResource extends pulumi.dynamic.Resource {
  declare readonly certPem: pulumi.Output<string>;
  declare readonly keyPem: pulumi.Output<string>;

  constructor(name: string, args: FleetCaInputs, opts?: pulumi.CustomResourceOptions) {
    super(fleetCaProvider, name, { ...args, certPem: undefined, keyPem: undefined }, { ...opts, additionalSecretOutputs: ["keyPem"] }, MODULE, "FleetCa");
  }
}

interface HostCertificateInputs {
  fqdn: string;
  altNames: string[];
  caCertPem: string;
  caKeyPem: string;
}
interface HostCertificateOutputs {
  fqdn: string;
  altNames: string[];
  caCertPem: string;
  certPem: string;
  keyPem: string;
  /** ISO time the certificate stops being valid. */
  notAfter: string;
}

export const hostCertificateProvider: pulumi.dynamic.ResourceProvider<HostCertificateInputs, HostCertificateOutputs> = {
  async create(inputs) {
    const { X509Certificate } = require("node:crypto") as typeof import("node:crypto");
    const issued = issueHostCertificate({ certPem: inputs.caCertPem, keyPem: inputs.caKeyPem }, inputs.fqdn, inputs.altNames);
    const notAfter = new Date(new X509Certificate(issued.certPem).validTo).toISOString();
    // The CA key is an input only: it stays out of this resource's outputs.
    return { id: inputs.fqdn, outs: { fqdn: inputs.fqdn, altNames: inputs.altNames, caCertPem: inputs.caCertPem, ...issued, notAfter } };
  },
  async diff(_id, olds, news) {
    const result = replaceOn(["fqdn", "altNames", "caCertPem"], { ...olds }, { ...news });
    // Checked on every preview and up: a certificate close to its end is issued anew, and the
    // push then carries it to the host like any other changed file.
    const renewAt = Date.parse(olds.notAfter) - RENEW_BEFORE_DAYS * 24 * 60 * 60 * 1000;
    if (!(Date.now() < renewAt)) return { changes: true, replaces: [...(result.replaces ?? []), "notAfter"] };
    return result;
  },
};

/** A host's TLS certificate from the fleet CA, for its own name and the service names it answers to. */
export class HostCertificateResource extends pulumi.dynamic.Resource {
  declare readonly certPem: pulumi.Output<string>;
  declare readonly keyPem: pulumi.Output<string>;

  constructor(name: string, args: { [K in keyof HostCertificateInputs]: pulumi.Input<HostCertificateInputs[K]> }, opts?: pulumi.CustomResourceOptions) {
    super(
      hostCertificateProvider,
      name,
      { ...args, certPem: undefined, keyPem: undefined, notAfter: undefined },
      { ...opts, additionalSecretOutputs: ["keyPem"] },
      MODULE,
      "HostCertificate",
    );
  }
}

/**
 * Every key the fleet needs, as one Output of plain FleetKeys (the renderers' input). Private
 * parts are wrapped in pulumi.secret here as well: whatever engine runs the program, everything
 * made from them (host files, push payloads) stays secret.
 */
export function fleetKeyResources(topology: Topology, parent: pulumi.Resource): pulumi.Output<FleetKeys> {
  const { spec } = topology;
  const opts = { parent };
  const dkim = spec.domains.flatMap((domain) =>
    spec.dkim.selectors.map((selector) => {
      const key = new DkimKeyResource(`dkim-${selector}-${domain}`, { domain, selector }, opts);
      return pulumi.all([key.publicKey, pulumi.secret(key.privateKeyPem)]).apply(
        ([publicKey, privateKeyPem]): DkimKey => ({ domain, selector, publicKey, privateKeyPem }),
      );
    }),
  );
  const ca = new FleetCaResource("fleet-ca", { serverDomain: spec.serverDomain }, opts);
  const caKeyPem = pulumi.secret(ca.keyPem);
  const hosts = topology.hosts.map((host) => {
    const cert = new HostCertificateResource(
      `cert-${host.name}`,
      { fqdn: host.fqdn, altNames: hostCertificateNames(topology, host), caCertPem: ca.certPem, caKeyPem },
      opts,
    );
    return pulumi.all([cert.certPem, pulumi.secret(cert.keyPem)]).apply(([certPem, keyPem]) => [host.name, { certPem, keyPem }] as const);
  });
  // Only the zone backend's Knot verifies them: other stacks make none.
  const tsig = (spec.dns === "zone" ? topology.hosts : []).map((host) =>
    pulumi.secret(new TsigKeyResource(`tsig-${host.name}`, { host: host.name }, opts).secret).apply((secret) => [host.name, secret] as const),
  );
  // Forwarding: the ARC key is made like a DKIM key; each SRS secret once under its name.
  const arcName = arcKeyName(spec);
  const arcKey = new ArcKeyResource(`arc-${arcName.selector}-${arcName.domain}`, arcName, opts);
  const arc = pulumi.all([arcKey.publicKey, pulumi.secret(arcKey.privateKeyPem)]).apply(([publicKey, privateKeyPem]): DkimKey => ({ ...arcName, publicKey, privateKeyPem }));
  const dane = (holdsDaneKeys(spec) ? hostsOf(topology, "edge") : []).map((host) =>
    pulumi.all(
      daneGenerations(spec.tls.daneKeyGeneration).map((generation) =>
        pulumi.secret(new DaneKeyResource(`dane-${host.name}-${generation}`, { host: host.name, generation }, opts).keyPem).apply((keyPem) => ({ generation, keyPem })),
      ),
    ).apply((held) => [host.name, held] as const),
  );
  const srs = spec.forwarding.srsKeys.map((name) => pulumi.secret(new PasswordResource(`srs-${name}`, { user: `srs-${name}` }, opts).password));
  const state = STATE_USERS.map((user) => pulumi.secret(new PasswordResource(`state-${user}`, { user }, opts).password).apply((password) => [user, password] as const));
  return pulumi.all([pulumi.all(dkim), ca.certPem, pulumi.all(hosts), pulumi.all(tsig), pulumi.all(state), arc, pulumi.all(srs), pulumi.all(dane)]).apply(([dkimKeys, caCertPem, certs, tsigs, passwords, arcKey, srsSecrets, daneHeld]) => ({
    dkim: dkimKeys,
    caCertPem,
    hosts: Object.fromEntries(certs),
    tsig: Object.fromEntries(tsigs),
    state: Object.fromEntries(passwords) as StatePasswords,
    arc: arcKey,
    srs: srsSecrets,
    dane: Object.fromEntries(daneHeld),
  }));
}
