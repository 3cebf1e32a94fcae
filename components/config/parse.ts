/**
 * Raw stack config (the `mailfleet:` keys of a Pulumi stack file, prefix stripped) → FleetSpec.
 * Each top-level key is checked on its own first, then the keys against each other, so that one
 * ConfigError lists every problem in the file, each with its key path and a fix.
 */
import { z } from "zod";
import { ConfigError, ConfigProblem } from "./errors";
import { isSystemAccount } from "./accounts";
import {
  acmeDirectory,
  cloudflareToken,
  backupPassword,
  controlCharacterPaths,
  eabHmac,
  eabKid,
  dnsblSite,
  dnsName,
  email,
  formatPath,
  fqdn,
  HOST_LABEL_RE,
  hostIpv4,
  hostIpv6,
  network,
  passwordHash,
  pemCertificates,
  pemPrivateKey,
  REDACTED_SECRET,
  relayPassword,
  resticRepository,
  secretHint,
  SELECTOR_RE,
  sshPublicKey,
  sshTarget,
  stringPaths,
} from "./formats";
import { FleetSpec, HostSpec, LETSENCRYPT_DIRECTORY, MailboxSpec, Role, ROLES } from "./spec";

const DEFAULT_INSTANCE: Record<Role, string> = { edge: "t3.small", outbound: "t3.small", store: "t3.medium" };
/** Host label prefixes: mx1, mx2 … out1 … store1 … */
const HOST_PREFIX: Record<Role, string> = { edge: "mx", outbound: "out", store: "store" };
/** The hourly intervals an aws.dlm.LifecyclePolicy create rule accepts. */
export const SNAPSHOT_INTERVALS = [1, 2, 3, 4, 6, 8, 12, 24] as const;
/** RFC 7208 §4.6.4: an SPF evaluation may cause at most 10 DNS lookups. */
export const SPF_LOOKUP_LIMIT = 10;

const instanceType = z.string().regex(/^[a-z0-9]+\.[a-z0-9]+$/, "not an instance type — like t3.small");
/** Durability (issue 14): a store's mail volume on AWS, in GiB (gp3 takes 1 to 16384). */
export const DEFAULT_DATA_VOLUME_GB = 20;
const VOLUME_SIZE = "a whole number of GiB from 1 to 16384 — like 20";
const dataVolumeGb = z.number(VOLUME_SIZE).int(VOLUME_SIZE).min(1, VOLUME_SIZE).max(16384, "over 16384 GiB, the largest gp3 volume — give at most 16384");
const listedHost = z.strictObject({
  name: z.string().regex(HOST_LABEL_RE, "not a host label — lowercase letters, digits, hyphens, starting with a letter (mx1)"),
  instanceType: instanceType.optional(),
  ipv4: hostIpv4.optional(),
  ipv6: hostIpv6.optional(),
  privateIpv4: hostIpv4.optional(),
  sshHost: sshTarget.optional(),
  dataVolumeGb: dataVolumeGb.optional(),
});
const countedHosts = z.strictObject({ count: z.number().int().min(0).max(50), instanceType: instanceType.optional(), dataVolumeGb: dataVolumeGb.optional() });
// Not a z.union: a union that fails reports only "Invalid input" at hosts.<role>, hiding each host's own errors.
const roleHosts = z.unknown().transform((value, ctx): z.output<typeof countedHosts> | z.output<typeof listedHost>[] => {
  const result = (Array.isArray(value) ? z.array(listedHost) : countedHosts).safeParse(value);
  if (result.success) return result.data;
  for (const issue of result.error.issues) ctx.addIssue({ code: "custom", message: issue.message, path: issue.path });
  return z.NEVER;
});

/**
 * Relay networks send through the outbound hosts without AUTH and get DKIM-signed, so a wide one is
 * an open relay for the fleet's domains. A /16 (IPv4) or /48 (IPv6, one site) holds any office.
 */
const relayNetwork = network({ ipv4: 16, ipv6: 48 }, (net, bits) =>
  `${net} ${bits === 0 ? "is the whole Internet" : "is wider than /16 (IPv4) or /48 (IPv6)"}: every address in it could relay DKIM-signed mail ` +
  "without AUTH (an open relay) — list only your own senders' networks, or leave relayNetworks empty and use AUTH",
);
/**
 * SSH is the push's way in. /8 (IPv4) and /32 (IPv6, an ISP's whole allocation) are already more
 * than any admin network; anything wider is a typo or "everyone", and brute force finds it.
 */
