/**
 * The check's network probes against small servers on loopback: an SMTP server that greets like
 * Postfix's postscreen (a "220-" line, a pause, then "220 "), offers STARTTLS or not, and a
 * certificate made here; an HTTPS server for the MTA-STS policy.
 */
import assert from "node:assert/strict";
import { createServer as createHttpsServer } from "node:https";
import { AddressInfo, createServer, Server, Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { TLSSocket } from "node:tls";
import forge from "node-forge";
import { createServer as createTlsServer } from "node:tls";
import { certificateFindings } from "../../scripts/check/transport";
import { fetchMtaStsPolicy, probeTls } from "../../scripts/check/probes";
import { labInput } from "../support/lab";

/** A CA and a server certificate for `names`, PEM; the server certificate ends at notAfter. */
function certificates(names: string[], notAfter = new Date("2030-01-01T00:00:00Z")) {
  const make = (subject: string, issuer: forge.pki.Certificate | undefined, issuerKey: forge.pki.rsa.PrivateKey | undefined, altNames: string[]) => {
    const keys = forge.pki.rsa.generateKeyPair(2048);
    const cert = forge.pki.createCertificate();
    cert.publicKey = keys.publicKey;
    cert.serialNumber = String(Math.floor(Math.random() * 1e9));
    cert.validity.notBefore = new Date(Date.now() - 3_600_000);
    cert.validity.notAfter = issuer ? notAfter : new Date("2030-01-01T00:00:00Z");
    cert.setSubject([{ name: "commonName", value: subject }]);
    cert.setIssuer((issuer ?? cert).subject.attributes);
    cert.setExtensions(issuer ? [{ name: "subjectAltName", altNames: altNames.map((value) => ({ type: 2, value })) }] : [{ name: "basicConstraints", cA: true }, { name: "keyUsage", keyCertSign: true }]);
    cert.sign(issuerKey ?? keys.privateKey, forge.md.sha256.create());
    return { cert, key: keys.privateKey };
  };
  const ca = make("probe test CA", undefined, undefined, []);
  const leaf = make(names[0], ca.cert, ca.key, names);
  return { ca: forge.pki.certificateToPem(ca.cert), cert: forge.pki.certificateToPem(leaf.cert), key: forge.pki.privateKeyToPem(leaf.key) };
}

const PKI = certificates(["mx1.mail.example.com", "mta-sts.example.com"]);

/** An SMTP server on loopback; `starttls` decides whether EHLO offers it. */
function smtpServer(starttls: boolean): Promise<Server> {
  const server = createServer((socket: Socket) => {
    socket.write("220-mx1.mail.example.com ESMTP\r\n");
    // postscreen's greet wait: the rest of the banner comes later.
    setTimeout(() => socket.write("220 mx1.mail.example.com ESMTP\r\n"), 300);
    let buffer = "";
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString();
      if (buffer.includes("EHLO")) {
        buffer = "";
        socket.write(`250-mx1.mail.example.com\r\n250-PIPELINING\r\n${starttls ? "250-STARTTLS\r\n" : ""}250 SMTPUTF8\r\n`);
      } else if (buffer.includes("STARTTLS")) {
        socket.removeListener("data", onData);
        socket.write("220 2.0.0 Ready to start TLS\r\n", () => {
          const secure = new TLSSocket(socket, { isServer: true, cert: PKI.cert, key: PKI.key });
          secure.on("data", (d) => d.toString().includes("QUIT") && secure.end("221 2.0.0 Bye\r\n"));
          secure.on("error", () => {});
        });
      }
    };
    socket.on("data", onData);
    socket.on("error", () => {});
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

describe("check probes", () => {
  const servers: Server[] = [];
  let tls: Server;
  let plain: Server;
  const port = (s: Server) => (s.address() as AddressInfo).port;
  before(async () => {
    tls = await smtpServer(true);
    plain = await smtpServer(false);
    servers.push(tls, plain);
  });
  after(() => servers.forEach((s) => s.close()));

  it("reads a postscreen-style greeting, finds STARTTLS and the certificate's names and trust", async () => {
    const trusted = await probeTls("mx1.mail.example.com", "127.0.0.1", { starttls: true, port: port(tls), ca: PKI.ca, timeoutMs: 5000 });
    assert.equal(trusted.error, undefined);
    assert.equal(trusted.banner, "220-mx1.mail.example.com ESMTP\r\n220 mx1.mail.example.com ESMTP");
    assert.equal(trusted.starttls, true);
    assert.deepEqual(trusted.tls?.names, ["mx1.mail.example.com", "mta-sts.example.com"]);
    assert.equal(trusted.tls?.trusted, true);
    assert.equal(trusted.tls?.validTo.toISOString(), "2030-01-01T00:00:00.000Z");
    const untrusted = await probeTls("mx1.mail.example.com", "127.0.0.1", { starttls: true, port: port(tls), timeoutMs: 5000 });
    assert.equal(untrusted.tls?.trusted, false);
    assert.match(untrusted.tls?.trustError ?? "", /UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
  });

  it("reports a server without STARTTLS and one that does not answer", async () => {
    const none = await probeTls("mx1.mail.example.com", "127.0.0.1", { starttls: true, port: port(plain), timeoutMs: 5000 });
    assert.deepEqual({ starttls: none.starttls, tls: none.tls, error: none.error }, { starttls: false, tls: undefined, error: undefined });
    const closed = await probeTls("mx1.mail.example.com", "127.0.0.1", { starttls: true, port: 1, timeoutMs: 5000 });
    assert.match(closed.error ?? "", /ECONNREFUSED/);
  });

  it("fetches the MTA-STS policy over HTTPS, verifying the certificate for mta-sts.<domain>", async () => {
    const https = createHttpsServer({ cert: PKI.cert, key: PKI.key }, (req, res) => {
      res.writeHead(req.url === "/.well-known/mta-sts.txt" && req.headers.host === "mta-sts.example.com" ? 200 : 404, { "Content-Type": "text/plain" });
      res.end("version: STSv1\r\nmode: testing\r\nmx: *.mail.example.com\r\nmax_age: 86400\r\n");
    });
    await new Promise<void>((resolve) => https.listen(0, "127.0.0.1", resolve));
    servers.push(https as unknown as Server);
    const ok = await fetchMtaStsPolicy("example.com", "127.0.0.1", { ca: PKI.ca, port: port(https as unknown as Server) });
    assert.deepEqual(ok, { status: 200, contentType: "text/plain", body: "version: STSv1\r\nmode: testing\r\nmx: *.mail.example.com\r\nmax_age: 86400\r\n" });
    const wrongName = await fetchMtaStsPolicy("example.org", "127.0.0.1", { ca: PKI.ca, port: port(https as unknown as Server) });
    assert.match(wrongName.error ?? "", /Hostname\/IP does not match certificate's altnames/);
    const untrusted = await fetchMtaStsPolicy("example.com", "127.0.0.1", { port: port(https as unknown as Server) });
    assert.match(untrusted.error ?? "", /unable to verify the first certificate/);
  });

  it("reads an IMAPS-style endpoint (TLS from the first byte) by SNI; a certificate 5 days from its end fails with the fix on the host", async () => {
    const soon = certificates(["imap.mail.example.com"], new Date(Date.now() + 5 * 86_400_000));
    const server = createTlsServer({ cert: soon.cert, key: soon.key }, (s) => s.end("* OK ready\r\n"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    servers.push(server as unknown as Server);
    const probe = await probeTls("imap.mail.example.com", "127.0.0.1", { port: port(server as unknown as Server), starttls: false, ca: soon.ca, timeoutMs: 5000 });
    assert.equal(probe.error, undefined);
    assert.deepEqual(probe.tls?.names, ["imap.mail.example.com"]);
    assert.equal(probe.tls?.trusted, true);
    const spec = { ...labInput().topology.spec, tls: { mode: "acme" as const, acme: { directory: "https://acme.example.net/dir", propagationSeconds: 60 }, daneKeyGeneration: 1 } };
    const findings = certificateFindings(probe.tls!, "imap.mail.example.com", new Date(), {
      spec,
      host: "store1.mail.example.com",
      refused: "clients refuse it",
      untrusted: "fail",
      untrustedWhy: "",
    });
    assert.deepEqual(findings.map((f) => [f.status, f.text]), [["fail", "certificate expires in 4 days"]]);
    assert.match(findings[0].fix!, /certbot on store1\.mail\.example\.com has not renewed it: run `mailfleet-certs` there/);
    // Without the CA the same chain is untrusted, and asked for another name it does not match.
    const untrusted = await probeTls("imap.example.org", "127.0.0.1", { port: port(server as unknown as Server), starttls: false, timeoutMs: 5000 });
    assert.equal(untrusted.tls?.trusted, false);
  });
});
