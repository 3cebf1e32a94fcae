/**
 * rspamd files for the lab stack, checked by rspamd 3.12 itself in the Debian 13 root:
 * `rspamadm configtest`, the actions as `rspamadm configdump` parses them, and a started rspamd
 * asked for its actions (controller /actions), its listening sockets and DKIM signatures, which an
 * RFC 6376 verifier checks against the public key as published in DNS.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { RenderedFile, file } from "../../components/render/file";
import { EDGE_SCORES, renderEdgeRspamd, renderOutboundRspamd } from "../../components/render/rspamd";
import { renderTlsFiles } from "../../components/render/tls";
import { renderEdgeWeb, renderOutboundWeb } from "../../components/render/web";
import { hostNamed, RSPAMD_METRICS_PORT } from "../../components/topology";
import { internalIpv4 } from "../../components/topology/addresses";
import { verifyDkim } from "../support/dkimVerify";
import { labInput } from "../support/lab";
import { withDebian13Host } from "../support/debian13";
import { bootstrapLiveFiles } from "../support/tlsLive";

const input = labInput();
const warnOnlyInput = labInput((s) => ({ ...s, spam: { ...s.spam, warnOnly: true } }));
const edge = (i = input) => renderEdgeRspamd(i, hostNamed(i.topology, "mx1"));
const outbound = () => renderOutboundRspamd(input, hostNamed(input.topology, "out1"));

/** What every real host has besides rspamd's files: a resolver. */
const HOST_FILES: RenderedFile[] = [file("/etc/resolv.conf", "nameserver 127.0.0.1\n")];

/**
 * Runs named shell commands against a started rspamd (files written in place) and returns each
 * one's output by name. rspamd runs under `timeout`, so it dies even if the host run is cut off.
 * With `nginxAt`, the host's private address is put on its loopback and nginx runs beside rspamd.
 */
function inRspamd(files: RenderedFile[], commands: Record<string, string>, nginxAt?: string): Record<string, string> {
  const script = Object.entries(commands)
    .map(([name, command]) => `echo "=== ${name}" && ${command}`)
    .join(" && ");
  const run = withDebian13Host([...files, ...HOST_FILES], (host) =>
    host.run([
      "sh",
      "-c",
      `mkdir -p /run/rspamd /var/log/rspamd && chown _rspamd:_rspamd /run/rspamd /var/log/rspamd /var/lib/rspamd
timeout -s KILL 110 rspamd -u _rspamd -g _rspamd -f >/tmp/rspamd.out 2>&1 & pid=$!
${nginxAt ? `{ ip addr add ${nginxAt}/32 dev lo && nginx; } || { kill $pid; exit 1; }` : ""}
for i in $(seq 450); do rspamc -t 1 -h 127.0.0.1:11334 stat >/dev/null 2>&1 && break; sleep 0.2; done
( ${script} ); rc=$?
${nginxAt ? "nginx -s quit" : ""}
kill $pid; wait $pid
[ $rc = 0 ] || tail -20 /var/log/rspamd/rspamd.log >&2
exit $rc`,
    ]),
  );
  assert.equal(run.code, 0, run.stderr);
  return Object.fromEntries(
    run.stdout
      .split(/^=== /m)
      .slice(1)
      .map((part) => [part.slice(0, part.indexOf("\n")), part.slice(part.indexOf("\n") + 1)]),
  );
}

/** A section as rspamd parses it from the whole configuration tree (Debian's and ours). */
function configured(files: RenderedFile[], section: string): Record<string, any> {
  return withDebian13Host([...files, ...HOST_FILES], (host) => {
    const dump = host.run(["rspamadm", "configdump", "-j", section]);
    assert.equal(dump.code, 0, dump.stderr);
    return JSON.parse(dump.stdout);
  });
}
const configuredActions = (files: RenderedFile[]): Record<string, number | null> => configured(files, "actions");

test("both roles log one line per message (notice), not Debian's info level, to the same file", () => {
  for (const files of [edge(), outbound()]) {
    const logging = configured(files, "logging");
    assert.equal(logging.level, "notice");
    assert.equal(logging.type, "file");
  }
});

test("rspamadm configtest accepts the edge, warn-only edge and outbound files", () => {
  for (const [name, files] of [["edge", edge()], ["edge warnOnly", edge(warnOnlyInput)], ["outbound", outbound()]] as const) {
    withDebian13Host([...files, ...HOST_FILES], (host) => {
      const check = host.run(["rspamadm", "configtest"]);
      assert.equal(check.code, 0, `${name}: ${check.stdout}${check.stderr}`);
      assert.match(check.stdout, /syntax OK/, name);
    });
  }
});