const adminNetwork = network({ ipv4: 8, ipv6: 32 }, (net, bits) =>
  bits === 0
    ? `${net} opens SSH to the whole Internet — give your deploy runner's and admins' networks`
    : `${net} is wider than /8 (IPv4) or /32 (IPv6), most of the Internet — give your deploy runner's and admins' networks`,
);

/**
 * Backup intervals the timer can keep on the clock (systemd OnCalendar, so a missed run is caught
 * up after a reboot): the divisors of an hour from 5 minutes, and whole hours that divide a day.
 */
export const BACKUP_INTERVALS = [5, 6, 10, 12, 15, 20, 30, 60, 120, 180, 240, 360, 480, 720, 1440] as const;
const keep = (n: number) => z.number().int().min(0).max(1000).default(n);
const retention = z
  .strictObject({ hourly: keep(24), daily: keep(14), weekly: keep(8) })
  .refine((r) => r.hourly + r.daily + r.weekly > 0, "keeps no snapshot at all — keep at least one hourly, daily or weekly snapshot")
  .default({ hourly: 24, daily: 14, weekly: 8 });

/** One schema per top-level key; a key's default applies when the stack leaves it out. */
const KEYS = {
  serverDomain: fqdn,
  domains: z.array(fqdn).min(1, "at least one hosted domain is required"),
  dnsZones: z.array(fqdn).optional(),
  admin: email,
  ipv6: z.boolean().default(true),
  hosts: z.strictObject({ edge: roleHosts, outbound: roleHosts, store: roleHosts }),
  dkim: z
    .strictObject({
      selectors: z.array(z.string().regex(SELECTOR_RE, "not a DKIM selector — lowercase letters, digits and hyphens")).min(1),
      active: z.string().optional(),
    })
    .default({ selectors: ["mf1"] }),
  dmarc: z
    .strictObject({
      policy: z.enum(["none", "quarantine", "reject"]),
      rua: email.optional(),
      alignment: z.enum(["relaxed", "strict"]).default("relaxed"),
    })
    .default({ policy: "none", alignment: "relaxed" }),
  mtaSts: z
    .strictObject({
      mode: z.enum(["enforce", "testing", "none"]).default("testing"),
      // RFC 8461 §3.2: max_age up to 31557600; below a day senders refetch constantly.
      maxAge: z.number().int().min(86400).max(31557600).default(604800),
    })
    .default({ mode: "testing", maxAge: 604800 }),
  tls: z
    .strictObject({
      mode: z.enum(["acme", "fleet-ca"]).default("acme"),
      acme: z
        .strictObject({
          directory: acmeDirectory.default(LETSENCRYPT_DIRECTORY),
          email: email.optional(),
          eab: z.strictObject({ kid: eabKid, hmac: eabHmac }).optional(),
          caBundle: pemCertificates.optional(),
          // Long enough for a Cloudflare edge or a secondary nameserver to serve the TXT.
          propagationSeconds: z.number().int().min(0).max(3600).default(60),
        })
        .default({ directory: LETSENCRYPT_DIRECTORY, propagationSeconds: 60 }),
    })
    .default({ mode: "acme", acme: { directory: LETSENCRYPT_DIRECTORY, propagationSeconds: 60 } }),
  tlsRpt: z.strictObject({ rua: email }).optional(),
  mailboxes: z
    .array(
      z.strictObject({
        address: email,
        passwordHash,
        quotaMb: z.number().int().min(1).max(1_048_576).default(1024),
        store: z.string().optional(),
      }),
    )
    .default([]),
  aliases: z.record(z.string(), z.union([email, z.array(email).min(1)])).default({}),
  catchAll: z.record(z.string(), email).default({}),
  recipientDelimiter: z.enum(["+", "-", ""]).default("+"),
  messageSizeLimitMb: z.number().int().min(1).max(200).default(25),
  smarthost: z
    .strictObject({
      host: fqdn,
      port: z.number().int().min(1).max(65535).default(587),
      username: z.string().regex(/^[A-Za-z0-9@._+-]{1,128}$/, "letters, digits and @ . _ + - only"),
      password: relayPassword,
      spfInclude: dnsName.optional(),
    })
    .optional(),
  spfIncludes: z.array(dnsName).default([]),
  spam: z
    .strictObject({
      dnsbls: z.array(dnsblSite).default(["zen.spamhaus.org*3", "bl.spamcop.net"]),
      warnOnly: z.boolean().default(false),
    })
    .default({ dnsbls: ["zen.spamhaus.org*3", "bl.spamcop.net"], warnOnly: false }),
  relayNetworks: z.array(relayNetwork).default([]),
  adminSshCidrs: z.array(adminNetwork).default([]),
  pop3: z.boolean().default(false),
  dnsTtl: z.number().int().min(60).max(86400).default(300),
  compute: z.enum(["aws", "byo"]),
  dns: z.enum(["cloudflare", "zone"]),
  push: z.enum(["ssh", "none"]).default("ssh"),
  aws: z
    .strictObject({
      ami: z.string().regex(/^ami-[0-9a-f]{8,17}$/, "not an AMI id (ami-…)").optional(),
      subnetId: z.string().regex(/^subnet-[0-9a-f]{8,17}$/, "not a subnet id (subnet-…)").optional(),
      rootVolumeGb: z.number().int().min(8).max(16384).default(20),
      // Durability (issue 14): snapshots of the mail volumes by Data Lifecycle Manager, and whether those volumes outlive the stack.
      snapshots: z
        .strictObject({
          intervalHours: z
            .number()
            .refine((hours) => (SNAPSHOT_INTERVALS as readonly number[]).includes(hours), `not an interval Data Lifecycle Manager offers — one of ${SNAPSHOT_INTERVALS.join(", ")}`)
            .default(24),
          retain: z.number().int("a whole number of snapshots").min(1, "keep at least 1 snapshot").max(1000, "Data Lifecycle Manager keeps at most 1000 — give at most 1000").default(14),
        })
        // prefault: the defaults above apply to a stack without the key too.
        .prefault({}),
      retainMailVolumes: z.boolean("true or false: whether the mail volumes and the backup bucket outlive `pulumi destroy`").optional(),
    })
    .optional(),
  cloudflare: z
    .strictObject({
      zoneIds: z.record(z.string(), z.string().regex(/^[0-9a-f]{32}$/, "not a Cloudflare zone id (32 hex digits)")).default({}),
      acmeApiToken: cloudflareToken.optional(),
    })
    .optional(),
  zone: z
    .strictObject({
      nameservers: z.array(z.strictObject({ name: fqdn, ipv4: hostIpv4, ipv6: hostIpv6.optional() })).min(1, "at least one nameserver is required"),
      sshHost: sshTarget.optional(),
      hostmaster: email.optional(),
    })
    .optional(),
  ssh: z
    .strictObject({
      user: z
        .string()
        .regex(/^[a-z_][a-z0-9_-]{0,31}$/, "not a Unix user name")
        .refine(
          (user) => !isSystemAccount(user),
          "is a system account (a daemon's or Debian's own): the push logs in as it and EC2 hosts give it sudo — " +
            "use a dedicated admin user such as mailfleet",
        )
        .default("admin"),
      publicKey: sshPublicKey.optional(),
      privateKey: pemPrivateKey.optional(),
    })
    .default({ user: "admin" }),
  backup: z
    .strictObject({
      repository: resticRepository.optional(),
      password: backupPassword,
      intervalMinutes: z
        .number()
        .int()
        .refine((m) => (BACKUP_INTERVALS as readonly number[]).includes(m), `must divide an hour or a day: one of ${BACKUP_INTERVALS.join(", ")}`)
        .default(60),
      retention,
    })
    .optional(),
} as const;

