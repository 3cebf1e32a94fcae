/**
 * Raw stack config (the `mailfleet:` keys of a Pulumi stack file, prefix stripped) → FleetSpec.
 * Each top-level key is checked by its schema (./schema.ts) first, then the keys against each
 * other by the rules (./rules), so that one ConfigError lists every problem in the file, each
 * with its key path and a fix. The spec keeps what the operator wrote: topology names the hosts.
 */
import { ConfigError, ConfigProblem, configProblem as problem, firstPerPath } from "./errors";
import { controlCharacterPaths, REDACTED_SECRET, secretHint, stringPaths } from "./formats";
import { aliasMap, ruleProblems } from "./rules";
import { DEFAULT_DATA_VOLUME_GB, DEFAULT_INSTANCE, hostKeysGiven, KEYS, multilineAllowed, Parsed, REQUIRED_HINT, scalarFromString, zonesOf } from "./schema";
import { FleetSpec, HostSpec, ROLES } from "./spec";

export interface ParseOptions {
  /**
   * The input comes from an offline read that could not decrypt the stack's secrets
   * (readStackConfig's `redacted`): REDACTED_SECRET may stand in for them. Any real run leaves
   * this off, so a placeholder that reached a stack file is refused instead of deployed.
   */
  allowRedacted?: boolean;
}

/** The spec when every key parsed, and every problem found (a spec with problems must not be used). */
export interface ConfigCheck {
  spec?: FleetSpec;
  /** The hosts and mailboxes when their keys parsed, even if others did not: enough for topology's checks. */
  placement?: Pick<FleetSpec, "hosts" | "mailboxes"> & Partial<Pick<FleetSpec, "state">>;
  problems: ConfigProblem[];
}

/**
 * The keys' problems only. What topology and the record set check (host names, mailbox stores,
 * record names) they refuse when built; components/build.ts parseFleet gathers all in one error.
 */
export function parseFleetConfig(input: Record<string, unknown>, options: ParseOptions = {}): FleetSpec {
  const { spec, problems } = checkFleetConfig(input, options);
  if (problems.length > 0 || !spec) throw new ConfigError(problems);
  return spec;
}

/** parseFleetConfig without the throw: for a caller that gathers later stages' problems into the same error. */
export function checkFleetConfig(input: Record<string, unknown>, options: ParseOptions = {}): ConfigCheck {
  const raw = Object.fromEntries(Object.entries(input).map(([k, v]) => [k, scalarFromString(v)]));
  const problems: ConfigProblem[] = [];
  for (const path of controlCharacterPaths(raw, multilineAllowed)) {
    problems.push(problem(path, "contains a control character (newline, NUL, tab …)", "such a value could inject a line into a rendered file; remove it"));
  }
  for (const path of options.allowRedacted ? [] : stringPaths(raw, (text) => text === REDACTED_SECRET)) {
    problems.push(
      problem(
        path,
        `is the placeholder "${REDACTED_SECRET}" that an offline render shows for a secret it cannot decrypt, not a real value`,
        `${secretHint(path)}; if the stack's secrets are encrypted, run with PULUMI_CONFIG_PASSPHRASE set`,
      ),
    );
  }
  for (const key of Object.keys(raw)) {
    if (!(key in KEYS)) problems.push(problem([key], "unknown key", `known keys: ${Object.keys(KEYS).join(", ")}`));
  }

  const parsed: Partial<Parsed> = {};
  for (const key of Object.keys(KEYS) as (keyof typeof KEYS)[]) {
    if (raw[key] === undefined && REQUIRED_HINT[key]) {
      problems.push(problem([key], "is required", REQUIRED_HINT[key]));
      continue;
    }
    const result = KEYS[key].safeParse(raw[key]);
    if (result.success) (parsed as Record<string, unknown>)[key] = result.data;
    else for (const issue of result.error.issues) problems.push(problem([key, ...issue.path], issue.message));
  }
  problems.push(...ruleProblems(parsed, hostKeysGiven.parse(raw.hosts)));
  // A key is in `parsed` only when it parsed (optional keys the stack leaves out parse to their default).
  const complete = Object.keys(KEYS).every((k) => k in parsed);
  const placed = "hosts" in parsed && "compute" in parsed && "mailboxes" in parsed;
  return {
    problems: firstPerPath(problems),
    ...(complete ? { spec: toSpec(parsed as Parsed) } : {}),
    ...(placed ? { placement: { hosts: specHosts(parsed as Parsed), mailboxes: parsed.mailboxes!, ...(parsed.state ? { state: parsed.state } : {}) } } : {}),
  };
}

/** The hosts of every role as one list, each with its defaults; a counted host has no name yet (topology gives it one). */
function specHosts(c: Pick<Parsed, "hosts" | "compute">): HostSpec[] {
  return ROLES.flatMap((role) => {
    const given = c.hosts[role];
    const mailVolume = (gb: number | undefined) => (role === "store" && c.compute === "aws" ? { dataVolumeGb: gb ?? DEFAULT_DATA_VOLUME_GB } : {});
    if (Array.isArray(given)) {
      return given.map(({ name, ipv4, ipv6, privateIpv4, sshHost, ...h }) => ({
        name, role, instanceType: h.instanceType ?? DEFAULT_INSTANCE[role], ipv4, ipv6, privateIpv4, sshHost, ...mailVolume(h.dataVolumeGb),
      }));
    }
    return Array.from({ length: given.count }, () => ({ role, instanceType: given.instanceType ?? DEFAULT_INSTANCE[role], ...mailVolume(given.dataVolumeGb) }));
  });
}

/** The parsed keys as a FleetSpec: defaults that depend on other keys filled in. */
function toSpec(c: Parsed): FleetSpec {
  const aliases = aliasMap(c.aliases);
  const mailboxes = new Set(c.mailboxes.map((m) => m.address));
  // RFC 2142: postmaster@ and abuse@ of every domain reach the admin unless the stack routes them.
  for (const domain of c.domains) {
    for (const role of ["postmaster", "abuse"]) {
      const address = `${role}@${domain}`;
      if (!mailboxes.has(address) && !Object.hasOwn(aliases, address)) aliases[address] = [c.admin];
    }
  }
  const dnsZones = zonesOf(c);
  const { hosts: _hosts, dkim, tlsRpt, aws, zone, backup, monitoring, ...rest } = c;
  return {
    ...rest,
    dnsZones,
    hosts: specHosts(c),
    aliases,
    dkim: { selectors: dkim.selectors, active: dkim.active ?? dkim.selectors[dkim.selectors.length - 1] },
    tlsRpt: tlsRpt ?? { rua: c.admin },
    // Without an aws key an aws stack gets every aws default, from the one schema that holds them.
    ...(aws ? { aws } : c.compute === "aws" ? { aws: KEYS.aws.unwrap().parse({}) } : {}),
    ...(backup ? { backup } : {}),
    monitoring: {
      ...monitoring,
      // Three missed backups, at least a day apart from the nightly kind: one failed run is no alarm.
      thresholds: { ...monitoring.thresholds, backupAgeHours: monitoring.thresholds.backupAgeHours ?? Math.max(1, Math.ceil((3 * (backup?.intervalMinutes ?? 1440)) / 60)) },
    },
    ...(zone ? { zone: { ...zone, hostmaster: zone.hostmaster ?? `hostmaster@${dnsZones[0]}` } } : {}),
  };
}
