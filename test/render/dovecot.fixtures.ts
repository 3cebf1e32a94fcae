/** The lab stack's stores, for both halves of the Dovecot tests (dovecot.test.ts, dovecot.daemon.test.ts). */
import { TEST_FORWARDING_KEYS, TEST_STATE_PASSWORDS } from "../support/fixtures";
import { parseFleetConfig, readStackConfig } from "../../components/config";
import { renderStoreDovecot } from "../../components/render/dovecot";
import { file } from "../../components/render/file";
import { LOCK_PATHS } from "../../components/render/lock";
import { beforeVmail } from "../support/debian13";
import { mtaStsPolicy } from "../../components/records";
import { buildTopology, hostNamed } from "../../components/topology";
import { AddressBook } from "../../components/topology/addresses";
import { testRenderInput, TestRenderInput } from "../support/renderInput";

/** The lab stack (store1: alice; store2: bob, carol), optionally changed before it is parsed. */
export function labInput(change: (raw: Record<string, any>) => void = () => {}): TestRenderInput {
  const raw = structuredClone(readStackConfig("lab", { passphrase: "mailfleet-lab" }).raw) as Record<string, any>;
  change(raw);
  const spec = parseFleetConfig(raw);
  const addresses: AddressBook = Object.fromEntries(buildTopology(spec).hosts.map((h) => [h.name, { ipv4: h.ipv4!, ...(h.ipv6 ? { ipv6: h.ipv6 } : {}) }]));
  // The Dovecot files name the TLS paths but embed no key material.
  const topology = buildTopology(spec);
  return testRenderInput(topology, addresses, { dkim: [], caCertPem: "", hosts: {}, tsig: {}, dane: {}, state: TEST_STATE_PASSWORDS, ...TEST_FORWARDING_KEYS }, mtaStsPolicy(topology).policy);
}

export const LAB = labInput();
/** The store's rendered files, plus the empty lock list deploy.sh makes where none is (render/lock.ts). */
export const filesOf = (input: TestRenderInput, store: string) => [
  ...beforeVmail(renderStoreDovecot(input, hostNamed(input.topology, store))),
  file(LOCK_PATHS.list, "", { mode: 0o640, group: "dovecot" }),
];
