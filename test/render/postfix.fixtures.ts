/** The lab stack as the Postfix renderers' input, for both halves of the Postfix tests (postfix.test.ts, postfix.daemon.test.ts). */
import { TEST_FORWARDING_KEYS, TEST_STATE_PASSWORDS } from "../support/fixtures";
import { FleetKeys } from "../../components/keys/material";
import { mtaStsPolicy } from "../../components/records";
import { lab } from "../support/labRecords";
import { testRenderInput, TestRenderInput } from "../support/renderInput";

/** Postfix's checks do not read certificates or keys: placeholders stand in for them. */
const KEYS: FleetKeys = { dkim: [], caCertPem: "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n", hosts: {}, tsig: {}, dane: {}, state: TEST_STATE_PASSWORDS, ...TEST_FORWARDING_KEYS };

export function labInput(change?: (raw: Record<string, any>) => void): TestRenderInput {
  const { topology, addresses } = lab(change);
  return testRenderInput(topology, addresses, KEYS, mtaStsPolicy(topology).policy);
}

/**
 * Addresses for the edge's SRS address table (srs_addresses), checked by the table as rendered
 * (postfix.test.ts) and as Postfix's regexp: reads it (postfix.daemon.test.ts): the SRS addresses of
 * the forwarding domain `fwd`, which postsrsd is asked to reverse, and addresses it must never see.
 */
export function srsAddressCases(fwd: string): { srs: string[]; other: string[] } {
  return {
    srs: [
      `SRS0=HHHH=TT=example.net=carol@${fwd}`,
      `SRS1=HHHH=example.org==HHHH=TT=example.net=carol@${fwd}`,
      // Folded by some MTA on the way back; postsrsd's hash check ignores case.
      `srs0+hhhh=tt=example.net=carol@${fwd.toUpperCase()}`,
    ],
    other: [
      "alice@example.com",
      `postmaster@${fwd}`,
      "SRS0=HHHH=TT=example.net=carol@example.net",
      `SRS0=HHHH=TT=example.net=carol@sub.${fwd}`,
      `SRS0=HHHH=TT=example.net=carol@${fwd}.example.net`,
      // The domain's dots are no wildcards, and a pattern in an address is only text.
      `SRS0=HHHH=TT=example.net=carol@${fwd.replaceAll(".", "x")}`,
      `.*@${fwd}`,
      `SRS2=HHHH=TT=example.net=carol@${fwd}`,
    ],
  };
}
