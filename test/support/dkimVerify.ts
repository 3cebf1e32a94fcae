/**
 * An independent DKIM verifier for tests, written from RFC 6376 (relaxed/relaxed, rsa-sha256 only):
 * it checks a signature made by rspamd against the public key as published in DNS (`p=`).
 */
import { createHash, createPrivateKey, createPublicKey, KeyObject, verify } from "node:crypto";

export interface DkimResult {
  ok: boolean;
  /** The signature's tags (whitespace removed), e.g. d, s, a, c, h. */
  tags: Record<string, string>;
  reason?: string;
}

/** RFC 6376 §3.4.2: lower-case name, unfold, runs of WSP to one SP, no WSP around the colon or at the end. */
function relaxedHeader(field: string): string {
  const colon = field.indexOf(":");
  const name = field.slice(0, colon).trim().toLowerCase();
  const value = field
    .slice(colon + 1)
    .replace(/\r\n/g, "")
    .replace(/[ \t]+/g, " ")
    .trim();
  return `${name}:${value}`;
}

/** RFC 6376 §3.4.4: runs of WSP to one SP, none at line ends, no trailing empty lines, CRLF-terminated. */
function relaxedBody(body: string): string {
  const lines = body.split("\r\n").map((l) => l.replace(/[ \t]+/g, " ").replace(/ $/, ""));
  while (lines.length && lines[lines.length - 1] === "") lines.pop();
  return lines.length ? `${lines.join("\r\n")}\r\n` : "";
}

export function verifyDkim(message: string, publicKeyBase64: string): DkimResult {
  const crlf = message.replace(/\r?\n/g, "\r\n");
  const split = crlf.indexOf("\r\n\r\n");
  const head = crlf.slice(0, split + 2);
  const body = crlf.slice(split + 4);
  // Header fields with their folded continuation lines.
  const fields = head.split(/\r\n(?![ \t])/).filter((f) => f.length);
  const sigField = fields.find((f) => /^dkim-signature\s*:/i.test(f));
  if (!sigField) return { ok: false, tags: {}, reason: "no DKIM-Signature" };
  const sigValue = sigField.slice(sigField.indexOf(":") + 1);
  const tags = Object.fromEntries(
    sigValue
      .split(";")
      .map((t) => t.replace(/\s+/g, ""))
      .filter((t) => t.includes("="))
      .map((t) => [t.slice(0, t.indexOf("=")), t.slice(t.indexOf("=") + 1)]),
  );
  if (tags.a !== "rsa-sha256" || tags.c !== "relaxed/relaxed") return { ok: false, tags, reason: `unsupported a=${tags.a} c=${tags.c}` };

  const bodyHash = createHash("sha256").update(relaxedBody(body)).digest("base64");
  if (bodyHash !== tags.bh) return { ok: false, tags, reason: `body hash ${bodyHash} != bh=${tags.bh}` };

  // RFC 6376 §5.4.2: each name in h= takes the last not-yet-used instance, from the bottom up; a
  // name with no instance left (over-signing) contributes nothing.
  const used = new Set<number>();
  let signed = "";
  for (const name of tags.h.split(":").map((n) => n.toLowerCase())) {
    for (let i = fields.length - 1; i >= 0; i--) {
      if (!used.has(i) && fields[i].slice(0, fields[i].indexOf(":")).trim().toLowerCase() === name) {
        used.add(i);
        signed += `${relaxedHeader(fields[i])}\r\n`;
        break;
      }
    }
  }
  // §3.7: the signature field itself, with the b= value emptied and no trailing CRLF.
  signed += relaxedHeader(sigField.replace(/(^|;)(\s*b\s*=)[^;]*/, "$1$2"));
  const key = createPublicKey({ key: Buffer.from(publicKeyBase64, "base64"), format: "der", type: "spki" });
  const ok = verify("sha256", Buffer.from(signed), key, Buffer.from(tags.b, "base64"));
  return ok ? { ok, tags } : { ok, tags, reason: "signature does not verify" };
}

/**
 * The selector and private key (as PKCS#8 PEM, however the original was wrapped) that an outbound
 * host's rspamd key table holds for `domain`, read the way rspamd reads it: `domain domain:selector:base64 DER`.
 */
export function keyTableEntry(table: string, domain: string): { selector: string; pem: string } | undefined {
  const line = table.split("\n").find((l) => l.startsWith(`${domain} `));
  if (!line) return undefined;
  const [signingDomain, selector, der] = line.slice(domain.length + 1).split(":");
  if (signingDomain !== domain) throw new Error(`key table line of ${domain} signs as ${signingDomain}`);
  return { selector, pem: pkcs8Pem(createPrivateKey({ key: Buffer.from(der, "base64"), format: "der", type: "pkcs8" })) };
}

/** One PEM form for comparing keys. */
export function pkcs8Pem(key: string | KeyObject): string {
  return (typeof key === "string" ? createPrivateKey(key) : key).export({ type: "pkcs8", format: "pem" }).toString();
}
