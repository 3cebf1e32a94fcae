/**
 * The IMAP store's Dovecot files, checked by Dovecot 2.4 itself in the Debian 13 root: doveconf
 * reads them back, then the daemon runs them and real clients (LMTP, IMAPS, the auth protocol
 * Postfix speaks, ManageSieve) talk to it — one store alone, and two stores proxying to each other.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RenderedFile, file } from "../../components/render/file";
import { liveTls, TLS_LIVE_DIR, TLS_PATHS, TLS_PEERS_CA } from "../../components/render/input";
import { RunResult, withDebian13Host } from "../support/debian13";
import { LOCK_PATHS } from "../../components/render/lock";
import { LEARN_PATHS } from "../../components/render/dovecot";
import { filesOf, LAB, labInput } from "./dovecot.fixtures";

const password = (address: string) => `${address.split("@")[0]}-lab-password`;

/**
 * Shell helpers run inside the host: a throwaway fleet CA and host certificates at TLS_PATHS
 * (DNS SAN only, like the fleet's own), the vmail user that host provisioning creates, and a
 * wait for Dovecot's listeners. Dovecot is always stopped on the way out, even on a failure.
 */
const PRELUDE = `
exec 2>&1
mkdir -p ${dirOf(TLS_PATHS.ca)}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /root/ca.key -out ${TLS_PATHS.ca} -days 2 -subj /CN=lab-ca 2>/dev/null
cert() { # cert <dir> <fqdn>: the host's lineage files (named by its label) and the peers' CA file, as deploy.sh installs them
  mkdir -p "$1"
  l=\${2%%.*}
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1/$l.key" -out /root/host.csr -subj "/CN=$2" 2>/dev/null
  printf 'subjectAltName=DNS:%s\\n' "$2" > /root/san.ext
  openssl x509 -req -in /root/host.csr -CA ${TLS_PATHS.ca} -CAkey /root/ca.key -CAcreateserial -days 2 -extfile /root/san.ext -out /root/leaf.crt 2>/dev/null
  cat /root/leaf.crt ${TLS_PATHS.ca} > "$1/$l.crt"; chmod 600 "$1/$l.key"
  cp ${TLS_PATHS.ca} "$1/peers.crt"
}
groupadd -g 5000 vmail && useradd -u 5000 -g 5000 -d /var/vmail -M -s /usr/sbin/nologin vmail
mkdir -p /var/vmail && chown vmail:vmail /var/vmail
listening() { # listening [nsenter prefix...]: waits until IMAPS accepts
  for i in $(seq 50); do "$@" ss -Hltn | grep -q ':993 ' && return 0; sleep 0.1; done; echo "dovecot did not start"
}
`;

/** Where a second store started in a nested namespace leaves its master's pid, for the cleanup. */
const STORE2_PID = "/root/store2.pid";

/**
 * Runs script in the host and then stops every Dovecot it started (what `doveadm stop` does:
 * SIGTERM to the master, by its pid), whether the script succeeds, fails, has a syntax error or
 * is killed at the host's timeout: the script runs as a child, so this part always gets to run.
 */
function runStores(files: RenderedFile[], script: string): RunResult {
  const supervise = `
masters() { for f in /run/dovecot/master.pid ${STORE2_PID}; do [ -f "$f" ] && cat "$f"; done; }
stop() {
  pids=$(masters); [ -n "$pids" ] && kill $pids 2>/dev/null
  for i in $(seq 50); do alive=; for p in $pids; do kill -0 "$p" 2>/dev/null && alive=1; done; [ -z "$alive" ] && return; sleep 0.1; done
}
trap 'stop; exit 1' TERM INT
sh -c "$1" & wait $!; rc=$?
stop
exit $rc`;
  return withDebian13Host([...files, CLIENT], (host) => host.run(["sh", "-c", supervise, "sh", PRELUDE + script]));
}
function dirOf(path: string): string {
  return path.slice(0, path.lastIndexOf("/"));
}

