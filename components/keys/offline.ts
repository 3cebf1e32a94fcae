/**
 * Keys for the offline render and the lab, kept in a local folder and reused: re-rendering never
 * rotates a key (a rotated DKIM key would break every signature until DNS caught up). Layout:
 *   <dir>/dkim/<domain>.<selector>.key   PKCS#8 PEM (the public key is derived from it)
 *   <dir>/ca.crt, <dir>/ca.key           the fleet CA
 *   <dir>/hosts/<name>.crt, .key         one certificate per host
 *   <dir>/tsig/<name>.key                 one TSIG secret per host (base64), added to older folders
 *   <dir>/arc/<domain>.<selector>.key     the edges' ARC key (forwarding), like a DKIM key
 *   <dir>/srs/<name>.secret               one SRS secret per forwarding.srsKeys name
 *   <dir>/dane/<edge>.<generation>.key    an edge's DANE keys (acme with dnssec), PKCS#8 PEM
 * Every file is 0600 and the folders 0700.
 */
import { X509Certificate, createPublicKey } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Host, Topology, hostCertificateNames, hostsOf } from "../topology";
import { FleetCa, createFleetCa, generateDaneKey, generateDkimKey, generateDkimKeyAsync, generatePassword, generateTsigSecret, issueHostCertificate, issueHostCertificateAsync } from "./generate";
import { arcKeyName, daneGenerations, DaneKeyPem, DkimKey, FleetKeys, holdsDaneKeys, HostCertificate, STATE_USERS, StatePasswords } from "./material";

/**
 * What an offline render writes where the stack would put the Cloudflare token it creates at
 * `pulumi up`: certbot refuses it, so a file rendered offline never passes for the real one.
 */
export const OFFLINE_CLOUDFLARE_TOKEN = "(created-by-the-stack-at-pulumi-up)";

/** Writes through a temporary file and a rename, so an interrupted run never leaves half a key. */
function writeSecret(path: string, content: string): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, content, { mode: 0o600 });
  renameSync(tmp, path);
}

function loadOrCreate<T>(paths: string[], read: (contents: string[]) => T | undefined, create: () => [T, string[]]): T {
  if (paths.every(existsSync)) {
    const existing = read(paths.map((p) => readFileSync(p, "utf8")));
    if (existing) return existing;
  }
  const [value, contents] = create();
  paths.forEach((p, i) => writeSecret(p, contents[i]));
  return value;
}

function dkimKeyPath(dir: string, domain: string, selector: string, folder = "dkim"): string {
  return join(dir, folder, `${domain}.${selector}.key`);
}

function dkimKey(dir: string, domain: string, selector: string, folder = "dkim"): DkimKey {
  return loadOrCreate(
    [dkimKeyPath(dir, domain, selector, folder)],
    ([privateKeyPem]) => ({
      domain,
      selector,
      privateKeyPem,
      publicKey: createPublicKey(privateKeyPem).export({ type: "spki", format: "der" }).toString("base64"),
    }),
    () => {
      const key = generateDkimKey(domain, selector);
      return [key, [key.privateKeyPem]];
    },
  );
}

/**
 * Makes the keys the folder lacks, all at once on Node's thread pool, before loadOrCreateKeys reads
 * them: the DKIM keys and the host certificates to issue (a thousand domains' keys made one by one
 * would take one core for a minute). Returns how many keys it made.
 */
export async function createMissingKeys(dir: string, topology: Topology): Promise<number> {
  for (const sub of [dir, join(dir, "dkim"), join(dir, "hosts")]) mkdirSync(sub, { recursive: true, mode: 0o700 });
  const { spec } = topology;
  const ca = fleetCa(dir, spec.serverDomain);
  const dkim = spec.domains
    .flatMap((domain) => spec.dkim.selectors.map((selector) => ({ domain, selector })))
    .filter((k) => !existsSync(dkimKeyPath(dir, k.domain, k.selector)))
    .map(async ({ domain, selector }) => writeSecret(dkimKeyPath(dir, domain, selector), (await generateDkimKeyAsync(domain, selector)).privateKeyPem));
  const certificates = topology.hosts
    .map((host) => ({ host, names: hostCertificateNames(topology, host) }))
    .filter(({ host, names }) => !storedCertificate(dir, ca, host, names))
    .map(async ({ host, names }) => writeCertificate(dir, host, await issueHostCertificateAsync(ca, host.fqdn, names)));
  await Promise.all([...dkim, ...certificates]);
  return dkim.length + certificates.length;
}

function fleetCa(dir: string, serverDomain: string): FleetCa {
  return loadOrCreate(
    [join(dir, "ca.crt"), join(dir, "ca.key")],
    ([certPem, keyPem]) => ({ certPem, keyPem }),
    () => {
      const made = createFleetCa(serverDomain);
      return [made, [made.certPem, made.keyPem]];
    },
  );
}

const certificatePaths = (dir: string, host: Host) => [join(dir, "hosts", `${host.name}.crt`), join(dir, "hosts", `${host.name}.key`)];

