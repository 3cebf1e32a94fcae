/**
 * The rendered Postfix configs running: Postfix 3.10 is started in a Debian 13 host (its own
 * network namespace, only loopback, with the lab host's documentation addresses added) and a
 * client talks SMTP to it. The stores' LMTP, Dovecot's auth service and rspamd's milter are
 * small Python stand-ins that speak just enough of their protocols; Postfix is stopped at the
 * end of each run.
 */
import { TEST_FORWARDING_KEYS, TEST_STATE_PASSWORDS } from "../support/fixtures";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { file, RenderedFile } from "../../components/render/file";
import { mtaStsPolicy } from "../../components/records";
import { liveTls, TLS_LIVE_DIR } from "../../components/render/input";
import { renderEdgePostfix, renderOutboundPostfix } from "../../components/render/postfix";
import { Host, hostNamed } from "../../components/topology";
import { forwardingDomain } from "../../components/topology/naming";
import { withDebian13Host } from "../support/debian13";
import { lab } from "../support/labRecords";
import { testRenderInput, TestRenderInput } from "../support/renderInput";

const { topology, addresses } = lab();
const input: TestRenderInput = testRenderInput(topology, addresses, { dkim: [], caCertPem: "", hosts: {}, tsig: {}, dane: {}, state: TEST_STATE_PASSWORDS, ...TEST_FORWARDING_KEYS }, mtaStsPolicy(topology).policy);
/** Where the test client connects from: an outside address, not in mynetworks. */
const CLIENT = "203.0.113.5";

/** Stores' Dovecot LMTP: accepts everything and logs "<address it listens on> <recipient>". */
const LMTP_STANDIN = String.raw`
import socketserver, sys, threading
log = open(sys.argv[1], "a", buffering=1)
class Session(socketserver.StreamRequestHandler):
    def handle(self):
        say = lambda line: self.wfile.write((line + "\r\n").encode())
        say("220 store LMTP")
        rcpts = []
        for raw in self.rfile:
            line = raw.decode().rstrip("\r\n")
            verb = line.split(" ", 1)[0].upper()
            if verb == "LHLO": say("250-store"); say("250 PIPELINING")
            elif verb == "MAIL": rcpts = []; say("250 ok")
            elif verb == "RCPT": rcpts.append(line[line.index("<") + 1:line.index(">")]); say("250 ok")
            elif verb == "DATA":
                say("354 go")
                while self.rfile.readline().rstrip(b"\r\n") != b".": pass
                for r in rcpts: log.write(f"{self.server.server_address[0]} {r}\n"); say("250 stored")
            elif verb == "QUIT": say("221 bye"); return
            else: say("250 ok")
class Server(socketserver.ThreadingTCPServer): allow_reuse_address = True; daemon_threads = True
for address in sys.argv[2:]:
    threading.Thread(target=Server((address, 24), Session).serve_forever, daemon=True).start()
threading.Event().wait()
`;

/** Dovecot's auth service (client protocol 1.2): PLAIN succeeds when the password is "<local part>-pw". */
const AUTH_STANDIN = String.raw`
import base64, socketserver, sys
class Session(socketserver.StreamRequestHandler):
    def handle(self):
        say = lambda line: self.wfile.write((line + "\n").encode())
        for line in ["VERSION\t1\t2", "MECH\tPLAIN\tplaintext", "SPID\t1", "CUID\t1", "COOKIE\t" + "0" * 32, "DONE"]: say(line)
        for raw in self.rfile:
            fields = raw.decode().rstrip("\n").split("\t")
            if fields[0] != "AUTH": continue
            resp = next((f[5:] for f in fields if f.startswith("resp=")), None)
            if resp is None: say(f"CONT\t{fields[1]}\t"); continue
            _, user, password = base64.b64decode(resp).decode().split("\0")
            say(f"{'OK' if password == user.split('@')[0] + '-pw' else 'FAIL'}\t{fields[1]}\tuser={user}")
class Server(socketserver.ThreadingTCPServer): allow_reuse_address = True; daemon_threads = True
Server((sys.argv[1], int(sys.argv[2])), Session).serve_forever()
`;

