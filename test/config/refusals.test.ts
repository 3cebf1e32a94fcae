/**
 * Config that would open the fleet (issue 12): one row per refusal, each asserting the key path
 * and that the message names the fix; and the values that must keep passing.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { givenAddresses } from "../../components/build";
import { ConfigError, parseFleetConfig, readStackConfig, REDACTED_SECRET } from "../../components/config";
import { ADMIN_USER, HASH, problemsOf, validRaw } from "../support/fixtures";
import { buildTopology } from "../../components/topology";

type Raw = Record<string, any>;
type Row = [title: string, change: (raw: Raw) => void, paths: string[], fix: RegExp];

const OPEN_RELAY = /open relay.*list only your own senders' networks/;
const UNREACHABLE = /which no other host reaches — give the server's own routable address/;
const ZONE_ID = /zone id \(%eth0\).*remove it/;
const STDIN = /placeholder.*pulumi config set --path --secret 'mailfleet:[^']+' < file/;
const LONG = /over the limit of 253 — use a shorter/;
const LOOP = /mail to it would circle until it bounces; point it at a mailbox/;
const label = (n: number, c = "a") => c.repeat(n);
const VOLUME_SIZE = /a whole number of GiB from 1 to 16384 — like 20/;
const SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGrIP5eunMn/RAZCcf6cQAy8CQCTtrHPB+pEShYpXiQ+ mailfleet-example-deploy";
/** The fixture as an aws stack with counted hosts (its byo addresses would be refused). */
function onAws(r: Raw): Raw {
  r.compute = "aws";
  r.hosts = { edge: { count: 2 }, outbound: { count: 1 }, store: { count: 2 } };
  r.ssh = { publicKey: SSH_KEY };
  return r;
}
const BACKUP_PASSWORD = "a long enough repository password";
/** A valid FQDN of exactly n characters under example.com: 63-letter labels. */
function longDomain(n: number): string {
  const labels = Array.from({ length: n - ".example.com".length }, (_, i) => (i % 64 === 63 ? "." : "a")).join("");
  return `${labels}.example.com`;
}

