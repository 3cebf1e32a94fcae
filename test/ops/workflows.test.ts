/**
 * The GitHub workflows pass actionlint (with shellcheck on every `run:` script), so a broken
 * workflow fails here rather than on its first push. Each mutation below proves a class of mistake
 * in these very files is caught: action inputs, reusable-workflow inputs, expressions, shell.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";

const REPO = resolve(__dirname, "../..");
const WORKFLOWS = join(REPO, ".github/workflows");
let actionlint = "";
let shellcheck = "";
const temps: string[] = [];

before(() => {
  // Installs actionlint and shellcheck once (cached); the binary's path is the last line.
  actionlint = execFileSync("bash", [join(REPO, "scripts/setup/actionlint.sh")], { encoding: "utf8" }).trim().split("\n").pop()!;
  shellcheck = execFileSync("sh", ["-c", "command -v shellcheck"], { encoding: "utf8" }).trim();
});
after(() => temps.forEach((t) => rmSync(t, { recursive: true, force: true })));

/** actionlint over every workflow of a project folder; its findings, one per line. */
function lint(projectDir: string): { code: number; findings: string[] } {
  const result = spawnSync(actionlint, ["-oneline", "-no-color", `-shellcheck=${shellcheck}`], { cwd: projectDir, encoding: "utf8" });
  if (result.error) throw result.error;
  const findings = `${result.stdout}${result.stderr}`.split("\n").filter((l) => l.trim() !== "");
  return { code: result.status ?? -1, findings };
}

/** A copy of the project's workflows with one file changed by edit. */
function mutated(file: string, edit: (text: string) => string): string {
  const dir = mkdtempSync(join(tmpdir(), "mailfleet-workflows-"));
  temps.push(dir);
  // actionlint finds its project (and local reusable workflows) from the Git repository root.
  execFileSync("git", ["init", "-q", dir]);
  cpSync(WORKFLOWS, join(dir, ".github/workflows"), { recursive: true });
  const path = join(dir, ".github/workflows", file);
  const before = readFileSync(path, "utf8");
  const after = edit(before);
  assert.notEqual(after, before, `the mutation of ${file} changed nothing`);
  writeFileSync(path, after);
  return dir;
}

describe("GitHub workflows", () => {
  it("pass actionlint and shellcheck with no finding", () => {
    const { code, findings } = lint(REPO);
    assert.deepEqual(findings, []);
    assert.equal(code, 0);
  });

  const cases: { name: string; file: string; edit: (t: string) => string; finding: RegExp }[] = [
    {
      name: "a misspelt input of the Pulumi action",
      file: "stack.yml",
      edit: (t) => t.replace("stack-name:", "stack_name:"),
      finding: /stack\.yml:\d+:\d+: .*input "stack_name" is not defined in action "pulumi\/actions@v6"/,
    },
    {
      name: "an input the reusable workflow does not declare",
      file: "deploy.yml",
      edit: (t) => t.replace("      stack: prod\n", "      stack: prod\n      stack-nmae: prod\n"),
      finding: /deploy\.yml:\d+:\d+: .*input "stack-nmae" is not defined in "\.\/\.github\/workflows\/stack\.yml" reusable workflow/,
    },
    {
      name: "a job dependency that does not exist",
      file: "deploy.yml",
      edit: (t) => t.replace("needs: staging", "needs: stagin"),
      finding: /deploy\.yml:\d+:\d+: job "prod" needs job "stagin" which does not exist/,
    },
    {
      name: "an output of a job that is not needed",
      file: "pull-request.yml",
      edit: (t) => t.replace("needs.changes.outputs.environments != '[]'", "needs.change.outputs.environments != '[]'"),
      finding: /pull-request\.yml:\d+:\d+: .*property "change" is not defined/,
    },
    {
      name: "a shell word-splitting bug in a run script",
      file: "stack.yml",
      edit: (t) => t.replace('npm run teardown -- "${args[@]}"', "npm run teardown -- ${args[@]}"),
      finding: /stack\.yml:\d+:\d+: shellcheck reported issue in this script: SC2068/,
    },
    {
      name: "a bad cron schedule",
      file: "nightly-teardown.yml",
      edit: (t) => t.replace('"17 3 * * *"', '"17 25 * * *"'),
      finding: /nightly-teardown\.yml:\d+:\d+: .*invalid CRON format/,
    },
  ];
  for (const c of cases) {
    it(`report ${c.name}`, () => {
      const { code, findings } = lint(mutated(c.file, c.edit));
      assert.notEqual(code, 0);
      assert.ok(findings.some((f) => c.finding.test(f)), `expected ${c.finding} among:\n${findings.join("\n")}`);
    });
  }
});