type Parsed = { [K in keyof typeof KEYS]: z.output<(typeof KEYS)[K]> };
const REQUIRED_HINT: Partial<Record<keyof typeof KEYS, string>> = {
  serverDomain: "set it with `pulumi config set mailfleet:serverDomain mail.example.com`",
  domains: "list the hosted mail domains under mailfleet:domains",
  admin: "name the mailbox that receives postmaster@ and abuse@ (mailfleet:admin)",
  hosts: "give mailfleet:hosts with edge, outbound and store",
  compute: "choose `aws` or `byo`",
  dns: "choose `cloudflare` or `zone`",
};

/** Multi-line values are allowed only where a PEM block is expected. */
const MULTILINE_PATHS = new Set(["ssh.privateKey", "tls.acme.caBundle"]);

/** Pulumi keeps top-level scalar config as strings (`pulumi config set mailfleet:dnsTtl 300`). */
function scalarFromString(value: unknown): unknown {
  if (value === "true" || value === "false") return value === "true";
  if (typeof value === "string" && /^[0-9]{1,9}$/.test(value)) return Number(value);
  return value;
}

export interface ParseOptions {
  /**
   * The input comes from an offline read that could not decrypt the stack's secrets
   * (readStackConfig's `redacted`): REDACTED_SECRET may stand in for them. Any real run leaves
   * this off, so a placeholder that reached a stack file is refused instead of deployed.
   */
  allowRedacted?: boolean;
}

