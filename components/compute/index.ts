/**
 * Compute backends: where the hosts run and which addresses they have. `aws` creates them,
 * `byo` takes existing servers from the stack. Both hand the fleet the same things.
 */
import * as pulumi from "@pulumi/pulumi";
import { Topology } from "../topology";
import { byoCompute } from "./byo";
import type { Compute } from "./types";

export function createCompute(topology: Topology, parent: pulumi.Resource): Compute {
  if (topology.spec.compute !== "aws") return byoCompute(topology);
  // Loaded only for AWS stacks: the provider SDK is the largest module of the program.
  const { awsCompute } = require("./aws") as typeof import("./aws");
  return awsCompute(topology, parent);
}
