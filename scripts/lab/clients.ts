/**
 * Real clients on the lab's peer hosts, for the end-to-end tests and for an operator poking at
 * the lab: SMTP and IMAP through mailtool.py (Python's smtplib/imaplib), mail by MX lookup
 * through client's own Postfix, DNS through kdig with the host's resolv.conf, and the messages
 * ext received. Every wait is bounded in time.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { POSTFIX_LOG } from "../../components/render/postfix/common";
import { SMTP_PORT } from "../../components/topology";
import { exec, execOk, hostRoot } from "./host";
import { CA_FILE, MAILTOOL } from "./plan";
import { CLIENT, EXT, EXT_USER } from "./peers";

export interface SmtpResult {
  ok: boolean;
  stage: "connect" | "auth" | "mail" | "rcpt" | "data";
  code?: number;
  message?: string;
  ehlo?: string[];
  ehlo_tls?: string[];
  /** What EHLO offered for AUTH before STARTTLS (null: not offered). */
  auth_before_tls?: string | null;
  auth?: string | null;
  message_id?: string;
}

export interface ImapMessage {
  subject: string;
  message_id: string;
  to: string;
  delivered_to: string[];
  received: string[];
}

function mailtool<T>(host: string, args: string[]): T {
  const out = execOk(host, ["python3", MAILTOOL, ...args, "--cafile", CA_FILE], { timeoutMs: 150_000 });
  return JSON.parse(out) as T;
}

export interface SendOptions {
  server: string;
  port?: number;
  mode?: "plain" | "starttls" | "tls";
  auth?: { user: string; password: string };
  from: string;
  /** The From: header, when it is not the envelope sender. */
  headerFrom?: string;
  to: string[];
  subject: string;
  /** Where the client runs (default: client). */
  on?: string;
  /** The address it connects from, when not the host's first. */
  source?: string;
}

/** One SMTP transaction; the result says where it stopped and what the server answered. */
export function smtpSend(o: SendOptions): SmtpResult {
  return mailtool<SmtpResult>(o.on ?? CLIENT.name, [
    "send",
    "--host", o.server,
    "--port", String(o.port ?? SMTP_PORT),
    "--mode", o.mode ?? "plain",
    ...(o.auth ? ["--user", o.auth.user, "--password", o.auth.password] : []),
    "--mail-from", o.from,
    ...(o.headerFrom ? ["--header-from", o.headerFrom] : []),
    ...(o.source ? ["--source", o.source] : []),
    ...o.to.flatMap((r) => ["--rcpt", r]),
    "--subject", o.subject,
  ]);
}

/** EHLO (and EHLO after STARTTLS in starttls mode): what the server offers. */
export function smtpEhlo(server: string, port: number, mode: "plain" | "starttls" | "tls", on = CLIENT.name): SmtpResult {
  return mailtool<SmtpResult>(on, ["ehlo", "--host", server, "--port", String(port), "--mode", mode]);
}

/** Messages in a user's INBOX whose subject contains `subject`, read over IMAPS. */
export function imapMessages(server: string, user: string, password: string, subject: string): ImapMessage[] {
  const r = mailtool<{ ok: boolean; message?: string; messages?: ImapMessage[] }>(CLIENT.name, [
    "imap", "--host", server, "--user", user, "--password", password, "--subject", subject,
  ]);
  if (!r.ok) throw new Error(`IMAP ${user}@${server}: ${r.message}`);
  return r.messages!;
}

/**
 * Hands messages to client's own Postfix, which delivers by MX lookup (as any sending MTA on the
 * Internet would): `count` messages with subjects `<subject> 1` … `<subject> <count>`.
 */
export function sendByMx(from: string, to: string, subject: string, count = 1): void {
  execOk(CLIENT.name, [
    "bash", "-c",
    'for i in $(seq 1 "$4"); do ' +
      'printf "From: <%s>\\nTo: <%s>\\nSubject: %s %s\\n\\nA mailfleet lab test message.\\n" "$1" "$2" "$3" "$i" | sendmail -f "$1" "$2"; done',
    "send", from, to, subject, String(count),
  ]);
}

