/**
 * The local lab: the lab stack's whole fleet on this machine (network namespaces, real daemons
 * from the Debian 13 root), configured over SSH by the same deploy command the Pulumi push runs.
 *   up()      build the hosts and network, start SSH, push every host's rendered files, start the peers
 *   down()    end every lab process, unmount, delete the namespaces
 *   status()  what runs where, and where to point a mail client
 */
import { spawn, spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { buildFleet, FleetBuild, givenAddresses, readStackSpec } from "../../components/build";
import { FleetSpec } from "../../components/config/spec";
import { FleetKeys, spkiSha256 } from "../../components/keys/material";
import { loadOrCreateKeys } from "../../components/keys/offline";
import { bundleFiles, deployCommand, DeployRole } from "../../components/push/bundle";
import { DsByZone, keymgrDsScript, parseKeymgrDs } from "../../components/dns/ds";
import { RenderedFile } from "../../components/render/file";
import { KNOT_CONF } from "../../components/render/knot";
import { liveTls } from "../../components/render/input";
import { RESOLVER_PATHS } from "../../components/render/resolver";
import { textTable } from "../../components/table";
import {
  ALERTMANAGER_PORT,
  buildTopology,
  certificateLineages,
  DNS_PORT,
  hostNamed,
  IMAPS_PORT,
  LMTP_PORT,
  PROMETHEUS_PORT,
  SMTP_PORT,
  SSH_PORT,
  SUBMISSION_PORT,
  SUBMISSIONS_PORT,
} from "../../components/topology";
import {
  acquireLabLock,
  createBridge,
  createHost,
  destroyLab,
  exec,
  execOk,
  ExecResult,
  hostRoot,
  labNamespaces,
  namespacePids,
  otherLabHolder,
  releaseLabLock,
  sh,
  startService,
  startDetached,
  startSyslog,
} from "./host";
import { waitUntil } from "./clients";
import {
  ACME,
  BACKUP,
  CLIENT,
  clientPostfixMainCf,
  DEBIAN_ROOT_ANCHOR_DROP_IN,
  delvAnchor,
  EXT,
  EXT_TLS_CHAIN,
  EXT_WEB_CHAIN,
  extStsWebFiles,
  RELAY,
  RELAY_LOGIN,
  RELAY_TLS_CHAIN,
  RELAY_USERS,
  relayDovecotConf,
  relayPostfixMainCf,
  relayUsers,
  EXT_RSPAMD_FILES,
  EXT_USER,
  extPostfixMainCf,
  LAB_ROOT_HINTS,
  labDnsFiles,
  labFleetResolverDropIn,
  labRootHints,
  labUnboundConf,
  labZones,
  RBL,
  ROOT,
  RootDelegation,
  rootKnotConf,
  STS_MX,
  STS_POLICY_HOSTS,
  rootZone,
  ROOT_ZONE_FILE,
} from "./peers";
import { startRbldnsd } from "./rbl";
import { CA_FILE, DELV_ANCHOR, LAB_DIR, LAB_TOOLS, LabHost, LabKind, labHosts, MAILTOOL, netnsName, PEBBLE_MANAGEMENT_PORT, PEBBLE_PORT, REST_SERVER_PORT, ROOT_ANCHOR, WEBHOOK } from "./plan";

export { debianToolDir, exec, execOk, ExecResult, hostRoot, startOn, startService } from "./host";
export { ACME, BACKUP, RBL, RBL_ZONES, RELAY, RELAY_LOGIN, ROOT } from "./peers";
export { listAddress, startRbldnsd, stopRbldnsd, unlistAddress } from "./rbl";
export * from "./plan";
export { CLIENT, DANE_STS_DOMAIN, EXT, EXT_GONE, EXT_TLS_CHAIN, EXT_USER, STS_DOMAIN, STS_MX } from "./peers";
export * from "./clients";

const REPO = join(__dirname, "..", "..");
export const LAB_STACK = "lab";
export const LAB_PASSPHRASE = "mailfleet-lab";
export const SSH_KEY = join(LAB_DIR, "ssh", "id_ed25519");
export const KEYS_DIR = join(LAB_DIR, "keys");

/** The lab stack's test users log in with `<local part>-lab-password` (see stacks/Pulumi.lab.yaml). */
export function labPassword(address: string): string {
  return `${address.split("@")[0]}-lab-password`;
}

export interface LabFleet {
  spec: FleetSpec;
  keys: FleetKeys;
  build: FleetBuild;
  hosts: LabHost[];
  /** ext's STARTTLS key and self-signed certificate, and the SHA-256 its TLSA record pins. */
  ext: PeerTls;
  /** The lab's public CA for its peers (the fleet's hosts trust it), and what it issued to ext. */
  peerCa: PeerCa;
  /** The relay's: its certificate is the CA a fleet's domain pins for it. */
  relay: PeerTls;
}

export interface PeerTls {
  keyPem: string;
  certPem: string;
  spkiSha256: string;
}

/**
 * A peer's key and self-signed certificate for its name, made once per lab machine (like the fleet's
 * keys), so what pins it (ext's TLSA record, a relay's pinned CA) is known before the peer is up.
 */
function loadOrCreatePeerTls(peer: LabHost): PeerTls {
  const dir = join(LAB_DIR, `${peer.name}-tls`);
  const key = join(dir, "key.pem");
  const cert = join(dir, "cert.pem");
  if (!existsSync(cert)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    sh('openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj "/CN=$3" -addext "subjectAltName=DNS:$3" -keyout "$1" -out "$2" 2>/dev/null', [key, cert, peer.fqdn]);
  }
  const keyPem = readFileSync(key, "utf8");
  return { keyPem, certPem: readFileSync(cert, "utf8"), spkiSha256: spkiSha256(keyPem) };
}

/**
 * The lab's stand-in for the public CAs that sign a receiver's MX and MTA-STS web server: made once
 * per lab machine, trusted by the fleet's hosts (trustSystemWide). What it issued to ext: a
 * certificate for ext's own STARTTLS key (DANE-EE pins the key, so the TLSA record still matches)
 * naming ext and STS_MX, and one for ext's nginx naming the MTA-STS policy hosts.
 */
export interface PeerCa {
  certPem: string;
  extMxCertPem: string;
  extWebChainPem: string;
}

function loadOrCreatePeerCa(ext: PeerTls): PeerCa {
  const dir = join(LAB_DIR, "peer-ca");
  const file = (name: string) => join(dir, name);
  if (!existsSync(file("ca.pem"))) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    sh(
      'openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj "/CN=mailfleet lab peer CA" ' +
        '-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -keyout "$1" -out "$2" 2>/dev/null',
      [file("ca-key.pem"), file("ca.pem")],
    );
  }
  // DIR KEY CERT NAME...: a server certificate for KEY naming each NAME, issued by the CA in DIR, with
  // the extensions a strict verifier (Python's ssl, which mta-sts-daemon uses) requires of a leaf.
  const issue = [
    'ca=$1 key=$2 out=$3; shift 3; san=$(printf "DNS:%s," "$@")',
    'openssl req -new -key "$key" -subj "/CN=$1" | openssl x509 -req -CA "$ca/ca.pem" -CAkey "$ca/ca-key.pem" -days 3650 -out "$out" -extfile <(printf "%s\\n" ' +
      '"basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid" "subjectAltName=${san%,}")',
  ].join("\n");
  if (!existsSync(file("ext-mx.pem"))) {
    writeFileSync(file("ext-key.pem"), ext.keyPem, { mode: 0o600 });
    sh(issue, [dir, file("ext-key.pem"), file("ext-mx.pem"), EXT.fqdn, STS_MX]);
  }
  if (!existsSync(file("ext-web.pem"))) {
    sh('openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"', [file("ext-web-key.pem")]);
    sh(issue, [dir, file("ext-web-key.pem"), file("ext-web.pem"), ...STS_POLICY_HOSTS]);
  }
  const read = (name: string) => readFileSync(file(name), "utf8");
  return { certPem: read("ca.pem"), extMxCertPem: read("ext-mx.pem"), extWebChainPem: `${read("ext-web-key.pem").trim()}\n${read("ext-web.pem")}` };
}

