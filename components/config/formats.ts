/**
 * The value formats a stack config may use. Every string that reaches a rendered file, a zone
 * file or a shell command passes one of these, and none of them admits whitespace, quotes,
 * semicolons, backslashes or control characters — so no value can add a line or a directive.
 */
import ipaddr from "ipaddr.js";
import { z } from "zod";
import { filterOctets, MAX_LIST_ZONE_LENGTH, siteZone } from "./dnsList";

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

/** The stack config namespace: `mailfleet:serverDomain`. */
export const CONFIG_NAMESPACE = "mailfleet";

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

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/**
 * An address as the fleet writes it into zone files and daemon configs: dotted decimal without
 * octal or hex forms, IPv6 in lowercase, no zone id (a zone id names one machine's interface and
 * means nothing in DNS or on another host).
 */
const NOT_AN_ADDRESS = "not an IP address — like 192.0.2.10 or 2001:db8::10";
function parseAddress(text: string): Address | string {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return ipaddr.IPv4.parse(text);
  if (!ipaddr.IPv6.isValid(text)) return NOT_AN_ADDRESS;
  const address = ipaddr.IPv6.parse(text);
  if (address.zoneId !== undefined) return `has a zone id (%${address.zoneId}), which means nothing outside one machine — remove it`;
  if (text !== text.toLowerCase()) return "not an IPv6 address in lowercase — write it like 2001:db8::10";
  return address;
}

/** Ranges no other host can reach a server on (ipaddr.js range names), with why. */
const UNREACHABLE: Record<string, string> = {
  unspecified: "the unspecified address (any)",
  loopback: "a loopback address",
  linkLocal: "a link-local address",
  multicast: "a multicast address",
  broadcast: "the broadcast address",
  ipv4Mapped: "an IPv4-mapped IPv6 address (give the IPv4 address as ipv4)",
};

function addressOf(family: "ipv4" | "ipv6" | "either") {
  return z.string().superRefine((text, ctx) => {
    const address = parseAddress(text);
    const fail = (message: string) => ctx.addIssue({ code: "custom", message });
    if (typeof address === "string") return fail(address);
    if (family !== "either" && address.kind() !== family) return fail(family === "ipv4" ? "not an IPv4 address — like 192.0.2.10" : "not an IPv6 address — like 2001:db8::10");
    const range = address.range();
    if (range in UNREACHABLE) fail(`${text} is ${UNREACHABLE[range]}, which no other host reaches — give the server's own routable address`);
  });
}
/** Addresses of fleet hosts and nameservers: published in A/AAAA records and bound by daemons. */
export const hostIpv4 = addressOf("ipv4");
export const hostIpv6 = addressOf("ipv6");
/** Another server's address, of either family (a DNS forwarder): never loopback, which is the host's own resolver. */
export const serverAddress = addressOf("either");

/** Where the push connects: an address (a loopback tunnel is fine) or a host name. */
export const sshTarget = z
  .string()
  .refine((v) => ipaddr.IPv4.isValidFourPartDecimal(v) || FQDN_RE.test(v), "not an IPv4 address or host name — like 192.0.2.10 or mx1.example.com");

/**
 * A network in CIDR form no wider than widest (prefix lengths per family); the prefix is read as
 * a number, so 0.0.0.0/00 is the /0 it is. tooWide says what such a network would open.
 */
export function network(widest: { ipv4: number; ipv6: number }, tooWide: (text: string, bits: number) => string) {
  return z.string().superRefine((text, ctx) => {
    const fail = (message: string) => ctx.addIssue({ code: "custom", message });
    const [addressText, bitsText, ...rest] = text.split("/");
    const address = parseAddress(addressText);
    if (typeof address === "string" && address !== NOT_AN_ADDRESS) return fail(address);
    if (rest.length > 0 || bitsText === undefined || !/^[0-9]{1,3}$/.test(bitsText) || typeof address === "string") {
      return fail("not a network in CIDR form — like 203.0.113.0/24 or 2001:db8::/48");
    }
    const bits = Number(bitsText);
    const family = address.kind();
    if (bits > (family === "ipv4" ? 32 : 128)) {
      return fail(`not a network in CIDR form: /${bitsText} is longer than an ${family} address — like 203.0.113.0/24 or 2001:db8::/48`);
    }
    if (address.range() === "ipv4Mapped") return fail("an IPv4-mapped IPv6 network — write the IPv4 network instead");
    if (bits < widest[family]) fail(tooWide(text, bits));
  });
}