test("the edge rejects at its threshold and greylists below add_header (issue 23); spam.greylist off and warnOnly never greylist; warnOnly drops the reject action", () => {
  const enforcing = configuredActions(edge());
  assert.equal(enforcing.reject, EDGE_SCORES.reject);
  assert.equal(enforcing.add_header, EDGE_SCORES.addHeader);
  assert.equal(enforcing.greylist, EDGE_SCORES.greylist);
  const noGreylist = labInput((s) => ({ ...s, spam: { ...s.spam, greylist: { enabled: false, delaySeconds: 300 } } }));
  assert.equal(configuredActions(edge(noGreylist)).greylist, null);

  const warnOnly = configuredActions(edge(warnOnlyInput));
  assert.equal(warnOnly.reject, null);
  assert.equal(warnOnly.add_header, EDGE_SCORES.addHeader);
  assert.equal(warnOnly.greylist, null);
});

test("the shared-state modules as rspamd parses them: greylist delay, rate-limit buckets of messages or recipients with their 4xx texts, Bayes on Redis", () => {
  const greylist = configured(edge(), "greylist");
  assert.equal(greylist.timeout, input.topology.spec.spam.greylist.delaySeconds);
  const rates = configured(edge(), "ratelimit").rates;
  assert.equal(rates.mailfleet_sender_ip.selector, "ip");
  assert.match(rates.mailfleet_recipient.bucket.message, /Too many messages for this recipient/);
  // Buckets of messages count a message once, however many recipients it names.
  assert.deepEqual([rates.mailfleet_sender_ip.bucket.skip_recipients, rates.mailfleet_recipient.bucket.skip_recipients], [true, true]);
  const outboundRates = configured(outbound(), "ratelimit").rates;
  const { perLoginPerHour, perLoginRecipientsPerHour } = input.topology.spec.spam.ratelimits;
  assert.equal(outboundRates.mailfleet_login.selector, "user.lower");
  assert.equal(outboundRates.mailfleet_login.bucket.skip_recipients, true);
  assert.equal(outboundRates.mailfleet_login.bucket.burst, perLoginPerHour);
  assert.match(outboundRates.mailfleet_login.bucket.message, /Sending limit of \d+ messages per hour reached for this login/);
  // A key of its own (rspamd keys a bucket by the selector's value), counting every recipient.
  assert.equal(outboundRates.mailfleet_login_recipients.selector, "user.lower.prepend(recipients:)");
  assert.equal(outboundRates.mailfleet_login_recipients.bucket.skip_recipients, undefined);
  assert.equal(outboundRates.mailfleet_login_recipients.bucket.burst, perLoginRecipientsPerHour);
  assert.match(outboundRates.mailfleet_login_recipients.bucket.message, /Sending limit of \d+ recipients per hour reached for this login/);
  const bayes = configured(edge(), "classifier").bayes;
  assert.equal(bayes.backend, "redis");
  assert.equal(bayes.autolearn, true);
  assert.equal(bayes.min_learns, input.topology.spec.spam.bayesMinLearns);
});

test("outbound: listens on loopback only, no spam action at all, signs authenticated mail for the user's own domain only", () => {
  const key = input.keys.dkim.find((k) => k.domain === "example.com" && k.selector === input.topology.spec.dkim.active)!;
  // Folded headers, runs of blanks and trailing blank lines exercise relaxed canonicalization.
  const message = [
    "From: Alice <alice@example.com>",
    "To: someone@example.net",
    "Subject: relaxed   canonicalization",
    "  \tfolded line",
    "Date: Mon, 01 Jan 2024 00:00:00 +0000",
    "Message-ID: <dkim-test@example.com>",
    "",
    "Hello  there \t",
    "",
    "",
  ].join("\r\n");
  const scan = (user: string) =>
    `rspamc -h 127.0.0.1:11333 --mime --ip 127.0.0.1 ${user ? `--user ${user}` : ""} --from alice@example.com --rcpt someone@example.net /tmp/msg.eml`;
  const { actions, listening, signed, local, other } = inRspamd([...outbound(), file("/tmp/msg.eml", message)], {
    // The actions as the running daemon reports them (controller GET /actions).
    actions: `python3 -c 'import json,urllib.request; print(json.dumps({a["action"]: a.get("value") for a in json.load(urllib.request.urlopen("http://127.0.0.1:11334/actions"))}))'`,
    listening: "ss -Hltn | awk '{print $4}' | sort",
    signed: scan("alice@example.com"),
    local: scan(""),
    other: scan("bob@example.org"),
  });
  for (const [name, value] of Object.entries(JSON.parse(actions))) assert.equal(value, null, `action ${name}`);
  // Proxy (the milter), scanner and controller, all on loopback; the same workers on every role.
  assert.deepEqual(listening.trim().split("\n"), ["127.0.0.1:11332", "127.0.0.1:11333", "127.0.0.1:11334"]);

  const result = verifyDkim(signed, key.publicKey);
  assert.ok(result.ok, `${result.reason}\n${signed}`);
  assert.equal(result.tags.d, "example.com");
  assert.equal(result.tags.s, input.topology.spec.dkim.active);
  assert.equal(result.tags.c, "relaxed/relaxed");
  // The verifier is not fooled: a changed body fails.
  assert.equal(verifyDkim(signed.replace("Hello", "Hallo"), key.publicKey).ok, false);

  // Debian's default signs mail from local addresses; here only AUTH counts.
  assert.doesNotMatch(local, /DKIM-Signature/i, "unauthenticated mail from 127.0.0.1 was signed");
  // bob@example.org may not send as alice@example.com: refused, and unsigned.
  assert.doesNotMatch(other, /DKIM-Signature/i, "a user of another domain got a signature");
});

