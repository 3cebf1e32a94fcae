/**
 * Compute backends: where the hosts run and which addresses they have. `aws` creates them,
 * `byo` takes existing servers from the stack. Both hand the fleet the same things.
 */
import * as pulumi from "@pulumi/pulumi";
import { Topology } from "../topology";
import { awsCompute } from "./aws";
import { byoCompute } from "./byo";
import type { Compute } from "./types";

export function createCompute(topology: Topology, parent: pulumi.Resource): Compute {
  return topology.spec.compute === "aws" ? awsCompute(topology, parent) : byoCompute(topology);
}
