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
// The same checks deploy.sh applies again on the host: a field can never split a line, escape
// the target path or carry shell syntax.
const PATH_RE = /^(\/[A-Za-z0-9_.+@-]+)+$/;
const NAME_RE = /^[a-z_][a-z0-9_-]{0,31}$/;

function checkFile(f: RenderedFile): void {
  if (!PATH_RE.test(f.path) || `${f.path}/`.includes("/./") || `${f.path}/`.includes("/../")) {
    throw new Error(`cannot deploy ${JSON.stringify(f.path)}: not a plain absolute path`);
  }
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

/** The inverse of bundleFiles (secret flags are not carried: the host needs only the modes). */
export function parseBundle(bundle: string): Omit<RenderedFile, "secret">[] {
  const [header, ...lines] = bundle.split("\n");
  const count = header.startsWith(`${BUNDLE_HEADER} `) ? Number(header.slice(BUNDLE_HEADER.length + 1)) : NaN;
  const body = lines.filter((l) => l !== "");
  if (!Number.isInteger(count) || body.length !== count) throw new Error("not a complete mailfleet bundle");
  return body.map((line) => {
    const [mode, owner, group, path, content = ""] = line.split(" ");
    return { mode: parseInt(mode, 8), owner, group, path, content: Buffer.from(content, "base64").toString("utf8") };
  });
}

/** sha256 of the bundle: the Pulumi push's trigger, so an unchanged host gets no command at all. */
export function contentHash(files: RenderedFile[]): string {
  return createHash("sha256").update(bundleFiles(files)).digest("hex");
}

export const DEPLOY_SCRIPT_PATH = join(__dirname, "deploy.sh");

/**
 * The command run over SSH, with the bundle on its stdin: it writes deploy.sh (carried base64
 * encoded, so no quoting can break it) to a private temp file and runs it as root for the role.
 */
export function deployCommand(role: DeployRole, script = readFileSync(DEPLOY_SCRIPT_PATH, "utf8")): string {
  if (!["edge", "outbound", "store", "dns"].includes(role)) throw new Error(`no deploy role ${role}`);
  const encoded = Buffer.from(script, "utf8").toString("base64");
  return [
    "f=$(mktemp) || exit 1",
    `echo ${encoded} | base64 -d > "$f" || exit 1`,
    `if [ "$(id -u)" = 0 ]; then bash "$f" ${role}; else sudo bash "$f" ${role}; fi`,
    'rc=$?; rm -f "$f"; exit $rc',
  ].join("; ");
}
