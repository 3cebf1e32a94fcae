/** The readable plan of an offline render: hosts, addresses, every DNS record, what to do next. */
import { FleetBuild } from "./build";
import { computeNextSteps, reverseDnsPlan } from "./compute/nextSteps";
import { dnsNextSteps } from "./dns/nextSteps";
import { recordLine } from "./records";
import { textTable } from "./table";

export interface PlanNotes {
  stack: string;
  /** Addresses are stand-ins: the cloud allocates the real ones at `pulumi up`. */
  placeholderAddresses: boolean;
  /** Secrets could not be decrypted (no passphrase): files show REDACTED_SECRET in their place. */
  redactedSecrets: boolean;
  outDir: string;
}

export function formatPlan(build: FleetBuild, addresses: Record<string, { ipv4: string; ipv6?: string }>, notes: PlanNotes): string {
  const { topology, recordSet } = build;
  const spec = topology.spec;
  const hostRows = [
    ["HOST", "ROLE", "IPv4", "IPv6", "SIZE", "PORTS"],
    ...topology.hosts.map((h) => [
      h.fqdn,
      h.role,
      addresses[h.name].ipv4,
      addresses[h.name].ipv6 ?? "-",
      spec.compute === "aws" ? h.instanceType : "byo",
      h.ports.map((p) => `${p.port}/${p.service}${p.from === "any" ? "" : `(${p.from})`}`).join(" "),
    ]),
  ];
  const reverse = reverseDnsPlan(build);
  const sections = [
    `mailfleet plan for stack "${notes.stack}": ${spec.domains.length} hosted domain(s), ${topology.hosts.length} host(s), ` +
      `compute ${spec.compute}, dns ${spec.dns}, push ${spec.push}`,
    ...(notes.placeholderAddresses ? ["note: addresses are placeholders from 192.0.2.0/24 and 2001:db8::/32; AWS allocates the real ones at `pulumi up`"] : []),
    ...(notes.redactedSecrets ? ["note: secrets are redacted (set PULUMI_CONFIG_PASSPHRASE to render them)"] : []),
    "",
    "HOSTS",
    textTable(hostRows),
    "",
    "SERVICE NAMES",
    ...Object.values(topology.services).map((s) => `  ${s.fqdn} -> every ${s.role} host: ${s.purpose}`),
    "",
    `DNS RECORDS (${recordSet.records.length})`,
    ...recordSet.records.map((r) => `  ${recordLine(r)}`),
    "",
    `REVERSE DNS (PTR), set by ${reverse.setBy}`,
    ...reverse.set.map((p) => `  ${p.address} -> ${p.name}`),
    ...(reverse.none.length > 0 ? [`  no PTR (${reverse.noneWhy}): ${reverse.none.map((p) => `${p.address} (${p.host})`).join(", ")}`] : []),
    "",
    `MTA-STS POLICY (id ${recordSet.mtaSts.id})`,
    ...recordSet.mtaSts.policy.trimEnd().split(/\r?\n/).map((l) => `  ${l}`),
    "",
    "FILES",
    `  ${notes.outDir}/hosts/<host>/…  every host's files at their paths on the host (secrets 0600)`,
    ...(build.zoneFiles.length > 0 ? [`  ${notes.outDir}/zones/<zone>.zone  ${build.zoneFiles.map((z) => z.origin).join(", ")}`] : []),
    `  ${notes.outDir}/plan.txt  this plan`,
    "",
    "NEXT STEPS",
    // The steps the stack exports (compute, then DNS, as the fleet component joins them), then the plan's own.
    ...[...computeNextSteps(build), ...dnsNextSteps(spec)].map((step) => `  - ${step}`),
    `  - Preview with \`pulumi preview --stack ${notes.stack}\`, apply with \`pulumi up --stack ${notes.stack}\`.`,
    "  - After the DNS has propagated, run the live check: `./mf check --stack " + notes.stack + "`.",
  ];
  return `${sections.join("\n")}\n`;
}
