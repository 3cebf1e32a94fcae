/** The lab stack as the Postfix renderers' input, for both halves of the Postfix tests (postfix.test.ts, postfix.daemon.test.ts). */
import { TEST_FORWARDING_KEYS, TEST_STATE_PASSWORDS } from "../support/fixtures";
import { FleetKeys } from "../../components/keys/material";
import { mtaStsPolicy } from "../../components/records";
import { lab } from "../support/labRecords";
import { testRenderInput, TestRenderInput } from "../support/renderInput";

/** Postfix's checks do not read certificates or keys: placeholders stand in for them. */
const KEYS: FleetKeys = { dkim: [], caCertPem: "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n", hosts: {}, tsig: {}, state: TEST_STATE_PASSWORDS, ...TEST_FORWARDING_KEYS };

export function labInput(change?: (raw: Record<string, any>) => void): TestRenderInput {
  const { topology, addresses } = lab(change);
  return testRenderInput(topology, addresses, KEYS, mtaStsPolicy(topology).policy);
}
