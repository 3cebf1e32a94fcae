/**
 * What an operator must do besides `pulumi up`, per compute backend. Pure, so the offline plan
 * prints the same steps the stack exports.
 */
import { isIPv4 } from "node:net";
import { PtrRecord, RecordSet } from "../records";
import { Topology } from "../topology";

/** What the steps are made from: the fleet and its PTR wishes (a FleetBuild has both). */
export interface FleetPtr {
  topology: Topology;
  recordSet: Pick<RecordSet, "ptr">;
}

/** Which PTRs a backend gets set, by whom, and the addresses that get none (with why). */
export interface ReverseDnsPlan {
  set: PtrRecord[];
  setBy: string;
  none: PtrRecord[];
  noneWhy?: string;
}

/** The reverse DNS the fleet will have: on AWS only the Elastic IPs (IPv4) get a PTR. */
export function reverseDnsPlan(build: FleetPtr): ReverseDnsPlan {
  const { ptr } = build.recordSet;
  if (build.topology.spec.compute !== "aws") return { set: ptr, setBy: "the owner of the addresses (see NEXT STEPS)", none: [] };
  return {
    set: ptr.filter((p) => isIPv4(p.address)),
    setBy: "this stack, on each host's Elastic IP",
    none: ptr.filter((p) => !isIPv4(p.address)),
    noneWhy: "EC2 offers no custom PTR for IPv6 addresses; on AWS the hosts send over IPv4 only",
  };
}

/** EC2's default Elastic IP quota per region (Service Quotas: "EC2-VPC Elastic IPs"). */
const EIP_DEFAULT_QUOTA = 5;

/** What an AWS fleet needs besides `pulumi up`. */
export function awsNextSteps(build: FleetPtr): string[] {
  const { spec, hosts } = build.topology;
  const sending = hosts.filter((h) => h.sends).map((h) => h.fqdn);
  return [
    "Port 25: AWS blocks outbound TCP port 25 from EC2 until the account asks for the block to be lifted. " +
      "Until then the edge and outbound hosts receive mail but cannot deliver any to other domains (it queues, then bounces). " +
      'Send AWS the "Request to remove email sending limitations" form for this account and region, ' +
      `naming the Elastic IPs of ${sending.join(", ")} and their reverse DNS (set by this stack).`,
    spec.ipv6
      ? "IPv6 reverse DNS: EC2 offers no custom PTR for IPv6 addresses, so the hosts' IPv6 addresses resolve to no name. " +
        "Receiving over IPv6 is unaffected (senders do not check the receiver's PTR), but mail sent from an IPv6 address without a " +
        "matching PTR fails forward-confirmed reverse DNS, and large receivers reject it (Gmail: 550-5.7.25) or file it as spam. " +
        "So on AWS the edge and outbound hosts send over IPv4 only (their Postfix SMTP client is set to IPv4), whose reverse " +
        "DNS this stack sets, and receive over both."
      : "IPv6 is off (mailfleet:ipv6 false): the hosts send and receive over IPv4 only, whose reverse DNS this stack sets. " +
        "EC2 offers no custom PTR for IPv6 addresses, so IPv6 sending would fail forward-confirmed reverse DNS at large receivers.",
    `Elastic IPs: AWS allows ${EIP_DEFAULT_QUOTA} per region by default, and this fleet needs ${hosts.length} (one per host)` +
      (hosts.length > EIP_DEFAULT_QUOTA
        ? `, over the default: ask AWS for a higher Elastic IP quota in this region before \`pulumi up\`, or the hosts past ${EIP_DEFAULT_QUOTA} get none.`
        : `; a fleet over ${EIP_DEFAULT_QUOTA} hosts (counting other Elastic IPs of the account in this region) needs a quota raise first.`),
  ];
}

/** Existing servers: their reverse DNS belongs to whoever owns the addresses. */
export function byoNextSteps(build: FleetPtr): string[] {
  const sending = new Set(build.topology.hosts.filter((h) => h.sends).map((h) => h.name));
  const ptr = build.recordSet.ptr.filter((p) => sending.has(p.host));
  return [
    "Reverse DNS: ask the owner of each sending host's addresses (your hosting provider) to set these PTR records, " +
      "or to delegate the reverse zone to your nameservers. Large receivers reject or spam-folder mail from an address " +
      "whose PTR does not name the host that its A/AAAA record points back to (forward-confirmed reverse DNS): " +
      ptr.map((p) => `${p.address} -> ${p.name}`).join(", "),
  ];
}

export function computeNextSteps(build: FleetPtr): string[] {
  return build.topology.spec.compute === "aws" ? awsNextSteps(build) : byoNextSteps(build);
}
