/**
 * Render input as a fleet's build makes it (every host joined with its addresses once, placeHosts),
 * plus the address book it was made from: the tests hold the files against the addresses they gave.
 */
import { FleetKeys } from "../../components/keys/material";
import { RenderInput, renderInput } from "../../components/render/input";
import { Topology } from "../../components/topology";
import { AddressBook, placeHosts } from "../../components/topology/addresses";

export type TestRenderInput = RenderInput & { addresses: AddressBook };

export function testRenderInput(
  topology: Topology,
  addresses: AddressBook,
  keys: FleetKeys,
  mtaStsPolicy: string,
  backupRepositoryBase?: string,
): TestRenderInput {
  return { ...renderInput(topology, placeHosts(topology, addresses), keys, mtaStsPolicy, backupRepositoryBase), addresses };
}
