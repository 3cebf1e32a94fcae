/**
 * Signed zones, validated as the Internet's resolvers validate them: the lab's root (its own host, a
 * signed root zone) delegates the fleet's zones to dns1 with the DS records dns1's Knot gives, and
 * client's unbound and delv (BIND's validating lookup tool) trust the root's DS alone. Every record the
 * fleet publishes validates; a tampered chain (a wrong DS at the parent) makes the answers bogus.
 */
import { POSTFIX_LOG } from "../../components/render/postfix/common";
import assert from "node:assert/strict";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { spkiSha256 } from "../../components/keys/material";
import { DnsRecord } from "../../components/records";
import { smtpTlsaName } from "../../components/records/labels";
import {
  CLIENT,
  DANE_STS_DOMAIN,
  DELV_ANCHOR,
  exec,
  execOk,
  EXT,
  EXT_DOMAIN,
  EXT_TLS_CHAIN,
  EXT_USER,
  extMessages,
  extTlsChain,
  hostRoot,
  labHost,
  labPassword,
  LabFleet,
  LabHost,
  loadLabFleet,
  logSize,
  presentedCertificate,
  push,
  deployFiles,
  smtpSend,
  STS_DOMAIN,
  STS_MX,
  waitUntil,
} from "../../scripts/lab";
import { DANE_FIRST_PORT, MTA_STS_RESOLVER_PORT, SMTP_PORT } from "../../components/topology";
import { forgetDns, publishWrongDs, restoreRoot, useLab } from "../support/lab";

/** delv's verdict per query, run in one shell on client: `<query>\t<first line of delv's answer>`. */
function delv(queries: string[][]): Map<string, string> {
  const script = 'for q in "$@"; do printf "%s\\t%s\\n" "$q" "$(delv -a $0 @127.0.0.1 $q 2>&1 | head -n 1)"; done';
  const out = execOk(CLIENT.name, ["sh", "-c", script, DELV_ANCHOR, ...queries.map((q) => q.join(" "))], { timeoutMs: 120_000 });
  return new Map(out.trim().split("\n").map((line) => line.split("\t") as [string, string]));
}

const query = (r: Pick<DnsRecord, "type" | "name">) => [r.type, r.name];

/**
 * A changed TLSA record seen at once by a sender, as it is once its TTL has passed: the resolvers
 * forget their answers, and the sender's Postfix starts new smtp processes, which keep TLSA answers
 * of their own for the TTL.
 */
function forgetTlsa(sender: string) {
  forgetDns();
  execOk(sender, ["postfix", "reload"]);
}