/** rspamd's milter: accepts every message and adds one header, as DKIM signing would. */
const MILTER_STANDIN = String.raw`
import socketserver, struct, sys
class Session(socketserver.BaseRequestHandler):
    def handle(self):
        send = lambda kind, data=b"": self.request.sendall(struct.pack(">I", len(data) + 1) + kind + data)
        buf = b""
        while True:
            while len(buf) < 4 or len(buf) < 4 + struct.unpack(">I", buf[:4])[0]:
                more = self.request.recv(65536)
                if not more: return
                buf += more
            size = struct.unpack(">I", buf[:4])[0]
            kind, buf = buf[4:5], buf[4 + size:]
            if kind == b"O": send(b"O", struct.pack(">III", 6, 0x01, 0))  # version 6, may add headers
            elif kind == b"E": send(b"h", b"X-Milter\0seen\0"); send(b"a")
            elif kind in (b"Q", b"K"): return
            elif kind not in (b"D", b"A"): send(b"c")
class Server(socketserver.ThreadingTCPServer): allow_reuse_address = True; daemon_threads = True
Server(("127.0.0.1", int(sys.argv[1])), Session).serve_forever()
`;

/** An outside MTA delivering to the edge: every reply it got, as JSON. */
const EDGE_CLIENT = String.raw`
import json, smtplib, ssl, sys
mx, fqdn, srs = sys.argv[1], sys.argv[2], sys.argv[3]
out = {}
s = smtplib.SMTP(mx, 25, local_hostname="client.example.net", source_address=("${CLIENT}", 0), timeout=60)
out["ehlo"] = s.ehlo()[1].decode().split("\n")[1:]
out["vrfy"] = s.docmd("VRFY", "alice@example.com")[0]
s.starttls(context=ssl._create_unverified_context())
out["tls"] = s.sock.version()
s.ehlo()
s.mail("carol@example.com")
for rcpt in ["nobody@example.com", "someone@example.net", "alice+news@example.com", "sales@example.com", "anything@example.org", "postmaster@" + fqdn, srs]:
    out[rcpt] = s.rcpt(rcpt)[0]
out["data"] = s.data(b"Subject: hello\r\n\r\nhi\r\n")[0]
s.quit()
print(json.dumps(out))
`;

/** A mail client on the outbound MTA's submission ports: every reply it got, as JSON. */
const SUBMISSION_CLIENT = String.raw`
import json, smtplib, ssl, sys
host, milter = sys.argv[1], sys.argv[2]
tls = ssl._create_unverified_context()
connect = lambda port: (smtplib.SMTP_SSL if port == 465 else smtplib.SMTP)(host, port, local_hostname="client.example.net", source_address=("${CLIENT}", 0), timeout=30, **({"context": tls} if port == 465 else {}))
out = {}
if milter == "down":
    s = connect(465)
    s.ehlo()
    out["auth"] = s.docmd("AUTH", "PLAIN AGFsaWNlQGV4YW1wbGUuY29tAGFsaWNlLXB3")[0]
    out["mail"] = s.docmd("MAIL", "FROM:<alice@example.com>")[0]
    print(json.dumps(out)); sys.exit()
try:
    connect(25); out["port 25"] = "open"
except ConnectionRefusedError:
    out["port 25"] = "refused"
s = connect(587)
s.ehlo()
out["587 AUTH before STARTTLS"] = s.has_extn("auth")
out["587 MAIL before STARTTLS"] = s.docmd("MAIL", "FROM:<alice@example.com>")[0]
s.starttls(context=tls); s.ehlo()
out["587 AUTH after STARTTLS"] = s.esmtp_features.get("auth", "").split()
try:
    s.login("alice@example.com", "wrong")
except smtplib.SMTPAuthenticationError as e:
    out["wrong password"] = e.smtp_code
s.login("alice@example.com", "alice-pw")
for sender in ["bob@example.org", "sales@example.com", "alice+news@example.com"]:
    s.mail(sender); out["as " + sender] = s.rcpt("someone@example.net")[0]; s.rset()
s.mail("alice@example.com"); s.rcpt("someone@example.net")
out["data"] = s.data(b"From: alice@example.com\r\nSubject: hi\r\n\r\nhi\r\n")[0]
s.quit()
s = connect(465); s.ehlo()
out["465 TLS"] = s.sock.version()
out["465 AUTH"] = s.esmtp_features.get("auth", "").split()
s.quit()
s = connect(587); s.starttls(context=tls); s.ehlo(); s.mail("carol@example.com")
out["without AUTH"] = s.rcpt("someone@example.net")[0]
s.quit()
print(json.dumps(out))
`;

