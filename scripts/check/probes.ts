/**
 * The network probes of the check: a TLS endpoint's certificate, over SMTP STARTTLS (25 as a
 * sending MTA sees it, 587 as a mail client does) or TLS from the first byte (465, 993, 443 by
 * SNI), and the MTA-STS policy over HTTPS (what an MTA-STS sender fetches). Each connects to an
 * address the check resolved itself, so the answer comes from the DNS being checked, not the
 * machine's resolver. Probes is what the checks reach the network through, so the unit tests answer
 * from hand-written zones and servers.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { request } from "node:https";
import { connect as tcpConnect, Socket } from "node:net";
import { connect as tlsConnect, TLSSocket } from "node:tls";
import { domainWebNames, Host } from "../../components/topology";
import { Dns } from "./dns";
import { certificateNames } from "./parse";

/** A TLS endpoint of the fleet, as clients reach it: the name they ask for (SNI) at one address. */
export interface TlsEndpoint {
  host: Host;
  name: string;
  address: string;
  port: number;
  starttls: boolean;
}

/** What `mailfleet-backup status` gave: its stdout, or why it failed. */
export type BackupStatus = { stdout: string } | { error: string };

export interface Probes {
  dns: Dns;
  /** A store's `mailfleet-backup status`, over SSH; absent without SSH access (no backup lines then). */
  backupStatus?(store: string): Promise<BackupStatus>;
  /** SMTP STARTTLS on port 25 of an MX, as a sending MTA sees it. */
  starttls(host: string, address: string): Promise<TlsProbe>;
  tls(endpoint: TlsEndpoint): Promise<TlsProbe>;
  policy(domain: string, address: string): Promise<PolicyFetch>;
  /** delv's validation of a zone's SOA; absent, no dnssec lines (the unit tests of other checks). */
  delv?(zone: string): Promise<DelvRun>;
  now: Date;
}

/** What a delv run gave: its output (stderr, then stdout), why it gave none, or that delv is not installed. */
export type DelvRun = { output: string } | { error: string } | { missing: true };

export interface DelvOptions {
  /** A `trust-anchors { … };` file (delv -a) for a private root, e.g. the lab's; else delv's built-in root key. */
  trustAnchor?: string;
  /** The recursive resolver delv asks; else the system's (/etc/resolv.conf). */
  resolver?: string;
  timeoutMs?: number;
}

/**
 * The argv of delv for a zone's SOA. +cd: the resolver hands over what it has even when it judges it
 * bogus (or trusts another anchor), so delv's own validation gives the verdict and says why.
 */
export function delvArgv(zone: string, options: DelvOptions): string[] {
  return ["+cd", ...(options.trustAnchor ? ["-a", options.trustAnchor] : []), ...(options.resolver ? [`@${options.resolver}`] : []), "SOA", zone];
}

/** Runs delv (an argument array, no shell) on a zone whose name the stack's validation vouches for. */
export function runDelv(zone: string, options: DelvOptions = {}): Promise<DelvRun> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  return new Promise((resolve) => {
    execFile("delv", delvArgv(zone, options), { encoding: "utf8", timeout: timeoutMs }, (error, stdout, stderr) => {
      if ((error as NodeJS.ErrnoException | null)?.code === "ENOENT") return resolve({ missing: true });
      if (error?.killed) return resolve({ error: `delv gave no verdict within ${timeoutMs / 1000} s` });
      resolve({ output: `${stderr}${stdout}` });
    });
  });
}

export interface TlsProbe {
  /** SMTP only: the 220 greeting, or the error that stopped the session before TLS. */
  banner?: string;
  error?: string;
  /** TLS was offered: STARTTLS in the EHLO reply, or always for TLS from the first byte. */
  starttls: boolean;
  tls?: {
    protocol: string;
    /** DNS names of the certificate's subjectAltName. */
    names: string[];
    /** SHA-256 of the certificate's SubjectPublicKeyInfo, hex: what a TLSA 3 1 1 record pins. */
    spkiSha256: string;
    validTo: Date;
    /** Chains to a trusted root (the system's or --ca) — MTA-STS senders require it. */
    trusted: boolean;
    trustError?: string;
  };
}

/** Reads SMTP replies line by line; resolves with the complete (possibly multi-line) reply. */
function replies(socket: Socket | TLSSocket): () => Promise<string> {
  let buffer = "";
  const waiting: ((reply: string) => void)[] = [];
  const complete: string[] = [];
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    buffer += chunk;
    // A reply ends with a line "NNN " (space after the code); "NNN-" continues it.
    const end = /(^|\r?\n)\d{3}(?: [^\n]*)?\r?\n/m;
    let match;
    while ((match = end.exec(buffer))) {
      const upto = match.index + match[0].length;
      complete.push(buffer.slice(0, upto));
      buffer = buffer.slice(upto);
      if (waiting.length > 0) waiting.shift()!(complete.shift()!);
    }
  });
  return () => new Promise((resolve) => (complete.length > 0 ? resolve(complete.shift()!) : waiting.push(resolve)));
}

