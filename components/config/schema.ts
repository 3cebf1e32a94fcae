/**
 * The schema of the stack config: one zod schema per top-level `mailfleet:` key, with its format
 * checks and defaults. What the keys say about each other is checked by the rules in ./rules.
 */
import { z } from "zod";
import { isSystemAccount } from "./accounts";
import { bimiDomains, isBimiFile } from "./bimi";
import {
  acmeDirectory,
  cloudflareToken,
  backupPassword,
  eabHmac,
  eabKid,
  dnsblSite,
  dnswlSite,
  webhookUrl,
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
  relayPassword,
  resticRepository,
  SELECTOR_RE,
  sshPublicKey,
  serverAddress,
  sshTarget,
} from "./formats";
import { LETSENCRYPT_DIRECTORY, QUEUE_AGE_BUCKETS, Role, ZONE_EXPIRE_SECONDS } from "./spec";

export const DEFAULT_INSTANCE: Record<Role, string> = { edge: "t3.small", outbound: "t3.small", store: "t3.medium", monitoring: "t3.small" };
/** The hourly intervals an aws.dlm.LifecyclePolicy create rule accepts. */
export const SNAPSHOT_INTERVALS = [1, 2, 3, 4, 6, 8, 12, 24] as const;

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
/** What a role's hosts may be, as a type: the component package's schema offers exactly this. */
export const ROLE_HOSTS_SHAPE = z.union([z.array(listedHost.meta({ title: "ListedHost" })), countedHosts.meta({ title: "CountedHosts" })]);
// Not a z.union: a union that fails reports only "Invalid input" at hosts.<role>, hiding each host's own errors.
const roleHosts = z.unknown().meta({ shape: ROLE_HOSTS_SHAPE }).transform((value, ctx): z.output<typeof countedHosts> | z.output<typeof listedHost>[] => {
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

/** An operator's own Prometheus reads every exporter: a network of its hosts, no wider than a /16 (IPv4) or /48 (IPv6). */
const monitoringNetwork = network({ ipv4: 16, ipv6: 48 }, (net) => `${net} is wider than /16 (IPv4) or /48 (IPv6): the exporters tell much about the fleet — give your Prometheus hosts' networks`);

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

const RECIPIENTS = "a whole number of recipients from 1 to 10000 — like 50";
const MIN_LEARNS = "a whole number of learned messages of each class (spam, ham) from 1 to 100000 — like 200 (rspamd's default)";
const MEMORY = "a whole number of MiB from 32 to 65536 — like 256";
const FAILOVER = "a whole number of seconds from 1 to 600 — like 10";

/**
 * Greylisting on the edges (issue 23): `false` turns it off, `true` or `{ delaySeconds }` keeps it on.
 * rspamd greylists by score only (its greylist action), so a clean sender is never delayed.
 */
const DELAY = "a whole number of seconds from 1 to 3600 — like 300 (rspamd's default)";
const greylist = z
  .union([z.boolean(), z.strictObject({ delaySeconds: z.number(DELAY).int(DELAY).min(1, DELAY).max(3600, DELAY) })], {
    error: "true, false, or { delaySeconds: 300 }",
  })
  .default(true)
  .transform((g) => (typeof g === "boolean" ? { enabled: g, delaySeconds: 300 } : { enabled: true, delaySeconds: g.delaySeconds }));
/** Messages per minute (or hour) a rate limit lets through before it answers 4xx. */
const rate = (per: string, fallback: number, what = "messages") => {
  const hint = `a whole number of ${what} per ${per} from 1 to 100000 — like ${fallback}`;
  return z.number(hint).int(hint).min(1, hint).max(100_000, hint).default(fallback);
};
/**
 * rspamd's ratelimit, counted in the shared state so every edge (and outbound host) sees one count:
 * inbound per sending IP and per recipient, outbound per authenticated login (messages and recipients); and a cap
 * on recipients per message.
 * The outbound defaults are well above a person and far below a spam run.
 */
const ratelimits = z
  .strictObject({
    perSenderIpPerMinute: rate("minute", 60),
    perRecipientPerMinute: rate("minute", 30),
    perLoginPerHour: rate("hour", 200),
    // One message may name up to recipientsPerMessage: a spam run shows in recipients before messages.
    perLoginRecipientsPerHour: rate("hour", 500, "recipients"),
    recipientsPerMessage: z.number(RECIPIENTS).int(RECIPIENTS).min(1, RECIPIENTS).max(10_000, RECIPIENTS).default(50),
  })
  .prefault({});
/** One schema per top-level key; a key's default applies when the stack leaves it out. */
const RELAY_PORT = "not a TCP port (1-65535) — the relay's submission port, like 587";
/** What any relay takes: where it is, the login (the password a stack secret), and the CA its certificate must chain to. */
const RELAY_FIELDS = {
  host: fqdn,
  port: z.number(RELAY_PORT).int(RELAY_PORT).min(1, RELAY_PORT).max(65535, RELAY_PORT).default(587),
  username: z.string().regex(/^[A-Za-z0-9@._+-]{1,128}$/, "letters, digits and @ . _ + - only"),
  password: relayPassword,
  caCertificate: pemCertificates.optional(),
};

export const KEYS = {
  serverDomain: fqdn,
  domains: z.array(fqdn).min(1, "at least one hosted domain is required"),
  dnsZones: z.array(fqdn).optional(),
  admin: email,
  ipv6: z.boolean().default(true),
  // Monitoring hosts are optional: a fleet may be watched by the operator's own Prometheus (monitoring.cidrs).
  hosts: z.strictObject({ edge: roleHosts, outbound: roleHosts, store: roleHosts, monitoring: roleHosts.default({ count: 0 }) }),
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
      // Which of each edge's DANE keys port 25 serves; raising it by one rolls every edge's key.
      daneKeyGeneration: z.number().int().min(1).max(1_000_000).default(1),
    })
    .default({ mode: "acme", acme: { directory: LETSENCRYPT_DIRECTORY, propagationSeconds: 60 }, daneKeyGeneration: 1 }),
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
  // Forwards to foreign targets (issue 25): SRS secrets by name (the first signs, all verify) and the ARC key's selector.
  forwarding: z
    .strictObject({
      srsKeys: z.array(z.string().regex(SELECTOR_RE, "not a key name — lowercase letters, digits and hyphens (srs1)")).min(1, "at least one SRS key name (srs1)").default(["srs1"]),
      arcSelector: z.string().regex(SELECTOR_RE, "not a selector — lowercase letters, digits and hyphens (arc1)").default("arc1"),
    })
    .prefault({}),
  // Hosted domain -> its BIMI logo (and mark certificate), published at default._bimi.<domain>.
  bimi: bimiDomains,
  recipientDelimiter: z.enum(["+", "-", ""]).default("+"),
  messageSizeLimitMb: z.number().int().min(1).max(200).default(25),
  smarthost: z.strictObject({ ...RELAY_FIELDS, spfInclude: dnsName.optional() }).optional(),
  // A hosted domain's own relay: its senders' mail leaves through it, with its own login (issue 25).
  domainSmarthosts: z
    .record(
      z.string(),
      z.strictObject({
        ...RELAY_FIELDS,
        // One TLS setting (smtp_tls_wrappermode) serves every relay, so a domain's relay speaks STARTTLS.
        port: RELAY_FIELDS.port.refine((p) => p !== 465, "port 465 (TLS from the first byte) is for the global smarthost only — use the relay's STARTTLS port (587)"),
      }),
    )
    .default({}),
  spfIncludes: z.array(dnsName).default([]),
  spam: z
    .strictObject({
      dnsbls: z.array(dnsblSite).default(["zen.spamhaus.org*3", "bl.spamcop.net"]),
      dnswls: z.array(dnswlSite).default([]),
      warnOnly: z.boolean().default(false),
      greylist,
      ratelimits,
      // rspamd's min_learns: Bayes scores once it has learned this many spam and as many ham messages.
      bayesMinLearns: z.number(MIN_LEARNS).int(MIN_LEARNS).min(1, MIN_LEARNS).max(100_000, MIN_LEARNS).default(200),
      // Filing marked spam into Junk; learning from the users' Junk moves stays on either way.
      junkFolder: z.boolean().default(true),
    })
    .prefault({}),
  state: z
    .strictObject({
      hosts: z.array(z.string().regex(HOST_LABEL_RE, "not a host label — the name of a fleet host (mx1)")).optional(),
      maxMemoryMb: z.number(MEMORY).int(MEMORY).min(32, MEMORY).max(65536, MEMORY).default(256),
      // Sentinel's down-after-milliseconds: a primary silent this long is failed over.
      failoverAfterSeconds: z.number(FAILOVER).int(FAILOVER).min(1, FAILOVER).max(600, FAILOVER).default(10),
    })
    .prefault({}),
  relayNetworks: z.array(relayNetwork).default([]),
  monitoring: z
    .strictObject({
      cidrs: z.array(monitoringNetwork).default([]),
      webhookUrl: webhookUrl.optional(),
      // Alert mail through a relay provider outside the fleet: the outbound hosts may be what is down.
      email: z
        .strictObject({
          to: z.array(email).min(1, "give at least one address").max(20, "at most 20 addresses — use a list address"),
          from: email,
          relay: z.strictObject(RELAY_FIELDS),
        })
        .optional(),
      scrapeIntervalSeconds: z.number().int().min(1).max(300).default(30),
      thresholds: z
        .strictObject({
          certificateDays: z.number().int().min(1).max(60, "certbot renews 30 days before the end; give at most 60").default(14),
          backupAgeHours: z.number().int().min(1).max(24 * 30).optional(),
          diskFreePercent: z.number().int().min(1).max(50).default(10),
          authFailuresPerMinute: z.number().int().min(1).max(100000).default(30),
          queueMessages: z.number().int().min(1).max(10_000_000).default(1000),
          // The postfix exporter counts queued messages by age in these buckets only: a threshold between them could not be told.
          queueStuckSeconds: z.literal(QUEUE_AGE_BUCKETS, `one of ${QUEUE_AGE_BUCKETS.join(", ")}: the postfix exporter's message age buckets`).default(10_000),
          deferralPercent: z.number().int().min(1).max(100).default(20),
          noDeliveriesHours: z.number().int().min(1).max(24 * 30).default(24),
          // Half the SOA expire: a secondary cut off from the primary for a week still has a week to be mended.
          zoneExpiryHours: z
            .number()
            .int()
            .min(1)
            .max(ZONE_EXPIRE_SECONDS / 3600 - 1, `the fleet's zones expire ${ZONE_EXPIRE_SECONDS / 3600} hours (SOA expire) after a secondary's last refresh: give fewer hours`)
            .default(ZONE_EXPIRE_SECONDS / 3600 / 2),
          // rspamd rejects clear spam only (score 15 on an edge): half of all it scans is a spam wave or a rule gone wrong.
          rspamdRejectPercent: z.number().int().min(1).max(100).default(50),
        })
        .prefault({}),
    })
    .prefault({}),
  adminSshCidrs: z.array(adminNetwork).default([]),
  pop3: z.boolean().default(false),
  dnsTtl: z.number().int().min(60).max(86400).default(300),
  dnssec: z.boolean("true or false: whether the fleet's zones are DNSSEC-signed").default(true),
  // The edges' and outbound hosts' own validating resolver (render/resolver.ts): from the root by default.
  resolver: z
    .strictObject({
      forwarders: z
        .array(serverAddress)
        .max(8, "more than 8 forwarders — unbound tries a few at most; give your resolvers' addresses")
        .refine((list) => new Set(list).size === list.length, "a forwarder is listed twice — list each once")
        .default([]),
    })
    .prefault({}),
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

export type Parsed = { [K in keyof typeof KEYS]: z.output<(typeof KEYS)[K]> };
export const REQUIRED_HINT: Partial<Record<keyof typeof KEYS, string>> = {
  serverDomain: "set it with `pulumi config set mailfleet:serverDomain mail.example.com`",
  domains: "list the hosted mail domains under mailfleet:domains",
  admin: "name the mailbox that receives postmaster@ and abuse@ (mailfleet:admin)",
  hosts: "give mailfleet:hosts with edge, outbound and store",
  compute: "choose `aws` or `byo`",
  dns: "choose `cloudflare` or `zone`",
};

/** The DNS zones the records go into: the hosted domains unless the stack names others. */
export function zonesOf(c: Pick<Parsed, "dnsZones" | "domains">): string[] {
  return c.dnsZones ?? c.domains;
}

/** How many hosts a role has, counted or listed. */
export function hostCount(given: Parsed["hosts"]["edge"]): number {
  return Array.isArray(given) ? given.length : given.count;
}

/** Multi-line values are allowed only where a PEM block or a BIMI logo is expected. */
const MULTILINE_PATHS = new Set(["ssh.privateKey", "tls.acme.caBundle", "smarthost.caCertificate", "monitoring.email.relay.caCertificate"]);

export function multilineAllowed(path: readonly (string | number)[]): boolean {
  return MULTILINE_PATHS.has(formatPath(path)) || isBimiFile(path) || (path.length === 3 && path[0] === "domainSmarthosts" && path[2] === "caCertificate");
}

/** Pulumi keeps top-level scalar config as strings (`pulumi config set mailfleet:dnsTtl 300`). */
export function scalarFromString(value: unknown): unknown {
  if (value === "true" || value === "false") return value === "true";
  if (typeof value === "string" && /^[0-9]{1,9}$/.test(value)) return Number(value);
  return value;
}

/** Which keys a host entry sets, whatever their values (an entry that is no object sets none). */
const keysSet = z
  .record(z.string(), z.unknown())
  .transform((entry) => new Set(Object.keys(entry).filter((key) => entry[key] !== undefined)))
  .optional()
  .catch(undefined);
const roleKeysSet = z.union([z.array(keysSet), keysSet]);
/**
 * The keys each host sets, per role: a list for listed hosts, one set for counted ones. The rules
 * that say which keys a backend needs read this, so a host whose values fail their format (and so
 * leave `hosts` unparsed) still learns what it lacks in the same error.
 */
export const hostKeysGiven = z
  .object({ edge: roleKeysSet, outbound: roleKeysSet, store: roleKeysSet, monitoring: roleKeysSet })
  .catch({ edge: undefined, outbound: undefined, store: undefined, monitoring: undefined });
export type HostKeys = z.output<typeof hostKeysGiven>;
