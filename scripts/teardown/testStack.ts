/**
 * A short-lived test stack's settings, derived from another stack's file (the pull-request stacks
 * copy dev). The copy keeps every setting and secret (same encryption salt, so the same
 * passphrase opens it) but moves the whole mail namespace under a label named for the stack:
 * `example.com` becomes `test-pr-12.example.com`, `mail.example.com` becomes
 * `test-pr-12.mail.example.com`. Without that, the copy would publish the same MX, SPF and DKIM
 * names as the stack it came from and fight it over them in the shared DNS zones.
 */
import { parse, stringify } from "yaml";
import { CONFIG_NAMESPACE } from "../../components/config";

const key = (name: string) => `${CONFIG_NAMESPACE}:${name}`;

/**
 * The new stack file's text. Renamed: serverDomain, domains and every address in a hosted domain
 * (admin, DMARC/TLS-RPT report addresses, mailboxes, aliases, catch-alls, BIMI logos); foreign addresses and
 * everything else stay as they are. The DNS zones stay the source's, since the renamed names
 * are subdomains of them and the zones (Cloudflare zone ids, the authoritative server) exist.
 */
export function testStackConfig(sourceYaml: string, stackName: string): string {
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(stackName)) {
    throw new Error(`test stack name "${stackName}" must be a DNS label (lowercase letters, digits, "-"): it becomes part of the mail domains`);
  }
  const doc = parse(sourceYaml) as { config?: Record<string, unknown> } & Record<string, unknown>;
  const config = { ...(doc?.config ?? {}) };
  const serverDomain = config[key("serverDomain")];
  const domains = config[key("domains")];
  if (typeof serverDomain !== "string" || !Array.isArray(domains) || !domains.every((d) => typeof d === "string")) {
    throw new Error(`the source stack file has no ${key("serverDomain")} and ${key("domains")} to derive a test stack from`);
  }
  const renamed = new Map<string, string>([serverDomain, ...domains].map((d) => [d, `${stackName}.${d}`]));
  const name = (value: unknown): unknown => (typeof value === "string" && renamed.has(value) ? renamed.get(value) : value);
  const address = (value: unknown): unknown => {
    if (typeof value !== "string") return value;
    const at = value.lastIndexOf("@");
    const domain = value.slice(at + 1);
    return at >= 0 && renamed.has(domain) ? `${value.slice(0, at)}@${renamed.get(domain)}` : value;
  };
  const addresses = (value: unknown): unknown => (Array.isArray(value) ? value.map(address) : address(value));
  const mapKeys = (value: unknown, keyFn: (k: string) => unknown, valueFn: (v: unknown) => unknown): unknown =>
    value && typeof value === "object" && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value).map(([k, v]) => [keyFn(k), valueFn(v)]))
      : value;
  const update = (k: string, fn: (v: unknown) => unknown) => {
    if (key(k) in config) config[key(k)] = fn(config[key(k)]);
  };

  // Zones first, from the source's names: a stack without dnsZones publishes in its domains.
  if (!(key("dnsZones") in config)) config[key("dnsZones")] = [...domains];
  update("serverDomain", name);
  update("domains", (v) => (v as string[]).map(name));
  update("admin", address);
  update("dmarc", (v) => mapKeys(v, (k) => k, (x) => address(x)));
  update("tlsRpt", (v) => mapKeys(v, (k) => k, (x) => address(x)));
  update("mailboxes", (v) =>
    Array.isArray(v) ? v.map((m) => (m && typeof m === "object" ? { ...m, address: address((m as { address?: unknown }).address) } : m)) : v,
  );
  update("aliases", (v) => mapKeys(v, (k) => address(k), addresses));
  update("catchAll", (v) => mapKeys(v, (k) => name(k), address));
  update("bimi", (v) => mapKeys(v, (k) => name(k), (x) => x));
  return stringify({ ...doc, config }, { lineWidth: 0 });
}
