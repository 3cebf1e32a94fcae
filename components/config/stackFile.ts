/**
 * Reads `stacks/Pulumi.<stack>.yaml` without the Pulumi CLI, for the offline render and the lab.
 * `secure:` values are decrypted when the stack uses the passphrase secrets provider and
 * PULUMI_CONFIG_PASSPHRASE is set (the same scheme the CLI uses: PBKDF2-SHA256 with 1,000,000
 * rounds over the stack's salt, then AES-256-GCM); otherwise they become REDACTED_SECRET, so a
 * plan can still be shown for a stack whose secrets live in a cloud KMS.
 */
import { createDecipheriv, pbkdf2Sync } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Document, isScalar, LineCounter, parseDocument, visit } from "yaml";
import { ConfigError } from "./errors";
import { CONFIG_NAMESPACE, formatPath, REDACTED_SECRET, secretHint } from "./formats";

export interface StackConfig {
  /** The `mailfleet:` keys with the prefix stripped, secrets decrypted or redacted. */
  raw: Record<string, unknown>;
  /** Whether secrets were replaced by REDACTED_SECRET. */
  redacted: boolean;
}

export function stackFilePath(stack: string, dir = "stacks"): string {
  if (!/^[A-Za-z0-9_.-]{1,100}$/.test(stack)) {
    throw new ConfigError([{ path: "stack", message: `"${stack}" is not a stack name`, hint: "letters, digits, '-', '_' and '.'" }]);
  }
  return join(dir, `Pulumi.${stack}.yaml`);
}

export function readStackConfig(stack: string, options: { dir?: string; passphrase?: string } = {}): StackConfig {
  const file = stackFilePath(stack, options.dir);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new ConfigError([{ path: file, message: `cannot be read: ${(error as Error).message}`, hint: "create it with `pulumi stack init`" }]);
  }
  let doc: { config?: Record<string, unknown>; encryptionsalt?: string };
  const lines = new LineCounter();
  // yaml's own duplicate-key check compares every key of a map with every other (50 s for 50 000
  // aliases); duplicateKey below does the same in one pass.
  const document = parseDocument(text, { prettyErrors: false, lineCounter: lines, uniqueKeys: false });
  const error = document.errors[0] ?? duplicateKey(document);
  if (error) {
    // Only the position and yaml's error code: its message and code frame can quote the line, which may hold a plain-text secret.
    const { pos, code } = error;
    const where = (({ line, col }) => ` at line ${line}, column ${col}`)(lines.linePos(pos[0]));
    const message = `is not valid YAML${where} (${code})`;
    throw new ConfigError([{ path: file, message, hint: "fix the YAML there (the line is not shown: it may hold a secret)" }]);
  }
  doc = (document.toJS() as typeof doc | null) ?? {};
  const decrypt = options.passphrase && doc.encryptionsalt ? passphraseDecrypter(options.passphrase, doc.encryptionsalt) : undefined;
  let redacted = false;
  const undecryptable: (string | number)[][] = [];
  const reveal = (value: unknown, path: (string | number)[]): unknown => {
    if (Array.isArray(value)) return value.map((item, i) => reveal(item, [...path, i]));
    if (value && typeof value === "object") {
      const entries = Object.entries(value);
      if (entries.length === 1 && entries[0][0] === "secure" && typeof entries[0][1] === "string") {
        if (!decrypt) {
          redacted = true;
          return REDACTED_SECRET;
        }
        try {
          return decrypt(entries[0][1]);
        } catch {
          undecryptable.push(path);
          return REDACTED_SECRET;
        }
      }
      return Object.fromEntries(entries.map(([k, v]) => [k, reveal(v, [...path, k])]));
    }
    return value;
  };
  const raw: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(doc.config ?? {})) {
    if (key.startsWith(`${CONFIG_NAMESPACE}:`)) {
      const name = key.slice(CONFIG_NAMESPACE.length + 1);
      raw[name] = reveal(value, [name]);
    }
  }
  if (undecryptable.length > 0) {
    throw new ConfigError(
      undecryptable.map((path) => ({
        path: formatPath(path),
        message: "is a secure value this stack's passphrase does not decrypt (corrupt, or encrypted for another stack)",
        hint: secretHint(path),
      })),
    );
  }
  return { raw, redacted };
}

export interface StackFileOptions {
  /** The folder of the stack files (default: stacks). */
  dir?: string;
  passphrase?: string;
  /**
   * A read-only use (the offline plan, the live check): secrets this run could not decrypt may
   * stand as placeholders. Anything that deploys leaves it off, so a placeholder is refused.
   */
  allowRedacted?: boolean;
}

/** Derived keys by salt and passphrase: the million rounds are paid once per process, not on every read of a stack. */
const derivedKeys = new Map<string, Buffer>();

function derivedKey(passphrase: string, salt: string): Buffer {
  const id = JSON.stringify([salt, passphrase]);
  let key = derivedKeys.get(id);
  if (!key) {
    key = pbkdf2Sync(passphrase, Buffer.from(salt, "base64"), 1_000_000, 32, "sha256");
    derivedKeys.set(id, key);
  }
  return key;
}

function passphraseDecrypter(passphrase: string, encryptionSalt: string): (ciphertext: string) => string {
  // encryptionsalt = "v1:" + base64(salt) + ":" + encrypt("pulumi"), a check value for the passphrase.
  const [version, salt, ...check] = encryptionSalt.split(":");
  if (version !== "v1" || !salt) throw new ConfigError([{ path: "encryptionsalt", message: "is not a passphrase salt Pulumi wrote" }]);
  const key = derivedKey(passphrase, salt);
  const decrypt = (ciphertext: string): string => {
    const [v, nonce, sealed] = ciphertext.split(":");
    if (v !== "v1" || !nonce || !sealed) throw new Error("not a v1 ciphertext");
    const data = Buffer.from(sealed, "base64");
    const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(nonce, "base64"));
    decipher.setAuthTag(data.subarray(data.length - 16));
    return Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]).toString("utf8");
  };
  let passphraseOk = false;
  try {
    passphraseOk = decrypt(check.join(":")) === "pulumi";
  } catch {
    passphraseOk = false;
  }
  if (!passphraseOk) {
    throw new ConfigError([
      { path: "PULUMI_CONFIG_PASSPHRASE", message: "does not decrypt this stack's secrets", hint: "use the passphrase the stack was created with" },
    ]);
  }
  return decrypt;
}

/** The first key that a map of the document holds twice (YAML 1.2 §3.2.1.1: keys are unique), as yaml reports it. */
function duplicateKey(document: Document): { pos: [number, number]; code: string } | undefined {
  let found: { pos: [number, number]; code: string } | undefined;
  visit(document, {
    Map(_, map) {
      const seen = new Set<unknown>();
      const twice = map.items.find(({ key }) => {
        const value = isScalar(key) ? key.value : String(key);
        return seen.size === seen.add(value).size;
      });
      if (!twice) return undefined;
      const start = (isScalar(twice.key) && twice.key.range?.[0]) || 0;
      found = { pos: [start, start + 1], code: "DUPLICATE_KEY" };
      return visit.BREAK;
    },
  });
  return found;
}
