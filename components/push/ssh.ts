/**
 * Push `ssh`: per host, the host's files as one bundle (components/push/bundle.ts) travel from the
 * program to the host as a file and deploy.sh runs as root with that file on its stdin (the lab runs
 * the same deployCommand). Three @pulumi/command resources per host:
 *   <name>-dir     makes the SSH user's private upload directory (0700: SFTP creates files 0644)
 *   <name>-upload  CopyToRemote of the bundle, staged by the program in a private local temp file
 *   <name>         deployCommand(role) with the uploaded bundle on stdin; removes it once deployed
 * The Pulumi state keeps the bundle's hash and the temp file's path, never its content: the state
 * grows with the hosts, not with the mailboxes, and the keys and hashes in the bundle stay out of it.
 * The trigger of all three is the bundle's SHA-256, so an unchanged host gets no command at all and
 * a change re-runs only the hosts whose files changed. A failed validation fails the resource with
 * the daemon's message; deploy.sh leaves the running config untouched, and the bundle stays for the
 * next `up` to retry.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FleetSpec } from "../config/spec";
import { RenderedFile } from "../render/file";
import { bundleFiles, contentHash, deployCommand, DeployRole } from "./bundle";

export interface PushTarget {
  role: DeployRole;
  /** Where SSH connects: an address or a name. */
  host: pulumi.Input<string>;
  /**
   * The host's files, or a function that renders them. A function is called inside the push's one
   * apply, so the hosts of a fleet are rendered and staged one at a time: Outputs resolve breadth
   * first, and an Output of every host's files would hold them all in memory at once.
   */
  files: pulumi.Output<RenderedFile[] | (() => RenderedFile[])>;
}

/** The SSH user's upload directory on the host, relative to its home (where SFTP starts). */
const REMOTE_DIR = ".mailfleet-push";
/** Resource names are unique in a stack, so two pushes to one machine (a store and the nameserver) never share a file. */
const NAME_RE = /^[a-z0-9-]+$/;

let stagingDir: string | undefined;

/**
 * Writes a bundle to a private local temp file (0600 in a 0700 directory of this process's own,
 * removed when the process exits) and returns its path and SHA-256. The engine hashes the file for
 * the state and the provider uploads it from there, so the content never enters the state.
 */
function stage(name: string, bundle: string): { path: string; sha256: string } {
  if (!stagingDir) {
    const dir = mkdtempSync(join(tmpdir(), "mailfleet-push-"));
    stagingDir = dir;
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  }
  const path = join(stagingDir, `${name}.bundle`);
  writeFileSync(path, bundle, { mode: 0o600 });
  return { path, sha256: contentHash(bundle) };
}

/** Makes the upload directory, private to the SSH user; refuses a symlink or someone else's directory. */
export const PREPARE_COMMAND = `d="$HOME/${REMOTE_DIR}"; mkdir -p "$d" && [ -d "$d" ] && [ ! -L "$d" ] && [ -O "$d" ] && chmod 0700 "$d"`;

/**
 * Runs `deploy` (deployCommand(role)) with the uploaded bundle on stdin once its SHA-256 matches, then
 * removes it and notes the deployed hash. A re-run without a new upload (the command alone replaced,
 * e.g. a new SSH address) finds the bundle deployed already and does nothing; a failed deploy keeps it.
 */
export function remoteDeploy(name: string, sha256: string, deploy: string): string {
  if (!NAME_RE.test(name) || !/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`cannot push ${name} ${sha256}`);
  const bundle = `"$HOME/${REMOTE_DIR}/${name}.bundle"`;
  const deployed = `"$HOME/${REMOTE_DIR}/${name}.deployed"`;
  return [
    `if [ ! -e ${bundle} ] && [ "$(cat ${deployed} 2>/dev/null)" = ${sha256} ]; then echo "bundle ${sha256} is deployed already"; exit 0; fi`,
    `printf '%s  %s\\n' ${sha256} ${bundle} | sha256sum -c --status || { echo "the uploaded bundle is not ${sha256}" >&2; exit 1; }`,
    `(${deploy}) < ${bundle}`,
    `rc=$?; if [ $rc = 0 ]; then echo ${sha256} > ${deployed} && rm -f ${bundle}; fi; exit $rc`,
  ].join("\n");
}

export function sshPush(spec: FleetSpec, name: string, target: PushTarget, opts: pulumi.CustomResourceOptions): command.remote.Command {
  const { user, privateKey } = spec.ssh;
  if (!privateKey) throw new Error("push: ssh needs ssh.privateKey");
  if (!NAME_RE.test(name)) throw new Error(`not a push name: ${name}`);
  const connection = { host: target.host, user, privateKey: pulumi.secret(privateKey) };
  // Neither the path nor a SHA-256 over the files reveals anything of them: readable, so a preview shows which hosts change.
  const staged = pulumi.unsecret(target.files.apply((files) => stage(name, bundleFiles(typeof files === "function" ? files() : files))));
  const triggers = [staged.sha256];
  const dir = new command.remote.Command(`${name}-dir`, { connection, create: PREPARE_COMMAND, triggers }, opts);
  const upload = new command.remote.CopyToRemote(
    `${name}-upload`,
    { connection, source: staged.apply((s) => new pulumi.asset.FileAsset(s.path)), remotePath: `${REMOTE_DIR}/${name}.bundle`, triggers },
    pulumi.mergeOptions(opts, { dependsOn: [dir] }),
  );
  return new command.remote.Command(
    name,
    { connection, create: staged.apply((s) => remoteDeploy(name, s.sha256, deployCommand(target.role))), triggers },
    pulumi.mergeOptions(opts, { dependsOn: [upload] }),
  );
}