/**
 * Runs `steps` on a started Postfix with the host's files, and returns each `=== name` section of
 * the output. `standin <command>` starts a stand-in in the background; all of them and Postfix are
 * stopped when the run ends, however it ends. maillog_file is set for the run only, so the test
 * can read Postfix's log.
 */
function live(host: Host, files: RenderedFile[], ownAddresses: string[], steps: string): Record<string, string> {
  const script = `
set -e
pids=
standin() { "$@" </dev/null >/dev/null 2>&1 & pids="$pids $!"; }
listening() { for i in $(seq 100); do python3 -c 'import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 1)' "$1" "$2" 2>/dev/null && return; sleep 0.1; done; return 1; }
trap 'postfix stop >/dev/null 2>&1 || true; kill $pids 2>/dev/null || true; echo "=== log"; cat /var/log/postfix.log 2>/dev/null || true' EXIT
for a in ${[...ownAddresses, CLIENT].join(" ")}; do ip addr add "$a" dev lo; done
mkdir -p ${TLS_LIVE_DIR}
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=${host.fqdn} -keyout /root/host.key -out /root/host.crt 2>/dev/null
cat /root/host.key /root/host.crt > ${liveTls(host.name).chain}
postconf -e maillog_file=/var/log/postfix.log
postfix start >/dev/null 2>&1
${steps}
`;
  const r = withDebian13Host(files, (h) => h.run(["sh", "-c", script]));
  const sections: Record<string, string> = {};
  for (const part of r.stdout.split(/^=== /m).slice(1)) sections[part.slice(0, part.indexOf("\n"))] = part.slice(part.indexOf("\n") + 1);
  assert.equal(r.code, 0, `the run failed: ${r.stderr}\n${sections.log ?? ""}`);
  return sections;
}

const script = (path: string, content: string) => file(path, content.trimStart());
const own = (name: string) => {
  const a = addresses[name];
  return [a.ipv4, ...(a.ipv6 ? [a.ipv6] : [])];
};

