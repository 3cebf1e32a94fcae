/**
 * FleetSpec: the validated stack config as plain data (no Pulumi Outputs). Everything below the
 * config layer (topology, records, renderers) reads only this.
 */

export type Role = "edge" | "outbound" | "store" | "monitoring";
export const ROLES: readonly Role[] = ["edge", "outbound", "store", "monitoring"];
/** The roles every fleet needs at least one host of; monitoring hosts are optional. */
export const MAIL_ROLES: readonly Role[] = ["edge", "outbound", "store"];

export interface HostSpec {
  /** The label the stack gives a listed host; topology names the counted ones (mx1, out1, store1 …). */
  name?: string;
  role: Role;
  /** Cloud instance size (aws backend). */
  instanceType: string;
  /** Addresses of an existing server (byo backend); the aws backend allocates its own. */
  ipv4?: string;
  ipv6?: string;
  /**
   * byo: the address on the host's own interface when the published ipv4 is NATed to it; daemons
   * bind there and the fleet's hosts reach each other on it (HostAddresses.privateIpv4).
   */
  privateIpv4?: string;
  /** Where the push connects over SSH (byo); defaults to ipv4. */
  sshHost?: string;
  /** aws stores only: the size of the store's mail volume in GiB (hosts.store.dataVolumeGb). */
  dataVolumeGb?: number;
}

export interface MailboxSpec {
  address: string;
  /** Dovecot scheme-prefixed hash, e.g. `{SHA512-CRYPT}$6$…`. Secret. */
  passwordHash: string;
  quotaMb: number;
  /** Name of the IMAP store host that holds this mailbox, as the stack gives it; topology places it on the one store when there is one. */
  store?: string;
}

export type DmarcPolicy = "none" | "quarantine" | "reject";
export type MtaStsMode = "enforce" | "testing" | "none";

/** A relay Postfix logs in to after STARTTLS with the relay's certificate verified. */
export interface RelaySpec {
  host: string;
  port: number;
  username: string;
  /** Secret. */
  password: string;
  /** The CA (PEM) the relay's certificate must chain to; absent: the system's trust (Debian's ca-certificates). */
  caCertificate?: string;
}

export interface SmarthostSpec extends RelaySpec {
  /** SPF include the relay provider documents (e.g. `_spf.relay.example`), if any. */
  spfInclude?: string;
}

export interface AwsSpec {
  /** AMI id; when absent the backend looks up the newest official Debian image. */
  ami?: string;
  subnetId?: string;
  rootVolumeGb: number;
  /** Durability (issue 14): Data Lifecycle Manager snapshots of the stores' mail volumes. */
  snapshots: { intervalHours: number; retain: number };
  /**
   * Whether the mail volumes and the backup bucket outlive `pulumi destroy` (unset: yes). A test
   * stack never keeps them (compute/awsStorage.ts retainMailData).
   */
  retainMailVolumes?: boolean;
}

export interface CloudflareSpec {
  /** Zone id per DNS zone; a zone without one is looked up by name. */
  zoneIds: Record<string, string>;
  /**
   * Secret: the API token the hosts' certbot uses for DNS-01 (Zone:DNS:Edit on the hosted zones).
   * When absent (tls.mode acme) the stack creates one scoped to the zones (components/dns/cloudflare.ts).
   */
  acmeApiToken?: string;
}

/** Let's Encrypt's ACME v2 directories (https://letsencrypt.org/docs/staging-environment/). */
export const LETSENCRYPT_DIRECTORY = "https://acme-v02.api.letsencrypt.org/directory";
export const LETSENCRYPT_STAGING_DIRECTORY = "https://acme-staging-v02.api.letsencrypt.org/directory";

export type TlsMode = "acme" | "fleet-ca";

export interface AcmeSpec {
  /** The ACME server's directory URL. */
  directory: string;
  /** Account contact (expiry notices); without it the account is registered without an address. */
  email?: string;
  /** External account binding, for CAs that require it; hmac is secret. */
  eab?: { kid: string; hmac: string };
  /** PEM of the CA that signs the ACME server's own HTTPS certificate (private ACME servers). */
  caBundle?: string;
  /** How long certbot waits after publishing a DNS-01 TXT before the CA is asked to look. */
  propagationSeconds: number;
}