export function parseFleetConfig(input: Record<string, unknown>, options: ParseOptions = {}): FleetSpec {
  const raw = Object.fromEntries(Object.entries(input).map(([k, v]) => [k, scalarFromString(v)]));
  const problems: ConfigProblem[] = [];
  const add = (path: readonly PropertyKey[], message: string, hint?: string) =>
    problems.push({ path: formatPath(path), message, ...(hint ? { hint } : {}) });

  for (const path of controlCharacterPaths(raw, (p) => MULTILINE_PATHS.has(formatPath(p)))) {
    add(path, "contains a control character (newline, NUL, tab …)", "such a value could inject a line into a rendered file; remove it");
  }
  for (const path of options.allowRedacted ? [] : stringPaths(raw, (text) => text === REDACTED_SECRET)) {
    add(
      path,
      `is the placeholder "${REDACTED_SECRET}" that an offline render shows for a secret it cannot decrypt, not a real value`,
      `${secretHint(path)}; if the stack's secrets are encrypted, run with PULUMI_CONFIG_PASSPHRASE set`,
    );
  }
  for (const key of Object.keys(raw)) {
    if (!(key in KEYS)) add([key], "unknown key", `known keys: ${Object.keys(KEYS).join(", ")}`);
  }

  const parsed: Partial<Parsed> = {};
  for (const key of Object.keys(KEYS) as (keyof typeof KEYS)[]) {
    if (raw[key] === undefined && REQUIRED_HINT[key]) {
      add([key], "is required", REQUIRED_HINT[key]);
      continue;
    }
    const result = KEYS[key].safeParse(raw[key]);
    if (result.success) (parsed as Record<string, unknown>)[key] = result.data;
    else for (const issue of result.error.issues) add([key, ...issue.path], issue.message);
  }
  const spec = crossCheck(parsed, raw.hosts, add);
  // Control characters and placeholders are reported once, above; the format errors they also cause are noise.
  const seen = new Set<string>();
  const unique = problems.filter((p) => !seen.has(p.path) && seen.add(p.path));
  if (unique.length > 0 || !spec) throw new ConfigError(unique);
  return spec;
}

type Add = (path: readonly PropertyKey[], message: string, hint?: string) => void;

/**
 * Checks the keys against each other. Runs on whatever keys parsed, each check only when its
 * keys did, so a format error in one key does not hide a cross-key problem in another.
 * Returns the spec when every key parsed.
 */