/** The answers to a DNS query made on a host through its resolv.conf (the lab DNS), as kdig +short prints them. */
export function dig(name: string, type: string, on = CLIENT.name): string[] {
  const argv = type === "PTR" ? ["kdig", "+short", "-x", name] : ["kdig", "+short", name, type];
  return execOk(on, argv).split("\n").filter((l) => l.trim() !== "");
}

/** A TXT answer as one string (its character-strings joined, RFC 7208 §3.3). */
export function txtValue(answer: string): string {
  return [...answer.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1].replace(/\\(.)/g, "$1")).join("");
}

/** Raw messages ext delivered to its test user's Maildir. */
export function extMessages(): string[] {
  const dir = join(hostRoot(EXT.name), "home", EXT_USER, "Maildir", "new");
  if (!existsSync(dir)) return [];
  return readdirSync(dir).map((f) => readFileSync(join(dir, f), "utf8"));
}

/** A header block's fields (unfolded), name lower-cased, in order. */
export function headers(message: string): { name: string; value: string }[] {
  const head = message.split(/\r?\n\r?\n/)[0].replace(/\r?\n[ \t]+/g, " ");
  return head.split(/\r?\n/).map((line) => {
    const colon = line.indexOf(":");
    return { name: line.slice(0, colon).toLowerCase(), value: line.slice(colon + 1).trim() };
  });
}

/** The size of a host's Postfix log (maillog_file) now: where to count from. */
export function logSize(host: string): number {
  return statSync(join(hostRoot(host), POSTFIX_LOG)).size;
}

/** Lines of a host's Postfix log that match `pattern`, since the log had `offset` bytes; by default the deferrals. */
export function logLinesSince(host: string, offset: number, pattern = /status=deferred/): number {
  const log = readFileSync(join(hostRoot(host), POSTFIX_LOG), "utf8").slice(offset);
  return log.split("\n").filter((line) => pattern.test(line)).length;
}

/** Messages waiting in a Postfix queue on a host. */
export function queueSize(host: string): number {
  const r = exec(host, ["postqueue", "-j"]);
  return r.stdout.split("\n").filter((l) => l.startsWith("{")).length;
}

/** Polls until check returns a value, at most timeoutMs; the last value is returned either way. */
export async function waitUntil<T>(probe: () => T, done: (value: T) => boolean, timeoutMs: number, intervalMs = 1000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let value = probe();
  while (!done(value) && Date.now() < until) {
    await sleep(intervalMs);
    value = probe();
  }
  return value;
}

export interface PresentedCertificate {
  /** Whether the chain verified against the lab's trust file alone, for the name asked. */
  verified: boolean;
  /** openssl's verdict, e.g. "0 (ok)" or "21 (unable to verify the first certificate)". */
  verifyResult: string;
  serial: string;
  issuer: string;
  names: string[];
  /** SHA-256 of the certificate's public key (SubjectPublicKeyInfo, DER): what a TLSA 3 1 1 record holds. */
  spki: string;
}

/**
 * The certificate a TLS endpoint presents to a client on `on`, as openssl s_client sees it:
 * verified against CA_FILE alone (no system store), with the host name checked against `name`
 * (sent as SNI too). `starttls`: the protocol's own upgrade (smtp on 25 and 587).
 */
