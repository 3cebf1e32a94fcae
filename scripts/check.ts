/**
 * Live deliverability check: `./mf check --stack <env> [--dns <server-ip>]...`
 *   [--outputs <json>] [--ca <pem>] [--dnsbl <zone>]... [--skip <check,…>] [--at <time>] [--json] [--ssh-key <file>] [--known-hosts <file>]
 *   [--trust-anchor <file>] [--resolver <ip>]
 * Compares what DNS answers and what the MX and MTA-STS hosts serve with the stack's record set,
 * validates each zone's chain of trust with delv,
 * prints a table with pass/warn/fail and a fix per problem, and exits 1 on any fail (so a
 * pipeline can gate on it), 2 on a usage error. With SSH access to the stores (--ssh-key, or the
 * stack's ssh.privateKey decrypted) it also reads each store's newest backup. Secrets: PULUMI_CONFIG_PASSPHRASE.
 */
// First, before anything that needs a newer Node: says which Node this needs on an older one.
import "../components/nodeVersion";
import { existsSync, readFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ConfigError } from "../components/config";
import { runChecks } from "./check/checks";
import { systemDns } from "./check/dns";
import { expectedFromStack, readOutputs, stackAddresses } from "./check/expect";
import { backupStatus } from "./check/backup";
import { storeAccess } from "./backup/remote";
import { fetchMtaStsPolicy, probeTls, runDelv } from "./check/probes";
import { CheckName, CHECKS, formatTable } from "./check/result";
import { SMTP_PORT } from "../components/topology";

const USAGE =
  "usage: ./mf check --stack <env> [--dns <server-ip>]... [--outputs <json>] [--ca <pem>] [--dnsbl <zone>]... [--skip <check,…>] [--at <time>] [--json]\n" +
  "       [--ssh-key <file>] [--ssh-user <user>] [--known-hosts <file>] (the backup check: each store's newest snapshot, over SSH) [--dir <folder with stacks/>]\n" +
  "       [--trust-anchor <file>] [--resolver <ip>] (the dnssec check: delv's trust-anchors file for a private root, the recursive resolver delv asks)\n" +
  "  --at: judge certificate lifetimes as of that time (ISO 8601), e.g. what will have expired by next month\n" +
  `checks: ${CHECKS.join(", ")}`;

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        stack: { type: "string" },
        dns: { type: "string", multiple: true, default: [] },
        outputs: { type: "string" },
        ca: { type: "string" },
        dnsbl: { type: "string", multiple: true },
        skip: { type: "string", default: "" },
        at: { type: "string" },
        json: { type: "boolean", default: false },
        "ssh-key": { type: "string" },
        "known-hosts": { type: "string" },
        "ssh-user": { type: "string" },
        dir: { type: "string" },
        "trust-anchor": { type: "string" },
        resolver: { type: "string" },
      },
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const skip = values.skip.split(",").filter((s) => s !== "");
  const unknown = skip.filter((s) => !(CHECKS as readonly string[]).includes(s));
  const now = values.at === undefined ? new Date() : new Date(values.at);
  const badResolver = values.resolver !== undefined && isIP(values.resolver) === 0;
  const badAnchor = values["trust-anchor"] !== undefined && !existsSync(values["trust-anchor"]);
  if (!values.stack || unknown.length > 0 || Number.isNaN(now.getTime()) || badResolver || badAnchor) {
    const why = [
      ...(unknown.length ? [`unknown check(s): ${unknown.join(", ")}`] : []),
      ...(badResolver ? [`--resolver: ${values.resolver} is not an IP address`] : []),
      ...(badAnchor ? [`--trust-anchor: no file ${values["trust-anchor"]}`] : []),
    ];
    console.error([...why, USAGE].join("\n"));
    return 2;
  }
  try {
    const outputsJson = values.outputs === undefined ? undefined : readFileSync(values.outputs, "utf8");
    const expected = expectedFromStack(values.stack, {
      ...(values.dir ? { dir: join(values.dir, "stacks") } : {}),
      passphrase: process.env.PULUMI_CONFIG_PASSPHRASE,
      outputsJson,
      ...(values.dnsbl ? { dnsbls: values.dnsbl } : {}),
    });
    const spec = expected.topology.spec;
    const access = spec.backup
      ? storeAccess(spec, stackAddresses(values.stack, spec, outputsJson === undefined ? {} : readOutputs(outputsJson)), {
          sshKey: values["ssh-key"],
          knownHosts: values["known-hosts"],
          sshUser: values["ssh-user"],
        })
      : undefined;
    const ca = values.ca ? readFileSync(values.ca, "utf8") : undefined;
    const results = await runChecks(
      expected,
      {
        dns: systemDns(values.dns),
        starttls: (host, address) => probeTls(host, address, { port: SMTP_PORT, starttls: true, ca }),
        tls: ({ name, address, port, starttls }) => probeTls(name, address, { port, starttls, ca }),
        policy: (domain, address) => fetchMtaStsPolicy(domain, address, { ca }),
        delv: (zone) => runDelv(zone, { trustAnchor: values["trust-anchor"], resolver: values.resolver }),
        ...(access && !("missing" in access) ? { backupStatus: (store: string) => backupStatus(access, store) } : {}),
        now,
      },
      new Set(skip as CheckName[]),
    );
    console.log(values.json ? JSON.stringify(results, null, 2) : formatTable(results));
    return results.some((r) => r.status === "fail") ? 1 : 0;
  } catch (error) {
    console.error(error instanceof ConfigError ? error.message : `check: ${(error as Error).message}`);
    return 2;
  }
}

main().then((code) => process.exit(code));