/**
 * The clients, in Python's standard library: each prints one JSON line. Certificates are not
 * verified here (a throwaway CA); the store-to-store proxy verifies its own.
 */
const CLIENT = file(
  "/root/client.py",
  String.raw`
import base64, imaplib, json, smtplib, socket, ssl, sys
# A stalled peer fails the command it stalls, with a traceback naming it, not the run's whole bound.
socket.setdefaulttimeout(30)
cmd, ip, *args = sys.argv[1:]
insecure = ssl.create_default_context(); insecure.check_hostname = False; insecure.verify_mode = ssl.CERT_NONE
out = {"cmd": cmd}
if cmd == "lmtp":  # lmtp <ip> <rcpt> <subject> <body bytes>
    rcpt, subject, size = args[0], args[1], int(args[2])
    body = ("x" * 76 + "\r\n") * (size // 78)
    c = smtplib.LMTP(ip, 24)
    out["greeting"] = c.ehlo()[1].decode()
    c.mail("sender@example.net")
    out["rcpt"] = list(c.rcpt(rcpt)); out["rcpt"][1] = out["rcpt"][1].decode()
    if out["rcpt"][0] == 250:
        code, msg = c.data(f"From: sender@example.net\r\nTo: {rcpt}\r\nSubject: {subject}\r\n\r\n{body}")
        out["data"] = [code, msg.decode()]
    c.quit()
elif cmd == "imap":  # imap <ip> <user> <password> [mailbox]
    # Dovecot 2.4.1's login proxy now and then stops passing the backend's answer on (README: Known
    # issues): a mail client reconnects, and so does this one, once, counting it in "stalled".
    for attempt in (1, 2):
        try:
            c = imaplib.IMAP4_SSL(ip, 993, ssl_context=insecure)
            out["greeting"] = c.welcome.decode()
            try:
                c.login(args[0], args[1])
            except imaplib.IMAP4.error as e:
                out["login"] = str(e)
            else:
                out["login"] = "OK"
                c.select(args[2] if len(args) > 2 else "INBOX")
                nums = c.search(None, "ALL")[1][0].split()
                out["messages"] = [c.fetch(n, "(BODY.PEEK[HEADER.FIELDS (SUBJECT DELIVERED-TO)])")[1][0][1].decode() for n in nums]
                out["quota"] = c.getquotaroot("INBOX")[1][1][0].decode()
                c.logout()
            break
        except TimeoutError:
            if attempt == 2: raise
            out["stalled"] = 1
elif cmd == "sasl":  # sasl <ip> <user> <password>: what Postfix (smtpd_sasl_type = dovecot) sends for AUTH over TLS
    s = socket.create_connection((ip, 12345)); f = s.makefile("rwb")
    f.write(b"VERSION\t1\t2\nCPID\t4242\n"); f.flush()
    hello = []
    while not hello or hello[-1] != "DONE":
        hello.append(f.readline().decode().rstrip("\n"))
    out["mechs"] = sorted(l.split("\t")[1] for l in hello if l.startswith("MECH\t"))
    resp = base64.b64encode(f"\0{args[0]}\0{args[1]}".encode()).decode()
    f.write(f"AUTH\t1\tPLAIN\tservice=smtp\tnologin\tlip={ip}\trip=192.0.2.21\tsecured\tresp={resp}\n".encode()); f.flush()
    out["reply"] = f.readline().decode().rstrip("\n")
elif cmd == "sieve":  # sieve <ip> <user> <password> [script]: ManageSieve, STARTTLS, AUTHENTICATE PLAIN, upload and activate
    s = socket.create_connection((ip, 4190)); f = s.makefile("rwb")
    def response():
        lines = []
        while True:
            line = f.readline().decode().rstrip("\r\n"); lines.append(line)
            if line.split(" ")[0] in ("OK", "NO", "BYE"): return lines
    out["before_tls"] = response()
    f.write(b"STARTTLS\r\n"); f.flush(); response()
    t = insecure.wrap_socket(s); f = t.makefile("rwb")
    out["after_tls"] = response()
    f.write(f'AUTHENTICATE "PLAIN" "{base64.b64encode(f"\0{args[0]}\0{args[1]}".encode()).decode()}"\r\n'.encode()); f.flush()
    out["auth"] = response()[-1]
    if len(args) > 2:
        script = args[2].encode()
        f.write(b'PUTSCRIPT "filter" {%d+}\r\n%s\r\n' % (len(script), script)); f.flush()
        out["put"] = response()[-1]
        f.write(b'SETACTIVE "filter"\r\n'); f.flush()
        out["active"] = response()[-1]
print(json.dumps(out))
`,
  { mode: 0o755 },
);