function labSpec(): FleetSpec {
  return readStackSpec(LAB_STACK, { dir: join(REPO, "stacks"), passphrase: LAB_PASSPHRASE }).spec;
}

/**
 * The stack's alert mail goes through the lab's relay peer, whose certificate is made per lab
 * machine: the stack file cannot hold it, so the lab pins it here, as an operator pins a provider's CA.
 */
function pinLabRelay(spec: FleetSpec, relay: PeerTls): FleetSpec {
  const email = spec.monitoring.email;
  if (email?.relay.host !== RELAY.fqdn) return spec;
  return { ...spec, monitoring: { ...spec.monitoring, email: { ...email, relay: { ...email.relay, caCertificate: relay.certPem } } } };
}

/** The lab stack rendered by the project: spec (with `change`, if any) → keys (kept under LAB_DIR) → buildFleet. */
export function loadLabFleet(change: (spec: FleetSpec) => FleetSpec = (spec) => spec): LabFleet {
  const relay = loadOrCreatePeerTls(RELAY);
  const spec = change(pinLabRelay(labSpec(), relay));
  const keys = loadOrCreateKeys(KEYS_DIR, buildTopology(spec));
  const ext = loadOrCreatePeerTls(EXT);
  return { spec, keys, build: buildFleet(spec, givenAddresses(spec), keys), hosts: labHosts(spec), ext, peerCa: loadOrCreatePeerCa(ext), relay };
}

export function labHost(fleet: LabFleet, name: string): LabHost {
  const host = fleet.hosts.find((h) => h.name === name);
  if (!host) throw new Error(`no lab host ${name}`);
  return host;
}

