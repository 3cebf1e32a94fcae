/**
 * What the push sends to a host: deploy.sh (validate, swap in, reload) as the SSH command and the
 * host's rendered files as a text bundle on its stdin. The Pulumi push and the lab use exactly
 * these two, so the lab exercises the production path.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Role } from "../config/spec";
import { RenderedFile } from "../render/file";

export type DeployRole = Role | "dns";

const BUNDLE_HEADER = "mailfleet-bundle 1";
// The same rules deploy.sh applies again on the host, so both read a bundle alike: a field can
// never split a line, escape the target path or carry shell syntax, and only these bytes occur.
const ALPHABET_RE = /^[A-Za-z0-9 +/=_.@\n-]*$/;
const HEADER_RE = /^mailfleet-bundle 1 (0|[1-9][0-9]{0,4})$/;
const NAME = "[a-z_][a-z0-9_-]{0,31}";
const LINE_RE = new RegExp(`^(0[0-7]{3}) (${NAME}) (${NAME}) ([^ ]+) ([^ ]*)$`);
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const PATH_RE = /^(\/[A-Za-z0-9_.+@-]+)+$/;
const NAME_RE = new RegExp(`^${NAME}$`);

function plainPath(path: string): boolean {
  return PATH_RE.test(path) && !`${path}/`.includes("/./") && !`${path}/`.includes("/../");
}

function checkFile(f: RenderedFile): void {
  if (!plainPath(f.path)) throw new Error(`cannot deploy ${JSON.stringify(f.path)}: not a plain absolute path`);
  if (!NAME_RE.test(f.owner) || !NAME_RE.test(f.group)) throw new Error(`cannot deploy ${f.path}: bad owner ${f.owner}:${f.group}`);
  if (!Number.isInteger(f.mode) || f.mode < 0 || f.mode > 0o777) throw new Error(`cannot deploy ${f.path}: bad mode ${f.mode}`);
}

/** One line per file, `<mode> <owner> <group> <path> <base64 content>`, after a header with the count. */
export function bundleFiles(files: RenderedFile[]): string {
  const seen = new Set<string>();
  const lines = files.map((f) => {
    checkFile(f);
    if (seen.has(f.path)) throw new Error(`${f.path} twice in one bundle`);
    seen.add(f.path);
    const mode = `0${f.mode.toString(8).padStart(3, "0")}`;
    return `${mode} ${f.owner} ${f.group} ${f.path} ${Buffer.from(f.content, "utf8").toString("base64")}`;
  });
  return [`${BUNDLE_HEADER} ${files.length}`, ...lines, ""].join("\n");
}

/**
 * The inverse of bundleFiles, as strict as deploy.sh: anything deploy.sh would refuse (a NUL, tab,
 * CR, double space, missing final newline, wrong count, non-canonical base64) throws here too.
 * Secret flags are not carried: the host needs only the modes.
 */
export function parseBundle(bundle: string): Omit<RenderedFile, "secret">[] {
  if (!ALPHABET_RE.test(bundle) || !bundle.endsWith("\n")) throw new Error("not a mailfleet bundle: a byte outside its alphabet, or no final newline");
  const [header, ...lines] = bundle.slice(0, -1).split("\n");
  const count = HEADER_RE.exec(header)?.[1];
  if (count === undefined || Number(count) !== lines.length) throw new Error("not a complete mailfleet bundle");
  const seen = new Set<string>();
  return lines.map((line) => {
    const [, mode, owner, group, path, content] = LINE_RE.exec(line) ?? [];
    if (mode === undefined || !plainPath(path) || !BASE64_RE.test(content) || seen.has(path))
      throw new Error(`bad bundle line ${JSON.stringify(line.slice(0, 80))}`);
    seen.add(path);
    return { mode: parseInt(mode, 8), owner, group, path, content: Buffer.from(content, "base64").toString("utf8") };
  });
}

/** sha256 of a bundle (bundleFiles): the Pulumi push's trigger, so an unchanged host gets no command at all. */
export function contentHash(bundle: string): string {
  return createHash("sha256").update(bundle).digest("hex");
}

export const DEPLOY_SCRIPT_PATH = join(__dirname, "deploy.sh");

/**
 * The command run over SSH, with the bundle on its stdin: it writes deploy.sh (carried base64
 * encoded, so no quoting can break it) to a private temp file and runs it as root for the role.
 * The address the push comes from (SSH_CONNECTION's first field) goes along as an argument, since
 * sudo's env_reset drops the variable: deploy.sh refuses a firewall that would lock it out.
 */
export function deployCommand(role: DeployRole, script = readFileSync(DEPLOY_SCRIPT_PATH, "utf8")): string {
  if (!["edge", "outbound", "store", "dns"].includes(role)) throw new Error(`no deploy role ${role}`);
  const encoded = Buffer.from(script, "utf8").toString("base64");
  return [
    "f=$(mktemp) || exit 1",
    `echo ${encoded} | base64 -d > "$f" || exit 1`,
    `from="\${SSH_CONNECTION%% *}"`,
    `if [ "$(id -u)" = 0 ]; then bash "$f" ${role} "$from"; else sudo bash "$f" ${role} "$from"; fi`,
    'rc=$?; rm -f "$f"; exit $rc',
  ].join("; ");
}
