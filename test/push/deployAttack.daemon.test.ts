/**
 * deploy.sh under attack, as root in a booted throwaway Debian 13 host (test/support/debian13.ts):
 * daemons (knot, _rspamd) plant symlinks where the script writes, bundles try to leave the role's
 * allowlist, a deploy is SIGKILLed mid-swap, two deploys race, files leave the bundle, and
 * firewalls would lock out the push. The dns role (Knot) runs its real checkers and daemon on
 * the nameserver's documentation addresses, added to the host's own loopback; the outbound role
 * (Postfix + rspamd) likewise on out1's addresses.
 */
import assert from "node:assert/strict";
import { dirname } from "node:path";
import { after, describe, it } from "node:test";
import { bundleFiles, deployCommand, DeployRole } from "../../components/push/bundle";
import { zoneFiles } from "../../components/records";
import { renderKnotServer } from "../../components/render/knot";
import { generateTsigSecret } from "../../components/keys/generate";
import { file, RenderedFile } from "../../components/render/file";
import { renderHost } from "../../components/render";
import { DKIM_KEY_TABLE } from "../../components/render/rspamd";
import { TLS_LIVE_DIR } from "../../components/render/input";
import { ROOT_KEY } from "../../components/render/resolver";
import { OUTBOUND_TLS_PATHS } from "../../components/render/outboundTls";
import { renderNameserverExporters, TEXTFILE_DIR } from "../../components/render/monitoring";
import { hostNamed } from "../../components/topology";
import { asUser, Debian13Host, RunResult } from "../support/debian13";
import { labInput } from "../support/lab";
import { lab } from "../support/labRecords";

const PUSHER = "192.0.2.99";
const STATE = "/var/lib/mailfleet";

const NFT_CONF = "/etc/nftables.conf";
/**
 * A rule set by the firewall contract, written here so that the tests choose the admin sets (a
 * rendered one, if the renderers bring one, is replaced): only table inet mailfleet, SSH from them.
 */
function nftConf(adminV4: string[], extra = ""): RenderedFile {
  const elements = adminV4.length ? ` elements = { ${adminV4.join(", ")} };` : "";
  return file(
    NFT_CONF,
    `table inet mailfleet {}
delete table inet mailfleet
table inet mailfleet {
  set admin_v4 { type ipv4_addr; flags interval;${elements} }
  set admin_v6 { type ipv6_addr; flags interval; }
  chain input {
    type filter hook input priority filter; policy drop;
    iif lo accept
    ct state established,related accept
    tcp dport 22 ip saddr @admin_v4 accept
    tcp dport 22 ip6 saddr @admin_v6 accept
    meta l4proto { tcp, udp } th dport 53 accept${extra}
  }
}
`,
  );
}

const LAB = lab();
/** One TSIG key per host for the whole file: two renders of one version are the same files. */
const TSIG = Object.fromEntries(LAB.topology.hosts.map((h) => [h.name, generateTsigSecret()]));
/** The lab's nameserver files (Knot and its exporters), with an extra TXT record so that two versions differ. */
function dnsFiles(version: string, firewall: RenderedFile | null = nftConf(["192.0.2.0/28", "192.0.2.96/30"])): RenderedFile[] {
  const set = { ...LAB.set, records: [...LAB.set.records, { name: "version.example.com", zone: "example.com", ttl: 300, owner: { domain: "example.com" }, type: "TXT" as const, text: version }] };
  return [...renderKnotServer(zoneFiles(set, LAB.spec), LAB.topology, TSIG).filter((f) => f.path !== NFT_CONF), ...renderNameserverExporters(LAB.topology), ...(firewall ? [firewall] : [])];
}

function dnsHost(): Debian13Host {
  const host = new Debian13Host([]).boot();
  sh(host, "ip addr add 192.0.2.53/32 dev lo && ip addr add 2001:db8:0:1::53/128 dev lo");
  return host;
}

