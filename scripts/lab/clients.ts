/**
 * Real clients on the lab's peer hosts, for the end-to-end tests and for an operator poking at
 * the lab: SMTP and IMAP through mailtool.py (Python's smtplib/imaplib), mail by MX lookup
 * through client's own Postfix, DNS through kdig with the host's resolv.conf, and the messages
 * ext received. Every wait is bounded in time.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
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
  const out = execOk(host, ["python3", MAILTOOL, ...args, "--cafile", CA_FILE], { timeoutMs: 90_000 });
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

/** The size of a host's syslog now: where to count from. */
export function logSize(host: string): number {
  return statSync(join(hostRoot(host), "var/log/syslog")).size;
}

/** Lines of a host's syslog that match `pattern`, since the log had `offset` bytes; by default Postfix's deferrals. */
export function logLinesSince(host: string, offset: number, pattern = /status=deferred/): number {
  const log = readFileSync(join(hostRoot(host), "var/log/syslog"), "utf8").slice(offset);
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