function crossCheck(p: Partial<Parsed>, rawHosts: unknown, add: Add): FleetSpec | undefined {
  // A key is in p only when it parsed (optional keys the stack leaves out parse to their default).
  const complete = Object.keys(KEYS).every((k) => k in p);
  // Keys that failed stand in as empty values, and checks that need them are skipped.
  const c = { domains: [], mailboxes: [], aliases: {}, catchAll: {}, spfIncludes: [], adminSshCidrs: [], ...p } as Parsed;
  const ok = (...keys: (keyof Parsed)[]) => keys.every((k) => k in p);
  const hosted = new Set(c.domains);
  const hostedList = c.domains.join(", ");
  const domainOf = (address: string) => address.slice(address.lastIndexOf("@") + 1);

  duplicates(c.domains).forEach((i) => add(["domains", i], `"${c.domains[i]}" is listed twice`));

  // Hosts. Which addresses a listed host has is read from the raw list, so that a host whose
  // other keys failed their format still gets these checks.
  for (const role of ok("compute", "ipv6") ? ROLES : []) {
    const listed = (rawHosts as Record<string, unknown> | undefined)?.[role];
    (Array.isArray(listed) ? listed : []).forEach((h: Partial<Record<keyof HostSpec, unknown>>, i) => {
      if (!h || typeof h !== "object") return;
      if (c.compute === "aws" && (h.ipv4 || h.ipv6 || h.privateIpv4 || h.sshHost)) {
        add(["hosts", role, i], "addresses are given, but the aws backend allocates its own", "remove ipv4/ipv6/privateIpv4/sshHost, or use compute: byo");
      }
      if (c.compute === "byo" && !h.ipv4) add(["hosts", role, i, "ipv4"], "is required with compute: byo", "give the existing server's IPv4 address");
      if (c.compute === "byo" && c.ipv6 && !h.ipv6) {
        add(["hosts", role, i, "ipv6"], "is required when ipv6 is true", "give the server's IPv6 address, or set mailfleet:ipv6 false");
      }
      if (!c.ipv6 && h.ipv6) {
        add(["hosts", role, i, "ipv6"], "an IPv6 address is given but ipv6 is false", "set mailfleet:ipv6 true to publish AAAA records, or remove the address");
      }
    });
  }
  // Durability (issue 14): only an aws store has a mail volume to size.
  for (const role of ok("compute") ? ROLES : []) {
    const given = (rawHosts as Record<string, unknown> | undefined)?.[role];
    const entries: [PropertyKey[], unknown][] = Array.isArray(given) ? given.map((h, i) => [["hosts", role, i], h]) : [[["hosts", role], given]];
    for (const [path, h] of entries) {
      if (!h || typeof h !== "object" || (h as Record<string, unknown>).dataVolumeGb === undefined) continue;
      if (role !== "store") add([...path, "dataVolumeGb"], `only stores keep mail on a data volume, ${role} hosts have none`, "remove it");
      else if (c.compute === "byo") {
        add([...path, "dataVolumeGb"], "sizes the volume the aws backend creates; a byo server keeps mail on its own disks", "remove it, or use compute: aws");
      }
    }
  }
  const mailVolume = (role: Role, gb: number | undefined) => (role === "store" && c.compute === "aws" ? { dataVolumeGb: gb ?? DEFAULT_DATA_VOLUME_GB } : {});
  const hosts: HostSpec[] = [];
  const hostNames: [PropertyKey[], string][] = [];
  for (const role of ok("hosts", "compute") ? ROLES : []) {
    const given = c.hosts[role];
    if (Array.isArray(given)) {
      given.forEach((h, i) => {
        const { name, ipv4, ipv6, privateIpv4, sshHost } = h;
        hosts.push({ name, role, instanceType: h.instanceType ?? DEFAULT_INSTANCE[role], ipv4, ipv6, privateIpv4, sshHost, ...mailVolume(role, h.dataVolumeGb) });
        hostNames.push([["hosts", role, i, "name"], name]);
      });
    } else {
      if (c.compute === "byo" && given.count > 0) {
        add(["hosts", role], "compute byo needs a list of existing servers, not a count", "list them as [{ name, ipv4, ipv6 }]");
      }
      for (let n = 1; n <= given.count; n++) {
        hosts.push({ name: `${HOST_PREFIX[role]}${n}`, role, instanceType: given.instanceType ?? DEFAULT_INSTANCE[role], ...mailVolume(role, given.dataVolumeGb) });
      }
    }
    if (!hosts.some((h) => h.role === role)) {
      const why = { edge: "MX records need at least one target", outbound: "users need a submission server", store: "mailboxes need a home" }[role];
      add(["hosts", role], `no ${role === "edge" ? "edge MX" : role} host`, `${why}; give count: 1 or more`);
    }
  }
  const names = hosts.map((h) => h.name);
  duplicates(names).forEach((i) => add(["hosts", hosts[i].role], `host name "${names[i]}" is used twice`, "host names must be unique across roles"));
  for (const family of ["ipv4", "ipv6"] as const) {
    const addrs = hosts.map((h) => h[family] ?? "");
    duplicates(addrs).filter((i) => addrs[i]).forEach((i) => add(["hosts", hosts[i].role], `address ${addrs[i]} is given to two hosts`));
  }
  const stores = hosts.filter((h) => h.role === "store").map((h) => h.name);

  // Mailboxes
  const mailboxes: MailboxSpec[] = [];
  const addresses = c.mailboxes.map((m) => m.address);
  duplicates(addresses).forEach((i) => add(["mailboxes", i, "address"], `"${addresses[i]}" is listed twice`));
  c.mailboxes.forEach((m, i) => {
    const domain = domainOf(m.address);
    if (ok("domains") && !hosted.has(domain)) add(["mailboxes", i, "address"], `domain "${domain}" is not a hosted domain`, `hosted: ${hostedList}`);
    if (c.recipientDelimiter && m.address.slice(0, m.address.lastIndexOf("@")).includes(c.recipientDelimiter)) {
      add(
        ["mailboxes", i, "address"],
        `contains the recipient delimiter "${c.recipientDelimiter}"`,
        "mail to it would be read as an extension; choose another address",
      );
    }
    let store = m.store;
    if (!ok("hosts", "compute")) {
      // Without valid hosts there is nothing to check the store against.
    } else if (store === undefined) {
      if (stores.length === 1) store = stores[0];
      else add(["mailboxes", i, "store"], `is required when there are ${stores.length} stores`, `one of ${stores.join(", ")}`);
    } else if (!stores.includes(store)) {
      add(["mailboxes", i, "store"], `store "${store}" does not exist`, `stores: ${stores.join(", ") || "none"}`);
    }
    mailboxes.push({ ...m, store: store ?? "" });
  });
  const mailboxSet = new Set(addresses);

  // Aliases, catch-all, RFC 2142 role addresses
  const aliases: Record<string, string[]> = {};
  for (const [from, to] of Object.entries(c.aliases)) {
    if (!email.safeParse(from).success) {
      add(["aliases", from], "is not a mail address", "alias keys are full addresses like sales@example.com");
      continue;
    }
    if (ok("domains") && !hosted.has(domainOf(from))) add(["aliases", from], `domain "${domainOf(from)}" is not a hosted domain`, `hosted: ${hostedList}`);
    if (mailboxSet.has(from)) add(["aliases", from], "is also a mailbox", "an address is either a mailbox or an alias");
    aliases[from] = Array.isArray(to) ? to : [to];
  }
  for (const [from, targets] of Object.entries(aliases)) {
    targets.forEach((t, i) => {
      if (ok("mailboxes") && hosted.has(domainOf(t)) && !mailboxSet.has(t) && !Object.hasOwn(aliases, t)) {
        add(["aliases", from, i], `${t} is in a hosted domain but is no mailbox or alias`, "add the mailbox, or fix the address");
      }
    });
  }
  for (const loop of aliasLoops(aliases)) {
    add(
      ["aliases", loop[0]],
      loop.length === 2 ? "is an alias of itself" : `forms a loop: ${loop.join(" → ")}`,
      "mail to it would circle until it bounces; point it at a mailbox or a foreign address",
    );
  }
  if (ok("admin", "mailboxes") && !mailboxSet.has(c.admin))
    add(["admin"], `${c.admin} is not a mailbox`, "postmaster@ and abuse@ are delivered there; add it under mailboxes");
  for (const domain of c.domains) {
    for (const role of ["postmaster", "abuse"]) {
      const address = `${role}@${domain}`;
      if (!mailboxSet.has(address) && !Object.hasOwn(aliases, address)) aliases[address] = [c.admin];
    }
  }
  for (const [domain, target] of Object.entries(c.catchAll)) {
    if (ok("domains") && !hosted.has(domain)) add(["catchAll", domain], "is not a hosted domain", `hosted: ${hostedList}`);
    if (ok("mailboxes") && !mailboxSet.has(target)) add(["catchAll", domain], `${target} is not a mailbox`, "a catch-all must deliver to a mailbox");
  }

  // DKIM, SPF, DNS zones
  const active = ok("dkim") ? (c.dkim.active ?? c.dkim.selectors[c.dkim.selectors.length - 1]) : "";
  if (ok("dkim")) duplicates(c.dkim.selectors).forEach((i) => add(["dkim", "selectors", i], `"${c.dkim.selectors[i]}" is listed twice`));
  if (ok("dkim") && !c.dkim.selectors.includes(active))
    add(["dkim", "active"], `"${active}" is not one of the selectors`, `selectors: ${c.dkim.selectors.join(", ")}`);
  const spfIncludes = [...c.spfIncludes, ...(ok("smarthost") && c.smarthost?.spfInclude ? [c.smarthost.spfInclude] : [])];
  const lookups = spfLookups(spfIncludes.length);
  if (lookups > SPF_LOOKUP_LIMIT) {
    add(
      ["spfIncludes"],
      `SPF for the hosted domains would need ${lookups} DNS lookups, over the limit of ${SPF_LOOKUP_LIMIT} (RFC 7208 §4.6.4)`,
      "drop includes, or flatten them into ip4:/ip6: terms",
    );
  }
  const dnsZones = c.dnsZones ?? c.domains;
  const zoneSet = new Set(dnsZones);
  // Walks up the name's labels: a lookup per label, not a scan of every zone per name.
  const inZone = (name: string) => name.split(".").some((_, i, labels) => zoneSet.has(labels.slice(i).join(".")));
  const zonesKnown = ok("dnsZones", "domains");
  if (zonesKnown && ok("serverDomain") && !inZone(c.serverDomain)) {
    add(["serverDomain"], `${c.serverDomain} is in none of the DNS zones (${dnsZones.join(", ")})`, "add its zone to mailfleet:dnsZones");
  }
  c.domains.forEach((d, i) => {
    if (zonesKnown && !inZone(d)) add(["domains", i], `${d} is in none of the DNS zones (${dnsZones.join(", ")})`, "add its zone to mailfleet:dnsZones");
  });

  derivedNameLengths(c, { serverDomain: ok("serverDomain"), domains: ok("domains", "dkim", "dmarc") }, hostNames, add);

  // Backends
  if (ok("push", "ssh", "compute") && c.push === "ssh") {
    if (!c.ssh.privateKey) {
      add(["ssh", "privateKey"], "is required when push is ssh", `${secretHint(["ssh", "privateKey"])} (the deploy key), or set push: none`);
    }
    if (c.compute === "aws" && ok("adminSshCidrs") && c.adminSshCidrs.length === 0) {
      add(["adminSshCidrs"], "is empty, but the push connects over SSH", "add the CIDR of the machine that runs `pulumi up`");
    }
  }
  if (ok("compute", "ssh") && c.compute === "aws" && !c.ssh.publicKey)
    add(["ssh", "publicKey"], "is required with compute: aws", "new instances get it in their user data so the push can log in");
  if (ok("dns", "zone") && c.dns === "zone") {
    if (!c.zone) add(["zone"], "is required with dns: zone", "give zone.nameservers [{ name, ipv4 }]");
    else c.zone.nameservers.forEach((ns, i) => {
      if (!c.ipv6 && ns.ipv6) add(["zone", "nameservers", i, "ipv6"], "an IPv6 address is given but ipv6 is false", "set mailfleet:ipv6 true, or remove it");
    });
  }
  if (ok("mtaSts", "tls") && c.mtaSts.mode === "enforce" && c.tls.mode === "fleet-ca") {
    add(
      ["mtaSts", "mode"],
      "is enforce, but tls.mode is fleet-ca: no sender trusts the fleet CA, so every sender that honours the policy would refuse to deliver",
      "set tls.mode: acme (publicly trusted certificates), or mtaSts.mode: testing",
    );
  }
  if (ok("backup", "compute") && c.backup && c.compute === "byo" && !c.backup.repository) {
    add(
      ["backup", "repository"],
      "is required with compute: byo",
      "give the restic repository base the stores back up to: sftp:user@host:/path, rest:https://host:8000/path or s3:host/bucket/prefix",
    );
  }
  for (const zone of ok("cloudflare") ? Object.keys(c.cloudflare?.zoneIds ?? {}) : []) {
    if (!zoneSet.has(zone)) add(["cloudflare", "zoneIds", zone], "is not one of the DNS zones", `zones: ${dnsZones.join(", ")}`);
  }

  if (!complete) return undefined;
  const { hosts: _hosts, dkim: _dkim, tlsRpt, aws, zone, backup, ...rest } = c;
  return {
    ...rest,
    dnsZones,
    hosts,
    mailboxes,
    aliases,
    dkim: { selectors: c.dkim.selectors, active },
    tlsRpt: tlsRpt ?? { rua: c.admin },
    // Without an aws key an aws stack gets every aws default, from the one schema that holds them.
    ...(aws ? { aws } : c.compute === "aws" ? { aws: KEYS.aws.unwrap().parse({}) } : {}),
    ...(backup ? { backup } : {}),
    ...(zone ? { zone: { ...zone, hostmaster: zone.hostmaster ?? `hostmaster@${dnsZones[0]}` } } : {}),
  };
}