test("outbound: signs for the From domain whatever the login's domain, and refuses (unsigned) a From the login may not use", () => {
  const keyOf = (domain: string) => input.keys.dkim.find((k) => k.domain === domain && k.selector === input.topology.spec.dkim.active)!.publicKey;
  const message = (from: string) =>
    [`From: ${from}`, "To: someone@example.net", "Subject: sender check", "Date: Mon, 01 Jan 2024 00:00:00 +0000", `Message-ID: <${from}.test>`]
      .concat(["", "Hi", ""])
      .join("\r\n");
  // Postfix has already held MAIL FROM to sender_login; rspamd sees the login, MAIL FROM and the message.
  const cases = {
    bobAsSales: ["bob@example.org", "sales@example.com", "sales@example.com"],
    aliceAsPostmaster: ["alice@example.com", "postmaster@example.org", "postmaster@example.org"],
    aliceAsBob: ["alice@example.com", "alice@example.com", "bob@example.org"],
    aliceAsCarol: ["alice@example.com", "alice@example.com", "carol@example.com"],
  };
  const files = Object.entries(cases).map(([name, [, , from]]) => file(`/tmp/${name}.eml`, message(from)));
  const out = inRspamd([...outbound(), ...files], {
    ...Object.fromEntries(
      Object.entries(cases).map(([name, [user, envelope]]) => [
        name,
        `rspamc -h 127.0.0.1:11333 --mime --ip 127.0.0.1 --user ${user} --from ${envelope} --rcpt someone@example.net /tmp/${name}.eml`,
      ]),
    ),
    aliceAsBobVerdict: "rspamc -h 127.0.0.1:11333 --ip 127.0.0.1 --user alice@example.com --from alice@example.com --rcpt x@example.net /tmp/aliceAsBob.eml",
  });
  const signedFor = (name: string, domain: string) => {
    const result = verifyDkim(out[name], keyOf(domain));
    assert.ok(result.ok, `${name}: ${result.reason}\n${out[name]}`);
    assert.equal(result.tags.d, domain, name);
  };
  signedFor("bobAsSales", "example.com");
  signedFor("aliceAsPostmaster", "example.org");
  for (const name of ["aliceAsBob", "aliceAsCarol"]) assert.doesNotMatch(out[name], /DKIM-Signature/i, `${name} was signed\n${out[name]}`);
  assert.match(out.aliceAsBobVerdict, /Action: reject/);
  assert.match(out.aliceAsBobVerdict, /Symbol: MAILFLEET_FROM_NOT_OWNED \(\S+\)\[bob@example\.org\]/);
  // The milter hands this reply to Postfix, which refuses the message at submission.
  assert.match(out.aliceAsBobVerdict, /smtp_message: From: bob@example\.org is not an address you may send as/);
});