export interface TlsSpec {
  /** acme: publicly trusted certificates by DNS-01, issued and renewed on the hosts; fleet-ca: the fleet CA only. */
  mode: TlsMode;
  acme: AcmeSpec;
  /**
   * The DANE key generation each edge serves on port 25 (acme, dnssec). Its TLSA is published with
   * the previous and the next generation's; raising it by one is a staged key rollover (README).
   */
  daneKeyGeneration: number;
}

export interface NameserverSpec {
  /** The nameserver's FQDN, as published in NS records. */
  name: string;
  ipv4: string;
  ipv6?: string;
}

export interface ZoneBackendSpec {
  /** The authoritative servers that publish the zones; the first is the primary the push updates. */
  nameservers: NameserverSpec[];
  /** Where the push connects over SSH to update the primary; defaults to its ipv4. */
  sshHost?: string;
  /** SOA RNAME as a mailbox address. */
  hostmaster: string;
}

export interface SshSpec {
  user: string;
  /** OpenSSH public key installed on new hosts (aws user data). */
  publicKey?: string;
  /** Secret: the key the push connects with. */
  privateKey?: string;
}

/** restic backups of every store's mail (components/render/backup.ts). */
export interface BackupSpec {
  /**
   * Base URL of the restic repositories (sftp:, rest:, s3:); each store's is `<base>/<store>`.
   * Absent on aws: the bucket the stack creates.
   */
  repository?: string;
  /** Secret: the repositories' encryption password. */
  password: string;
  /** Minutes between two backups; it divides an hour or a day, so the timer runs on the clock. */
  intervalMinutes: number;
  /** Snapshots `restic forget` keeps: the last one of each of so many hours, days, weeks. */
  retention: { hourly: number; daily: number; weekly: number };
}

/** rspamd's limits, counted in the shared state (render/rspamd). */
export interface RateLimitSpec {
  perSenderIpPerMinute: number;
  perRecipientPerMinute: number;
  perLoginPerHour: number;
  /** Recipients per SASL login and hour, summed over its messages. */
  perLoginRecipientsPerHour: number;
  recipientsPerMessage: number;
}

/**
 * Forwarding (render/postfix/forwarding.ts): postsrsd's secrets, each made once under its name and kept
 * in the stack's state (the first signs, every one verifies, so a new name put first rotates with an
 * overlap), and the selector of the ARC key published at serverDomain.
 */
export interface ForwardingSpec {
  srsKeys: string[];
  arcSelector: string;
}

export interface SpamSpec {
  /**
   * DNS blocklists and allowlists in postscreen's `zone[=replies][*weight]` (parsed by ./dnsList), and
   * whether listings only log (a dry run).
   */
  dnsbls: string[];
  dnswls: string[];
  warnOnly: boolean;
  /** Greylisting by score on the edges; the delay a first-time sender waits before its retry is taken. */
  greylist: { enabled: boolean; delaySeconds: number };
  ratelimits: RateLimitSpec;
  /** Bayes scores only once it has learned this many spam and this many ham messages (rspamd's min_learns). */
  bayesMinLearns: number;
  /** A global Sieve rule on the stores files what the edges marked as spam into each user's Junk folder. */
  junkFolder: boolean;
}

export interface StateSpec {
  /** Fleet host names that run Valkey and Sentinel; the first starts as the primary. Absent: topology picks. */
  hosts?: string[];
  /** Valkey's maxmemory; past it writes fail (noeviction) rather than state being dropped. */
  maxMemoryMb: number;
  /** Seconds a primary may be unreachable before the Sentinels fail it over. */
  failoverAfterSeconds: number;
}

/** The fleet watching itself (components/render/monitoring): who scrapes, where alerts go, when they fire. */
export interface MonitoringSpec {
  /** Networks of an operator's own Prometheus, admitted to every exporter beside the monitoring hosts. */
  cidrs: string[];
  /** Secret (it often holds a token): where Alertmanager posts every alert; outside the fleet. */
  webhookUrl?: string;
  /** Alert mail, through a relay outside the fleet (Alertmanager logs in after STARTTLS). */
  email?: AlertMailSpec;
  /** How often Prometheus scrapes and probes; a fault alerts after about three intervals. */
  scrapeIntervalSeconds: number;
  thresholds: MonitoringThresholds;
}

export interface AlertMailSpec {
  to: string[];
  from: string;
  relay: RelaySpec;
}