/** `mx` costs one lookup, each include at least one more; ip4:/ip6: terms cost none. */
export function spfLookups(includes: number): number {
  return 1 + includes;
}

/** Indexes of entries that repeat an earlier one. */
function duplicates(values: string[]): number[] {
  const seen = new Set<string>();
  return values.flatMap((v, i) => (seen.has(v) ? [i] : (seen.add(v), [])));
}

/**
 * Alias chains that come back to where they started (a → b → a, or a → a), each as the addresses
 * along it. An iterative depth-first walk: each alias and target is visited once.
 */
function aliasLoops(aliases: Record<string, string[]>): string[][] {
  const state = new Map<string, "open" | "done">();
  const loops: string[][] = [];
  for (const start of Object.keys(aliases)) {
    if (state.has(start)) continue;
    const path = [start];
    const next = [0];
    state.set(start, "open");
    while (path.length > 0) {
      const top = path[path.length - 1];
      const target = aliases[top][next[next.length - 1]++];
      if (target === undefined) {
        state.set(top, "done");
        path.pop();
        next.pop();
      } else if (state.get(target) === "open") {
        loops.push([...path.slice(path.lastIndexOf(target)), target]);
      } else if (!state.has(target) && Object.hasOwn(aliases, target)) {
        state.set(target, "open");
        path.push(target);
        next.push(0);
      }
    }
  }
  return loops;
}