describe("DNSSEC and DANE in the lab", { timeout: 10 * 60_000 }, () => {
  const lab = useLab();
  let tampered = false;

  after(() => {
    if (tampered) restoreRoot(lab());
  });

  it("delv validates every record the fleet publishes, forward and reverse, from the root's DS alone", () => {
    const { records, ptr } = lab().build.recordSet;
    const queries = [...new Map([...records.map(query), ...ptr.map((p) => ["-x", p.address])].map((q) => [q.join(" "), q])).values()];
    const verdicts = delv(queries);
    const failed = [...verdicts].filter(([, verdict]) => verdict !== "; fully validated");
    assert.deepEqual(failed, [], failed.map(([q, v]) => `${q}: ${v}`).join("\n"));
    assert.equal(verdicts.size, queries.length);
    // The resolver says so too: the AD bit, on a signed zone's answer through client's unbound.
    assert.match(execOk(CLIENT.name, ["kdig", "@127.0.0.1", "+dnssec", "MX", "example.com"]), /;; Flags: qr rd ra ad;/);
  });

  it("a wrong DS at the parent makes the zone bogus: unbound answers SERVFAIL, delv refuses", () => {
    tampered = true;
    publishWrongDs(lab(), "example.org");
    const verdicts = delv([["MX", "example.org"], ["MX", "example.com"]]);
    assert.match(verdicts.get("MX example.org")!, /resolution failed|no valid|broken trust chain|insecurity proof failed/, verdicts.get("MX example.org"));
    assert.equal(verdicts.get("MX example.com"), "; fully validated", "the other zones stay valid");
    assert.match(exec(CLIENT.name, ["kdig", "@127.0.0.1", "MX", "example.org"]).stdout, /status: SERVFAIL/);
    restoreRoot(lab());
    tampered = false;
    assert.equal(delv([["MX", "example.org"]]).get("MX example.org"), "; fully validated");
  });

  it("a forced renewal against the ACME CA keeps the MX's key (certbot --reuse-key): a new certificate, the same TLSA 3 1 1 hash", async () => {
    const mx1 = labHost(lab(), "mx1");
    const probe = () => presentedCertificate({ address: mx1.ipv4, port: SMTP_PORT, name: mx1.fqdn, starttls: "smtp" });
    const before = probe();
    assert.equal(before.verified, true, before.verifyResult);
    assert.match(before.spki, /^[0-9a-f]{64}$/);
    const r = exec(mx1.name, ["mailfleet-certs", "--force-renewal"], { timeoutMs: 180_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const after = await waitUntil(probe, (c) => c.serial !== before.serial, 60_000, 500);
    assert.notEqual(after.serial, before.serial, "renewed");
    assert.equal(after.verified, true, after.verifyResult);
    assert.equal(after.spki, before.spki, "the renewed certificate carries the same key");
  });

  describe("DANE: ext sends as a DANE-enforcing MTA (smtp_tls_security_level = dane, validating unbound)", () => {
    const edges = () => lab().hosts.filter((h) => h.role === "edge");
    const extLog = join(hostRoot(EXT.name), "var/log/postfix.log");
    const logSince = (offset: number) => readFileSync(extLog, "utf8").slice(offset);

    /** A message from ext to alice; waits until ext's log says `until` for it (bounded), returns the log since. */
    async function extSends(until: RegExp): Promise<string> {
      const offset = statSync(extLog).size;
      execOk(EXT.name, ["sh", "-c", 'printf "From: <bob@example.net>\\nTo: <alice@example.com>\\nSubject: DANE\\n\\nDANE test.\\n" | sendmail -f bob@example.net alice@example.com']);
      return waitUntil(() => logSince(offset), (log) => until.test(log), 60_000, 500);
    }

    /** Every MX's TLSA replaced (or put back) on dns1, through Knot, which signs the change. */
    function setTlsa(digest: (mx: string) => string) {
      for (const mx of edges()) {
        const name = `_25._tcp.${mx.fqdn}.`;
        execOk("dns1", ["sh", "-c", 'knotc zone-begin example.com && knotc zone-unset example.com "$0" TLSA && knotc zone-set example.com "$0" 300 TLSA 3 1 1 "$1" && knotc -b zone-commit example.com', name, digest(mx.name)]);
      }
      forgetTlsa(EXT.name);
    }
    const pinned = (mx: string) => lab().build.recordSet.records.find((r) => r.type === "TLSA" && r.name.startsWith(`_25._tcp.${mx}.`))!;
    const pinnedDigest = (mx: string) => { const r = pinned(mx); return r.type === "TLSA" ? r.digest : ""; };

    it("posttls-finger -l dane verifies each MX by its TLSA record", () => {
      for (const mx of edges()) {
        const out = exec(EXT.name, ["posttls-finger", "-c", "-t", "10", "-T", "20", "-l", "dane", `[${mx.fqdn}]`]);
        assert.match(out.stdout + out.stderr, new RegExp(`Verified TLS connection established to ${mx.fqdn.replace(/\./g, "\\.")}`), out.stdout + out.stderr);
      }
    });

    it("mail from ext reaches the fleet over a verified TLS connection", async () => {
      const log = await extSends(/status=(sent|deferred|bounced)/);
      assert.match(log, /Verified TLS connection established to mx[12]\.mail\.example\.com/, log);
      assert.match(log, /to=<alice@example\.com>.*status=sent/, log);
    });

    it("a wrong TLSA makes ext defer instead of sending; the right one back, the queued message goes", async () => {
      setTlsa(() => "00".repeat(32));
      try {
        const log = await extSends(/status=(sent|deferred|bounced)/);
        assert.match(log, /status=deferred/, log);
        assert.doesNotMatch(log, /status=sent/, log);
      } finally {
        setTlsa(pinnedDigest);
      }
      const offset = statSync(extLog).size;
      execOk(EXT.name, ["postqueue", "-f"]);
      const log = await waitUntil(() => logSince(offset), (l) => /status=sent/.test(l), 60_000, 500);
      assert.match(log, /Verified TLS connection established/, log);
    });

    it("an MX that stops offering STARTTLS (as a stripping attacker would show it) makes ext defer", async () => {
      for (const mx of edges()) execOk(mx.name, ["sh", "-c", "postconf -e smtpd_discard_ehlo_keywords=starttls && postfix reload"]);
      try {
        const log = await extSends(/status=(sent|deferred|bounced)/);
        assert.match(log, /status=deferred/, log);
        assert.doesNotMatch(log, /status=sent/, log);
      } finally {
        for (const mx of edges()) execOk(mx.name, ["sh", "-c", "postconf -X smtpd_discard_ehlo_keywords && postfix reload"]);
      }
      const offset = statSync(extLog).size;
      execOk(EXT.name, ["postqueue", "-f"]);
      await waitUntil(() => logSince(offset), (l) => /status=sent/.test(l), 60_000, 500);
    });
  });

  // Mail from the fleet to the lab's receivers: alice submits to out1, which sends by its TLS policy.
  const ALICE = "alice@example.com";
  const out1Log = join(hostRoot("out1"), POSTFIX_LOG);
  /** alice submits to out1 with AUTH, from the user's machine; the log offset before it. */
  function aliceSends(subject: string, to: string): { offset: number } {
    const offset = logSize("out1");
    const r = smtpSend({ server: `smtp.${lab().spec.serverDomain}`, port: 587, mode: "starttls", auth: { user: ALICE, password: labPassword(ALICE) }, from: ALICE, to: [to], subject });
    assert.equal(r.ok, true, JSON.stringify(r));
    return { offset };
  }
  const out1LogSince = (offset: number) => readFileSync(out1Log, "utf8").slice(offset);
  const arrived = (subject: string) => extMessages().filter((m) => m.includes(`Subject: ${subject}`)).length;
  /** Waits (bounded) until out1's queue holds mail to `to` with a delay reason, and returns it (postqueue -j). */
  async function deferral(to: string): Promise<string> {
    const queued = await waitUntil(
      () => exec("out1", ["postqueue", "-j"]).stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l) as { queue_id: string; recipients: { address: string; delay_reason?: string }[] }),
      (q) => q.some((m) => m.recipients.some((r) => r.address === to && r.delay_reason)),
      60_000,
      500,
    );
    return queued.flatMap((m) => m.recipients).find((r) => r.address === to)?.delay_reason ?? "";
  }
  /** Waits (bounded) for out1's verdict on mail to `to` since `offset`, and returns the log since then. */
  const out1Verdict = (offset: number, to: string) =>
    waitUntil(() => out1LogSince(offset), (l) => new RegExp(`to=<${to.replace(/\./g, "\\.")}>.*status=(sent|deferred|bounced)`).test(l), 60_000, 500);

  describe("outbound DANE: out1 validates with its own unbound and sends by DANE (ext's MX publishes TLSA 3 1 1)", () => {
    const extTlsa = `${smtpTlsaName(EXT.fqdn)}.`;

    /** ext's TLSA on dns1 replaced by one for this digest, through Knot, which signs the change. */
    function setExtTlsa(digest: string) {
      execOk("dns1", ["sh", "-c", 'knotc zone-begin "$2" && knotc zone-unset "$2" "$0" TLSA && knotc zone-set "$2" "$0" 300 TLSA 3 1 1 "$1" && knotc -b zone-commit "$2"', extTlsa, digest, EXT_DOMAIN]);
      forgetTlsa("out1");
    }

    it("out1's own resolver validates: ext's signed TLSA answer carries the AD bit; from the Internet it does not answer", () => {
      assert.match(execOk("out1", ["kdig", "@127.0.0.1", "+dnssec", "TLSA", extTlsa]), /;; Flags: qr rd ra ad;/);
      // An open resolver would be abused for amplification: from ext, neither UDP nor TCP on port 53 answers, on either family.
      const out1 = labHost(lab(), "out1");
      for (const address of [out1.ipv4, out1.ipv6]) {
        for (const transport of ["+notcp", "+tcp"]) {
          const r = exec(EXT.name, ["kdig", `@${address}`, transport, "+timeout=2", "+retry=0", "A", "example.com"], { timeoutMs: 20_000 });
          assert.doesNotMatch(r.stdout, /status: NOERROR/, `${address} ${transport}: ${r.stdout}`);
          assert.notEqual(r.code, 0, `${address} ${transport}`);
        }
      }
    });

    it("mail to ext leaves over a verified TLS connection; with ext's TLSA wrong out1 defers (postqueue -j says why), and sends once it is right again", async () => {
      const sent = `outbound-dane ${Date.now()}`;
      const first = aliceSends(sent, `${EXT_USER}@${EXT_DOMAIN}`);
      const log = await out1Verdict(first.offset, `${EXT_USER}@${EXT_DOMAIN}`);
      assert.match(log, /Verified TLS connection established to mx\.example\.net/, log);
      assert.match(log, /to=<bob@example\.net>.*status=sent/, log);
      await waitUntil(() => arrived(sent), (n) => n === 1, 30_000, 500);

      const held = `outbound-dane-wrong ${Date.now()}`;
      setExtTlsa("00".repeat(32));
      try {
        const second = aliceSends(held, `${EXT_USER}@${EXT_DOMAIN}`);
        const reason = await deferral(`${EXT_USER}@${EXT_DOMAIN}`);
        assert.match(reason, /TLS|certificate|TLSA/i, reason);
        assert.doesNotMatch(out1LogSince(second.offset), /to=<bob@example\.net>.*status=sent/);
        assert.equal(arrived(held), 0, "nothing reached ext over an unverified connection");
      } finally {
        setExtTlsa(lab().ext.spkiSha256);
      }
      const offset = logSize("out1");
      execOk("out1", ["postqueue", "-f"]);
      await waitUntil(() => arrived(held), (n) => n === 1, 60_000, 500);
      assert.match(out1LogSince(offset), /Verified TLS connection established to mx\.example\.net/);
    });
  });

  describe("outbound MTA-STS: out1 enforces a receiver's policy where no TLSA exists, and DANE where one does", () => {
    const out1 = () => labHost(lab(), "out1");

    /** ext's STARTTLS certificate for the same key: the peer CA's, or the self-signed one only DANE accepts. */
    function setExtCertificate(cert: "peer-ca" | "self-signed") {
      writeFileSync(join(hostRoot(EXT.name), EXT_TLS_CHAIN), extTlsChain(lab(), cert), { mode: 0o600 });
      execOk(EXT.name, ["postfix", "reload"]);
    }

    it("the TLS policy tables listen on loopback only: from the Internet neither port answers", () => {
      // Every address and port at once, each connect bounded: `<address> <port> <exit code>` per line.
      const probe = 'for t in "$@"; do (timeout 3 bash -c "exec 3<>/dev/tcp/${t% *}/${t#* }" 2>/dev/null; echo "$t $?") & done; wait';
      const targets = [DANE_FIRST_PORT, MTA_STS_RESOLVER_PORT].flatMap((port) => [out1().ipv4, out1().ipv6].map((address) => `${address} ${port}`));
      const results = execOk(EXT.name, ["bash", "-c", probe, "probe", ...targets]).trim().split("\n");
      assert.equal(results.length, targets.length, results.join("\n"));
      const answered = results.filter((line) => line.endsWith(" 0"));
      assert.deepEqual(answered, [], `answered from ext: ${answered.join(", ")}`);
    });

    it("no TLSA, an enforce policy: mail leaves verified against the policy's MX; with a certificate no public CA signed out1 defers (postqueue -j says why), and sends once it is back", async () => {
      const to = `${EXT_USER}@${STS_DOMAIN}`;
      const sent = `outbound-sts ${Date.now()}`;
      const log = await out1Verdict(aliceSends(sent, to).offset, to);
      assert.match(log, new RegExp(`Verified TLS connection established to ${STS_MX.replace(/\./g, "\\.")}`), log);
      assert.match(log, /status=sent/, log);
      await waitUntil(() => arrived(sent), (n) => n === 1, 30_000, 500);

      const held = `outbound-sts-untrusted ${Date.now()}`;
      setExtCertificate("self-signed");
      try {
        const { offset } = aliceSends(held, to);
        const reason = await deferral(to);
        assert.match(reason, /certificate|TLS/i, reason);
        assert.doesNotMatch(out1LogSince(offset), new RegExp(`to=<${to.replace(/\./g, "\\.")}>.*status=sent`));
        assert.equal(arrived(held), 0, "nothing reached ext over an unverified connection");
      } finally {
        setExtCertificate("peer-ca");
      }
      const offset = logSize("out1");
      execOk("out1", ["postqueue", "-f"]);
      await waitUntil(() => arrived(held), (n) => n === 1, 60_000, 500);
      assert.match(out1LogSince(offset), /Verified TLS connection established/);
    });

    it("DANE first (RFC 8461 §2): to a domain whose MX has TLSA and whose STS policy names another MX, mail leaves by DANE", async () => {
      // The STS answer out1's resolver gives would refuse ext's MX: only the DANE-first table keeps it from deciding.
      const sts = execOk("out1", ["postmap", "-q", DANE_STS_DOMAIN, `socketmap:inet:127.0.0.1:${MTA_STS_RESOLVER_PORT}:postfix`]);
      assert.match(sts, new RegExp(`^secure match=${STS_MX.replace(/\./g, "\\.")}`), sts);
      assert.equal(execOk("out1", ["postmap", "-q", DANE_STS_DOMAIN, `socketmap:inet:127.0.0.1:${DANE_FIRST_PORT}:dane`]).trim(), "dane-only");
      const to = `${EXT_USER}@${DANE_STS_DOMAIN}`;
      const sent = `outbound-dane-first ${Date.now()}`;
      const log = await out1Verdict(aliceSends(sent, to).offset, to);
      assert.match(log, /Verified TLS connection established to mx\.example\.net/, log);
      assert.match(log, /status=sent/, log);
      await waitUntil(() => arrived(sent), (n) => n === 1, 30_000, 500);
    });
  });

  describe("DANE key rollover: the next key's TLSA first, the switch once every nameserver has served it for twice the TTL, the old TLSA last", () => {
    /** The lab stack at a DANE key generation. */
    const at = (generation: number) => loadLabFleet((s) => ({ ...s, tls: { ...s.tls, daneKeyGeneration: generation } }));
    const edges = () => lab().hosts.filter((h) => h.role === "edge");
    const dns1 = () => labHost(lab(), "dns1");
    const servedKey = (mx: LabHost) => presentedCertificate({ address: mx.ipv4, port: SMTP_PORT, name: mx.fqdn, starttls: "smtp" }).spki;
    const daneKey = (fleet: LabFleet, mx: string, generation: number) => spkiSha256(fleet.keys.dane[mx].find((k) => k.generation === generation)!.keyPem);
    const certsLog = (mx: LabHost) => join(hostRoot(mx.name), "var/log/mailfleet-certs.log");
    const certsLogSince = (mx: LabHost, offset: number) => readFileSync(certsLog(mx), "utf8").slice(offset);
    /** When mx first saw the key's TLSA served by every nameserver (its own record: the switch's clock). */
    const firstSeen = (mx: LabHost, key: string) => Number(readFileSync(join(hostRoot(mx.name), "var/lib/mailfleet-certs/seen", key), "utf8").trim());
    const extLog = join(hostRoot(EXT.name), "var/log/postfix.log");

    /** The push of a rollover step: the zone (when asked) first, then the edges side by side. */
    async function pushTo(fleet: LabFleet, { zone }: { zone: boolean }) {
      const pushed = async (host: LabHost) => {
        const r = await push(host, deployFiles(fleet, host));
        assert.equal(r.code, 0, `${host.name}: ${r.stderr}`);
      };
      if (zone) await pushed(dns1());
      await Promise.all(edges().map(pushed));
    }
    /** Until each edge serves its key of `generation` on port 25; returns when each was first seen doing so (epoch seconds). */
    async function switched(fleet: LabFleet, generation: number, timeoutMs: number): Promise<number[]> {
      return Promise.all(
        edges().map(async (mx) => {
          await waitUntil(() => servedKey(mx), (k) => k === daneKey(fleet, mx.name, generation), timeoutMs, 2_000);
          return Date.now() / 1000;
        }),
      );
    }

    after(async () => {
      // The lab's own stack (generation 1) back: the zone first, then the edges, which switch back at once (key 1 is served).
      await pushTo(lab(), { zone: true });
      forgetDns();
      await switched(lab(), 1, 120_000);
    });

    it("ext sends all along: a forced switch to a key no nameserver serves is refused; generation 2, then 3: no message deferred, every one verified", async () => {
      const [g1, g2, g3] = [lab(), at(2), at(3)];
      const TTL = g1.spec.dnsTtl;
      // Key 3 is new to a fresh lab; on one that ran this before, each edge forgets when it first saw key 3 served.
      for (const mx of edges()) execOk(mx.name, ["rm", "-f", `/var/lib/mailfleet-certs/seen/${daneKey(g3, mx.name, 3)}`]);
      assert.equal(g1.spec.tls.daneKeyGeneration, 1);
      await switched(g1, 1, 60_000);

      const extOffset = statSync(extLog).size;
      const run = Date.now();
      let submitted = 0;
      const loop = setInterval(() => {
        if (submitted >= 150) return;
        submitted += 1;
        execOk(EXT.name, ["sh", "-c", `printf "From: <bob@example.net>\\nTo: <alice@example.com>\\nSubject: rollover ${run} ${submitted}\\n\\nDuring a DANE key rollover.\\n" | sendmail -f bob@example.net alice@example.com`]);
      }, 2_000);
      try {
        // Forced: the edges told to serve generation 3 while the zone still pins 1 and 2. Refused: key 1 stays.
        const offsets = edges().map((mx) => statSync(certsLog(mx)).size);
        await pushTo(g3, { zone: false });
        for (const [i, mx] of edges().entries()) {
          const log = await waitUntil(() => certsLogSince(mx, offsets[i]), (l) => /DANE switch refused|issuing again/.test(l), 60_000, 1_000);
          assert.match(log, new RegExp(`DANE switch refused, the old key stays: nameserver \\S+ does not serve _25\\._tcp\\.${mx.fqdn.replace(/\./g, "\\.")} TLSA 3 1 1 ${daneKey(g3, mx.name, 3)}`), log);
          assert.equal(servedKey(mx), daneKey(g1, mx.name, 1), `${mx.name} still serves key 1`);
        }

        // Generation 2: the zone (which published key 2 as the next one with generation 1) first, then the edges.
        await pushTo(g2, { zone: true });
        await switched(g2, 2, (2 * TTL + 60) * 1000);

        // Generation 3: key 3's TLSA came with generation 2, just now, so each edge waits twice the TTL from when it saw it served.
        const before = edges().map((mx) => statSync(certsLog(mx)).size);
        await pushTo(g3, { zone: true });
        const seen3 = edges().map((mx) => firstSeen(mx, daneKey(g3, mx.name, 3)));
        const at3 = await switched(g3, 3, (2 * TTL + 90) * 1000);
        for (const [i, mx] of edges().entries()) {
          assert.match(certsLogSince(mx, before[i]), /DANE switch in \d+s/, `${mx.name} waited`);
          assert.ok(at3[i] >= seen3[i] + 2 * TTL, `${mx.name} switched ${at3[i] - seen3[i]}s after key 3's TLSA was first served everywhere`);
          // The old TLSA leaves with the rollover after the one that retired its key: key 1's is gone, key 2's stays.
          const tlsa = execOk(EXT.name, ["kdig", "+short", `@${dns1().ipv4}`, "TLSA", smtpTlsaName(mx.fqdn)]).toLowerCase().replace(/ /g, "");
          assert.doesNotMatch(tlsa, new RegExp(daneKey(g1, mx.name, 1)));
          assert.match(tlsa, new RegExp(daneKey(g3, mx.name, 2)));
        }
      } finally {
        clearInterval(loop);
      }
      // Every message out of ext's queue: each sent over a verified connection, none deferred at any step.
      await waitUntil(() => exec(EXT.name, ["postqueue", "-j"]).stdout.trim(), (q) => q === "", 90_000, 1_000);
      const log = readFileSync(extLog, "utf8").slice(extOffset);
      assert.doesNotMatch(log, /status=deferred|Untrusted TLS|TLSA/, log.split("\n").filter((l) => /deferred|Untrusted|TLSA/.test(l)).join("\n"));
      assert.equal((log.match(/to=<alice@example\.com>.*status=sent/g) ?? []).length, submitted, log);
      assert.ok(submitted > 60, `${submitted} messages sent during the rollover`);
    });
  });
});
