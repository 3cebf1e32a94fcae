/** The MTA-STS policy (RFC 8461) every hosted domain publishes, and its id. */
import { createHash } from "node:crypto";
import { Topology } from "../topology";

/**
 * The policy body. The mx pattern is the wildcard `*.<serverDomain>` rather than a list of the
 * edge hosts: senders cache a policy for max_age and refuse an MX the cached policy does not
 * name, so a listed set would make every newly added edge host undeliverable for senders with
 * the old policy cached. With the wildcard, adding an MX changes neither the policy nor its id.
 * RFC 8461 §3.2: the policy is CRLF-separated key/value pairs.
 */
export function mtaStsPolicy(topology: Topology): { policy: string; id: string } {
  const { mtaSts, serverDomain } = topology.spec;
  const lines = ["version: STSv1", `mode: ${mtaSts.mode}`, `mx: *.${serverDomain}`, `max_age: ${mtaSts.maxAge}`];
  const policy = lines.map((l) => `${l}\r\n`).join("");
  // The id changes exactly when the policy does, which is what tells senders to refetch it
  // (RFC 8461 §3.1: id is 1-32 alphanumeric characters).
  const id = createHash("sha256").update(policy).digest("hex").slice(0, 20);
  return { policy, id };
}
