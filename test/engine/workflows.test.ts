/**
 * The GitHub workflows pass actionlint (with shellcheck on every `run:` script), so a broken
 * workflow fails here rather than on its first push. Each mutation below proves a class of mistake
 * in these very files is caught: action inputs, reusable-workflow inputs, expressions, shell.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { parse } from "yaml";

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

/** The Pulumi CLI version that scripts/setup/pulumi-cli.sh provides and the tests run, e.g. "3.276.0". */
function cliVersion(): string {
  const pin = /^PULUMI_VERSION=v(\d+\.\d+\.\d+)$/m.exec(readFileSync(join(REPO, "scripts/setup/pulumi-cli.sh"), "utf8"));
  assert.ok(pin, "no PULUMI_VERSION=v<x.y.z> line in scripts/setup/pulumi-cli.sh");
  return pin[1];
}

type Workflow = { jobs: Record<string, { steps?: { name?: string; uses?: string; with?: Record<string, unknown> }[] }> };

/** The pulumi/actions steps of a project's workflows, each with the CLI version it installs. */
function pulumiSteps(projectDir: string): { where: string; version: string }[] {
  const dir = join(projectDir, ".github/workflows");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yml"))
    .flatMap((file) =>
      Object.entries((parse(readFileSync(join(dir, file), "utf8")) as Workflow).jobs).flatMap(([job, { steps = [] }]) =>
        steps
          .filter((s) => s.uses?.startsWith("pulumi/actions@"))
          .map((s) => ({ where: `${file} job ${job} step ${s.name ?? s.uses}`, version: String(s.with?.["pulumi-version"] ?? "(none)") })),
      ),
    );
}

/** The pulumi/actions steps that do not install exactly the CLI the tests ran. */
function unpinned(projectDir: string): string[] {
  const steps = pulumiSteps(projectDir);
  assert.ok(steps.length > 0, "no step uses pulumi/actions");
  return steps.filter((s) => s.version !== cliVersion()).map((s) => `${s.where}: pulumi-version ${s.version}`);
}

describe("The Pulumi version", () => {
  it("is the one the CLI setup pins, in every pulumi/actions step", () => {
    assert.deepEqual(unpinned(REPO), []);
  });

  it("flags a step that installs another CLI or the action's default", () => {
    const other = mutated("stack.yml", (t) => t.replace(/pulumi-version: .*/, "pulumi-version: 3.0.0"));
    assert.deepEqual(unpinned(other), ["stack.yml job pulumi step pulumi/actions@v7: pulumi-version 3.0.0"]);
    const none = mutated("stack.yml", (t) => t.replace(/\n +pulumi-version: .*(?=\n +command:)/, ""));
    assert.deepEqual(unpinned(none), ["stack.yml job pulumi step pulumi ${{ inputs.command }}: pulumi-version (none)"]);
  });

  it("is the SDK's and the CLI module's too", () => {
    const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    const installed = JSON.parse(readFileSync(join(REPO, "node_modules/@pulumi/pulumi/package.json"), "utf8")) as { version: string };
    const goMod = /^require github\.com\/pulumi\/pulumi\/pkg\/v3 v(\S+)$/m.exec(readFileSync(join(REPO, "scripts/setup/pulumi-cli/go.mod"), "utf8"));
    assert.deepEqual(
      { packageJson: pkg.dependencies["@pulumi/pulumi"], nodeModules: installed.version, goMod: goMod?.[1] },
      { packageJson: cliVersion(), nodeModules: cliVersion(), goMod: cliVersion() },
    );
  });
});

describe("GitHub workflows", () => {
  it("pass actionlint and shellcheck with no finding", () => {
    const { code, findings } = lint(REPO);
    assert.deepEqual(findings, []);
    assert.equal(code, 0);
  });

  const cases: { name: string; file: string; edit: (t: string) => string; finding: RegExp }[] = [
    {
      // actionlint v1.7.12 knows no inputs of pulumi/actions@v7 yet, so an action it knows stands in.
      name: "a misspelt input of an action",
      file: "stack.yml",
      edit: (t) => t.replace("role-to-assume:", "role_to_assume:"),
      finding: /stack\.yml:\d+:\d+: .*input "role_to_assume" is not defined in action "aws-actions\/configure-aws-credentials@v5"/,
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
