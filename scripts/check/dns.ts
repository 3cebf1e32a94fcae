/**
 * The DNS answers the check compares: a small interface (so tests answer from a hand-written zone)
 * and its implementation over node:dns, pointed at given servers with --dns. NXDOMAIN and NODATA
 * are empty answers; anything else (timeout, SERVFAIL, REFUSED) is an error the check reports as
 * such, never as "record missing".
 */
import { Resolver } from "node:dns/promises";
import ipaddr from "ipaddr.js";
import { SpfDns } from "./spf";

export interface Dns extends SpfDns {
  ptr(address: string): Promise<string[]>;
  cname(name: string): Promise<string[]>;
  srv(name: string): Promise<{ priority: number; weight: number; port: number; target: string }[]>;
  /** TLSA records as `<usage> <selector> <matching type> <hex data>` (lowercase hex). */
  tlsa(name: string): Promise<string[]>;
}

/** Names as DNS gives them back compare equal to the record set's: lowercase, no trailing dot. */
export function normalName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith(".") && lower !== "." ? lower.slice(0, -1) : lower;
}

/** One textual form per address (IPv6 has many: 2001:db8::1 = 2001:0db8:0:0::1). */
export function normalAddress(address: string): string {
  return address.includes(":") ? ipaddr.IPv6.parse(address).toRFC5952String() : address;
}

const EMPTY = new Set(["ENODATA", "ENOTFOUND"]);

export function systemDns(servers: string[] = [], timeoutMs = 4000): Dns {
  const resolver = new Resolver({ timeout: timeoutMs, tries: 2 });
  if (servers.length > 0) resolver.setServers(servers);
  const query = async <T>(what: string, fn: () => Promise<T[]>): Promise<T[]> => {
    try {
      return await fn();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? "";
      if (EMPTY.has(code)) return [];
      throw new Error(`${what}: ${code || (error as Error).message}`);
    }
  };
  const cname = async (n: string) => (await query(`CNAME ${n}`, () => resolver.resolveCname(n))).map(normalName);
  /**
   * Follows a CNAME the answer stopped at: an authoritative server (what --dns usually points at)
   * does not chase a CNAME into another zone (mta-sts.example.org → mta-sts.mail.example.com), a
   * recursive resolver would, and senders see the recursive answer.
   */
  const chased = async <T>(n: string, fn: (name: string) => Promise<T[]>, depth = 0): Promise<T[]> => {
    const direct = await fn(n);
    if (direct.length > 0 || depth >= 8) return direct;
    const [target] = await cname(n);
    return target ? chased(target, fn, depth + 1) : [];
  };
  return {
    txt: (n) => chased(n, (x) => query(`TXT ${x}`, async () => (await resolver.resolveTxt(x)).map((chunks) => chunks.join("")))),
    a: (n) => chased(n, (x) => query(`A ${x}`, () => resolver.resolve4(x))),
    aaaa: async (n) => (await chased(n, (x) => query(`AAAA ${x}`, () => resolver.resolve6(x)))).map(normalAddress),
    mx: async (n) => (await query(`MX ${n}`, () => resolver.resolveMx(n))).map((m) => ({ priority: m.priority, exchange: normalName(m.exchange) })),
    ptr: async (ip) => (await query(`PTR ${ip}`, () => resolver.reverse(ip))).map(normalName),
    cname,
    // A target of "." (service decidedly not offered) comes back as an empty name.
    srv: async (n) => (await query(`SRV ${n}`, () => resolver.resolveSrv(n))).map((s) => ({ ...s, target: s.name === "" ? "." : normalName(s.name) })),
    tlsa: async (n) =>
      (await query(`TLSA ${n}`, () => resolver.resolveTlsa(n))).map((t) => `${t.certUsage} ${t.selector} ${t.match} ${Buffer.from(t.data).toString("hex")}`),
  };
}