/** The JSON lines the client printed, in order. */
function clientResults(r: RunResult): Record<string, any>[] {
  return r.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
}
function section(r: RunResult, name: string): string {
  const m = new RegExp(`^== ${name}\\n([\\s\\S]*?)(?=^== |(?![\\s\\S]))`, "m").exec(r.stdout);
  assert.ok(m, `no "${name}" section in:\n${r.stdout}`);
  return m[1];
}

describe("Dovecot 2.4 files of the IMAP stores", () => {
  for (const store of ["store1", "store2"]) {
    it(`${store}: doveconf reads the config without a word of complaint`, () => {
      const r = withDebian13Host(filesOf(LAB, store), (host) => host.run(["doveconf", "-n"]));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, "");
    });
  }

  it("doveconf reads back the settings that matter", () => {
    const expected: Record<string, string> = {
      protocols: "imap lmtp sieve",
      ssl: "required",
      ssl_min_protocol: "TLSv1.2",
      // doveconf files the ssl_server_* and ssl_client_* settings under their filters.
      "ssl_server/cert_file": liveTls("store1").cert,
      "ssl_server/key_file": liveTls("store1").key,
      "ssl_client/ca_file": TLS_PEERS_CA,
      ssl_client_require_valid_cert: "yes",
      auth_allow_cleartext: "no",
      auth_mechanisms: "plain login",
      recipient_delimiter: "+",
      lmtp_proxy: "yes",
      lmtp_rcpt_check_quota: "yes",
      quota_full_tempfail: "no",
      postmaster_address: "postmaster@example.com",
      mail_driver: "maildir",
      mail_home: "/var/vmail/%{user | domain}/%{user | username}",
      mail_uid: "vmail",
      mail_gid: "vmail",
      login_greeting: "store1.mail.example.com ready.",
      login_trusted_networks: "192.0.2.32 2001:db8:0:1::32",
    };
    const script = Object.keys(expected).map((s) => `printf '%s=%s\\n' ${s} "$(doveconf -h ${s})"`).join("\n");
    const r = withDebian13Host(filesOf(LAB, "store1"), (host) => host.run(["sh", "-c", script]));
    assert.equal(r.stderr, "");
    const got = Object.fromEntries(r.stdout.trim().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
    assert.deepEqual(got, expected);
  });

  it("learning from users: doveconf holds IMAPSieve on Junk (in) and from Junk (out), sievec compiles every global script, and the filing rule sends X-Spam-Status: Yes to Junk only", () => {
    const message = (status: string) => `From: a@example.net\nTo: alice@example.com\nSubject: s\nX-Spam-Status: ${status}\n\nbody\n`;
    const script = [
      "exec 2>&1",
      // The mail user, as deploy.sh makes it before validating (sievec runs with dovecot.conf's mail_uid).
      "groupadd -g 5000 vmail && useradd -u 5000 -g 5000 -d /var/vmail -M -s /usr/sbin/nologin vmail",
      "echo '== config'; doveconf -n | tr -s ' ' | grep -E 'imap_sieve|sieve_imapsieve|sieve_extprograms|vnd.dovecot.pipe|sieve_pipe_bin_dir|imapsieve_from|sieve_script|cause|type = before'",
      `echo '== compile'; for f in ${LEARN_PATHS.sieveDir}/*.sieve; do sievec "$f" /root/out.svbin && echo "ok \${f##*/}"; done`,
      // In place, as root, as deploy.sh's reload_dovecot does: the mail user cannot write there.
      `sievec ${LEARN_PATHS.sieveDir}`,
      `printf '${message("Yes, score=7.10")}' > /tmp/spam.eml; printf '${message("No, score=1.00")}' > /tmp/ham.eml`,
      `echo '== spam'; sieve-test ${LEARN_PATHS.fileJunk} /tmp/spam.eml | grep -i 'store message'`,
      `echo '== ham'; sieve-test ${LEARN_PATHS.fileJunk} /tmp/ham.eml | grep -i 'store message'`,
      // A personal script may not pipe: the extension is the global scripts' only.
      `echo '== personal'; printf 'require "vnd.dovecot.pipe";\\npipe "mailfleet-learn" ["spam"];\\n' > /root/p.sieve; sievec -u nobody /root/p.sieve /root/p.svbin >/dev/null 2>&1 && echo compiled || echo refused`,
    ].join("\n");
    const r = withDebian13Host(filesOf(LAB, "store1"), (host) => host.run(["sh", "-c", script]));
    const config = section(r, "config");
    for (const expected of ["imap_sieve = yes", "sieve_imapsieve = yes", "sieve_extprograms = yes", "vnd.dovecot.pipe = yes", `sieve_pipe_bin_dir = ${LEARN_PATHS.pipeDir}`, "imapsieve_from Junk {", "sieve_script report-spam {", "sieve_script report-ham {", "sieve_script file-junk {", "cause = copy"]) {
      assert.ok(config.includes(expected), `doveconf -n lacks ${expected}:\n${config}`);
    }
    assert.deepEqual(section(r, "compile").trim().split("\n"), ["ok file-junk.sieve", "ok report-ham.sieve", "ok report-spam.sieve"]);
    assert.match(section(r, "spam"), /store message in folder: Junk/);
    assert.match(section(r, "ham"), /store message in folder: INBOX/);
    assert.equal(section(r, "personal").trim(), "refused");
  });

  it("mailfleet-lock (./mf lock): a locked login's SASL AUTH is refused at once, others go on, unlock lets it in; no login that could inject a field", () => {
    const script = `
ip addr add 192.0.2.31/32 dev lo && ip -6 addr add 2001:db8:0:1::31/128 dev lo nodad
cert ${TLS_LIVE_DIR} store1.mail.example.com
dovecot && listening
sasl() { python3 /root/client.py sasl 192.0.2.31 "$1" "$2"; }
echo "== locked"; ${LOCK_PATHS.script} lock ALICE@example.com; sasl alice@example.com alice-lab-password; sasl bob@example.org bob-lab-password
echo "== list"; ${LOCK_PATHS.script} list
echo "== unlocked"; ${LOCK_PATHS.script} unlock alice@example.com; sasl alice@example.com alice-lab-password
echo "== injection"; ${LOCK_PATHS.script} lock 'x:y@example.com'; echo "exit=$?"; ${LOCK_PATHS.script} list
`;
    const r = runStores(filesOf(LAB, "store1"), script);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const replies = (name: string) => section(r, name).split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l).reply as string);
    assert.match(section(r, "locked"), /: locked alice@example\.com/);
    const [alice, bob] = replies("locked");
    assert.match(alice, /^FAIL\t1\t/, "the locked login is refused");
    assert.match(bob, /^OK\t1\tuser=bob@example\.org/, "another login goes on");
    assert.equal(section(r, "list").trim(), "alice@example.com");
    assert.match(replies("unlocked")[0], /^OK\t1\tuser=alice@example\.com/, "unlocked, she is let in");
    assert.match(section(r, "injection"), /not a login[\s\S]*exit=2/);
  });

  it("store1 runs: auth, quota, LMTP on port 24 to alice+news@, IMAPS 993, Postfix SASL on 12345, ManageSieve on 4190", () => {
    const script = `
ip addr add 192.0.2.31/32 dev lo && ip -6 addr add 2001:db8:0:1::31/128 dev lo nodad
cert ${TLS_LIVE_DIR} store1.mail.example.com
dovecot && listening
echo "== ports"; ss -Hltn | awk '{print $4}' | sort
echo "== auth good"; doveadm auth test alice@example.com alice-lab-password; echo "exit=$?"
echo "== auth bad"; doveadm auth test alice@example.com not-her-password; echo "exit=$?"
echo "== user"; doveadm user alice@example.com; echo "exit=$?"
echo "== clients"
python3 /root/client.py sieve 192.0.2.31 alice@example.com alice-lab-password 'require "fileinto"; if header :contains "subject" "[list]" { fileinto "Lists"; }'
python3 /root/client.py lmtp 192.0.2.31 alice+news@example.com "to alice plus news" 300
python3 /root/client.py lmtp 192.0.2.31 alice@example.com "[list] digest" 300
python3 /root/client.py imap 192.0.2.31 alice@example.com alice-lab-password
python3 /root/client.py imap 192.0.2.31 alice@example.com alice-lab-password Lists
python3 /root/client.py imap 192.0.2.31 alice@example.com not-her-password
python3 /root/client.py sasl 192.0.2.31 alice@example.com alice-lab-password
python3 /root/client.py sasl 192.0.2.31 bob@example.org bob-lab-password
python3 /root/client.py sasl 192.0.2.31 alice@example.com not-her-password
echo "== maildir"; find /var/vmail -type f -path '*/Maildir/*/cur/*' -o -type f -path '*/Maildir/cur/*' | sort
`;
    const r = runStores(filesOf(LAB, "store1"), script);
    assert.equal(r.code, 0, r.stdout);

    // IMAPS, ManageSieve and nothing else in public; LMTP, auth and the metrics on the host's own addresses only.
    assert.deepEqual(section(r, "ports").trim().split("\n"), [
      "0.0.0.0:4190",
      "0.0.0.0:993",
      "192.0.2.31:12345",
      "192.0.2.31:24",
      "192.0.2.31:9900",
      "[2001:db8:0:1::31]:12345",
      "[2001:db8:0:1::31]:24",
      "[2001:db8:0:1::31]:9900",
      "[::]:4190",
      "[::]:993",
    ]);
    assert.match(section(r, "auth good"), /auth succeeded[\s\S]*exit=0/);
    assert.match(section(r, "auth bad"), /auth failed[\s\S]*exit=77/);
    assert.match(section(r, "user"), /home\s+\/var\/vmail\/example\.com\/alice\n[\s\S]*quota_storage_size\s+512M\n[\s\S]*exit=0/);

    const [sieve, lmtp, lmtpList, imap, imapLists, imapBad, sasl, saslProxied, saslBad] = clientResults(r);
    assert.ok(sieve.after_tls.some((l: string) => /^"SASL" "PLAIN LOGIN"$/.test(l)), `${sieve.after_tls}`);
    assert.match(sieve.auth, /^OK/);
    assert.match(sieve.put, /^OK/);
    assert.match(sieve.active, /^OK/);

    assert.match(lmtp.greeting, /^store1\.mail\.example\.com\b/);
    assert.equal(lmtp.rcpt[0], 250);
    assert.match(lmtp.data[1], /^2\.0\.0 <alice\+news@example\.com> .* Saved$/);
    assert.equal(lmtpList.data[0], 250);

    assert.match(imap.greeting, /^\* OK \[CAPABILITY .*\] store1\.mail\.example\.com ready\.$/);
    assert.doesNotMatch(imap.greeting, /Dovecot|\d+\.\d+\.\d+ /, "the greeting names no software version");
    assert.equal(imap.login, "OK");
    assert.deepEqual(imap.messages, ["Delivered-To: alice+news@example.com\r\nSubject: to alice plus news\r\n\r\n"]);
    // Her Sieve filter ran at LMTP delivery and filed the list mail into a folder it created.
    assert.deepEqual(imapLists.messages, ["Delivered-To: alice@example.com\r\nSubject: [list] digest\r\n\r\n"]);
    assert.match(imap.quota, /^"User quota" \(STORAGE \d+ 524288\)$/, "512 MB, in KiB");
    assert.match(imapBad.login, /AUTHENTICATIONFAILED/);

    assert.deepEqual(sasl.mechs, ["LOGIN", "PLAIN"]);
    assert.match(sasl.reply, /^OK\t1\tuser=alice@example\.com/);
    assert.match(saslProxied.reply, /^OK\t1\tuser=bob@example\.org/, "the auth store answers for users of every store");
    assert.match(saslBad.reply, /^FAIL\t1\t/);

    assert.deepEqual(section(r, "maildir").trim().split("\n").map((l) => l.split("/").slice(3, -2).join("/")), ["example.com/alice/Maildir/.Lists", "example.com/alice/Maildir"]);
  });

  it("store2 passes store1's user on to store1 (IMAPS with store1's certificate verified, LMTP), once", () => {
    // store2 runs in a nested network and mount namespace, its files bind-mounted at the real
    // paths, joined to store1 by a veth pair on the lab addresses.
    const store2Files: RenderedFile[] = filesOf(LAB, "store2").map((f) => ({ ...f, path: f.path.replace("/etc/dovecot/", "/srv/store2/dovecot/") }));
    const script = `
cert ${TLS_LIVE_DIR} store1.mail.example.com
cert /srv/store2/tls store2.mail.example.com
mkdir -p /srv/store2/vmail && chown vmail:vmail /srv/store2/vmail
unshare --net --mount --propagation private sh -c 'mount --bind /srv/store2/dovecot /etc/dovecot && mount --bind /srv/store2/tls ${TLS_LIVE_DIR} &&
  mount --bind /srv/store2/vmail /var/vmail && mount -t tmpfs tmpfs /run && ip link set lo up &&
  for i in $(seq 50); do ip link show v2 >/dev/null 2>&1 && break; sleep 0.1; done &&
  ip addr add 192.0.2.32/24 dev v2 && ip -6 addr add 2001:db8:0:1::32/64 dev v2 nodad && ip link set v2 up && exec dovecot -F' &
S2=$!; echo $S2 > ${STORE2_PID}
in2() { nsenter -t $S2 -n -m -r -w "$@"; }
sleep 0.2
ip link add v1 type veth peer name v2 netns $S2
ip addr add 192.0.2.31/24 dev v1 && ip -6 addr add 2001:db8:0:1::31/64 dev v1 nodad && ip link set v1 up
dovecot && listening && listening in2
echo "== auth proxied"; in2 doveadm auth test -x service=imap alice@example.com alice-lab-password; echo "exit=$?"
echo "== auth proxied bad"; in2 doveadm auth test -x service=imap alice@example.com not-her-password; echo "exit=$?"
echo "== store2 ports"; in2 ss -Hltn | awk '{print $4}' | sed 's/.*://' | sort -un
echo "== store2 sasl"; in2 python3 /root/client.py sasl 192.0.2.32 alice@example.com not-her-password 2>&1 | tail -1
echo "== clients"
python3 /root/client.py lmtp 192.0.2.32 alice+news@example.com "to alice via store2" 300
python3 /root/client.py lmtp 192.0.2.32 bob@example.org "to bob on store2" 300
python3 /root/client.py imap 192.0.2.32 alice@example.com alice-lab-password
python3 /root/client.py imap 192.0.2.32 alice@example.com not-her-password
python3 /root/client.py sieve 192.0.2.32 alice@example.com alice-lab-password
# A message read over IMAP has moved from new/ to cur/.
echo "== store1 maildirs"; cd /var/vmail && find . -type f \\( -path '*/Maildir/new/*' -o -path '*/Maildir/cur/*' \\) | sort
echo "== store2 maildirs"; cd /srv/store2/vmail && find . -type f \\( -path '*/Maildir/new/*' -o -path '*/Maildir/cur/*' \\) | sort
`;
    const r = runStores([...filesOf(LAB, "store1"), ...store2Files], script);
    assert.equal(r.code, 0, r.stdout);

    assert.match(section(r, "auth proxied"), /auth succeeded\n[\s\S]*\n  proxy=\n  host=store1\.mail\.example\.com\n  hostip=192\.0\.2\.31\n  port=993\n  ssl=yes\n[\s\S]*exit=0/);
    // store2 holds no hash of alice's: it passes any password on, and store1 checks it (imapBad below).
    assert.match(section(r, "auth proxied bad"), /auth succeeded\n[\s\S]*\n  proxy=\n  host=store1\.mail\.example\.com\n[\s\S]*exit=0/);
    // Nor may store2 answer the outbound MTA's SASL, which would take any password for alice.
    assert.deepEqual(section(r, "store2 ports").trim().split("\n"), ["24", "993", "4190", "9900"]);
    assert.match(section(r, "store2 sasl"), /ConnectionRefusedError/);

    const [toAlice, toBob, imap, imapBad, sieve] = clientResults(r);
    assert.match(toAlice.greeting, /^store2\.mail\.example\.com\b/);
    assert.equal(toAlice.data[0], 250);
    assert.equal(toBob.data[0], 250);
    assert.match(imap.greeting, /store2\.mail\.example\.com ready\.$/);
    assert.equal(imap.login, "OK");
    assert.deepEqual(imap.messages, ["Delivered-To: alice+news@example.com\r\nSubject: to alice via store2\r\n\r\n"], "alice reads her store1 mailbox through store2");
    assert.match(imapBad.login, /AUTHENTICATIONFAILED/);
    // From another address (a connection from the host to itself counts as secure).
    assert.ok(sieve.before_tls.includes('"SASL" ""'), `ManageSieve offers no mechanism before STARTTLS: ${sieve.before_tls}`);
    assert.match(sieve.auth, /^OK/, "ManageSieve is proxied too (STARTTLS to store1)");

    const count = (s: string) => s.trim().split("\n").filter(Boolean).map((l) => l.split("/").slice(1, 3).join("/"));
    assert.deepEqual(count(section(r, "store1 maildirs")), ["example.com/alice"], "alice's message is on store1 only, once");
    assert.deepEqual(count(section(r, "store2 maildirs")), ["example.org/bob"]);
  });

  it("with pop3 on: POP3S 995 but no 110; over quota, LMTP refuses the recipient at RCPT with the quota message", () => {
    const input = labInput((raw) => {
      raw.pop3 = true;
      raw.mailboxes[0].quotaMb = 1;
    });
    const script = `
ip addr add 192.0.2.31/32 dev lo && ip -6 addr add 2001:db8:0:1::31/128 dev lo nodad
cert ${TLS_LIVE_DIR} store1.mail.example.com
dovecot && listening
echo "== ports"; ss -Hltn | awk '{print $4}' | sed 's/.*://' | sort -un
echo "== clients"
python3 /root/client.py lmtp 192.0.2.31 alice@example.com "fills the mailbox" 1500000
python3 /root/client.py lmtp 192.0.2.31 alice@example.com "one too many" 300
`;
    const r = runStores(filesOf(input, "store1"), script);
    assert.equal(r.code, 0, r.stdout);
    assert.deepEqual(section(r, "ports").trim().split("\n"), ["24", "993", "995", "4190", "9900", "12345"]);
    const [fills, refused] = clientResults(r);
    // The quota grace lets the message that crosses the limit in; the next one is refused.
    assert.equal(fills.data[0], 250);
    assert.equal(refused.rcpt[0], 552);
    assert.match(refused.rcpt[1], /^5\.2\.2 <alice@example\.com> Mailbox full: the recipient has used all of their storage/);
  });
});