/** Marks a key's schema as a secret: the component package's schema takes it as a secret input. */
export const SECRET_META = { secret: true } as const;

function secret(check: (value: string) => string | undefined) {
  // The offline render's placeholder passes the format; parseFleetConfig decides whether it may stand.
  return z
    .string()
    .superRefine((value, ctx) => {
      const problem = value === REDACTED_SECRET ? undefined : check(value);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    })
    .meta(SECRET_META);
}

/** The crypt(3) form each scheme's hash takes (what `doveadm pw -s <scheme>` prints after the label). */
const CRYPT_FORMATS: Record<(typeof PASSWORD_SCHEMES)[number], { form: RegExp; looks: string }> = {
  "SHA512-CRYPT": { form: /^\$6\$(?:rounds=[0-9]{1,9}\$)?[./0-9A-Za-z]{1,16}\$[./0-9A-Za-z]{86}$/, looks: "$6$salt$hash" },
  "SHA256-CRYPT": { form: /^\$5\$(?:rounds=[0-9]{1,9}\$)?[./0-9A-Za-z]{1,16}\$[./0-9A-Za-z]{43}$/, looks: "$5$salt$hash" },
  "BLF-CRYPT": { form: /^\$2[by]\$[0-9]{2}\$[./0-9A-Za-z]{53}$/, looks: "$2y$cost$salthash" },
  ARGON2ID: { form: argon2("argon2id"), looks: "$argon2id$v=19$m=…,t=…,p=…$salt$hash" },
  ARGON2I: { form: argon2("argon2i"), looks: "$argon2i$v=19$m=…,t=…,p=…$salt$hash" },
};
function argon2(variant: string): RegExp {
  return new RegExp(`^\\$${variant}\\$v=19\\$m=[0-9]{1,10},t=[0-9]{1,10},p=[0-9]{1,3}\\$[A-Za-z0-9+/]{11,}\\$[A-Za-z0-9+/]{16,}$`);
}

// Never quotes the value: it is a secret.
export const passwordHash = secret((value) => {
  const [, scheme, crypt] = /^\{([A-Z0-9-]+)\}(.*)$/s.exec(value) ?? [];
  const format = CRYPT_FORMATS[scheme as keyof typeof CRYPT_FORMATS];
  if (!format) {
    return `not a strong password hash — use a Dovecot hash such as the output of \`doveadm pw -s SHA512-CRYPT\` (schemes: ${PASSWORD_SCHEMES.join(", ")})`;
  }
  if (!format.form.test(crypt)) {
    return `is labelled {${scheme}} but is not in that scheme's form (${format.looks}) — paste the whole output of \`doveadm pw -s ${scheme}\``;
  }
  return undefined;
});

// A relay password lands in a Postfix lookup table as the rest of a line: printable, no spaces.
export const relayPassword = secret((v) => (/^[\x21-\x7e]{1,256}$/.test(v) ? undefined : "must be 1-256 printable ASCII characters without spaces"));

const PEM_RE = /^-----BEGIN [A-Z ]+-----\n[A-Za-z0-9+/=\n]+-----END [A-Z ]+-----\n?$/;
export const pemPrivateKey = secret((v) => (PEM_RE.test(v) ? undefined : "not a PEM private key (-----BEGIN … PRIVATE KEY----- … -----END …-----)"));

/** One or more PEM certificates (a CA bundle). */
export const pemCertificates = z
  .string()
  .regex(
    /^(?:-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\n?)+$/,
    "not PEM certificates (-----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----)",
  );

/**
 * An ACME directory: https only (certbot would send the account key's signatures in clear
 * otherwise), a host and a path of URL-safe characters — it lands in a shell script.
 */