export function presentedCertificate(o: { address: string; port: number; name: string; starttls?: "smtp"; on?: string }): PresentedCertificate {
  const target = o.address.includes(":") ? `[${o.address}]:${o.port}` : `${o.address}:${o.port}`;
  const script = [
    'out=$(echo | timeout 20 openssl s_client -connect "$1" -servername "$2" -verify_hostname "$2" -CAfile "$3" -no-CApath -no-CAstore ${4:+-starttls "$4"} 2>&1)',
    'printf "%s\\n" "$out" | grep -m1 "Verify return code:" || echo "Verify return code: none"',
    'printf "%s\\n" "$out" | openssl x509 -noout -serial -issuer -ext subjectAltName 2>/dev/null',
    'echo "spki=$(printf "%s\\n" "$out" | openssl x509 -noout -pubkey 2>/dev/null | openssl pkey -pubin -outform DER 2>/dev/null | sha256sum | cut -d" " -f1)"',
  ].join("\n");
  const out = execOk(o.on ?? CLIENT.name, ["bash", "-c", script, "probe", target, o.name, CA_FILE, o.starttls ?? ""], { timeoutMs: 30_000 });
  const field = (re: RegExp) => out.match(re)?.[1]?.trim() ?? "";
  const verifyResult = field(/Verify return code: (.*)/);
  return {
    verified: verifyResult.startsWith("0 "),
    verifyResult,
    serial: field(/serial=(\S+)/),
    issuer: field(/issuer=(.*)/),
    names: [...out.matchAll(/DNS:([^,\s]+)/g)].map((m) => m[1]),
    spki: field(/spki=(\S+)/),
  };
}

/**
 * What Debian's MTA-STS client (postfix-mta-sts-resolver's `mta-sts-query`) on the client host
 * fetches for a domain, trusting CA_FILE alone: its verdict (VALID, FETCH_ERROR, …) and the policy.
 */
export function mtaStsQuery(domain: string): { result: string; policy?: { mode: string; mx: string[]; max_age: number } } {
  const r = exec(CLIENT.name, ["env", `SSL_CERT_FILE=${CA_FILE}`, "SSL_CERT_DIR=/nonexistent", "mta-sts-query", "-v", "error", domain], { timeoutMs: 60_000 });
  const result = r.stdout.match(/STSFetchResult\.(\w+)/)?.[1] ?? `no answer (exit ${r.code}): ${r.stderr.trim()}`;
  // The policy is printed as a Python dict literal: its strings are single-quoted.
  const dict = r.stdout.match(/(\{.*\})/)?.[1];
  return { result, ...(dict ? { policy: JSON.parse(dict.replace(/'/g, '"')) } : {}) };
}

export interface MailboxState {
  ok: boolean;
  message?: string;
  /** Folder -> its messages, as IMAP shows them. */
  folders?: Record<string, { subject: string; message_id: string; flags: string[] }[]>;
}

/** Every folder of a mailbox with each message's subject, Message-ID and flags, over IMAPS from the client. */
export function mailboxState(server: string, user: string, password: string): MailboxState {
  return mailtool<MailboxState>(CLIENT.name, ["state", "--host", server, "--user", user, "--password", password]);
}

/** Creates `folder` in a mailbox, copies the INBOX messages whose subject has `subject` into it and flags them there (marking the originals seen). */
export function fileMessages(server: string, user: string, password: string, subject: string, folder: string): number {
  const r = mailtool<{ ok: boolean; filed?: number; message?: string }>(CLIENT.name, [
    "file", "--host", server, "--user", user, "--password", password, "--subject", subject, "--folder", folder,
  ]);
  if (!r.ok) throw new Error(`IMAP filing on ${server} for ${user} failed: ${r.message}`);
  return r.filed!;
}

/** Moves the messages of `from` whose subject has `subject` into `to` (IMAP MOVE, as a mail client does when a user drags them); how many moved. */
export function moveMessages(server: string, user: string, password: string, subject: string, from: string, to: string): number {
  const r = mailtool<{ ok: boolean; moved?: number; message?: string }>(CLIENT.name, [
    "move", "--host", server, "--user", user, "--password", password, "--subject", subject, "--source-folder", from, "--folder", to,
  ]);
  if (!r.ok) throw new Error(`IMAP move on ${server} for ${user} from ${from} to ${to} failed: ${r.message}`);
  return r.moved!;
}
