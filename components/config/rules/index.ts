/**
 * Every check of the config keys against each other, by concern, in the order their problems are
 * listed. Each rule runs on whatever keys parsed, so one ConfigError lists every problem at once.
 */
import { ConfigProblem } from "../errors";
import { HostKeys, Parsed } from "../schema";
import { aliasAddresses, aliasesWithoutLoops, aliasMap, aliasTargetsExist } from "./aliases";
import { awsHostsGetPublicKey, byoBackupHasRepository, cloudflareZoneIdsKnown, daneRolloverNeedsAcme, mtaStsEnforceNeedsAcme, sshPushCanConnect, zoneBackendNameservers } from "./backends";
import { bimiNeedsEnforcedDmarc, dkimSelectors, domainsListedOnce, namesInZones, spfWithinLookupLimit } from "./dns";
import { srsKeysListedOnce } from "./forwarding";
import { addressesUnique, hostAddressesFitBackend, hostsPerRole, mailVolumesOnAwsStores } from "./hosts";
import { RuleInput, Rule } from "./input";
import { domainSmarthostsHosted, relaysOutsideFleet, sharedRelaysTrustAlike } from "./smarthosts";
import { adminIsMailbox, catchAllsDeliver, mailboxAddresses, mailboxesListedOnce } from "./mailboxes";
import { blocklistProbesBounded } from "./monitoring";

export { aliasMap } from "./aliases";

export const CONFIG_RULES: readonly Rule[] = [
  domainsListedOnce,
  hostAddressesFitBackend,
  mailVolumesOnAwsStores,
  hostsPerRole,
  addressesUnique,
  mailboxesListedOnce,
  mailboxAddresses,
  aliasAddresses,
  aliasTargetsExist,
  aliasesWithoutLoops,
  adminIsMailbox,
  catchAllsDeliver,
  srsKeysListedOnce,
  domainSmarthostsHosted,
  relaysOutsideFleet,
  sharedRelaysTrustAlike,
  dkimSelectors,
  spfWithinLookupLimit,
  namesInZones,
  bimiNeedsEnforcedDmarc,
  sshPushCanConnect,
  awsHostsGetPublicKey,
  zoneBackendNameservers,
  mtaStsEnforceNeedsAcme,
  daneRolloverNeedsAcme,
  byoBackupHasRepository,
  cloudflareZoneIdsKnown,
  blocklistProbesBounded,
];

/** The problems every rule finds in the keys that parsed (a key is in `parsed` only when it did). */
export function ruleProblems(parsed: Partial<Parsed>, hostKeys: HostKeys): ConfigProblem[] {
  // Keys that failed stand in as empty values; the rules that need them check ok() first.
  const c = { domains: [], mailboxes: [], aliases: {}, catchAll: {}, bimi: {}, spfIncludes: [], adminSshCidrs: [], ...parsed } as Parsed;
  const input: RuleInput = {
    c,
    ok: (...keys) => keys.every((k) => k in parsed),
    hostKeys,
    hosted: new Set(c.domains),
    mailboxes: new Set(c.mailboxes.map((m) => m.address)),
    aliases: aliasMap(c.aliases),
  };
  return CONFIG_RULES.flatMap((rule) => rule(input));
}
