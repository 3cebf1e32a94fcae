/**
 * A booted Debian 13 host that looks like a systemd host to deploy.sh (/run/systemd/system exists)
 * with a stand-in systemctl that logs each call and then runs the test's own lines: the units'
 * side of a push is tested without systemd. deploy.sh is in place at /root/deploy.sh.
 */
import assert from "node:assert/strict";
import { DeployRole } from "../../components/push/roles";
import { bundleFiles } from "../../components/push/bundle";
import { deployScript } from "../../components/push/deployScript";
import { RenderedFile } from "../../components/render/file";
import { Debian13Host, RunResult } from "./debian13";

export interface SystemdHost {
  host: Debian13Host;
  sh(script: string, input?: string): RunResult;
  /** deploy.sh with a role's bundle; fails the test when it fails. */
  deploy(role: DeployRole, files: RenderedFile[]): RunResult;
  /** The systemctl calls since the last look, one line of arguments each. */
  calls(): string[];
}

/** Boots the host; `systemctl` is bash run after the call is logged (its exit status is systemctl's). */
export function bootSystemdHost(systemctl: string): SystemdHost {
  const host = new Debian13Host([]).boot();
  const sh = (script: string, input?: string) => host.exec(["bash", "-c", script], input);
  assert.equal(sh("cat > /root/deploy.sh", deployScript()).code, 0);
  const standIn = ["#!/bin/bash", 'echo "$*" >> /tmp/systemctl.log', systemctl, ""].join("\n");
  const r = sh("mkdir -p /run/systemd/system && cat > /usr/local/sbin/systemctl && chmod 0755 /usr/local/sbin/systemctl && : > /tmp/systemctl.log", standIn);
  assert.equal(r.code, 0, r.stderr);
  return {
    host,
    sh,
    deploy(role, files) {
      const d = sh(`bash /root/deploy.sh ${role}`, bundleFiles(files));
      assert.equal(d.code, 0, d.stderr);
      return d;
    },
    calls: () => sh("cat /tmp/systemctl.log; : > /tmp/systemctl.log").stdout.trim().split("\n"),
  };
}
