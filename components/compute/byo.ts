/** Compute backend `byo`: the servers exist already; the stack gives their addresses. No resources. */
import * as pulumi from "@pulumi/pulumi";
import { Topology } from "../topology";
import { givenAddresses } from "../topology/addresses";
import type { Compute } from "./types";
import { byoNextSteps } from "./nextSteps";

export function byoCompute(topology: Topology): Compute {
  const addresses = givenAddresses(topology.spec);
  return {
    addresses: pulumi.output(addresses),
    sshHosts: Object.fromEntries(topology.hosts.map((h) => [h.name, h.sshHost ?? addresses[h.name].ipv4])),
    machines: {},
    // Reverse DNS belongs to whoever owns the addresses; nextSteps says what to ask them for.
    publishReverseDns: () => undefined,
    nextSteps: byoNextSteps,
  };
}