/**
 * A stored host certificate is reused while it is issued by this CA, names exactly the wanted
 * names and stays valid for another 30 days; otherwise (a domain was added, it is about to
 * expire) it is issued anew.
 */
function usableCertificate(ca: FleetCa, names: string[], [certPem, keyPem]: string[]): HostCertificate | undefined {
  const cert = new X509Certificate(certPem);
  const sans = (cert.subjectAltName ?? "").split(", ").map((s) => s.replace(/^DNS:/, ""));
  const fresh = new Date(cert.validTo).getTime() > Date.now() + 30 * 24 * 60 * 60 * 1000;
  const wanted = new Set(names);
  const same = sans.length === wanted.size && sans.every((n) => wanted.has(n));
  return cert.verify(new X509Certificate(ca.certPem).publicKey) && fresh && same ? { certPem, keyPem } : undefined;
}

function storedCertificate(dir: string, ca: FleetCa, host: Host, names: string[]): HostCertificate | undefined {
  const paths = certificatePaths(dir, host);
  return paths.every(existsSync) ? usableCertificate(ca, names, paths.map((p) => readFileSync(p, "utf8"))) : undefined;
}

function writeCertificate(dir: string, host: Host, issued: HostCertificate): void {
  const [certPath, keyPath] = certificatePaths(dir, host);
  writeSecret(certPath, issued.certPem);
  writeSecret(keyPath, issued.keyPem);
}

function hostCertificate(dir: string, ca: FleetCa, host: Host, names: string[]): HostCertificate {
  return loadOrCreate(certificatePaths(dir, host), (contents) => usableCertificate(ca, names, contents), () => {
    const issued = issueHostCertificate(ca, host.fqdn, names);
    return [issued, [issued.certPem, issued.keyPem]];
  });
}

/** An edge's DANE keys of the generations it holds, each made once in its own file. */
function daneKeysOf(dir: string, edge: Host, generation: number): DaneKeyPem[] {
  return daneGenerations(generation).map((g) => ({
    generation: g,
    keyPem: loadOrCreate(
      [join(dir, "dane", `${edge.name}.${g}.key`)],
      ([pem]) => pem,
      () => {
        const made = generateDaneKey();
        return [made, [made]];
      },
    ),
  }));
}

/** A generated password (64 hex digits) kept in its own file. */
function password(path: string): string {
  return loadOrCreate(
    [path],
    ([text]) => (/^[0-9a-f]{64}$/.test(text.trim()) ? text.trim() : undefined),
    () => {
      const made = generatePassword();
      return [made, [`${made}\n`]];
    },
  );
}

export function loadOrCreateKeys(dir: string, topology: Topology): FleetKeys {
  for (const sub of [dir, join(dir, "dkim"), join(dir, "hosts"), join(dir, "tsig"), join(dir, "state"), join(dir, "arc"), join(dir, "srs"), join(dir, "dane")]) mkdirSync(sub, { recursive: true, mode: 0o700 });
  const { spec } = topology;
  const dkim = spec.domains.flatMap((domain) => spec.dkim.selectors.map((selector) => dkimKey(dir, domain, selector)));
  const ca = fleetCa(dir, spec.serverDomain);
  const hosts = Object.fromEntries(topology.hosts.map((h) => [h.name, hostCertificate(dir, ca, h, hostCertificateNames(topology, h))]));
  // Only the zone backend's Knot verifies them, as in the stack (keys/resources.ts).
  const tsig = Object.fromEntries(
    (spec.dns === "zone" ? topology.hosts : []).map((h) => {
      const secret = loadOrCreate(
        [join(dir, "tsig", `${h.name}.key`)],
        ([text]) => (/^[A-Za-z0-9+/]{43}=$/.test(text.trim()) ? text.trim() : undefined),
        () => {
          const made = generateTsigSecret();
          return [made, [`${made}\n`]];
        },
      );
      return [h.name, secret];
    }),
  );
  const cloudflare = spec.dns === "cloudflare" && spec.tls.mode === "acme" ? { cloudflareAcmeToken: spec.cloudflare?.acmeApiToken ?? OFFLINE_CLOUDFLARE_TOKEN } : {};
  const state = Object.fromEntries(STATE_USERS.map((user) => [user, password(join(dir, "state", `${user}.password`))])) as StatePasswords;
  const arcName = arcKeyName(spec);
  const srs = spec.forwarding.srsKeys.map((name) => password(join(dir, "srs", `${name}.secret`)));
  const dane = Object.fromEntries((holdsDaneKeys(spec) ? hostsOf(topology, "edge") : []).map((h) => [h.name, daneKeysOf(dir, h, spec.tls.daneKeyGeneration)]));
  return { dkim, caCertPem: ca.certPem, hosts, tsig, state, arc: dkimKey(dir, arcName.domain, arcName.selector, "arc"), srs, dane, ...cloudflare };
}
