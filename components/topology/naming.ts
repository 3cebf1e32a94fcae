/**
 * Host names: a listed host keeps the label the stack gives it, a counted one is numbered in its
 * role (mx1, mx2 … out1 … store1 …). Everything that needs a host's name reads it from here.
 */
import { HostSpec, FleetSpec, Role } from "../config/spec";

const HOST_PREFIX: Record<Role, string> = { edge: "mx", outbound: "out", store: "store", monitoring: "mon" };

export type NamedHostSpec = HostSpec & { name: string };

export interface NamedHost {
  host: NamedHostSpec;
  /** The key that makes its name, for problems: `hosts.<role>[i].name` when listed, `hosts.<role>` when counted. */
  namePath: (string | number)[];
}

export function namedHosts(spec: Pick<FleetSpec, "hosts">): NamedHost[] {
  const inRole: Partial<Record<Role, number>> = {};
  return spec.hosts.map((h) => {
    const i = inRole[h.role] ?? 0;
    inRole[h.role] = i + 1;
    return h.name === undefined
      ? { host: { ...h, name: `${HOST_PREFIX[h.role]}${i + 1}` }, namePath: ["hosts", h.role] }
      : { host: { ...h, name: h.name }, namePath: ["hosts", h.role, i, "name"] };
  });
}

/**
 * The name forwarded mail leaves under (render/postfix/forwarding.ts): its SRS return addresses
 * (SRS0=…@fwd.<serverDomain>, MX the edges) and its ARC seals' d=. A name of its own, so that it
 * never meets a hosted domain's mailboxes or records, even where serverDomain is one.
 */
export function forwardingDomain(spec: Pick<FleetSpec, "serverDomain">): string {
  return `fwd.${spec.serverDomain}`;
}
