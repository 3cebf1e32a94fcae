/**
 * What the push sends to a host: the deploy script (deployScript.ts: validate, swap in, reload) as
 * the SSH command and the host's rendered files as a text bundle on its stdin. The Pulumi push and the lab use exactly
 * these two, so the lab exercises the production path.
 */
import { createHash } from "node:crypto";
import { RenderedFile } from "../render/file";
import { BUNDLE_ALPHABET, BUNDLE_BASE64, BUNDLE_COUNT, BUNDLE_LINE, BUNDLE_MAGIC, BUNDLE_NAME, BUNDLE_PATH } from "./bundleGrammar";
import { deployScript } from "./deployScript";
import { DEPLOY_ROLES, DeployRole } from "./roles";

export type { DeployRole } from "./roles";

// The same rules the deploy script applies again on the host, so both read a bundle alike.
const ALPHABET_RE = new RegExp(`^[${BUNDLE_ALPHABET}]*$`);
const HEADER_RE = new RegExp(`^${BUNDLE_MAGIC} ${BUNDLE_COUNT}$`);
const LINE_RE = new RegExp(BUNDLE_LINE);
const BASE64_RE = new RegExp(BUNDLE_BASE64);
const PATH_RE = new RegExp(BUNDLE_PATH);
const NAME_RE = new RegExp(BUNDLE_NAME);

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
  return [`${BUNDLE_MAGIC} ${files.length}`, ...lines, ""].join("\n");
}

/**
 * The inverse of bundleFiles, as strict as the deploy script: anything it would refuse (a NUL, tab,
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

/** A command run as root over SSH: directly when the SSH user is root, else through sudo. */
export function asRoot(command: string): string {
  return `if [ "$(id -u)" = 0 ]; then ${command}; else sudo ${command}; fi`;
}

/**
 * The command run over SSH, with the bundle on its stdin: it writes the deploy script (carried base64
 * encoded, so no quoting can break it) to a private temp file and runs it as root for the role.
 * The address the push comes from (SSH_CONNECTION's first field) goes along as an argument, since
 * sudo's env_reset drops the variable: the script refuses a firewall that would lock it out.
 */
export function deployCommand(role: DeployRole, script = deployScript()): string {
  if (!DEPLOY_ROLES.includes(role)) throw new Error(`no deploy role ${role}`);
  const encoded = Buffer.from(script, "utf8").toString("base64");
  return [
    "f=$(mktemp) || exit 1",
    `echo ${encoded} | base64 -d > "$f" || exit 1`,
    `from="\${SSH_CONNECTION%% *}"`,
    asRoot(`bash "$f" ${role} "$from"`),
    'rc=$?; rm -f "$f"; exit $rc',
  ].join("; ");
}