export interface MonitoringThresholds {
  /** A certificate alerts this many days before its end (certbot renews at 30). */
  certificateDays: number;
  /** A store alerts when its last good backup is this many hours old. */
  backupAgeHours: number;
  /** A file system alerts below this share of free space or inodes. */
  diskFreePercent: number;
  /** A store alerts when more logins than this fail within a minute (password guessing). */
  authFailuresPerMinute: number;
  /** An edge or outbound host alerts when more messages than this wait in its Postfix queue. */
  queueMessages: number;
  /** ... or when a message has waited longer than this (one of QUEUE_AGE_BUCKETS). */
  queueStuckSeconds: number;
  /** A host alerts when more than this share of its delivery attempts is deferred or bounced (over 30 minutes). */
  deferralPercent: number;
  /** The fleet alerts when no host has delivered a message for this many hours. */
  noDeliveriesHours: number;
  /** A secondary nameserver alerts when its copy of a zone expires within this many hours (it has not reached the primary). */
  zoneExpiryHours: number;
  /** An edge or outbound host alerts when rspamd rejects more than this share of what it scanned (over 30 minutes). */
  rspamdRejectPercent: number;
}

/** The fleet's zones' SOA expire: how long a secondary serves them without reaching the primary. */
export const ZONE_EXPIRE_SECONDS = 14 * 86400;

/** prometheus-postfix-exporter's buckets of queued messages' age, in seconds (its showq collector). */
export const QUEUE_AGE_BUCKETS = [10, 100, 1000, 10_000, 100_000] as const;

export interface BimiSpec {
  logo: string;
  certificate?: string;
}

export interface FleetSpec {
  /** Every server name lives under it: mx1.<serverDomain>, smtp.<serverDomain>, … */
  serverDomain: string;
  /** Hosted mail domains. */
  domains: string[];
  /** DNS zones the records are published in (each record goes to its longest matching zone). */
  dnsZones: string[];
  /** Mailbox that receives postmaster@ and abuse@ of every hosted domain unless set otherwise. */
  admin: string;
  ipv6: boolean;
  hosts: HostSpec[];
  dkim: { selectors: string[]; active: string };
  dmarc: { policy: DmarcPolicy; rua?: string; alignment: "relaxed" | "strict" };
  mtaSts: { mode: MtaStsMode; maxAge: number };
  tls: TlsSpec;
  tlsRpt: { rua: string };
  mailboxes: MailboxSpec[];
  /** Alias address -> target addresses (targets may be foreign). */
  aliases: Record<string, string[]>;
  /** Hosted domain -> address that receives mail for unknown local parts. */
  catchAll: Record<string, string>;
  /** How mail to foreign alias targets leaves: SRS-rewritten and ARC-sealed by the edges. */
  forwarding: ForwardingSpec;
  /** Hosted domain -> its BIMI logo (SVG Tiny PS) and, if it has one, its VMC/CMC (PEM). */
  bimi: Record<string, BimiSpec>;
  recipientDelimiter: string;
  messageSizeLimitMb: number;
  smarthost?: SmarthostSpec;
  /** Hosted domain -> the relay its senders' mail leaves through instead (port 587-style STARTTLS, own login). */
  domainSmarthosts: Record<string, RelaySpec>;
  /** Extra SPF includes for other senders of the hosted domains (newsletters, ticketing, …). */
  spfIncludes: string[];
  spam: SpamSpec;
  /** Where rspamd's shared state (Valkey with Sentinel) runs, and its memory. */
  state: StateSpec;
  /** Networks allowed to relay through the outbound MTA without AUTH (keep empty unless needed). */
  relayNetworks: string[];
  adminSshCidrs: string[];
  pop3: boolean;
  dnsTtl: number;
  /** Sign every zone the fleet publishes (Knot's automatic signing, or Cloudflare's zone DNSSEC). */
  dnssec: boolean;
  /** The edges' and outbound hosts' validating resolver: forwarders, or none to iterate from the root. */
  resolver: { forwarders: string[] };
  compute: "aws" | "byo";
  dns: "cloudflare" | "zone";
  push: "ssh" | "none";
  aws?: AwsSpec;
  cloudflare?: CloudflareSpec;
  zone?: ZoneBackendSpec;
  ssh: SshSpec;
  /** No backups when absent. */
  backup?: BackupSpec;
  monitoring: MonitoringSpec;
}