const REFUSALS: Row[] = [
  ["relay to the whole Internet", (r) => (r.relayNetworks = ["0.0.0.0/0"]), ["relayNetworks[0]"], /whole Internet/],
  ["relay to the whole IPv6 Internet", (r) => (r.relayNetworks = ["::/0"]), ["relayNetworks[0]"], OPEN_RELAY],
  ["relay /0 spelled /00", (r) => (r.relayNetworks = ["0.0.0.0/00"]), ["relayNetworks[0]"], /whole Internet.*open relay/],
  ["relay through two /1 halves", (r) => (r.relayNetworks = ["0.0.0.0/1", "128.0.0.0/1"]), ["relayNetworks[0]", "relayNetworks[1]"], OPEN_RELAY],
  ["relay wider than /16", (r) => (r.relayNetworks = ["10.0.0.0/15"]), ["relayNetworks[0]"], /wider than \/16.*open relay/],
  ["relay wider than /48", (r) => (r.relayNetworks = ["2001:db8::/47"]), ["relayNetworks[0]"], /\/48 \(IPv6\).*open relay/],
  ["relay network with a zone id", (r) => (r.relayNetworks = ["fe80::%eth0/64"]), ["relayNetworks[0]"], ZONE_ID],
  ["relay network in upper case", (r) => (r.relayNetworks = ["2001:DB8::/48"]), ["relayNetworks[0]"], /not an IPv6 address in lowercase/],
  ["relay network in IPv4-mapped form", (r) => (r.relayNetworks = ["::ffff:0:0/96"]), ["relayNetworks[0]"], /write the IPv4 network instead/],
  ["malformed relay networks", (r) => (r.relayNetworks = ["10.0.0.0", "010.0.0.0/24", "10.0.0.0/8/8", "10.0.0.0/0x8"]),
    ["relayNetworks[0]", "relayNetworks[1]", "relayNetworks[2]", "relayNetworks[3]"], /CIDR form — like 203.0.113.0\/24/],
  ["SSH open to the world spelled /00", (r) => (r.adminSshCidrs = ["0.0.0.0/00"]), ["adminSshCidrs[0]"], /whole Internet — give your deploy runner's/],
  ["SSH open to the IPv6 world", (r) => (r.adminSshCidrs = ["::/000"]), ["adminSshCidrs[0]"], /whole Internet — give your deploy runner's/],
  ["SSH through two /1 halves", (r) => (r.adminSshCidrs = ["0.0.0.0/1", "128.0.0.0/1"]), ["adminSshCidrs[0]", "adminSshCidrs[1]"], /wider than \/8.*give your/],
  ["SSH wider than /32 IPv6", (r) => (r.adminSshCidrs = ["2001::/31"]), ["adminSshCidrs[0]"], /\/32 \(IPv6\).*give your/],
  ...["www-data", "_rspamd", "dovecot", "dovenull", "vmail", "nobody", "postfix", "knot", "sshd", "messagebus", "daemon", "_apt", "systemd-network"].map(
    (user): Row => [`ssh.user ${user}`, (r) => (r.ssh = { user }), ["ssh.user"], ADMIN_USER],
  ),
  ...["0.0.0.0", "127.0.0.1", "169.254.10.1", "224.0.0.251", "255.255.255.255"].map(
    (ipv4): Row => [`host IPv4 ${ipv4}`, (r) => (r.hosts.edge[0].ipv4 = ipv4), ["hosts.edge[0].ipv4"], UNREACHABLE],
  ),
  ...["::", "::1", "fe80::12", "ff02::1", "::ffff:192.0.2.11"].map(
    (ipv6): Row => [`host IPv6 ${ipv6}`, (r) => (r.hosts.store[1].ipv6 = ipv6), ["hosts.store[1].ipv6"], UNREACHABLE],
  ),
  ["host IPv6 with a zone id", (r) => (r.hosts.edge[1].ipv6 = "fe80::12%eth0"), ["hosts.edge[1].ipv6"], ZONE_ID],
  ["nameserver on loopback", (r) => (r.zone.nameservers[0] = { name: "ns1.example.com", ipv4: "127.0.0.53", ipv6: "::1" }),
    ["zone.nameservers[0].ipv4", "zone.nameservers[0].ipv6"], UNREACHABLE],
  ...["127.0.0.1", "0.0.0.0", "169.254.169.254", "239.1.1.1"].map(
    (privateIpv4): Row => [`private IPv4 ${privateIpv4}`, (r) => (r.hosts.store[0].privateIpv4 = privateIpv4), ["hosts.store[0].privateIpv4"], UNREACHABLE],
  ),
  ...(
    [
      ["MD5-crypt under a SHA512 label", "{SHA512-CRYPT}$1$abcdefgh$0123456789abcdefghijkl",
        /labelled \{SHA512-CRYPT\} but is not in that scheme's form \(\$6\$salt\$hash\) — paste the whole output of `doveadm pw -s SHA512-CRYPT`/],
      ["empty Argon2 fields", "{ARGON2ID}$$$$$$$$$$$$$$$$$$$$$$$$$$", /\$argon2id\$v=19\$m=….*doveadm pw -s ARGON2ID/],
      ["SHA512 hash under a SHA256 label", HASH.replace("SHA512", "SHA256"), /doveadm pw -s SHA256-CRYPT/],
      ["Argon2id hash under an Argon2i label", `{ARGON2I}$argon2id$v=19$m=65536,t=3,p=1$${"s".repeat(22)}$${"h".repeat(43)}`, /doveadm pw -s ARGON2I`/],
      ["bcrypt with the old $2a$ prefix", `{BLF-CRYPT}$2a$05$${"x".repeat(53)}`, /doveadm pw -s BLF-CRYPT/],
    ] as const
  ).map(([title, hash, fix]): Row => [title, (r) => (r.mailboxes[0].passwordHash = hash), ["mailboxes[0].passwordHash"], fix]),
  ["placeholder secrets", (r) => {
    r.mailboxes[1].passwordHash = REDACTED_SECRET;
    r.smarthost = { host: "relay.example.net", username: "u", password: REDACTED_SECRET };
    r.ssh = { privateKey: REDACTED_SECRET };
  }, ["mailboxes[1].passwordHash", "smarthost.password", "ssh.privateKey"], STDIN],
  // A domain's own relay (issue 25): like the global smarthost's, each value checked where it lands.
  ...(
    [
      ["a relay for a domain the fleet does not host", "example.net", {}, 'domainSmarthosts["example.net"]', /not a hosted domain.*list it under mailfleet:domains, or remove its relay/],
      ["a domain relay on the fleet's own host", "example.org", { host: "out1.mail.example.com" }, 'domainSmarthosts["example.org"].host', /fleet's own names.*cannot relay through itself/],
      ["a domain relay port out of range", "example.org", { port: 65536 }, 'domainSmarthosts["example.org"].port', /not a TCP port \(1-65535\) — the relay's submission port, like 587/],
      ["a domain relay on port 465", "example.org", { port: 465 }, 'domainSmarthosts["example.org"].port', /use the relay's STARTTLS port \(587\)/],
      ["a space in a domain relay password", "example.org", { password: "a b" }, 'domainSmarthosts["example.org"].password', /printable ASCII characters without spaces/],
      ["a placeholder domain relay password", "example.org", { password: REDACTED_SECRET }, 'domainSmarthosts["example.org"].password', STDIN],
      ["a domain relay login with a colon", "example.org", { username: "u:x" }, 'domainSmarthosts["example.org"].username', /letters, digits and @ \. _ \+ - only/],
      ["a domain relay host with a space", "example.org", { host: "relay.example.net x" }, 'domainSmarthosts["example.org"].host', /not a fully qualified domain name/],
    ] as const
  ).map(([title, domain, change, path, fix]): Row => [title, (r) => (r.domainSmarthosts = { [domain]: { host: "relay.example.net", username: "u", password: "pw-1234", ...change } }), [path], fix]),
  ["the global smarthost on the fleet's own name", (r) => (r.smarthost = { host: "mail.example.com", username: "u", password: "pw" }), ["smarthost.host"], /fleet's own names/],
  ["two domains at one relay trusting it differently", (r) => (r.domainSmarthosts = {
    "example.com": { host: "relay.example.net", username: "a", password: "pw-a" },
    "example.org": { host: "relay.example.net", username: "b", password: "pw-b", caCertificate: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" },
  }), ['domainSmarthosts["example.org"].caCertificate'], /give every domain that uses this relay the same caCertificate/],
  ["server domain that makes mta-sts.<it> too long", (r) => {
    r.serverDomain = longDomain(250);
    r.dnsZones = ["example.com", "example.org"];
  }, ["serverDomain"], LONG],
  ["host name that makes its FQDN too long", (r) => {
    r.serverDomain = longDomain(200);
    r.dnsZones = ["example.com", "example.org"];
    r.hosts.edge[0].name = `m${label(62)}`;
  }, ["hosts.edge[0].name"], LONG],
  ["domain that makes _autodiscover._tcp.<it> too long", (r) => r.domains.push(longDomain(240)), ["domains[2]"], LONG],
  ["DKIM selector that makes <selector>._domainkey.<domain> too long", (r) => {
    r.domains.push(longDomain(200));
    r.dkim = { selectors: [label(63, "s")] };
  }, ["domains[2]"], LONG],
  ["self-alias", (r) => (r.aliases["sales@example.com"] = ["sales@example.com"]), ['aliases["sales@example.com"]'], /alias of itself — .*/],
  ["alias loop a → b → a", (r) => Object.assign(r.aliases, { "a@example.com": "b@example.com", "b@example.com": ["a@example.com"] }),
    ['aliases["a@example.com"]'], /loop: a@example.com → b@example.com → a@example.com — mail to it would circle/],
  ["longer alias loop", (r) => Object.assign(r.aliases, {
    "a@example.com": "b@example.com",
    "b@example.com": ["alice@example.com", "c@example.com"],
    "c@example.com": "a@example.com",
  }), ['aliases["a@example.com"]'], LOOP],
  // Durability (issue 14): the stores' mail volumes and their snapshots on AWS.
  ["a mail volume of 0 GiB", (r) => (onAws(r).hosts.store.dataVolumeGb = 0), ["hosts.store.dataVolumeGb"], VOLUME_SIZE],
  ["a mail volume of 20.5 GiB", (r) => (onAws(r).hosts.store.dataVolumeGb = 20.5), ["hosts.store.dataVolumeGb"], VOLUME_SIZE],
  ["a mail volume size as text", (r) => (onAws(r).hosts.store.dataVolumeGb = "20"), ["hosts.store.dataVolumeGb"], VOLUME_SIZE],
  ["a mail volume over the gp3 maximum", (r) => (onAws(r).hosts.store.dataVolumeGb = 16385), ["hosts.store.dataVolumeGb"], /largest gp3 volume — give at most 16384/],
  ["a listed aws store's mail volume of -1 GiB", (r) => (onAws(r).hosts.store = [{ name: "store1", dataVolumeGb: -1 }, { name: "store2" }]),
    ["hosts.store[0].dataVolumeGb"], VOLUME_SIZE],
  ["a mail volume on the edge hosts", (r) => (onAws(r).hosts.edge.dataVolumeGb = 20), ["hosts.edge.dataVolumeGb"], /only stores keep mail on a data volume.* — remove it/],
  ["a mail volume on a byo store", (r) => (r.hosts.store[0].dataVolumeGb = 20), ["hosts.store[0].dataVolumeGb"],
    /byo server keeps mail on its own disks — remove it, or use compute: aws/],
  ["a snapshot interval DLM does not offer", (r) => (onAws(r).aws = { snapshots: { intervalHours: 5 } }), ["aws.snapshots.intervalHours"],
    /Data Lifecycle Manager offers — one of 1, 2, 3, 4, 6, 8, 12, 24/],
  ["no snapshot kept", (r) => (onAws(r).aws = { snapshots: { retain: 0 } }), ["aws.snapshots.retain"], /keep at least 1 snapshot/],
  ["more snapshots than DLM keeps", (r) => (onAws(r).aws = { snapshots: { retain: 1001 } }), ["aws.snapshots.retain"], /give at most 1000/],
  ["retainMailVolumes as a word", (r) => (onAws(r).aws = { retainMailVolumes: "no" }), ["aws.retainMailVolumes"], /true or false: whether the mail volumes/],
  ["MTA-STS enforce with fleet-CA certificates", (r) => {
    r.mtaSts = { mode: "enforce" };
    r.tls = { mode: "fleet-ca" };
  }, ["mtaSts.mode"], /no sender trusts the fleet CA.*set tls.mode: acme .*or mtaSts.mode: testing/],
  ["a DANE key rollover with fleet-CA certificates", (r) => (r.tls = { mode: "fleet-ca", daneKeyGeneration: 2 }), ["tls.daneKeyGeneration"],
    /tls.mode is fleet-ca: there port 25 serves the host certificate's key.*remove it \(or set it to 1\), or use tls.mode: acme with dnssec: true/],
  ["a DANE key rollover with unsigned zones", (r) => {
    r.dnssec = false;
    r.tls = { daneKeyGeneration: 2 };
  }, ["tls.daneKeyGeneration"], /dnssec is false: unsigned zones publish no TLSA/],
  ["a DANE key generation of 0", (r) => (r.tls = { daneKeyGeneration: 0 }), ["tls.daneKeyGeneration"], />=1|at least 1|too small/i],
  ["an ACME directory over plain HTTP", (r) => (r.tls = { acme: { directory: "http://acme.example.net/directory" } }), ["tls.acme.directory"], /not an https:\/\/ URL/],
  ["an ACME directory with shell characters", (r) => (r.tls = { acme: { directory: "https://acme.example.net/dir;reboot" } }), ["tls.acme.directory"], /not an https:\/\/ URL/],
  ["an EAB HMAC that is no base64url", (r) => (r.tls = { acme: { eab: { kid: "kid-1", hmac: "not base64url!" } } }), ["tls.acme.eab.hmac"], /base64url/],
  ["an ACME CA bundle that is no PEM", (r) => (r.tls = { acme: { caBundle: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\nrm -rf /\n" } }),
    ["tls.acme.caBundle"], /not PEM certificates/],
  ["a Cloudflare ACME token with a newline", (r) => (r.cloudflare = { acmeApiToken: `${"a".repeat(40)}\nx` }), ["cloudflare.acmeApiToken"], /control character/],
  ["backup on byo without a repository", (r) => (r.backup = { password: BACKUP_PASSWORD }), ["backup.repository"],
    /required with compute: byo — give the restic repository base the stores back up to: sftp:/],
  ["a placeholder backup password", (r) => (r.backup = { repository: "rest:https://backup.example.com:8000/mail", password: REDACTED_SECRET }),
    ["backup.password"], STDIN],
  ...["b2:bucket/mail", "/srv/restic", "ftp://backup.example.com/x", "local:/srv/restic", "rclone:remote:mail", "REST:http://backup.example.com/"].map(
    (repository): Row => [`backup repository ${repository}`, (r) => (r.backup = { repository, password: BACKUP_PASSWORD }), ["backup.repository"],
      /not a restic repository URL this fleet backs up to — use sftp:backup@backup.example.com:\/srv\/restic, rest:/],
  ),
  ...["rest:http://backup.example.com:8000/$(reboot)", "sftp:backup@backup.example.com:/srv/a b", "s3:s3.amazonaws.com/bucket/../other",
    "rest:http://backup.example.com:8000/x'y", "sftp:backup@backup.example.com:relative", "s3:s3.amazonaws.com/B", "rest:http://EVIL.example.com/",
    "rest:http://backup.example.com:8000/./x", "sftp:backup@-oProxyCommand=x:/srv"].map(
    (repository): Row => [`backup repository ${repository}`, (r) => (r.backup = { repository, password: BACKUP_PASSWORD }), ["backup.repository"],
      /repository URL — letters, digits and \. _ ~ - in the path, like/],
  ),
  ["a rest: repository with credentials in it", (r) => (r.backup = { repository: "rest:https://user:pw@backup.example.com:8000/", password: BACKUP_PASSWORD }),
    ["backup.repository"], /credentials in the URL.*plain text.*use a rest-server reachable without them/],
  ["a backup interval off the clock", (r) => (r.backup = { repository: "rest:http://10.0.0.5:8000/", password: BACKUP_PASSWORD, intervalMinutes: 45 }),
    ["backup.intervalMinutes"], /must divide an hour or a day: one of 5, 6, 10/],
  ["a short backup password", (r) => (r.backup = { repository: "rest:http://10.0.0.5:8000/", password: "short" }), ["backup.password"],
    /16-1024 printable ASCII.*openssl rand -base64 32/],
  ["a retention that keeps nothing", (r) => (r.backup = { repository: "rest:http://10.0.0.5:8000/", password: BACKUP_PASSWORD, retention: { hourly: 0, daily: 0, weekly: 0 } }),
    ["backup.retention"], /keeps no snapshot at all — keep at least one/],
  ["a host labelled like a web name when the server domain is hosted", (r) => {
    r.serverDomain = "example.com";
    r.hosts.store.push({ name: "autoconfig", ipv4: "192.0.2.33", ipv6: "2001:db8::33" });
  }, ["hosts.store[2].name"], /autoconfig\.example\.com would be a CNAME and also have A, AAAA records — rename the host/],
  ["a hosted domain named like another's web name", (r) => r.domains.push("autodiscover.example.com"), ["domains[2]"],
    /autodiscover\.example\.com would be a CNAME and also have MX, TXT records — host that domain under another name/],
  ["a newline in a mailbox's store, said once (not also as an unknown store)", (r) => (r.mailboxes[0].store = "store1\nx"), ["mailboxes[0].store"],
    /^contains a control character/],
  ["10 SPF includes beside mx (10 edges)", (r) => {
    onAws(r).hosts.edge = { count: 10 };
    r.spfIncludes = Array.from({ length: 10 }, (_, i) => `_spf${i}.relay.example.net`);
  }, ["spfIncludes"], /11 DNS lookups, over the limit of 10 .* — drop includes/],
  ["an operator's Prometheus network wider than /16", (r) => (r.monitoring = { cidrs: ["10.0.0.0/8"] }), ["monitoring.cidrs[0]"],
    /wider than \/16 .* give your Prometheus hosts' networks/],
  ["a webhook URL that could break out of its YAML line", (r) => (r.monitoring = { webhookUrl: "https://alerts.example.net/x\" y: z" }), ["monitoring.webhookUrl"],
    /not an http\(s\) URL .* like https:\/\/alerts\.example\.net\/hook\/TOKEN/],
  ...(
    [
      ["alert mail to no one", { to: [] }, "monitoring.email.to", /give at least one address/],
      ["alert mail through the fleet's own outbound host", { relay: { host: "out1.mail.example.com", username: "u", password: "pw-1234" } }, "monitoring.email.relay.host", /fleet's own names.*cannot relay through itself/],
    ] as const
  ).map(([title, change, path, fix]): Row => [title, (r) => (r.monitoring = { email: { to: ["ops@example.net"], from: "alerts@example.com", relay: { host: "relay.example.net", username: "u", password: "pw-1234" }, ...change } }), [path], fix]),
  ["a certificate threshold certbot never reaches", (r) => (r.monitoring = { thresholds: { certificateDays: 90 } }), ["monitoring.thresholds.certificateDays"],
    /certbot renews 30 days before the end; give at most 60/],
  ["a queue age the postfix exporter cannot tell", (r) => (r.monitoring = { thresholds: { queueStuckSeconds: 3600 } }), ["monitoring.thresholds.queueStuckSeconds"],
    /one of 10, 100, 1000, 10000, 100000: the postfix exporter's message age buckets/],
  ["a zone expiry threshold beyond the zones' SOA expire (it would always fire)", (r) => (r.monitoring = { thresholds: { zoneExpiryHours: 336 } }), ["monitoring.thresholds.zoneExpiryHours"],
    /the fleet's zones expire 336 hours \(SOA expire\) after a secondary's last refresh: give fewer hours/],
  ["a monitoring host without its address on byo", (r) => (r.hosts.monitoring = [{ name: "mon" }]), ["hosts.monitoring[0].ipv4"], /required with compute: byo/],
  ["a resolver forwarding to loopback (the host's own unbound) or to a name", (r) => (r.resolver = { forwarders: ["127.0.0.1", "dns.example.net"] }),
    ["resolver.forwarders[0]", "resolver.forwarders[1]"], /no other host reaches — give|not an IP address — like 192\.0\.2\.10/],
  ["a forwarder listed twice", (r) => (r.resolver = { forwarders: ["192.0.2.53", "192.0.2.53"] }), ["resolver.forwarders"], /listed twice — list each once/],
  ["a list zone too long for an IPv6 query", (r) => (r.spam = { dnsbls: [`${[label(63), label(63), label(60)].join(".")}.net*3`] }), ["spam.dnsbls[0]"],
    /longer than 189 characters: a query about an IPv6 address .* use the list's own, shorter zone/],
  ["more blocklist probes than the monitoring hosts should send", (r) => {
    r.compute = "aws";
    r.hosts = { edge: { count: 50 }, outbound: { count: 50 }, store: { count: 1 } };
    r.spam = { dnsbls: ["a.example.net", "b.example.net", "c.example.net"] };
  }, ["spam.dnsbls"], /200 sending addresses × 3 list zones make 600 blocklist probes, more than 500: .* — list fewer zones/],
  ["every error of a byo host", (r) => (r.hosts.edge[0] = { name: "MX1", ipv6: "::1", sshHost: "not a host" }),
    ["hosts.edge[0].name", "hosts.edge[0].ipv6", "hosts.edge[0].sshHost", "hosts.edge[0].ipv4"],
    /not a host label — lowercase|no other host reaches — give|IPv4 address or host name — like|required with compute: byo — give/],
];

describe("config refusals", () => {
  for (const [title, change, paths, fix] of REFUSALS) {
    it(`refuses ${title} at ${paths.join(", ")}`, () => {
      const raw = validRaw();
      change(raw);
      const problems = problemsOf(raw);
      for (const path of paths) {
        const text = problems.get(path);
        assert.ok(text, `no problem at ${path}; got ${JSON.stringify([...problems])}`);
        assert.match(text, fix);
      }
    });
  }
});

describe("config that must keep passing", () => {
  const accepts = (title: string, change: (raw: Raw) => void) =>
    it(`accepts ${title}`, () => {
      const raw = validRaw();
      change(raw);
      assert.deepEqual([...problemsOf(raw)], []);
    });
  accepts("documentation addresses", (r) => {
    r.hosts.edge[0] = { name: "mx1", ipv4: "198.51.100.7", ipv6: "2001:db8:ffff::7" };
    r.hosts.edge[1] = { name: "mx2", ipv4: "203.0.113.9", ipv6: "2001:db8::abcd", sshHost: "127.0.0.1" };
    r.zone.nameservers[0] = { name: "ns1.example.com", ipv4: "203.0.113.53", ipv6: "2001:db8::53" };
  });
  accepts("no monitoring hosts, or a listed one with an operator's Prometheus network and a webhook", (r) => {
    r.hosts.monitoring = [{ name: "mon", ipv4: "192.0.2.41", ipv6: "2001:db8:0:1::41" }];
    r.monitoring = { cidrs: ["198.51.100.0/24", "2001:db8:7::/48"], webhookUrl: "https://alerts.example.net/hook/T0KEN?x=1", scrapeIntervalSeconds: 15 };
  });
  accepts("alert mail through a relay provider", (r) => (r.monitoring = { email: { to: ["ops@example.net"], from: "alerts@example.com", relay: { host: "relay.example.net", username: "u", password: "pw-1234" } } }));
  accepts("resolver forwarders of either family", (r) => (r.resolver = { forwarders: ["10.0.0.2", "2001:db8::53"] }));
  accepts("a list zone listed twice with its own replies and weights, up to the probe bound", (r) => {
    r.spam = { dnsbls: ["zen.spamhaus.org=127.0.0.[2..3]*3", "zen.spamhaus.org=127.0.0.[10;11]*1", `${[label(63), label(63), label(57)].join(".")}.net`] };
  });
  accepts("relay networks up to the bound", (r) => (r.relayNetworks = ["198.51.100.0/24", "10.20.0.0/16", "2001:db8:5::/48", "203.0.113.7/32"]));
  accepts("admin networks up to the bound", (r) => (r.adminSshCidrs = ["10.0.0.0/8", "2001:db8::/32", "203.0.113.0/28"]));
  for (const user of ["root", "mailfleet", "admin", "deploy"]) accepts(`ssh.user ${user}`, (r) => (r.ssh = { user }));
  for (const repository of ["sftp:backup@backup.example.com:/srv/restic", "rest:https://backup.example.com:8000/mail/", "rest:http://127.0.0.1:8000",
    "rest:http://[2001:db8::5]:8000/x", "s3:s3.amazonaws.com/mail-backups/fleet", "s3:https://minio.example.com:9000/bucket", "sftp:u@10.0.0.5:/b"]) {
    accepts(`backup repository ${repository}`, (r) => (r.backup = { repository, password: BACKUP_PASSWORD, intervalMinutes: 1440 }));
  }
  it("defaults a backup block's interval and retention, and leaves no backup when the block is absent", () => {
    const raw = validRaw();
    assert.equal(parseFleetConfig(raw).backup, undefined);
    raw.backup = { repository: "rest:http://10.0.0.5:8000/", password: BACKUP_PASSWORD };
    assert.deepEqual(parseFleetConfig(raw).backup, {
      repository: "rest:http://10.0.0.5:8000/",
      password: BACKUP_PASSWORD,
      intervalMinutes: 60,
      retention: { hourly: 24, daily: 14, weekly: 8 },
    });
  });
  it("takes a backup block on aws without a repository (the stack's bucket)", () => {
    const spec = parseFleetConfig(readStackConfig("prod", { passphrase: "mailfleet-example" }).raw);
    const raw = readStackConfig("prod", { passphrase: "mailfleet-example" }).raw;
    raw.backup = { password: BACKUP_PASSWORD, intervalMinutes: 30 };
    assert.equal(spec.compute, "aws");
    assert.equal(parseFleetConfig(raw).backup?.repository, undefined);
  });
  accepts("a SHA512-CRYPT hash with rounds", (r) => (r.mailboxes[0].passwordHash = HASH.replace("$6$", "$6$rounds=656000$")));

  accepts("10 SPF includes with 11 edges (their addresses stand in SPF instead of mx, no lookup)", (r) => {
    onAws(r).hosts.edge = { count: 11 };
    r.spfIncludes = Array.from({ length: 10 }, (_, i) => `_spf${i}.relay.example.net`);
  });
  for (const dataVolumeGb of [1, 16384]) accepts(`a ${dataVolumeGb} GiB mail volume`, (r) => (onAws(r).hosts.store.dataVolumeGb = dataVolumeGb));
  for (const intervalHours of [1, 2, 3, 4, 6, 8, 12, 24]) accepts(`snapshots every ${intervalHours} h`, (r) => (onAws(r).aws = { snapshots: { intervalHours } }));

  it("gives aws stores, and only them, a 20 GiB mail volume and daily snapshots kept 14 times by default", () => {
    const raw = onAws(validRaw());
    raw.hosts.store = [{ name: "store1" }, { name: "store2", dataVolumeGb: 200 }];
    const spec = parseFleetConfig(raw);
    assert.deepEqual(buildTopology(spec).hosts.map((h) => [h.name, h.dataVolumeGb]), [["mx1", undefined], ["mx2", undefined], ["out1", undefined], ["store1", 20], ["store2", 200]]);
    assert.deepEqual(spec.aws?.snapshots, { intervalHours: 24, retain: 14 });
    assert.equal(spec.aws?.retainMailVolumes, undefined, "unset: the stack's kind decides (compute/awsStorage.ts retainMailData)");
    assert.ok(parseFleetConfig(validRaw()).hosts.every((h) => h.dataVolumeGb === undefined), "byo servers keep mail on their own disks");
  });

  it("passes a byo host's private address on to its addresses", () => {
    const raw = validRaw();
    raw.hosts.store[0].privateIpv4 = "10.0.0.31";
    raw.hosts.store[1].privateIpv4 = "192.0.2.132";
    const addresses = givenAddresses(parseFleetConfig(raw));
    assert.deepEqual(addresses.store1, { ipv4: "192.0.2.31", ipv6: "2001:db8::31", privateIpv4: "10.0.0.31" });
    assert.equal(addresses.store2.privateIpv4, "192.0.2.132");
    assert.equal(addresses.mx1.privateIpv4, undefined);
  });
});

describe("placeholder secrets", () => {
  it("an offline read without a passphrase renders with placeholders, a real run refuses them", () => {
    const { raw, redacted } = readStackConfig("prod");
    assert.equal(redacted, true);
    assert.equal(parseFleetConfig(raw, { allowRedacted: redacted }).ssh.privateKey, REDACTED_SECRET);
    const problems = problemsOf(raw);
    assert.match(problems.get("ssh.privateKey") ?? "", STDIN);
    assert.match(problems.get("mailboxes[0].passwordHash") ?? "", /PULUMI_CONFIG_PASSPHRASE/);
  });

  it("a placeholder written into a stack file is refused when the secrets decrypt", () => {
    const dir = mkdtempSync(join(tmpdir(), "mailfleet-stack-"));
    const lab = readFileSync("stacks/Pulumi.lab.yaml", "utf8");
    writeFileSync(join(dir, "Pulumi.lab.yaml"), lab.replace(/(passwordHash:)\n\s+secure: \S+/, `$1 "${REDACTED_SECRET}"`));
    const config = readStackConfig("lab", { dir, passphrase: "mailfleet-lab" });
    assert.equal(config.redacted, false);
    assert.match(problemsOf(config.raw, { allowRedacted: config.redacted }).get("mailboxes[0].passwordHash") ?? "", STDIN);
  });
});

describe("no secret in an error", () => {
  const labSecrets = () => {
    const raw = readStackConfig("lab", { passphrase: "mailfleet-lab" }).raw as Raw;
    return raw.mailboxes.map((m: Raw) => m.passwordHash.slice(20, 40)) as string[];
  };

  it("names an undecryptable secure value by its key, without a stack trace or any secret", () => {
    const dir = mkdtempSync(join(tmpdir(), "mailfleet-stack-"));
    const lab = readFileSync("stacks/Pulumi.lab.yaml", "utf8");
    // The second mailbox's ciphertext, corrupted past its nonce: AES-GCM's tag no longer matches.
    const corrupt = lab.replace(/(secure: v1:[^:]+:[^\n]*\n[\s\S]*?secure: v1:[^:]+:)(.)/, (_, head, c) => `${head}${c === "A" ? "B" : "A"}`);
    assert.notEqual(corrupt, lab);
    writeFileSync(join(dir, "Pulumi.lab.yaml"), corrupt);
    assert.throws(
      () => readStackConfig("lab", { dir, passphrase: "mailfleet-lab" }),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError, String(e));
        assert.deepEqual(e.problems.map((p) => p.path), ["mailboxes[1].passwordHash"]);
        assert.match(e.message, /does not decrypt.*pulumi config set --path --secret 'mailfleet:mailboxes\[1\]\.passwordHash' < file/);
        for (const secret of labSecrets()) assert.ok(!e.message.includes(secret));
        return true;
      },
    );
  });

  it("a wrong passphrase names the passphrase, never a secret or the passphrase", () => {
    assert.throws(
      () => readStackConfig("lab", { passphrase: "mailfleet-lab-wrong" }),
      (e: unknown) => e instanceof ConfigError && !e.message.includes("mailfleet-lab-wrong") && labSecrets().every((s) => !e.message.includes(s)),
    );
  });

  it("a YAML error on a line holding a plain-text secret shows where, not the line", () => {
    const dir = mkdtempSync(join(tmpdir(), "mailfleet-stack-"));
    const secret = "hunter2-relay-secret";
    writeFileSync(join(dir, "Pulumi.x.yaml"), `config:\n  mailfleet:smarthost:\n    host: relay.example.net\n    password: ${secret}: x\n`);
    assert.throws(
      () => readStackConfig("x", { dir }),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError, String(e));
        assert.match(e.message, /is not valid YAML at line 4, column 15/);
        for (const part of ["hunter2", "relay-secret", "password:"]) assert.ok(!e.message.includes(part), `${part} in ${e.message}`);
        return true;
      },
    );
  });
});