export const acmeDirectory = z
  .string()
  .regex(/^https:\/\/[a-z0-9.-]+(?::[0-9]{1,5})?(?:\/[A-Za-z0-9._~%/-]*)?$/, "not an https:// URL of an ACME directory, like https://acme-v02.api.letsencrypt.org/directory");

/**
 * Where Alertmanager posts alerts: an http(s) URL of URL-safe characters (it lands in a YAML file).
 * A secret: chat webhooks carry their token in the URL.
 */
export const webhookUrl = secret((v) =>
  /^https?:\/\/[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:\/[A-Za-z0-9._~%/+=-]*)?(?:\?[A-Za-z0-9._~%/+=&-]*)?$/.test(v)
    ? undefined
    : "not an http(s) URL of letters, digits and . _ ~ % / + = - & ? only — like https://alerts.example.net/hook/TOKEN",
);

/** EAB key id and HMAC key as ACME CAs hand them out: base64url (RFC 8555 §7.3.4). */
export const eabKid = z.string().regex(/^[A-Za-z0-9_-]{1,256}$/, "not an EAB key id (letters, digits, - and _)");
export const eabHmac = secret((v) => (/^[A-Za-z0-9_-]{16,512}$/.test(v) ? undefined : "not an EAB HMAC key (base64url, at least 16 characters)"));

/** A Cloudflare API token: 40 URL-safe characters. */
export const cloudflareToken = secret((v) => (/^[A-Za-z0-9_-]{40,64}$/.test(v) ? undefined : "not a Cloudflare API token (40 letters, digits, - and _)"));

export const sshPublicKey = z
  .string()
  .regex(
    /^(?:ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)) [A-Za-z0-9+/]+={0,2}(?: [A-Za-z0-9@._-]{1,64})?$/,
    "not an OpenSSH public key line (type, base64 key, optional comment of letters, digits, @ . _ -)",
  );

// postscreen_dnsbl_sites syntax (parsed in ./dnsList): zone[=reply-filter][*weight], e.g. zen.spamhaus.org*3
export const dnsblSite = z
  .string()
  .regex(
    new RegExp(`^${DNS_NAME_RE.source.slice(1, -1)}(?:=[0-9.\\[\\];]{3,64})?(?:\\*-?[0-9]{1,2})?$`),
    "not a DNSBL site — use zone[=127.0.0.[2..11]][*weight], like zen.spamhaus.org*3",
  )
  .superRefine((site, ctx) => {
    const filter = /=([^*]+)/.exec(site)?.[1];
    const octets = filter === undefined ? [] : filterOctets(filter);
    if (typeof octets === "string") ctx.addIssue({ code: "custom", message: `not a reply filter: ${octets} — like 127.0.0.[2..11] or 127.0.0.[2;4]` });
    if (siteZone(site).length > MAX_LIST_ZONE_LENGTH) {
      ctx.addIssue({ code: "custom", message: `the zone is longer than ${MAX_LIST_ZONE_LENGTH} characters: a query about an IPv6 address (64 more) would pass DNS's 253 — use the list's own, shorter zone` });
    }
  });
/** An allowlist site: the same syntax, its weight how much a listing lowers the score, so never negative. */
export const dnswlSite = dnsblSite.refine(
  (site) => !/\*-/.test(site),
  "a negative weight: an allowlist's weight is subtracted already — give it positive, like list.dnswl.org=127.0.[0..255].[2..3]*3",
);

/** Paths of the strings anywhere in raw config for which test holds. */
export function stringPaths(value: unknown, test: (text: string, path: (string | number)[]) => boolean, path: (string | number)[] = []): (string | number)[][] {
  if (typeof value === "string") return test(value, path) ? [path] : [];
  if (Array.isArray(value)) return value.flatMap((item, i) => stringPaths(item, test, [...path, i]));
  if (value && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => stringPaths(v, test, [...path, k]));
  return [];
}