describe("Postfix running with the rendered configs", () => {
  it("edge MX: accepts hosted mail only, hands it to the right store over LMTP, relays for nobody; without postsrsd it defers SRS addresses only", () => {
    const host = hostNamed(topology, "mx1");
    // No postsrsd runs here: the bounce of a forward must wait for it, hosted mail must not.
    const srs = `SRS0=HHHH=TT=example.net=carol@${forwardingDomain(topology.spec)}`;
    const stores = ["store1", "store2"].map((s) => addresses[s].ipv4);
    const files = [...renderEdgePostfix(input, host), script("/root/lmtp.py", LMTP_STANDIN), script("/root/client.py", EDGE_CLIENT)];
    const out = live(
      host,
      files,
      [...own("mx1"), ...stores],
      `: > /tmp/lmtp.log; standin python3 /root/lmtp.py /tmp/lmtp.log ${stores.join(" ")}
listening ${stores[1]} 24
echo "=== smtp"; python3 /root/client.py ${addresses.mx1.ipv4} ${host.fqdn} ${srs}
printf 'Subject: loop\\n\\nx\\n' | sendmail -f '' double-bounce
printf 'Subject: cron\\n\\nx\\n' | sendmail root
sleep 1; for i in $(seq 150); do [ -z "$(postqueue -j)" ] && break; sleep 0.2; done
echo "=== queue"; postqueue -j
echo "=== lmtp"; sort /tmp/lmtp.log`,
    );
    const smtp = JSON.parse(out.smtp);
    assert.ok(smtp.ehlo.includes("STARTTLS"), "STARTTLS offered");
    assert.ok(!smtp.ehlo.some((e: string) => e.startsWith("AUTH")), "no AUTH on the MX");
    assert.equal(smtp.vrfy, 502, "VRFY disabled");
    assert.match(smtp.tls, /^TLSv1\.[23]$/);
    assert.deepEqual(
      { unknown: smtp["nobody@example.com"], relay: smtp["someone@example.net"] },
      { unknown: 550, relay: 554 },
      "an unknown mailbox is refused with 550 at RCPT, a foreign domain with relay access denied",
    );
    assert.equal(smtp[srs], 451, "an SRS address is deferred while postsrsd cannot be asked: neither accepted nor refused");
    assert.match(out.log, /connect to TCP map 127\.0\.0\.1:10002: Connection refused/);
    for (const rcpt of ["alice+news@example.com", "sales@example.com", "anything@example.org", `postmaster@${host.fqdn}`]) assert.equal(smtp[rcpt], 250, rcpt);
    assert.equal(smtp.data, 250);
    assert.equal(out.queue, "", "everything was delivered or discarded");
    const [s1, s2] = stores;
    assert.deepEqual(out.lmtp.trim().split("\n"), [
      `${s1} alice+news@example.com`, // the extension is kept for the store's sieve/folders
      `${s1} alice@example.com`, // sales@ (alias)
      `${s1} alice@example.com`, // postmaster@mx1 (host-local, to the admin)
      `${s1} alice@example.com`, // root (cron mail made on the host)
      `${s2} bob@example.org`, // sales@
      `${s2} bob@example.org`, // anything@example.org (catch-all)
    ]);
    assert.match(out.log, /to=<double-bounce@mx1\.mail\.example\.com>.*undeliverable postmaster notification discarded/);
  });

  it("outbound MTA: submission needs TLS then AUTH, senders must be the user's own, no signing means no sending", () => {
    const host = hostNamed(topology, "out1");
    const auth = addresses[topology.authStore].ipv4;
    const files = [
      ...renderOutboundPostfix(input, host),
      script("/root/auth.py", AUTH_STANDIN),
      script("/root/milter.py", MILTER_STANDIN),
      script("/root/client.py", SUBMISSION_CLIENT),
    ];
    const out = live(
      host,
      files,
      [...own("out1"), auth],
      `standin python3 /root/auth.py ${auth} 12345
listening ${auth} 12345; listening ${addresses.out1.ipv4} 465
echo "=== milter down"; python3 /root/client.py ${addresses.out1.ipv4} down
standin python3 /root/milter.py 11332
listening 127.0.0.1 11332
echo "=== smtp"; python3 /root/client.py ${addresses.out1.ipv4} up
echo "=== headers"; for id in $(postqueue -j | python3 -c 'import json,sys; [print(json.loads(l)["queue_id"]) for l in sys.stdin]'); do postcat -hq $id; done`,
    );
    // The session is tempfailed from the start: the client keeps the message and retries.
    assert.deepEqual(JSON.parse(out["milter down"]), { auth: 454, mail: 451 }, "without rspamd (DKIM) no mail is taken");
    const smtp = JSON.parse(out.smtp);
    assert.deepEqual(smtp, {
      "port 25": "refused",
      "587 AUTH before STARTTLS": false,
      "587 MAIL before STARTTLS": 530,
      "587 AUTH after STARTTLS": ["PLAIN"],
      "wrong password": 535,
      "as bob@example.org": 553, // another user's address
      "as sales@example.com": 250, // an alias that reaches alice
      "as alice+news@example.com": 250,
      data: 250,
      "465 TLS": smtp["465 TLS"],
      "465 AUTH": ["PLAIN"],
      "without AUTH": 553,
    });
    assert.match(smtp["465 TLS"], /^TLSv1\.[23]$/);
    assert.match(out.headers, /^X-Milter: seen$/m, "the milter saw the message");
    const received = out.headers.split("\n").filter((l) => /^(Received:|\s)/.test(l)).join(" ");
    assert.match(received, /by out1\.mail\.example\.com/);
    assert.doesNotMatch(received, new RegExp(`${CLIENT.replaceAll(".", "\\.")}|client\\.example\\.net`), "the user's address stays private");
  });
});