/** The files the push sends to a host: its rendered files, or for dns1 the Knot server's plus the lab's peer zones. */
export function deployFiles(fleet: LabFleet, host: LabHost): RenderedFile[] {
  if (host.role === "dns") return labDnsFiles(fleet.build.dnsServerFiles, host, fleet.ext.spkiSha256);
  const files = fleet.build.hostFiles[host.name];
  if (!files) throw new Error(`no rendered files for ${host.name}`);
  return files;
}

/** Runs a command on a lab host over SSH from the admin namespace, as the push does. */
export function ssh(host: LabHost, command: string, input = "", timeoutMs = 300_000): Promise<ExecResult> {
  const argv = [
    `--net=/run/netns/${netnsName("admin")}`,
    "ssh",
    "-F", "/dev/null",
    "-i", SSH_KEY,
    "-o", "BatchMode=yes",
    "-o", "StrictHostKeyChecking=no",
    "-o", "UserKnownHostsFile=/dev/null",
    "-o", "LogLevel=ERROR",
    "-o", "ConnectTimeout=5",
    `root@${host.ipv4}`,
    command,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn("nsenter", argv, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

/** Pushes files to a host with the deploy command and bundle the Pulumi push uses. */
export function push(host: LabHost, files: RenderedFile[], role: DeployRole = host.role!): Promise<ExecResult> {
  return ssh(host, deployCommand(role), bundleFiles(files));
}

/** Whether a TCP port answers, tried from a lab host (default: the admin host the push runs from). */
export function portOpen(address: string, port: number, from = "admin"): boolean {
  return openPorts(from, [address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`]).length === 1;
}

export async function waitForPort(address: string, port: number, timeoutMs = 60_000, from = "admin"): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!portOpen(address, port, from)) {
    if (Date.now() > until) throw new Error(`lab: nothing answers on ${address} port ${port} (from ${from}) after ${timeoutMs / 1000} s`);
    await sleep(250);
  }
}

/**
 * Which of the targets (`address:port`, IPv6 in brackets) accept a TCP connection from a lab host,
 * all probed at once: a port the firewall drops only times out, so probing one by one would take minutes.
 */
export function openPorts(from: string, targets: string[], timeoutSeconds = 3): string[] {
  const probe = 'for t in "$@"; do (a=${t%:*}; a=${a#[}; a=${a%]}; timeout "$0" bash -c "exec 3<>/dev/tcp/$a/${t##*:}" 2>/dev/null && echo "$t") & done; wait';
  const r = spawnSync("nsenter", [`--net=/run/netns/${netnsName(from)}`, "bash", "-c", probe, String(timeoutSeconds), ...targets], {
    encoding: "utf8",
    timeout: (timeoutSeconds + 10) * 1000,
  });
  if (r.status !== 0) throw new Error(`lab: port probe from ${from} failed: ${r.stderr}`);
  return r.stdout.split("\n").filter(Boolean).sort();
}

function ensureSshKey(): string {
  if (!existsSync(SSH_KEY)) {
    mkdirSync(dirname(SSH_KEY), { recursive: true, mode: 0o700 });
    sh('ssh-keygen -q -t ed25519 -N "" -C mailfleet-lab -f "$1"', [SSH_KEY]);
  }
  return readFileSync(`${SSH_KEY}.pub`, "utf8");
}

function writeHostFile(host: string, path: string, content: string, mode = 0o644): void {
  const target = join(hostRoot(host), path);
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, content);
  chmodSync(target, mode);
}

/** The lab's SSH server on a host: root logs in with the lab key only. */
function startSsh(host: LabHost, publicKey: string): void {
  writeHostFile(host.name, "/root/.ssh/authorized_keys", publicKey, 0o600);
  chmodSync(join(hostRoot(host.name), "root/.ssh"), 0o700);
  writeHostFile(
    host.name,
    "/etc/ssh/sshd_config.d/mailfleet-lab.conf",
    [
      "# The lab's SSH server: the push logs in as root with the lab key, nothing else.",
      "PermitRootLogin prohibit-password",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UseDNS no",
      "",
    ].join("\n"),
  );
  execOk(host.name, ["sh", "-c", "install -d -m 0755 /run/sshd && /usr/sbin/sshd"]);
}

/** The ACME API's own HTTPS certificate (lab-only, committed): certbot on the fleet hosts trusts its CA through `tls.acme.caBundle`. */
export const ACME_API_DIR = join(__dirname, "acme-api");
export const ACME_API_CA = join(ACME_API_DIR, "ca.crt");

/**
 * Pebble on the acme host: Let's Encrypt's test server, validating every DNS-01 challenge by asking
 * the lab's nameserver, without the random waits and nonce rejections it adds by default.
 */
function startPebble(dns: LabHost): void {
  const dir = "/etc/pebble";
  writeHostFile(ACME.name, `${dir}/server.crt`, readFileSync(join(ACME_API_DIR, "server.crt"), "utf8"));
  writeHostFile(ACME.name, `${dir}/server.key`, readFileSync(join(ACME_API_DIR, "server.key"), "utf8"), 0o600);
  const config = {
    pebble: {
      listenAddress: `:${PEBBLE_PORT}`,
      managementListenAddress: `:${PEBBLE_MANAGEMENT_PORT}`,
      certificate: `${dir}/server.crt`,
      privateKey: `${dir}/server.key`,
      httpPort: 80,
      tlsPort: 443,
      ocspResponderURL: "",
      externalAccountBindingRequired: false,
      retryAfter: { authz: 1, order: 1 },
      // Let's Encrypt's validity: certbot's timer leaves such a certificate alone until 30 days before it ends.
      certificateValidityPeriod: 90 * 24 * 3600,
    },
  };
  writeHostFile(ACME.name, `${dir}/config.json`, JSON.stringify(config, null, 2));
  startDetached(ACME.name, [
    "env",
    "PEBBLE_VA_NOSLEEP=1",
    "PEBBLE_WFE_NONCEREJECT=0",
    "sh",
    "-c",
    'exec pebble -config "$0" -dnsserver "$1" >>/var/log/pebble.log 2>&1',
    `${dir}/config.json`,
    `${dns.ipv4}:53`,
  ]);
}

/** restic's REST server on the backup host: one repository per store below its data path; the repository password is what protects the mail. */
/** The REST server's pid file: other labs' REST servers share this machine's process table, so it is stopped by this, never by name. */
const REST_SERVER_PID = "/run/rest-server.pid";

export function startRestServer(): void {
  execOk(BACKUP.name, ["install", "-d", "-m", "0700", "/srv/restic"]);
  startDetached(BACKUP.name, [
    "sh",
    "-c",
    'echo $$ > "$1"; exec restic-rest-server --path /srv/restic --listen ":$0" --no-auth >>/var/log/rest-server.log 2>&1',
    String(REST_SERVER_PORT),
    REST_SERVER_PID,
  ]);
}

/** Stops the backup target's REST server (the repositories stay on disk for startRestServer). */
export function stopRestServer(): void {
  execOk(BACKUP.name, ["sh", "-c", 'kill "$(cat "$1")" && while kill -0 "$(cat "$1")" 2>/dev/null; do sleep 0.1; done', "stop", REST_SERVER_PID]);
}

/** Alertmanager's receiver (scripts/lab/webhook.py): on the lab peer the stack's monitoring.webhookUrl names, outside the fleet. */
export function webhookReceiver(spec: FleetSpec): { host: LabHost; url: string } | undefined {
  if (!spec.monitoring.webhookUrl) return undefined;
  const url = new URL(spec.monitoring.webhookUrl);
  const host = labHosts(spec).find((h) => h.ipv4 === url.hostname && h.kind !== "fleet");
  if (!host) throw new Error(`lab: monitoring.webhookUrl ${url.host} is no lab peer`);
  return { host, url: `http://${url.host}/` };
}

function startWebhookReceiver(spec: FleetSpec): void {
  const receiver = webhookReceiver(spec);
  if (!receiver) return;
  const { hostname, port } = new URL(receiver.url);
  writeHostFile(receiver.host.name, WEBHOOK, readFileSync(join(__dirname, "webhook.py"), "utf8"), 0o755);
  startDetached(receiver.host.name, ["sh", "-c", 'exec python3 "$0" "$1" "$2" >>/var/log/webhook.log 2>&1', WEBHOOK, hostname, port]);
}

/** The root Pebble issues under (new at every start), fetched from its management API (by address: it comes before the lab's DNS). */
export function pebbleRoot(): string {
  const apiCa = `${LAB_TOOLS}/acme-api-ca.crt`;
  writeHostFile("admin", apiCa, readFileSync(ACME_API_CA, "utf8"));
  return execOk("admin", ["curl", "-sS", "--fail", "--cacert", apiCa, `https://${ACME.ipv4}:${PEBBLE_MANAGEMENT_PORT}/roots/0`]);
}

/** Adds roots to a host's system trust store (Debian's /etc/ssl/certs), as the ca-certificates package holds the public ones. */
function trustSystemWide(host: string, roots: Record<string, string>): void {
  for (const [name, pem] of Object.entries(roots)) writeHostFile(host, `/usr/local/share/ca-certificates/mailfleet-lab-${name}.crt`, pem);
  execOk(host, ["update-ca-certificates", "--fresh"], { timeoutMs: 60_000 });
}

/**
 * Waits (bounded) until every lineage of every fleet host is a certificate from the ACME CA: the
 * push starts issuance on each host and returns at once.
 */
async function waitForAcmeCertificates(fleet: LabFleet, timeoutMs = 180_000): Promise<void> {
  const pending = () =>
    fleet.hosts
      .filter((h) => h.kind === "fleet")
      .flatMap((h) => certificateLineages(fleet.build.topology, hostNamed(fleet.build.topology, h.name)).map((l) => ({ host: h.name, lineage: l.name })))
      .filter(({ host, lineage }) => {
        const path = join(hostRoot(host), liveTls(lineage).cert);
        return !existsSync(path) || !new X509Certificate(readFileSync(path)).issuer.includes("Pebble");
      });
  const left = await waitUntil(pending, (p) => p.length === 0, timeoutMs, 1000);
  if (left.length > 0) {
    const logs = [...new Set(left.map((l) => l.host))].map((h) => `${h}:\n${exec(h, ["tail", "-n", "20", "/var/log/mailfleet-certs.log"]).stdout}`);
    throw new Error(`lab: no ACME certificate after ${timeoutMs / 1000} s for ${left.map((l) => `${l.host}/${l.lineage}`).join(", ")}\n${logs.join("\n")}`);
  }
}

/**
 * The CA the lab's clients trust, as a path on this machine: for an operator tool that runs in the
 * client's namespace but reads its files from here (`./mf check --ca`).
 */
export function clientTrustFile(): string {
  return join(hostRoot(CLIENT.name), CA_FILE);
}

/** A lab resolver on a host (peers.ts labUnboundConf), which its resolv.conf then names. trust-ad: glibc passes unbound's AD bit on. */
function startResolver(host: string, config: string): void {
  writeHostFile(host, "/etc/unbound/unbound.conf", config);
  startService(host, ["unbound"]);
  writeHostFile(host, "/etc/resolv.conf", "nameserver 127.0.0.1\noptions trust-ad\n");
}

/** The fleet hosts that run their own validating resolver: those the fleet renders one for (render/resolver.ts). */
export function fleetResolverHosts(fleet: LabFleet): LabHost[] {
  return fleet.hosts.filter((h) => fleet.build.hostFiles[h.name]?.some((f) => f.path === RESOLVER_PATHS.conf));
}

/** Every zone dns1 serves: the fleet's and the lab's peer zones. */
export function labServedZones(fleet: LabFleet, dns: LabHost): string[] {
  return [...fleet.build.zoneFiles, ...labZones({ name: dns.fqdn, ipv4: dns.ipv4, ipv6: dns.ipv6 })].map((z) => z.origin);
}

/** The DS records a Knot host gives for its zones (keymgr, waiting for keys it has just made). */
export function knotDs(host: string, zones: string[], conf = KNOT_CONF): DsByZone {
  return parseKeymgrDs(execOk(host, ["sh", "-c", keymgrDsScript(conf, zones)], { timeoutMs: 60_000 }));
}

/**
 * The lab's signed root on the root host: it delegates every zone dns1 serves, with the DS dns1's Knot
 * gives (with dnssec: false, none: insecure delegations). Its own DS is the trust anchor client and ext
 * validate from, written there in unbound's and delv's forms.
 */
export async function startRoot(fleet: LabFleet, dns: LabHost): Promise<void> {
  const zones = labServedZones(fleet, dns);
  writeRootZone(dns, rootDelegations(fleet, dns));
  writeHostFile(ROOT.name, KNOT_CONF, rootKnotConf());
  execOk(ROOT.name, ["sh", "-c", "chown -R knot:knot /var/lib/knot && install -d -o knot -g knot /run/knot"]);
  startService(ROOT.name, ["knotd", "-d", "-c", KNOT_CONF]);
  const anchor = knotDs(ROOT.name, ["."])["."];
  const resolvers = fleetResolverHosts(fleet);
  for (const peer of [CLIENT, EXT, ...resolvers]) {
    writeHostFile(peer.name, ROOT_ANCHOR, `${anchor.join("\n")}\n`);
    writeHostFile(peer.name, DELV_ANCHOR, delvAnchor(anchor));
    writeHostFile(peer.name, LAB_ROOT_HINTS, labRootHints());
  }
  for (const host of resolvers) writeHostFile(host.name, DEBIAN_ROOT_ANCHOR_DROP_IN, labFleetResolverDropIn(zones));
}

/**
 * The root zone's delegations as the bring-up writes them: every zone dns1 serves, with the DS
 * dns1's Knot gives (none with dnssec: false); `change` alters a zone's DS, as a tampered parent would.
 */
export function rootDelegations(fleet: LabFleet, dns: LabHost, change: (zone: string, ds: string[]) => string[] = (_, ds) => ds): RootDelegation[] {
  const zones = labServedZones(fleet, dns);
  const ds = fleet.spec.dnssec ? knotDs(dns.name, zones) : {};
  return zones.map((zone) => ({ zone, ds: change(zone, ds[zone] ?? []) }));
}

/** Writes the root zone with these delegations and has the root's Knot (when running) load it. */
export function writeRootZone(dns: LabHost, delegations: RootDelegation[]): void {
  writeHostFile(ROOT.name, ROOT_ZONE_FILE, rootZone(dns, delegations));
  if (exec(ROOT.name, ["knotc", "status"]).code === 0) execOk(ROOT.name, ["knotc", "-b", "zone-reload", "."]);
}

function startPeers(fleet: LabFleet, dns: LabHost, trust: string): void {
  const tool = readFileSync(join(__dirname, "mailtool.py"), "utf8");
  for (const peer of [CLIENT, EXT]) {
    writeHostFile(peer.name, MAILTOOL, tool, 0o755);
    writeHostFile(peer.name, CA_FILE, trust);
    writeHostFile(peer.name, "/etc/postfix/main.cf", peer === EXT ? extPostfixMainCf() : clientPostfixMainCf());
    if (peer === EXT) writeHostFile(EXT.name, EXT_TLS_CHAIN, extTlsChain(fleet, "peer-ca"), 0o600);
    // A validating resolver of its own, as a user's machine and a DANE-checking mail server have:
    // before the daemons that read resolv.conf at start (rspamd).
    startResolver(peer.name, labUnboundConf(labServedZones(fleet, dns)));
  }
  for (const [path, content] of Object.entries(EXT_RSPAMD_FILES)) writeHostFile(EXT.name, path, content);
  execOk(EXT.name, ["sh", "-c", `useradd -m ${EXT_USER} && install -d -o _rspamd -g _rspamd /run/rspamd`]);
  startService(EXT.name, ["postfix", "start"]);
  startService(EXT.name, ["rspamd", "-u", "_rspamd", "-g", "_rspamd"]);
  // The MTA-STS policies of ext's STS domains, over HTTPS as a receiver publishes them.
  for (const [path, content] of Object.entries(extStsWebFiles())) writeHostFile(EXT.name, path, content);
  writeHostFile(EXT.name, EXT_WEB_CHAIN, fleet.peerCa.extWebChainPem, 0o600);
  startService(EXT.name, ["nginx"]);
  startService(CLIENT.name, ["postfix", "start"]);
  // Operators' own programs run with `ip netns exec mflab-client …` resolve through the lab DNS.
  mkdirSync(join("/etc/netns", netnsName(CLIENT.name)), { recursive: true });
  writeFileSync(join("/etc/netns", netnsName(CLIENT.name), "resolv.conf"), readFileSync(join(hostRoot(CLIENT.name), "etc/resolv.conf")));
}

/**
 * ext's STARTTLS key with a certificate: the peer CA's (which names ext and STS_MX, so a sender
 * enforcing MTA-STS verifies it), or the self-signed one (which only DANE, pinning the key, accepts).
 */
export function extTlsChain(fleet: LabFleet, cert: "peer-ca" | "self-signed"): string {
  return `${fleet.ext.keyPem.trim()}\n${cert === "peer-ca" ? fleet.peerCa.extMxCertPem : fleet.ext.certPem}`;
}

/** The relay: Postfix on the submission port with STARTTLS, Dovecot checking its customers' logins. */
function startRelay(fleet: LabFleet): void {
  writeHostFile(RELAY.name, "/etc/postfix/main.cf", relayPostfixMainCf());
  writeHostFile(RELAY.name, RELAY_TLS_CHAIN, `${fleet.relay.keyPem.trim()}\n${fleet.relay.certPem}`, 0o600);
  writeHostFile(RELAY.name, "/etc/dovecot/dovecot.conf", relayDovecotConf());
  writeHostFile(RELAY.name, RELAY_USERS, relayUsers(RELAY_LOGIN, labPassword(RELAY_LOGIN)), 0o640);
  execOk(RELAY.name, ["sh", "-c", 'chgrp dovecot "$1" && postconf -Me "submission/inet=submission inet n - n - - smtpd"', "relay", RELAY_USERS]);
  // Postfix first: its start makes the spool's private/ where Dovecot puts the auth socket.
  startService(RELAY.name, ["postfix", "start"]);
  startService(RELAY.name, ["dovecot"]);
}

/** The port each of the lab's serving peers answers on. */
const PEER_PORTS: Partial<Record<LabKind, number>> = { ext: SMTP_PORT, acme: PEBBLE_PORT, backup: REST_SERVER_PORT, root: DNS_PORT, relay: SUBMISSION_PORT };

/**
 * The ports that show a host's role is serving, each with a lab host its firewall admits: public
 * ports from the admin host, LMTP from an edge (when one is up).
 */
export function serviceProbes(host: LabHost, hosts: LabHost[]): { port: number; from: string }[] {
  const fromAdmin = (...ports: number[]) => ports.map((port) => ({ port, from: "admin" }));
  const edge = hosts.find((h) => h.role === "edge");
  switch (host.role) {
    case "dns":
      return fromAdmin(DNS_PORT);
    case "edge":
      return fromAdmin(SMTP_PORT);
    case "outbound":
      return fromAdmin(SUBMISSION_PORT, SUBMISSIONS_PORT);
    case "store":
      return [...fromAdmin(IMAPS_PORT), ...(edge ? [{ port: LMTP_PORT, from: edge.name }] : [])];
    case "monitoring":
      return fromAdmin(PROMETHEUS_PORT, ALERTMANAGER_PORT);
    default: {
      const port = PEER_PORTS[host.kind];
      return port ? fromAdmin(port) : [];
    }
  }
}

export interface UpTimings {
  [step: string]: number;
}

export interface UpOptions {
  /** Bring up only these hosts (plus the admin host the push runs from); default: all. */
  only?: string[];
  log?: (line: string) => void;
}

export async function up(options: UpOptions = {}): Promise<UpTimings> {
  const log = options.log ?? (() => {});
  if (process.getuid?.() !== 0) throw new Error("the lab needs root (network namespaces, mounts)");
  const timings: UpTimings = {};
  let mark = Date.now();
  const step = (name: string) => {
    const now = Date.now();
    timings[name] = (now - mark) / 1000;
    log(`lab: ${name} (${timings[name].toFixed(1)} s)`);
    mark = now;
  };
  await acquireLabLock();
  sh('bash "$1"', [join(REPO, "scripts/setup/debian13-root.sh")], 30 * 60_000);
  step("Debian 13 root ready (lab lock held)");
  if (labNamespaces().length > 0) await destroyLab();
  const loaded = loadLabFleet();
  const only = options.only;
  const fleet = only ? { ...loaded, hosts: loaded.hosts.filter((h) => h.kind === "admin" || only.includes(h.name)) } : loaded;
  const publicKey = ensureSshKey();
  step("lab stack rendered, keys loaded");

  const dns = loaded.hosts.find((h) => h.role === "dns")!;
  createBridge();
  await Promise.all(fleet.hosts.map((host) => createHost(host, [dns.ipv4, dns.ipv6])));
  for (const host of fleet.hosts) startSyslog(host.name);
  for (const host of fleet.hosts.filter((h) => h.ssh)) startSsh(host, publicKey);
  // The fleet's first push may already ask for certificates and back up: the CA and the backup target come first.
  if (fleet.hosts.includes(ACME)) startPebble(dns);
  if (fleet.hosts.includes(BACKUP)) startRestServer();
  if (fleet.hosts.includes(RBL)) startRbldnsd();
  startWebhookReceiver(fleet.spec);
  step("namespaces, filesystems, network, SSH, ACME CA, backup target, blocklists, alert receiver");

  // What the lab's clients trust: Pebble's root when the fleet's certificates come from it, else the fleet CA.
  const acme = fleet.spec.tls.mode === "acme" && fleet.hosts.includes(ACME);
  let trust = fleet.keys.caCertPem;
  if (acme) {
    await waitForPort(ACME.ipv4, PEBBLE_MANAGEMENT_PORT, 30_000);
    trust = pebbleRoot();
  }
  // Pebble's root stands in for the public roots Debian's ca-certificates gives a real host (a store
  // proxying a user to another store checks its certificate against them), the peer CA for those that
  // sign receivers' certificates (MTA-STS checks them); before the push, which reads them.
  for (const host of fleet.hosts.filter((h) => h.kind === "fleet")) trustSystemWide(host.name, { "peer-ca": fleet.peerCa.certPem, ...(acme ? { "acme-root": trust } : {}) });
  step("trust anchors in place");

  for (const host of fleet.hosts.filter((h) => h.ssh)) await waitForPort(host.ipv4, SSH_PORT, 20_000);
  /** Pushes hosts side by side; any failure ends the bring-up with the hosts' messages. */
  const pushAll = async (hosts: LabHost[]) => {
    const results = await Promise.all(hosts.map(async (h) => ({ host: h, result: await push(h, deployFiles(fleet, h)) })));
    const failed = results.filter((r) => r.result.code !== 0);
    for (const r of results) log(`  ${r.host.name}: ${(r.result.stdout + r.result.stderr).trim().split("\n").slice(-1)[0]}`);
    if (failed.length > 0) {
      throw new Error(`lab: the push failed on ${failed.map((r) => `${r.host.name}:\n${r.result.stderr}`).join("\n")}`);
    }
  };
  // The nameserver first: the hosts' first DNS-01 challenges need their TSIG keys in Knot, and the
  // root, which the fleet's validating resolvers start from, needs its zones' DS.
  await pushAll(fleet.hosts.filter((h) => h.role === "dns"));
  if (fleet.hosts.includes(ROOT)) {
    await startRoot(fleet, dns);
    step("the signed root delegates to dns1 with its zones' DS");
  }
  await pushAll(fleet.hosts.filter((h) => h.ssh && h.role !== "dns"));
  step("fleet deployed over SSH");
  if (acme) {
    await waitForAcmeCertificates(fleet);
    step("every host serves certificates from the ACME CA");
  }

  if (fleet.hosts.includes(CLIENT) && fleet.hosts.includes(EXT)) startPeers(fleet, dns, trust);
  if (fleet.hosts.includes(RELAY)) startRelay(fleet);
  for (const host of fleet.hosts) {
    for (const { port, from } of serviceProbes(host, fleet.hosts)) await waitForPort(host.ipv4, port, 60_000, from);
  }
  step("peers started, every service answers");
  timings.total = Object.values(timings).reduce((a, b) => a + b, 0);
  return timings;
}

export async function down(): Promise<void> {
  const holder = otherLabHolder();
  if (holder !== undefined) throw new Error(`lab: in use by process ${holder}; not tearing it down`);
  await destroyLab();
  releaseLabLock();
}

/** By the 15 characters of a process name the kernel keeps; the longer prefixes first. */
const DAEMONS: Record<string, string> = {
  "prometheus-node": "node-exporter",
  "prometheus-aler": "alertmanager",
  "prometheus-blac": "blackbox-exporter",
  "prometheus-post": "postfix-exporter",
  "knot-exporter": "knot-exporter",
  mtail: "mtail",
  prometheus: "prometheus",
  master: "postfix",
  rspamd: "rspamd",
  nginx: "nginx",
  dovecot: "dovecot",
  knotd: "knot",
  sshd: "sshd",
  pebble: "pebble",
  "rest-server": "rest-server",
  unbound: "unbound",
  rbldnsd: "rbldnsd",
};

/** The daemons running on a lab host (by process name). */
export function runningDaemons(host: string): string[] {
  const names = new Set<string>();
  for (const pid of namespacePids(netnsName(host))) {
    try {
      const comm = readFileSync(`/proc/${pid}/comm`, "utf8").trim();
      const daemon = Object.entries(DAEMONS).find(([prefix]) => comm.startsWith(prefix));
      if (daemon) names.add(daemon[1]);
    } catch {
      // ended meanwhile
    }
  }
  return [...names].sort();
}

/** Where the lab's Prometheus and Alertmanager answer: from the admin host, whose networks their firewall admits. */
function monitoringLines(spec: FleetSpec, hosts: LabHost[]): string[] {
  const receiver = webhookReceiver(spec);
  return hosts
    .filter((h) => h.role === "monitoring")
    .flatMap((h) => [
      `  Prometheus  http://${h.ipv4}:${PROMETHEUS_PORT}/   Alertmanager  http://${h.ipv4}:${ALERTMANAGER_PORT}/   (${h.name}; from the admin host: ip netns exec ${netnsName("admin")} curl …)`,
      ...(receiver ? [`  Alerts      posted to ${receiver.url} on ${receiver.host.name} (GET it for every notification so far)`] : []),
    ]);
}

export function status(): string {
  const spec = labSpec();
  const { services, mailboxStore } = buildTopology(spec);
  const hosts = labHosts(spec);
  const live = new Set(labNamespaces());
  if (live.size === 0) return "mailfleet lab: down (start it with `./mf lab up`)";
  const rows = [
    ["HOST", "NAME", "IPv4", "IPv6", "UP", "DAEMONS"],
    ...hosts.map((h) => [h.name, h.fqdn, h.ipv4, h.ipv6, live.has(netnsName(h.name)) ? "yes" : "NO", runningDaemons(h.name).join(" ") || "-"]),
  ];
  const role = (r: string) => hosts.filter((h) => h.role === r).map((h) => `${h.name} ${h.ipv4}`).join(", ");
  return [
    `mailfleet lab: up (${live.size} namespaces)`,
    textTable(rows),
    "",
    `A mail client runs inside the client namespace, where DNS is the lab's: ip netns exec ${netnsName(CLIENT.name)} <program>`,
    `  IMAP        ${services.imap.fqdn} port ${IMAPS_PORT}, TLS            (${role("store")})`,
    `  Submission  ${services.smtp.fqdn} port ${SUBMISSION_PORT} STARTTLS or ${SUBMISSIONS_PORT} TLS, with AUTH  (${role("outbound")})`,
    `  Inbound     by MX of ${spec.domains.join(", ")}                 (${role("edge")})`,
    `  TLS trust   ${clientTrustFile()} (${spec.tls.mode === "acme" ? "Pebble's root: the hosts' certificates come from the lab's ACME CA" : "the fleet CA"})`,
    "  Users:",
    ...Object.entries(mailboxStore).map(([address, store]) => `    ${address}  password ${labPassword(address)}  (on ${store})`),
    `  Foreign peer: ${EXT.fqdn} (${EXT.ipv4}) receives for ${EXT_USER}@${EXT.fqdn.split(".").slice(1).join(".")}`,
    ...monitoringLines(spec, hosts),
    "",
    "A shell command on a host: ./mf lab exec <host> <command…>   (e.g. exec mx1 postqueue -p)",
  ].join("\n");
}