test("the edge's RBL module asks exactly spam.dnsbls and spam.dnswls (none of rspamd's own), scored against add_header", () => {
  const withFilter = labInput((s) => ({ ...s, spam: { ...s.spam, dnsbls: [...s.spam.dnsbls, "zen.spamhaus.org=127.0.0.[2..4]*2"] } }));
  const rbl = configured(edge(withFilter), "rbl");
  assert.deepEqual(
    Object.entries(rbl.rbls as Record<string, any>).map(([name, r]) => [name, r.rbl, r.symbol, r.ipv4, r.ipv6, r.returncodes]),
    [
      ["mailfleet_dnsbl_blexamplenet", "bl.example.net", "MAILFLEET_DNSBL_BLEXAMPLENET", true, true, undefined],
      ["mailfleet_dnsbl_zenspamhausorg", "zen.spamhaus.org", "MAILFLEET_DNSBL_ZENSPAMHAUSORG", true, true, { MAILFLEET_DNSBL_ZENSPAMHAUSORG: "/^(127)[.](0)[.](0)[.](2|3|4)$/" }],
      ["mailfleet_dnswl_wlexamplenet", "wl.example.net", "MAILFLEET_DNSWL_WLEXAMPLENET", true, true, undefined],
    ],
  );
  // "group" repeats (one object a group): compact JSON, one line each.
  const groups = withDebian13Host([...edge(withFilter), ...HOST_FILES], (host) => host.run(["rspamadm", "configdump", "-C", "group"]).stdout);
  const rblGroup = groups.split("\n").filter(Boolean).map((line) => JSON.parse(line)).find((g) => g.rbl)!.rbl.symbols;
  assert.deepEqual(
    Object.fromEntries(Object.entries(rblGroup as Record<string, any>).filter(([s]) => s.startsWith("MAILFLEET_")).map(([s, v]) => [s, v.weight])),
    // Postscreen's weights times add_header / threshold (6 / 3).
    { MAILFLEET_DNSBL_BLEXAMPLENET: 6, MAILFLEET_DNSBL_ZENSPAMHAUSORG: 4, MAILFLEET_DNSWL_WLEXAMPLENET: -6 },
  );
});

test("the scrapers get rspamd's metrics through nginx on the private address (edge, outbound), and nothing else of the controller", () => {
  const mx1 = hostNamed(input.topology, "mx1");
  const out1 = hostNamed(input.topology, "out1");
  const roles = {
    // The edge's nginx.conf also serves HTTPS: it needs the host's certificates.
    edge: { host: mx1, files: [...edge(), ...renderEdgeWeb(input, mx1), ...renderTlsFiles(input, mx1), ...bootstrapLiveFiles(input, mx1)] },
    outbound: { host: out1, files: [...outbound(), ...renderOutboundWeb(input, out1)] },
  };
  const message = ["From: a@example.net", "To: alice@example.com", "Subject: counted", "Message-ID: <counted@example.net>", "", "Hello", ""].join("\r\n");
  // Writes and reads the controller answers on loopback; the learn password does not help either.
  const refused: [string, string, string][] = [
    ["POST", "/learnspam", `-H 'Password: ${input.keys.state.learn}' --data-binary @/tmp/msg.eml`],
    ["POST", "/saveactions", `-H 'Password: ${input.keys.state.learn}' --data '[1,2,3]'`],
    ["GET", "/statreset", ""],
    ["GET", "/history", ""],
    ["GET", "/stat", ""],
    // nginx resolves the dot segments before it picks a location.
    ["GET", "/metrics/../statreset", ""],
    ["POST", "/metrics", "--data x"],
  ];
  for (const [role, { host, files }] of Object.entries(roles)) {
    const address = internalIpv4(input.addresses[host.name]);
    const url = (path: string) => `http://${address}:${RSPAMD_METRICS_PORT}${path}`;
    const status = (method: string, path: string, args: string) => `curl -sS -o /dev/null -w '%{http_code}\\n' --path-as-is -X ${method} ${args} ${url(path)}`;
    const out = inRspamd(
      [...files, file("/tmp/msg.eml", message)],
      {
        before: `curl -sS --fail ${url("/metrics")}`,
        scan: "rspamc -h 127.0.0.1:11333 /tmp/msg.eml >/dev/null",
        after: `curl -sS --fail ${url("/metrics")}`,
        refused: refused.map(([method, path, args]) => status(method, path, args)).join(" && "),
        // A scraper's X-Forwarded-For never reaches rspamd, which would judge that address instead of loopback's.
        forwarded: status("GET", "/metrics", "-H 'X-Forwarded-For: 203.0.113.9'"),
        listening: `ss -Hltn | awk '{print $4}' | grep ':${RSPAMD_METRICS_PORT}$'`,
      },
      address,
    );
    const scanned = (metrics: string) => Number(/^rspamd_scanned_total (\d+)$/m.exec(metrics)?.[1]);
    assert.equal(scanned(out.after), scanned(out.before) + 1, `${role}: the scan is counted\n${out.after}`);
    assert.match(out.after, /^rspamd_actions_total\{type="reject"\} \d+$/m, role);
    assert.deepEqual(out.refused.trim().split("\n"), ["404", "404", "404", "404", "404", "404", "403"], role);
    assert.equal(out.forwarded.trim(), "200", role);
    assert.equal(out.listening.trim(), `${address}:${RSPAMD_METRICS_PORT}`, `${role}: on the private address only`);
  }
});
