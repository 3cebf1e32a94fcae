/**
 * Generated stacks for the render scale benchmark: a byo + zone fleet of a given size, in one of
 * several shapes, as the `mailfleet:` values (benchStack) or as a stack file `./mf start` reads:
 *   node --import tsx scripts/bench/scaleStack.ts --size large --shape aliases --dir /tmp/s [--name scale]
 *   ./mf start --stack scale --stacks /tmp/s --out /tmp/s/out
 * Documentation addresses only (192.0.2.0/24, 2001:db8::/32, .example names).
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { Role } from "../../components/config/spec";
import { stackFilePath } from "../../components/config/stackFile";

export interface Size {
  name: string;
  domains: number;
  hosts: Record<Role, number>;
  mailboxes: number;
}

export const SIZES: Size[] = [
  { name: "small", domains: 10, hosts: { edge: 2, outbound: 1, store: 2, monitoring: 0 }, mailboxes: 500 },
  { name: "medium", domains: 100, hosts: { edge: 8, outbound: 4, store: 8, monitoring: 0 }, mailboxes: 5000 },
  { name: "large", domains: 1000, hosts: { edge: 40, outbound: 10, store: 40, monitoring: 0 }, mailboxes: 50_000 },
];

/** How a generated stack is shaped beyond its size: what grows a render other than the counts. */
export interface Shape {
  name: string;
  /** Aliases per domain besides the catch-all, each to `aliasTargets` mailboxes of the domain. */
  aliasesPerDomain: number;
  aliasTargets: number;
  /** Length of each domain's first label and of each mailbox's local part (0: short names like d1 and user1). */
  nameLength: number;
  /** DKIM selectors: a key per domain per selector. */
  selectors: number;
}

export const SHAPES: Shape[] = [
  { name: "plain", aliasesPerDomain: 1, aliasTargets: 1, nameLength: 0, selectors: 1 },
  { name: "aliases", aliasesPerDomain: 50, aliasTargets: 3, nameLength: 0, selectors: 1 },
  { name: "long-names", aliasesPerDomain: 1, aliasTargets: 1, nameLength: 60, selectors: 1 },
  { name: "selectors", aliasesPerDomain: 1, aliasTargets: 1, nameLength: 0, selectors: 3 },
];

export function findSize(name: string): Size {
  const size = SIZES.find((s) => s.name === name);
  if (!size) throw new Error(`no size ${name}: ${SIZES.map((s) => s.name).join(", ")}`);
  return size;
}

export function findShape(name: string): Shape {
  const shape = SHAPES.find((s) => s.name === name);
  if (!shape) throw new Error(`no shape ${name}: ${SHAPES.map((s) => s.name).join(", ")}`);
  return shape;
}

/** `prefix` + n, padded with a filler to `length` characters when long names are wanted. */
function named(prefix: string, n: number, length: number): string {
  const short = `${prefix}${n}`;
  return length > short.length ? `${prefix}${"x".repeat(length - short.length)}${n}` : short;
}

/** A SHA512-CRYPT-shaped hash, different per mailbox (so no two users files share their lines). */
function hashOf(n: number): string {
  const body = n.toString(36).padStart(86, "x");
  return `{SHA512-CRYPT}$6$bench${(n % 1000).toString().padStart(11, "0")}$${body}`;
}

/**
 * The raw `mailfleet:` values of a byo + zone stack: mailboxes spread evenly over the domains and
 * the stores, `shape.aliasesPerDomain` aliases and one catch-all per domain.
 */
export function benchStack(size: Size, shape: Shape = SHAPES[0]): Record<string, unknown> {
  const domains = Array.from({ length: size.domains }, (_, i) => `${named("d", i, shape.nameLength)}.example`);
  const prefix: Record<Role, string> = { edge: "mx", outbound: "out", store: "store", monitoring: "mon" };
  let n = 0;
  const hosts = Object.fromEntries(
    (Object.keys(size.hosts) as Role[]).map((role) => [
      role,
      Array.from({ length: size.hosts[role] }, (_, i) => {
        n++;
        return { name: `${prefix[role]}${i + 1}`, ipv4: `192.0.2.${n}`, ipv6: `2001:db8::${n.toString(16)}` };
      }),
    ]),
  );
  const mailbox = (i: number) => `${named("user", i, shape.nameLength)}@${domains[i % size.domains]}`;
  const mailboxes = Array.from({ length: size.mailboxes }, (_, i) => ({
    address: mailbox(i),
    passwordHash: hashOf(i),
    store: `store${(i % size.hosts.store) + 1}`,
  }));
  // The mailboxes of domain d are d, d + domains, d + 2 × domains, ...
  const perDomain = Math.floor(size.mailboxes / size.domains);
  const aliases = domains.flatMap((d, i) =>
    Array.from({ length: shape.aliasesPerDomain }, (_, a) => [
      `${named(`alias${a}-`, i, shape.nameLength)}@${d}`,
      Array.from({ length: shape.aliasTargets }, (_, t) => mailbox(i + ((a + t) % perDomain) * size.domains)),
    ]),
  );
  const selectors = Array.from({ length: shape.selectors }, (_, s) => `mf${2026 + s}`);
  return {
    serverDomain: `mail.${domains[0]}`,
    domains,
    admin: mailbox(0),
    compute: "byo",
    dns: "zone",
    push: "ssh",
    ssh: { user: "admin", privateKey: generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString() },
    hosts,
    zone: { nameservers: [{ name: `ns1.${domains[0]}`, ipv4: "198.51.100.53" }] },
    dkim: { selectors },
    mailboxes,
    aliases: Object.fromEntries(aliases),
    catchAll: Object.fromEntries(domains.map((d, i) => [d, mailbox(i)])),
  };
}

/** Writes the stack as `<dir>/Pulumi.<name>.yaml`, the file `./mf start --stack <name> --stacks <dir>` reads. */
export function writeStackFile(dir: string, name: string, raw: Record<string, unknown>): string {
  mkdirSync(dir, { recursive: true });
  const path = stackFilePath(name, dir);
  const config = Object.fromEntries(Object.entries(raw).map(([key, value]) => [`mailfleet:${key}`, value]));
  writeFileSync(path, stringify({ config }, { lineWidth: 0 }));
  return path;
}

function main(): void {
  const { values } = parseArgs({
    options: { size: { type: "string", default: "large" }, shape: { type: "string", default: "plain" }, dir: { type: "string" }, name: { type: "string", default: "scale" } },
  });
  if (!values.dir) throw new Error("--dir: where to write the stack file (outside the repository)");
  process.stdout.write(`${writeStackFile(values.dir, values.name!, benchStack(findSize(values.size!), findShape(values.shape!)))}\n`);
}

if (require.main === module) main();
