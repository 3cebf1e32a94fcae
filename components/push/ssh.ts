/**
 * Push `ssh`: per host one @pulumi/command remote command that runs deploy.sh as root with the
 * host's files as a bundle on its stdin (components/push/bundle.ts: the lab runs the very same
 * command). The trigger is the content hash of the files, so an unchanged host gets no command at
 * all and a change re-runs only the hosts whose files changed. A failed validation fails the
 * resource with the daemon's message; deploy.sh leaves the running config untouched.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { FleetSpec } from "../config/spec";
import { RenderedFile } from "../render/file";
import { bundleFiles, contentHash, deployCommand, DeployRole } from "./bundle";

export interface PushTarget {
  role: DeployRole;
  /** Where SSH connects: an address or a name. */
  host: pulumi.Input<string>;
  files: pulumi.Output<RenderedFile[]>;
}

export function pushCommandArgs(spec: FleetSpec, target: PushTarget): command.remote.CommandArgs {
  const { user, privateKey } = spec.ssh;
  if (!privateKey) throw new Error("push: ssh needs ssh.privateKey");
  return {
    connection: { host: target.host, user, privateKey: pulumi.secret(privateKey) },
    create: deployCommand(target.role),
    // Private keys and password hashes travel only inside this secret; deploy.sh writes them 0600.
    stdin: pulumi.secret(target.files.apply(bundleFiles)),
    // A SHA-256 over the files reveals nothing of them; kept readable so a preview shows which hosts change.
    triggers: [pulumi.unsecret(target.files.apply(contentHash))],
  };
}

export function sshPush(spec: FleetSpec, name: string, target: PushTarget, opts: pulumi.CustomResourceOptions): command.remote.Command {
  return new command.remote.Command(name, pushCommandArgs(spec, target), opts);
}
