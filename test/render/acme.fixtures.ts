/** The ACME stack both halves of the ACME tests render (acme.test.ts, acme.daemon.test.ts). */
import { FleetSpec, LETSENCRYPT_DIRECTORY } from "../../components/config/spec";
import { TestRenderInput } from "../support/renderInput";
import { renderTlsFiles } from "../../components/render/tls";
import { hostNamed } from "../../components/topology";
import { labInput } from "../support/lab";

export const acme = (change: (acme: FleetSpec["tls"]["acme"]) => FleetSpec["tls"]["acme"] = (a) => a) => (s: FleetSpec): FleetSpec => ({
  ...s,
  tls: { ...s.tls, mode: "acme", acme: change({ directory: LETSENCRYPT_DIRECTORY, propagationSeconds: 60 }) },
});
export const ACME = labInput(acme());
export const filesOf = (input: TestRenderInput, host: string) => renderTlsFiles(input, hostNamed(input.topology, host));
