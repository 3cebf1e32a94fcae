/** Compute backend `byo`: the servers exist already; the stack gives their addresses. No resources. */
import * as pulumi from "@pulumi/pulumi";
import { givenAddresses } from "../build";
import { Topology } from "../topology";
import type { Compute } from ".";

export function byoCompute(topology: Topology): Compute {
  const addresses = givenAddresses(topology.spec);
  return {
    addresses: pulumi.output(addresses),
    addressShape: addresses,
    sshHosts: Object.fromEntries(topology.hosts.map((h) => [h.name, h.sshHost ?? addresses[h.name].ipv4])),
    machines: {},
    // Reverse DNS belongs to whoever owns the addresses; nextSteps says what to ask them for.
    publishReverseDns: () => undefined,
    nextSteps: (build) => {
      const sending = new Set(build.topology.hosts.filter((h) => h.sends).map((h) => h.name));
      const ptr = build.recordSet.ptr.filter((p) => sending.has(p.host));
      return [
        "Reverse DNS: ask the owner of each sending host's addresses (your hosting provider) to set these PTR records, " +
          "or to delegate the reverse zone to your nameservers. Large receivers reject or spam-folder mail from an address " +
          "whose PTR does not name the host that its A/AAAA record points back to (forward-confirmed reverse DNS): " +
          ptr.map((p) => `${p.address} -> ${p.name}`).join(", "),
      ];
    },
  };
}