/** Finds strings holding control characters (newline, NUL, escape …); allow admits newlines at some paths. */
export function controlCharacterPaths(value: unknown, allow: (p: (string | number)[]) => boolean): (string | number)[][] {
  // eslint-disable-next-line no-control-regex
  return stringPaths(value, (text, path) => (allow(path) ? /[\x00-\x09\x0b-\x1f\x7f]/ : /[\x00-\x1f\x7f]/).test(text));
}

/** How to set the secret at path without it landing in argv (`ps`): pulumi reads a missing value from stdin. */
export function secretHint(path: readonly PropertyKey[]): string {
  return `set it from stdin: \`pulumi config set --path --secret '${CONFIG_NAMESPACE}:${formatPath(path)}' < file\``;
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

/** A host in a URL: a name, an IPv4 address, or an IPv6 address in brackets (a tunnel on loopback is fine). */
function urlHost(text: string): boolean {
  if (text.startsWith("[") && text.endsWith("]")) return ipaddr.IPv6.isValid(text.slice(1, -1)) && text === text.toLowerCase() && !text.includes("%");
  return ipaddr.IPv4.isValidFourPartDecimal(text) || FQDN_RE.test(text) || /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(text);
}
const PORT = "(?::(?:[1-9][0-9]{0,4}))?";
// Path segments of letters, digits and . _ ~ -, never "." or "..": the repository URL lands in a shell-sourced file.
const SEGMENT = "(?!\\.\\.?(?:/|$))[A-Za-z0-9._~-]+";
const URL_PATH = `(?:/${SEGMENT})*/?`;
const HOST = "(\\[[0-9a-f:]+\\]|[A-Za-z0-9.-]+)";
/** Each repository scheme with its form (group 1: the host) and an example. */
const REPOSITORY_FORMS: Record<string, { form: RegExp; like: string }> = {
  sftp: { form: new RegExp(`^sftp:[a-z_][a-z0-9_-]{0,31}@${HOST}:/${SEGMENT}${URL_PATH}$`), like: "sftp:backup@backup.example.com:/srv/restic" },
  rest: { form: new RegExp(`^rest:https?://${HOST}${PORT}${URL_PATH}$`), like: "rest:https://backup.example.com:8000/mail" },
  s3: { form: new RegExp(`^s3:(?:https?://)?${HOST}${PORT}/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]${URL_PATH}$`), like: "s3:s3.amazonaws.com/bucket/prefix" },
};
/**
 * The base of the stores' restic repositories: sftp:user@host:/path, rest:http(s)://host[:port]/path
 * or s3:[https://]host[:port]/bucket[/prefix]. No credentials in it: they would sit in plain text in
 * the stack file and on every store.
 */
export const resticRepository = z.string().superRefine((text, ctx) => {
  const fail = (message: string) => ctx.addIssue({ code: "custom", message });
  const scheme = /^([a-z0-9]+):/.exec(text)?.[1] ?? "";
  const known = Object.hasOwn(REPOSITORY_FORMS, scheme) ? REPOSITORY_FORMS[scheme] : undefined;
  if (!known) {
    return fail(`not a restic repository URL this fleet backs up to — use ${Object.values(REPOSITORY_FORMS).map((f) => f.like).join(", ")}`);
  }
  if (/^rest:https?:\/\/[^/]*@/.test(text)) {
    return fail(
      "carries credentials in the URL, which would be stored in plain text in the stack and on every store — use a rest-server " +
        "reachable without them (on a private network or a tunnel), or sftp: with the stores' root SSH key",
    );
  }
  const match = known.form.exec(text);
  if (!match || !urlHost(match[1])) return fail(`not a ${scheme}: repository URL — letters, digits and . _ ~ - in the path, like ${known.like}`);
});

/** restic's repository password: read from a file, so any printable ASCII, without spaces at its ends; 16 or more characters. */
export const backupPassword = secret((v) =>
  /^[\x21-\x7e](?:[\x20-\x7e]{14,1022})[\x21-\x7e]$/.test(v) ? undefined : "must be 16-1024 printable ASCII characters, not starting or ending with a space — e.g. `openssl rand -base64 32`",
);
