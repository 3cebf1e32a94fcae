/**
 * The value formats a stack config may use. Every string that reaches a rendered file, a zone
 * file or a shell command passes one of these, and none of them admits whitespace, quotes,
 * semicolons, backslashes or control characters — so no value can add a line or a directive.
 */
import { isIPv4, isIPv6 } from "node:net";
import { z } from "zod";

const LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
// Service labels such as _spf or _dmarc appear in names that other parties publish.
const SERVICE_LABEL = "(?:_?[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?)";
const TLD = "[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?";

export const FQDN_RE = new RegExp(`^(?=.{4,253}$)(?:${LABEL}\\.)+${TLD}$`);
const DNS_NAME_RE = new RegExp(`^(?=.{4,253}$)(?:${SERVICE_LABEL}\\.)+${TLD}$`);
export const HOST_LABEL_RE = /^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
export const LOCAL_PART_RE = /^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$/;
export const SELECTOR_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
// Dovecot scheme prefixes strong enough for stored passwords; PLAIN, MD5 and friends are refused.
export const PASSWORD_SCHEMES = ["ARGON2ID", "ARGON2I", "BLF-CRYPT", "SHA512-CRYPT", "SHA256-CRYPT"] as const;
const HASH_RE = new RegExp(`^\\{(?:${PASSWORD_SCHEMES.join("|")})\\}\\$[A-Za-z0-9$./=,+-]{20,}$`);

/** What the offline reader puts in place of a secret it cannot decrypt (no passphrase given). */
export const REDACTED_SECRET = "(redacted)";

export const fqdn = z
  .string()
  .regex(FQDN_RE, "not a fully qualified domain name — use lowercase letters, digits and hyphens in dot-separated labels, like mail.example.com");

export const dnsName = z
  .string()
  .regex(DNS_NAME_RE, "not a DNS name — use lowercase labels such as _spf.relay.example.com");

export const email = z.string().refine((value) => {
  const at = value.lastIndexOf("@");
  return at > 0 && LOCAL_PART_RE.test(value.slice(0, at)) && !value.includes("..") && FQDN_RE.test(value.slice(at + 1));
}, "not a mail address — use lowercase like alice@example.com (letters, digits, '.', '_', '-')");

export const ipv4 = z.string().refine((v) => isIPv4(v), "not an IPv4 address");
export const ipv6 = z.string().refine((v) => isIPv6(v) && v === v.toLowerCase(), "not an IPv6 address in lowercase");

function isCidr(value: string): boolean {
  const [address, bits, ...rest] = value.split("/");
  if (rest.length > 0 || bits === undefined || !/^[0-9]{1,3}$/.test(bits)) return false;
  if (isIPv4(address)) return Number(bits) <= 32;
  return isIPv6(address) && Number(bits) <= 128;
}
export const cidr = z.string().refine(isCidr, "not a network in CIDR form — like 203.0.113.0/24 or 2001:db8::/48");

function secretOf(schema: z.ZodString | z.ZodType<string>) {
  return z.union([z.literal(REDACTED_SECRET), schema]);
}

export const passwordHash = secretOf(
  z
    .string()
    .regex(
      HASH_RE,
      `not a strong password hash — use a Dovecot hash such as the output of \`doveadm pw -s SHA512-CRYPT\` (schemes: ${PASSWORD_SCHEMES.join(", ")})`,
    ),
);

// A relay password lands in a Postfix lookup table as the rest of a line: printable, no spaces.
export const relayPassword = secretOf(
  z.string().regex(/^[\x21-\x7e]{1,256}$/, "must be 1-256 printable ASCII characters without spaces"),
);

const PEM_RE = /^-----BEGIN [A-Z ]+-----\n[A-Za-z0-9+/=\n]+-----END [A-Z ]+-----\n?$/;
export const pemPrivateKey = secretOf(z.string().regex(PEM_RE, "not a PEM private key (-----BEGIN … PRIVATE KEY----- … -----END …-----)"));

export const sshPublicKey = z
  .string()
  .regex(
    /^(?:ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)) [A-Za-z0-9+/]+={0,2}(?: [A-Za-z0-9@._-]{1,64})?$/,
    "not an OpenSSH public key line (type, base64 key, optional comment of letters, digits, @ . _ -)",
  );

// postscreen_dnsbl_sites syntax: zone[=reply-filter][*weight], e.g. zen.spamhaus.org*3
export const dnsblSite = z
  .string()
  .regex(
    new RegExp(`^${DNS_NAME_RE.source.slice(1, -1)}(?:=[0-9.\\[\\];]{3,64})?(?:\\*-?[0-9]{1,2})?$`),
    "not a DNSBL site — use zone[=127.0.0.[2..11]][*weight], like zen.spamhaus.org*3",
  );

/** Finds strings holding control characters (newline, NUL, escape …) anywhere in raw config. */
export function controlCharacterPaths(value: unknown, path: (string | number)[] = [], allow: (p: (string | number)[]) => boolean = () => false): (string | number)[][] {
  if (typeof value === "string") {
    // eslint-disable-next-line no-control-regex
    const bad = allow(path) ? /[\x00-\x09\x0b-\x1f\x7f]/ : /[\x00-\x1f\x7f]/;
    return bad.test(value) ? [path] : [];
  }
  if (Array.isArray(value)) return value.flatMap((item, i) => controlCharacterPaths(item, [...path, i], allow));
  if (value && typeof value === "object") {
    return Object.entries(value).flatMap(([k, v]) => controlCharacterPaths(v, [...path, k], allow));
  }
  return [];
}

/** `mailboxes[3].address`, `aliases["sales@example.com"][0]` */
export function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((segment, i) => {
      if (typeof segment === "number") return `[${segment}]`;
      const key = String(segment);
      if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) return i === 0 ? key : `.${key}`;
      return `[${JSON.stringify(key)}]`;
    })
    .join("");
}