/** RFC 1035 §3.1 / RFC 2181 §11: a domain name is at most 253 characters in text form. */
const MAX_NAME = 253;
/** The longest names components/records derives: `_autodiscover._tcp.<domain>` and `mta-sts.<serverDomain>`. */
const LONGEST_DOMAIN_PREFIX = "_autodiscover._tcp.";
const LONGEST_SERVICE_PREFIX = "mta-sts.";

/** Refuses stacks whose record set would hold a name over 253 characters, at the key that makes it long. */
function derivedNameLengths(c: Parsed, known: { serverDomain: boolean; domains: boolean }, hostNames: [PropertyKey[], string][], add: Add): void {
  const check = (path: PropertyKey[], names: string[], hint: string) => {
    const name = names.reduce((a, b) => (b.length > a.length ? b : a));
    if (name.length > MAX_NAME) add(path, `gives the DNS name ${name.slice(0, 40)}… of ${name.length} characters, over the limit of ${MAX_NAME}`, hint);
    return name.length <= MAX_NAME;
  };
  // Numbered hosts (mx1 … store50) are never longer than the service label, so listed names are the only others.
  if (known.serverDomain && check(["serverDomain"], [`${LONGEST_SERVICE_PREFIX}${c.serverDomain}`], "use a shorter server domain")) {
    for (const [path, name] of hostNames) check(path, [`${name}.${c.serverDomain}`], "use a shorter host name or server domain");
  }
  if (!known.domains) return;
  const selector = c.dkim.selectors.reduce((a, b) => (b.length > a.length ? b : a));
  const ruaDomain = c.dmarc.rua?.slice(c.dmarc.rua.lastIndexOf("@") + 1);
  const hostedRua = ruaDomain !== undefined && c.domains.includes(ruaDomain);
  c.domains.forEach((d, i) => {
    const report = hostedRua && ruaDomain !== d ? [`${d}._report._dmarc.${ruaDomain}`] : [];
    const names = [`${LONGEST_DOMAIN_PREFIX}${d}`, `${selector}._domainkey.${d}`, ...report];
    check(["domains", i], names, "use a shorter domain (or DKIM selector, or DMARC report domain)");
  });
}
