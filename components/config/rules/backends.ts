/** Rules for the backends: what the push, compute, DNS, TLS and backup choices need of the other keys. */
import { secretHint } from "../formats";
import { zonesOf } from "../schema";
import { problem, Rule } from "./input";

export const sshPushCanConnect: Rule = ({ c, ok }) => {
  if (!ok("push", "ssh", "compute") || c.push !== "ssh") return [];
  return [
    ...(c.ssh.privateKey ? [] : [problem(["ssh", "privateKey"], "is required when push is ssh", `${secretHint(["ssh", "privateKey"])} (the deploy key), or set push: none`)]),
    ...(c.compute === "aws" && ok("adminSshCidrs") && c.adminSshCidrs.length === 0
      ? [problem(["adminSshCidrs"], "is empty, but the push connects over SSH", "add the CIDR of the machine that runs `pulumi up`")]
      : []),
  ];
};

export const awsHostsGetPublicKey: Rule = ({ c, ok }) =>
  ok("compute", "ssh") && c.compute === "aws" && !c.ssh.publicKey
    ? [problem(["ssh", "publicKey"], "is required with compute: aws", "new instances get it in their user data so the push can log in")]
    : [];

export const zoneBackendNameservers: Rule = ({ c, ok }) => {
  if (!ok("dns", "zone") || c.dns !== "zone") return [];
  if (!c.zone) return [problem(["zone"], "is required with dns: zone", "give zone.nameservers [{ name, ipv4 }]")];
  return c.zone.nameservers.flatMap((ns, i) =>
    !c.ipv6 && ns.ipv6 ? [problem(["zone", "nameservers", i, "ipv6"], "an IPv6 address is given but ipv6 is false", "set mailfleet:ipv6 true, or remove it")] : [],
  );
};

export const cloudflareZoneIdsKnown: Rule = ({ c, ok }) => {
  const zones = zonesOf(c);
  return (ok("cloudflare") ? Object.keys(c.cloudflare?.zoneIds ?? {}) : []).flatMap((zone) =>
    zones.includes(zone) ? [] : [problem(["cloudflare", "zoneIds", zone], "is not one of the DNS zones", `zones: ${zones.join(", ")}`)],
  );
};

export const mtaStsEnforceNeedsAcme: Rule = ({ c, ok }) =>
  ok("mtaSts", "tls") && c.mtaSts.mode === "enforce" && c.tls.mode === "fleet-ca"
    ? [
        problem(
          ["mtaSts", "mode"],
          "is enforce, but tls.mode is fleet-ca: no sender trusts the fleet CA, so every sender that honours the policy would refuse to deliver",
          "set tls.mode: acme (publicly trusted certificates), or mtaSts.mode: testing",
        ),
      ]
    : [];

export const daneRolloverNeedsAcme: Rule = ({ c, ok }) =>
  ok("tls", "dnssec") && c.tls.daneKeyGeneration !== 1 && (c.tls.mode !== "acme" || !c.dnssec)
    ? [
        problem(
          ["tls", "daneKeyGeneration"],
          c.dnssec
            ? "rolls the edges' DANE keys, but tls.mode is fleet-ca: there port 25 serves the host certificate's key, which its TLSA pins"
            : "rolls the edges' DANE keys, but dnssec is false: unsigned zones publish no TLSA",
          "remove it (or set it to 1), or use tls.mode: acme with dnssec: true",
        ),
      ]
    : [];

export const byoBackupHasRepository: Rule = ({ c, ok }) =>
  ok("backup", "compute") && c.backup && c.compute === "byo" && !c.backup.repository
    ? [
        problem(
          ["backup", "repository"],
          "is required with compute: byo",
          "give the restic repository base the stores back up to: sftp:user@host:/path, rest:https://host:8000/path or s3:host/bucket/prefix",
        ),
      ]
    : [];
