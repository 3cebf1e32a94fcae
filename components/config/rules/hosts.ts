/** Rules for `hosts`: what each backend needs of a host, one host per role at least, no address twice. */
import { hostCount } from "../schema";
import { MAIL_ROLES, ROLES } from "../spec";
import { repeats, problem, Rule, roleEntries } from "./input";

/** aws allocates addresses, byo needs them; AAAA only with ipv6 on. */
export const hostAddressesFitBackend: Rule = ({ c, ok, hostKeys }) =>
  (ok("compute", "ipv6") ? ROLES : []).flatMap((role) => {
    const listed = hostKeys[role];
    return (Array.isArray(listed) ? listed : []).flatMap((keys, i) => {
      if (!keys) return [];
      const path = ["hosts", role, i];
      return [
        ...(c.compute === "aws" && ["ipv4", "ipv6", "privateIpv4", "sshHost"].some((k) => keys.has(k))
          ? [problem(path, "addresses are given, but the aws backend allocates its own", "remove ipv4/ipv6/privateIpv4/sshHost, or use compute: byo")]
          : []),
        ...(c.compute === "byo" && !keys.has("ipv4") ? [problem([...path, "ipv4"], "is required with compute: byo", "give the existing server's IPv4 address")] : []),
        ...(c.compute === "byo" && c.ipv6 && !keys.has("ipv6")
          ? [problem([...path, "ipv6"], "is required when ipv6 is true", "give the server's IPv6 address, or set mailfleet:ipv6 false")]
          : []),
        ...(!c.ipv6 && keys.has("ipv6")
          ? [problem([...path, "ipv6"], "an IPv6 address is given but ipv6 is false", "set mailfleet:ipv6 true to publish AAAA records, or remove the address")]
          : []),
      ];
    });
  });

/** Durability (issue 14): only an aws store has a mail volume to size. */
export const mailVolumesOnAwsStores: Rule = ({ c, ok, hostKeys }) =>
  (ok("compute") ? ROLES : []).flatMap((role) =>
    roleEntries(hostKeys[role], ["hosts", role]).flatMap(([path, keys]) => {
      if (!keys?.has("dataVolumeGb")) return [];
      if (role !== "store") return [problem([...path, "dataVolumeGb"], `only stores keep mail on a data volume, ${role} hosts have none`, "remove it")];
      if (c.compute === "byo") {
        return [problem([...path, "dataVolumeGb"], "sizes the volume the aws backend creates; a byo server keeps mail on its own disks", "remove it, or use compute: aws")];
      }
      return [];
    }),
  );

const NEEDS_ONE: Record<string, string> = { edge: "MX records need at least one target", outbound: "users need a submission server", store: "mailboxes need a home" };

/** byo lists its servers; every role has at least one host. */
export const hostsPerRole: Rule = ({ c, ok }) =>
  (ok("hosts", "compute") ? ROLES : []).flatMap((role) => {
    const given = c.hosts[role];
    return [
      ...(!Array.isArray(given) && c.compute === "byo" && given.count > 0
        ? [problem(["hosts", role], "compute byo needs a list of existing servers, not a count", "list them as [{ name, ipv4, ipv6 }]")]
        : []),
      ...(hostCount(given) === 0 && MAIL_ROLES.includes(role) ? [problem(["hosts", role], `no ${role === "edge" ? "edge MX" : role} host`, `${NEEDS_ONE[role]}; give count: 1 or more`)] : []),
    ];
  });

/** An address belongs to one host. */
export const addressesUnique: Rule = ({ c, ok }) => {
  const listed = (ok("hosts", "compute") ? ROLES : []).flatMap((role) => {
    const given = c.hosts[role];
    return Array.isArray(given) ? given.map((h) => ({ role, ...h })) : [];
  });
  return (["ipv4", "ipv6"] as const).flatMap((family) => {
    const addresses = listed.map((h) => h[family] ?? "");
    return repeats(addresses)
      .filter((i) => addresses[i])
      .map((i) => problem(["hosts", listed[i].role], `address ${addresses[i]} is given to two hosts`));
  });
};
