/**
 * The three Postfix file formats the renderers write: main.cf settings, master.cf services and
 * texthash lookup tables. Each formatter refuses characters that could end a line or start a
 * new directive, so a value that slipped past config validation fails the render, not the host.
 */
import { FQDN_RE } from "../../config/formats";
import { oncePer } from "../../memo";

/** One main.cf parameter, with the problem it prevents when that is not obvious. */
export interface Setting {
  name: string;
  value: string;
  why?: string;
}

export function setting(name: string, value: string | number | readonly string[], why?: string): Setting {
  return { name, value: typeof value === "object" ? value.join(", ") : String(value), ...(why ? { why } : {}) };
}

/** main.cf parameter names are words (a few spell CA, e.g. smtp_tls_CAfile); values printable ASCII on one line. */
const NAME_RE = /^[a-z][A-Za-z0-9_]*$/;
const VALUE_RE = /^[\x20-\x7e]*$/;
/** Table keys and master.cf fields are single tokens. */
const TOKEN_RE = /^[\x21-\x7e]+$/;

function assertMatches(re: RegExp, text: string, what: string): void {
  if (!re.test(text)) throw new Error(`refusing to render ${what}: ${JSON.stringify(text)}`);
}

function comment(why: string | undefined): string {
  return why ? `# ${why}\n` : "";
}

export function renderMainCf(title: string, settings: readonly Setting[]): string {
  const seen = new Set<string>();
  const body = settings.map((s) => {
    assertMatches(NAME_RE, s.name, "a main.cf parameter name");
    assertMatches(VALUE_RE, s.value, `the value of ${s.name}`);
    if (seen.has(s.name)) throw new Error(`main.cf parameter ${s.name} is set twice`);
    seen.add(s.name);
    return `${comment(s.why)}${s.name} =${s.value ? ` ${s.value}` : ""}`;
  });
  return `# ${title}\n# Rendered by mailfleet; the next deploy replaces local edits.\n\n${body.join("\n\n")}\n`;
}

/** One master.cf service line: `service type private unpriv chroot wakeup maxproc command` + -o overrides. */
export interface Service {
  service: string;
  type: "inet" | "unix" | "unix-dgram" | "pass" | "fifo";
  private?: "y" | "n" | "-";
  unpriv?: "y" | "n" | "-";
  wakeup?: string;
  maxproc?: string;
  command: string;
  options?: readonly Setting[];
  why?: string;
}

export function renderMasterCf(title: string, services: readonly Service[]): string {
  const body = services.map((s) => {
    // Nothing runs chrooted: a chroot needs copies of resolv.conf, the tables and the TLS files
    // under /var/spool/postfix, which the deploy would have to keep in step.
    const fields = [s.service, s.type, s.private ?? "-", s.unpriv ?? "-", "n", s.wakeup ?? "-", s.maxproc ?? "-", s.command];
    fields.forEach((f) => assertMatches(TOKEN_RE, f, "a master.cf field"));
    const options = (s.options ?? []).map((o) => {
      assertMatches(NAME_RE, o.name, "a master.cf -o name");
      assertMatches(TOKEN_RE, o.value, `the -o value of ${o.name}`);
      return `\n  -o ${o.name}=${o.value}`;
    });
    const line = [fields[0].padEnd(11), fields[1].padEnd(10), ...fields.slice(2, 7).map((f) => f.padEnd(7)), fields[7]].join(" ");
    return `${comment(s.why)}${line}${options.join("")}`;
  });
  const header = "# service   type       private unpriv  chroot  wakeup  maxproc command + args";
  return [`# ${title}`, "# Rendered by mailfleet; the next deploy replaces local edits.", header, ...body, ""].join("\n");
}

/** A lookup table: key -> value tokens. */
export type TableEntries = readonly (readonly [string, readonly string[]])[];

/** A table's checked lines and its keys. */
interface TableBody {
  keys: ReadonlySet<string>;
  text: string;
}

/** Checked and joined once per entries list: a list every edge shares is rendered once, not per edge. */
const tableBody = oncePer((entries: TableEntries): TableBody => {
  const keys = new Set<string>();
  const lines = entries.map(([key, values]) => {
    assertMatches(TOKEN_RE, key, "a lookup table key");
    if (key.startsWith("#")) throw new Error(`refusing to render a table key that reads as a comment: ${key}`);
    if (keys.has(key)) throw new Error(`lookup table key ${key} appears twice`);
    keys.add(key);
    if (values.length === 0) throw new Error(`lookup table key ${key} has no value`);
    values.forEach((v) => assertMatches(TOKEN_RE, v, `a lookup table value of ${key}`));
    return `${key} ${values.join(", ")}`;
  });
  return { keys, text: lines.map((line) => `${line}\n`).join("") };
});

/** A lookup table from one or more entry lists (a host's own and a shared one); no key twice in all. */
export function renderTable(title: string, ...parts: TableEntries[]): string {
  const bodies = parts.map(tableBody);
  bodies.forEach((body, i) =>
    bodies.slice(i + 1).forEach((other) => {
      const [smaller, larger] = body.keys.size <= other.keys.size ? [body, other] : [other, body];
      for (const key of smaller.keys) if (larger.keys.has(key)) throw new Error(`lookup table key ${key} appears twice`);
    }),
  );
  return `# ${title}\n# Rendered by mailfleet; the next deploy replaces local edits.\n${bodies.map((b) => b.text).join("")}`;
}

/**
 * How main.cf names a table. texthash: is read straight from the text file, so the deploy needs
 * no postmap step and no .db file that could drift from its source, and `postfix reload` (which
 * the deploy runs) picks up new contents. $config_directory instead of /etc/postfix: the tables
 * then travel with main.cf, so `postfix -c <dir> check` on a staged copy checks the new tables,
 * not the live ones.
 */
export function texthash(file: string): string {
  return configTable("texthash", file);
}

/** A regexp: table, named in $config_directory for the same reason (regexp: is built into Postfix, pcre: needs postfix-pcre). */
export function regexpTable(file: string): string {
  return configTable("regexp", file);
}

const configTable = (type: string, file: string) => `${type}:$config_directory/${file}`;

/** A host name as a regexp table's pattern for it alone: the dot is the one regexp character the config admits in one (FQDN_RE). */
export function hostNamePattern(name: string): string {
  if (!FQDN_RE.test(name)) throw new Error(`refusing to render ${JSON.stringify(name)} into a regexp table`);
  return name.replaceAll(".", "\\.");
}