function sh(host: Debian13Host, script: string, input?: string): string {
  const r = host.exec(["bash", "-c", script], input);
  assert.equal(r.code, 0, `${script}\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** Runs a bash script with variables (CMD: the dns deploy command, as pushed from PUSHER). */
function shWith(host: Debian13Host, vars: Record<string, string>, script: string): string {
  const env = Object.entries({ ...vars, CMD: deployCommand("dns"), SSH_CONNECTION: `${PUSHER} 50022 192.0.2.53 22` }).map(([k, v]) => `${k}=${v}`);
  const r = host.exec(["env", ...env, "bash", "-c", script]);
  assert.equal(r.code, 0, `${script}\n${r.stdout}${r.stderr}`);
  return r.stdout + r.stderr;
}

/** The push as the Pulumi command runs it: deployCommand over "SSH" from PUSHER, the bundle on stdin. */
function push(host: Debian13Host, role: DeployRole, bundle: string | RenderedFile[], from = PUSHER): RunResult {
  const input = typeof bundle === "string" ? bundle : bundleFiles(bundle);
  return host.exec(["env", `SSH_CONNECTION=${from} 50022 192.0.2.53 22`, "sh", "-c", deployCommand(role)], input);
}

function pushOk(host: Debian13Host, role: DeployRole, bundle: RenderedFile[]): string {
  const r = push(host, role, bundle);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return r.stdout + r.stderr;
}

/** Owner, group, mode, type, link target and content hash of everything below the roots. */
const LISTING = `find "$@" -xdev -printf '%p %u:%g %m %y %l\\n' 2>/dev/null | sort; find "$@" -xdev -type f -exec sha256sum {} + 2>/dev/null | sort`;
function listing(host: Debian13Host, roots = ["/etc", "/root", "/var/lib", "/var/www", "/usr/local", "/tmp", "/var/tmp"]): string[] {
  return host.exec(["bash", "-c", LISTING, "listing", ...roots]).stdout.split("\n").filter(Boolean);
}

/**
 * Entries new, changed or gone between two listings, except at or below the given paths and except
 * a new root:root 0755 directory above one of them (the push makes missing parents so).
 */
function changedOutside(before: string[], after: string[], prefixes: string[]): string[] {
  const old = new Set(before);
  const pathOf = (line: string) => (/^[0-9a-f]{64}  /.test(line) ? line.slice(66) : line.split(" ")[0]);
  const inside = (p: string) => prefixes.some((prefix) => p === prefix || p.startsWith(`${prefix}/`));
  const parent = (line: string) => / root:root 755 d $/.test(line) && prefixes.some((prefix) => prefix.startsWith(`${pathOf(line)}/`));
  return [...after.filter((l) => !old.has(l) && !parent(l)), ...before.filter((l) => !after.includes(l))].filter((l) => !inside(pathOf(l)));
}

const live = (host: Debian13Host, path: string) => host.exec(["cat", path]).stdout;
const nftTable = (host: Debian13Host) => host.exec(["nft", "list", "table", "inet", "mailfleet"]).stdout;
/** What every push leaves besides the bundle: its state, and which bundle the host runs (for the node exporter). */
const DEPLOY_RUNTIME = [STATE, `${TEXTFILE_DIR}/mailfleet_bundle.prom`];
const KNOT_RUNTIME = ["/var/lib/knot/journal", "/var/lib/knot/timers", "/var/lib/knot/catalog", "/var/lib/knot/keys", ...DEPLOY_RUNTIME];

describe("deploy.sh (dns role, Knot)", () => {
  const hosts: Debian13Host[] = [];
  const fresh = () => {
    const host = dnsHost();
    hosts.push(host);
    return host;
  };
  after(() => hosts.forEach((h) => h.dispose()));

  it("a knot account's symlinks at the zone directory change nothing outside the bundle and give knot nothing", () => {
    const host = fresh();
    const v1 = dnsFiles("v1");
    const paths = v1.map((f) => f.path);
    // Before the first push: knot owns /var/lib/knot (root:knot 0770) and plants the zone directory.
    sh(host, asUser("knot", ["ln", "-s", "/root", "/var/lib/knot/zones"]).join(" "));
    let before = listing(host);
    const first = pushOk(host, "dns", v1);
    assert.match(first, /removing the symlink planted at \/var\/lib\/knot\/zones/);
    assert.deepEqual(changedOutside(before, listing(host), [...paths, "/var/lib/knot/zones", ...KNOT_RUNTIME]), []);
    assert.equal(sh(host, "stat -c '%U:%G %a %F' /var/lib/knot/zones /var/lib/knot/zones/example.com.zone"), "root:knot 750 directory\nroot:knot 640 regular file\n");
    // After it: knot swaps the (now root's) directory for a link to /etc and tries the old
    // script's staged and backup names inside; only the swap itself is within its rights.
    const planted = host.exec([
      "bash",
      "-c",
      `${asUser("knot", ["bash", "-c", "'mv /var/lib/knot/zones /var/lib/knot/zones.real && ln -s /etc /var/lib/knot/zones'"]).join(" ")}
       for n in zones.real/example.com.zone.mailfleet-new zones.real/example.com.zone.mailfleet-old zones.real/x; do
         ${asUser("knot", ["ln", "-s", "/etc/shadow", "/var/lib/knot/$n"]).join(" ")} 2>/dev/null && echo "planted $n"
       done; true`,
    ]);
    assert.equal(planted.stdout, "", "knot could write into its root-owned zone directory");
    before = listing(host);
    pushOk(host, "dns", dnsFiles("v2"));
    assert.deepEqual(changedOutside(before, listing(host), [...paths, "/var/lib/knot/zones", ...KNOT_RUNTIME]), []);
    assert.match(live(host, "/var/lib/knot/zones/example.com.zone"), /"v2"/);
    assert.equal(sh(host, "kdig @192.0.2.53 TXT version.example.com +short"), '"v2"\n');
  });

  it("refuses bundles outside the allowlist, above its modes or with odd bytes, with nothing changed", () => {
    const host = fresh();
    pushOk(host, "dns", dnsFiles("v1"));
    const before = listing(host);
    const good = bundleFiles(dnsFiles("v1"));
    const [header, ...rest] = good.split("\n");
    const line = (l: string) => `mailfleet-bundle 1 1\n${l}\n`;
    for (const [bundle, message] of [
      [line("0644 root root /etc/shadow eA=="), /not a file the dns role may write/],
      [line("0600 root root /root/.ssh/authorized_keys eA=="), /not a file the dns role may write/],
      [line("0644 root root /etc/postfix/main.cf eA=="), /not a file the dns role may write/],
      [line("0644 root knot /var/lib/knot/zones/x.zone eA=="), /mode 0644 is above the 0640/],
      [line("0640 knot knot /var/lib/knot/zones/x.zone eA=="), /owner knot:knot is not allowed/],
      [line("0644 root root /etc/nftables.conf eA==").replace("/etc/nft", "/etc/nft\0"), /a byte outside its alphabet/],
      [line("0644 root root /etc/nftables.conf\teA=="), /a byte outside its alphabet/],
      [line("0644 root root /etc/nftables.conf eA==\r"), /a byte outside its alphabet/],
      [line("0644 root  root /etc/nftables.conf eA=="), /single spaces/],
      [line("0644 root root /etc/nftables.conf eA== "), /single spaces/],
      [line("0644 root root /etc/nftables.conf eA="), /bad content/],
      [[header, ...rest.slice(0, 1)].join("\n") + "\n", /truncated bundle/],
      [good.slice(0, -1), /no final newline/],
    ] as const) {
      const r = push(host, "dns", bundle);
      assert.equal(r.code, 1, JSON.stringify(bundle));
      assert.match(r.stderr, message, JSON.stringify(bundle));
    }
    assert.deepEqual(changedOutside(before, listing(host), KNOT_RUNTIME), []);
    // A symlinked parent directory is refused, not written through.
    sh(host, "mv /etc/knot /etc/knot.real && ln -s /etc/knot.real /etc/knot");
    const linked = listing(host);
    const r = push(host, "dns", dnsFiles("v2"));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /\/etc\/knot is a symlink or was moved while opened: refusing to write below it/);
    assert.deepEqual(changedOutside(linked, listing(host), KNOT_RUNTIME), []);
  });

  it("refuses a rule set that would lock out the push (old rules stay), accepts one that lets it in, refuses a syntax error", () => {
    const host = fresh();
    pushOk(host, "dns", dnsFiles("v1"));
    const rules = nftTable(host);
    assert.match(rules, /192\.0\.2\.96\/30/);
    const before = listing(host);
    for (const firewall of [nftConf([]), nftConf(["198.51.100.0/24"])]) {
      const r = push(host, "dns", dnsFiles("v2", firewall));
      assert.equal(r.code, 1);
      assert.match(r.stderr, /would lock out the push from 192\.0\.2\.99: add it to adminSshCidrs/);
      assert.equal(nftTable(host), rules);
      assert.deepEqual(changedOutside(before, listing(host), KNOT_RUNTIME), []);
    }
    const broken = push(host, "dns", dnsFiles("v2", nftConf([PUSHER], "\n    tcp dport 22 acept")));
    assert.equal(broken.code, 1);
    assert.match(broken.stderr, /validation failed: nothing was changed/);
    assert.equal(nftTable(host), rules);
    // The push from an IPv6 address is looked up in admin_v6, empty here.
    assert.match(push(host, "dns", dnsFiles("v2"), "2001:db8::99").stderr, /would lock out the push from 2001:db8::99/);
    pushOk(host, "dns", dnsFiles("v2", nftConf(["198.51.100.0/24", `${PUSHER}/32`])));
    assert.match(nftTable(host), /198\.51\.100\.0\/24/);
  });

  /**
   * Pushes v2 with knotd stopped, so that the deploy blocks in its reload (knotc waits for an
   * answer) with every new file in place and nothing committed; then signals its session and lets
   * knotd go on. Returns the live version at the signal, the session's status and the deploy's log.
   */
  function interruptMidSwap(host: Debian13Host, signal: "KILL" | "HUP"): string {
    return shWith(
      host,
      { BUNDLE: bundleFiles(dnsFiles("v2", nftConf(["192.0.2.0/24"]))) },
      `kill -STOP $(cat /run/knot/knot.pid)
       printf '%s' "$BUNDLE" | setsid sh -c "$CMD" >/tmp/push.log 2>&1 & pid=$!
       # Every file swapped and the new rule set loaded: the deploy is in knotc, waiting.
       for i in $(seq 300); do [ -d ${STATE}/dns/txn ] && nft list table inet mailfleet | grep -q '192.0.2.0/24' && break; sleep 0.1; done
       echo "live $(grep -o '"v[0-9]"' /var/lib/knot/zones/example.com.zone)"
       kill -${signal} -- -$pid
       kill -CONT $(cat /run/knot/knot.pid)
       wait $pid; echo "rc=$?"
       # A deploy that outlives its session (restoring) holds the lock until it is done.
       flock ${STATE}/lock true
       cat /tmp/push.log`,
    );
  }

  it("a deploy SIGKILLed mid-swap is rolled back by the next run, which leaves the old set live", () => {
    const host = fresh();
    pushOk(host, "dns", dnsFiles("v1"));
    const old = { zone: live(host, "/var/lib/knot/zones/example.com.zone"), rules: nftTable(host) };
    assert.match(interruptMidSwap(host, "KILL"), /^live "v2"\nrc=137\n/);
    assert.notEqual(nftTable(host), old.rules);
    // The next run, refused by validation for its own bundle, first restores the interrupted set.
    const bogus = file("/etc/knot/knot.conf", "server:\n  bogus: 1\n", { mode: 0o640, group: "knot" });
    const next = push(host, "dns", [...dnsFiles("v3").filter((f) => f.path !== bogus.path), bogus]);
    assert.equal(next.code, 1);
    assert.match(next.stderr, /cut off mid-swap: restoring its previous files first/);
    assert.match(next.stderr, /validation failed/);
    assert.equal(live(host, "/var/lib/knot/zones/example.com.zone"), old.zone);
    assert.equal(nftTable(host), old.rules);
    assert.equal(sh(host, "kdig @192.0.2.53 TXT version.example.com +short"), '"v1"\n');
    assert.equal(sh(host, `ls -A ${STATE}/dns /var/lib/knot/zones | grep -c 'txn\\|done\\|mailfleet-new' || true`), "0\n");
    assert.match(pushOk(host, "dns", dnsFiles("v1")), /no change/);
  });

  it("a deploy whose connection drops (SIGHUP) mid-swap puts the previous set back itself", () => {
    const host = fresh();
    pushOk(host, "dns", dnsFiles("v1"));
    const old = { zone: live(host, "/var/lib/knot/zones/example.com.zone"), rules: nftTable(host) };
    const out = interruptMidSwap(host, "HUP");
    assert.match(out, /^live "v2"\nrc=129\n/, out);
    assert.match(out, /stopped before the new files were committed \(status 129\): restoring the previous files/);
    assert.equal(live(host, "/var/lib/knot/zones/example.com.zone"), old.zone);
    assert.equal(nftTable(host), old.rules);
    assert.equal(sh(host, "kdig @192.0.2.53 TXT version.example.com +short"), '"v1"\n');
    assert.equal(sh(host, `ls -A ${STATE}/dns`), "manifest\n");
  });

  it("rolling back to a set without a firewall deletes table inet mailfleet; dropping the file later does too", () => {
    const host = fresh();
    pushOk(host, "dns", dnsFiles("v1", null));
    const debian = live(host, "/etc/nftables.conf");
    assert.match(debian, /flush ruleset/);
    assert.match(interruptMidSwap(host, "HUP"), /restoring the previous files/);
    assert.notEqual(host.exec(["nft", "list", "table", "inet", "mailfleet"]).code, 0, "the rolled-back firewall is still loaded");
    // Debian's own file is back on disk, and never loaded: it would flush every other table.
    assert.equal(live(host, "/etc/nftables.conf"), debian);
    assert.equal(sh(host, "nft list tables"), "");
    pushOk(host, "dns", dnsFiles("v2"));
    assert.match(nftTable(host), /admin_v4/);
    assert.match(pushOk(host, "dns", dnsFiles("v2", null)), /removed: \/etc\/nftables.conf/);
    assert.notEqual(host.exec(["nft", "list", "table", "inet", "mailfleet"]).code, 0);
  });

  it("two concurrent deploys to one host serialize on the lock", () => {
    const host = fresh();
    pushOk(host, "dns", dnsFiles("v1"));
    const out = shWith(
      host,
      { A: bundleFiles(dnsFiles("v2")), B: bundleFiles(dnsFiles("v3")) },
      `kill -STOP $(cat /run/knot/knot.pid)
       printf '%s' "$A" | sh -c "$CMD" >/tmp/a.log 2>&1 & a=$!
       for i in $(seq 300); do [ -d ${STATE}/dns/txn ] && break; sleep 0.1; done
       printf '%s' "$B" | sh -c "$CMD" >/tmp/b.log 2>&1 & b=$!
       sleep 2
       # A is stuck in its reload, holding the lock: B waits and has touched nothing.
       echo "live $(grep -o '"v[0-9]"' /var/lib/knot/zones/example.com.zone)"
       kill -0 $b && echo "b waiting"
       kill -CONT $(cat /run/knot/knot.pid)
       wait $a; echo "a=$?"; wait $b; echo "b=$?"
       echo "live $(grep -o '"v[0-9]"' /var/lib/knot/zones/example.com.zone)"
       cat /tmp/b.log`,
    );
    assert.match(out, /^live "v2"\nb waiting\na=0\nb=0\nlive "v3"\n/, out);
    assert.match(out, /waiting for another deploy to this host/);
  });
});

/**
 * out1 of the lab, signing with `active` of lab1/lab2, with or without a smarthost; with the fleet
 * CA's certificates, so that no certbot run (deployCerts.daemon.test.ts) writes beside the attacks here.
 */
function outboundFiles(active: "lab1" | "lab2", smarthost: boolean): RenderedFile[] {
  const input = labInput((s) => ({
    ...s,
    tls: { ...s.tls, mode: "fleet-ca" },
    dkim: { selectors: ["lab1", "lab2"], active },
    smarthost: smarthost ? { host: "relay.example.net", port: 587, username: "u@example.com", password: "pw" } : undefined,
  }));
  return [...renderHost(input, hostNamed(input.topology, "out1")).filter((f) => f.path !== NFT_CONF), nftConf(["192.0.2.96/30"])];
}

describe("deploy.sh (outbound role, Postfix + rspamd)", () => {
  const hosts: Debian13Host[] = [];
  const fresh = () => {
    const host = new Debian13Host([file("/etc/resolv.conf", "nameserver 127.0.0.1\n")]).boot();
    hosts.push(host);
    const { ipv4, ipv6 } = labInput().addresses.out1;
    sh(host, `ip addr add ${ipv4}/32 dev lo${ipv6 ? ` && ip addr add ${ipv6}/128 dev lo` : ""}`);
    return host;
  };
  after(() => hosts.forEach((h) => h.dispose()));
  const KEYS = DKIM_KEY_TABLE;
  const SASL = "/etc/postfix/sasl_passwd";
  // rspamd, Postfix, Valkey (out1 is a state host), nginx (its temporary directories, made at its first start;
  // it serves rspamd's metrics) and mta-sts-daemon (its policy cache) keep their own state there; the DKIM directory is asserted on
  // its own; the daemons' certificates are installed by deploy.sh itself, outside the bundle (deployCerts.daemon.test.ts),
  // and so is unbound's trust anchor, seeded once (render/resolver.ts) and kept current by unbound.
  const RUNTIME = ["/var/lib/rspamd", "/var/lib/postfix", "/var/lib/valkey", "/var/lib/nginx", dirname(OUTBOUND_TLS_PATHS.stsCache), ...DEPLOY_RUNTIME, TLS_LIVE_DIR, ROOT_KEY];

  it("an _rspamd account's symlinks (staged, backup, key names; the key directory itself) change nothing outside and give it nothing", () => {
    const host = fresh();
    const v1 = outboundFiles("lab1", true);
    const paths = v1.map((f) => f.path);
    // The state the old script left: the key directory _rspamd's own; the daemon plants links
    // at the key and at the old staged and backup names.
    sh(host, "install -d -o _rspamd -g _rspamd -m 0750 /var/lib/rspamd/dkim");
    sh(
      host,
      asUser("_rspamd", [
        "sh",
        "-c",
        `'ln -s /etc/passwd ${KEYS} && ln -s /etc/passwd ${KEYS}.mailfleet-new && ln -s /etc/shadow ${KEYS}.mailfleet-old && ln -s /etc/passwd /var/lib/rspamd/dkim/.mailfleet-new.AAAAAAAA'`,
      ]).join(" "),
    );
    let before = listing(host);
    const first = pushOk(host, "outbound", v1);
    assert.match(first, /replacing the symlink at \/var\/lib\/rspamd\/dkim\/keys\.map/);
    assert.deepEqual(changedOutside(before, listing(host), [...paths, ...RUNTIME]), []);
    assert.equal(
      sh(host, `stat -c '%U:%G %a %F' /var/lib/rspamd/dkim ${KEYS} /etc/passwd /etc/shadow`),
      "root:_rspamd 750 directory\nroot:_rspamd 640 regular file\nroot:root 644 regular file\nroot:shadow 640 regular file\n",
    );
    // Now the directory is root's: _rspamd can only swap it for a link to /etc (its parent is _rspamd's).
    sh(host, asUser("_rspamd", ["sh", "-c", "'mv /var/lib/rspamd/dkim /var/lib/rspamd/dkim.old && ln -s /etc /var/lib/rspamd/dkim'"]).join(" "));
    assert.notEqual(host.exec(asUser("_rspamd", ["ln", "-s", "/etc/passwd", "/var/lib/rspamd/dkim.old/x"])).code, 0);
    before = listing(host);
    pushOk(host, "outbound", outboundFiles("lab2", true));
    assert.deepEqual(changedOutside(before, listing(host), [...paths, ...RUNTIME]), []);
    assert.equal(sh(host, `stat -c '%U:%G %a %F' /var/lib/rspamd/dkim ${KEYS}`), "root:_rspamd 750 directory\nroot:_rspamd 640 regular file\n");
    assert.match(live(host, KEYS), /^example\.com example\.com:lab2:/m);
    // Nothing below the roots that _rspamd did not own before is its now.
    const owned = (lines: string[]) => lines.filter((l) => / _rspamd:/.test(l)).map((l) => l.split(" ")[0]);
    const ownedBefore = new Set(owned(before));
    assert.deepEqual(owned(listing(host)).filter((p) => !ownedBefore.has(p) && !p.startsWith("/var/lib/rspamd/") ), []);
  });

  it("a rotated-away DKIM key and a removed smarthost's credentials are gone after the next push, and back after a rollback", () => {
    const host = fresh();
    pushOk(host, "outbound", outboundFiles("lab1", true));
    const exists = (p: string) => host.exec(["test", "-e", p]).code === 0;
    const saslV1 = live(host, SASL);
    const keysV1 = live(host, KEYS);
    // The key table holds the active selector's keys only.
    assert.match(keysV1, /^example\.com example\.com:lab1:/m);
    assert.doesNotMatch(keysV1, /:lab2:/);
    assert.ok(exists(SASL));
    // Postfix cannot come back up: its submission port is taken. The new set is swapped in, fails to
    // reload, and the previous one (key and credentials included) is put back.
    const { ipv4 } = labInput().addresses.out1;
    sh(
      host,
      `postfix stop >/dev/null 2>&1; for i in $(seq 50); do postfix status >/dev/null 2>&1 || break; sleep 0.1; done
       setsid python3 -c 'import socket, time; s = socket.socket(); s.bind(("${ipv4}", 587)); s.listen(); time.sleep(600)' >/dev/null 2>&1 &
       echo $! > /tmp/squatter.pid; sleep 0.5`,
    );
    const failed = push(host, "outbound", outboundFiles("lab2", false));
    assert.equal(failed.code, 1, failed.stderr);
    assert.match(failed.stderr, /reload failed: previous files restored/);
    assert.equal(live(host, KEYS), keysV1);
    assert.equal(live(host, SASL), saslV1);
    assert.equal(sh(host, `stat -c '%U:%G %a' ${SASL} ${KEYS}`), "root:root 600\nroot:_rspamd 640\n");
    sh(host, "kill $(cat /tmp/squatter.pid)");
    const next = pushOk(host, "outbound", outboundFiles("lab2", false));
    assert.match(next, /removed: \/etc\/postfix\/sasl_passwd/);
    assert.ok(!exists(SASL));
    assert.match(live(host, KEYS), /^example\.com example\.com:lab2:/m);
    assert.doesNotMatch(live(host, KEYS), /:lab1:/);
    assert.doesNotMatch(sh(host, `cat ${STATE}/outbound/manifest`), /sasl_passwd/);
  });
});