export interface TlsProbeOptions {
  port: number;
  /** SMTP STARTTLS after EHLO (25, 587); otherwise TLS from the first byte (465, 993, 443). */
  starttls: boolean;
  /** PEM the chain must lead to instead of the system's trust store (--ca). */
  ca?: string;
  timeoutMs?: number;
}

/** Connects to address, speaks TLS with SNI `host` (after SMTP STARTTLS if asked) and reads the certificate. */
export function probeTls(host: string, address: string, options: TlsProbeOptions): Promise<TlsProbe> {
  const timeoutMs = options.timeoutMs ?? 15000;
  return new Promise((resolve) => {
    const result: TlsProbe = { starttls: false };
    let socket: Socket = new Socket();
    let done = false;
    const finish = (error?: string) => {
      if (done) return;
      done = true;
      if (error) result.error = error;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish(`no answer within ${timeoutMs / 1000} s`), timeoutMs);
    // rejectUnauthorized: false: the probe reports an untrusted certificate instead of failing blind.
    const handshake = (secure: TLSSocket, bye: string) => {
      socket = secure;
      secure.on("error", (e) => finish(`TLS handshake failed: ${e.message}`));
      secure.on("secureConnect", () => {
        const cert = secure.getPeerCertificate();
        result.tls = {
          protocol: secure.getProtocol() ?? "?",
          names: certificateNames(cert.subjectaltname),
          spkiSha256: cert.pubkey ? createHash("sha256").update(cert.pubkey).digest("hex") : "",
          validTo: new Date(cert.valid_to),
          trusted: secure.authorized,
          ...(secure.authorizationError ? { trustError: String(secure.authorizationError) } : {}),
        };
        if (bye) secure.write(bye);
        secure.end();
        finish();
      });
    };
    if (!options.starttls) {
      result.starttls = true;
      handshake(tlsConnect({ host: address, port: options.port, servername: host, ca: options.ca, rejectUnauthorized: false }), "");
      return;
    }
    socket = tcpConnect({ host: address, port: options.port });
    socket.on("error", (e) => finish(e.message));
    socket.on("connect", async () => {
      const next = replies(socket);
      const greeting = await next();
      result.banner = greeting.trim();
      if (!greeting.startsWith("220")) return finish(`greeting is not 220: ${greeting.trim()}`);
      // A name of its own, not one of the fleet's: edge hosts may rightly reject a stranger that
      // claims to be one of them.
      socket.write("EHLO mailfleet-check.invalid\r\n");
      const ehlo = await next();
      if (!ehlo.startsWith("250")) return finish(`EHLO refused: ${ehlo.trim()}`);
      result.starttls = /^250[- ]STARTTLS\s*$/im.test(ehlo);
      if (!result.starttls) return finish();
      socket.write("STARTTLS\r\n");
      const ready = await next();
      if (!ready.startsWith("220")) return finish(`STARTTLS refused: ${ready.trim()}`);
      socket.removeAllListeners("data");
      handshake(tlsConnect({ socket, servername: host, ca: options.ca, rejectUnauthorized: false }), "QUIT\r\n");
    });
  });
}

export interface PolicyFetch {
  status?: number;
  contentType?: string;
  body?: string;
  error?: string;
}

/**
 * GET https://mta-sts.<domain>/.well-known/mta-sts.txt from one address, verifying the certificate
 * for mta-sts.<domain> the way senders do (RFC 8461 §3.3: a valid PKIX certificate, no redirects).
 */
export function fetchMtaStsPolicy(domain: string, address: string, options: { ca?: string; timeoutMs?: number; port?: number } = {}): Promise<PolicyFetch> {
  const host = domainWebNames(domain).mtaSts;
  return new Promise((resolve) => {
    const req = request(
      {
        host: address,
        port: options.port ?? 443,
        servername: host,
        headers: { Host: host },
        path: "/.well-known/mta-sts.txt",
        method: "GET",
        ca: options.ca,
        timeout: options.timeoutMs ?? 15000,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          // RFC 8461 §3.3: senders stop reading a policy past 64 KiB.
          if (body.length < 65536) body += c;
        });
        res.on("end", () => resolve({ status: res.statusCode, contentType: res.headers["content-type"], body }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", (e) => resolve({ error: e.message }));
    req.end();
  });
}
