/**
 * What the check expects, from the stack: its file (read and validated like every tool does), the
 * hosts' addresses (given in the file for byo hosts; for aws from the stack outputs) and, when
 * known, the DKIM public keys. The record set is built by the same buildRecordSet the DNS
 * backends publish from, so the check compares DNS with exactly what should have been published.
 */
import { readFileSync } from "node:fs";
import { parseFleetConfig, readStackConfig } from "../../components/config";
import { givenAddresses } from "../../components/build";
import { buildRecordSet } from "../../components/records";
import { buildTopology } from "../../components/topology";
import { AddressBook } from "../../components/topology/addresses";
import { DkimKey } from "../../components/keys/material";
import { Expected } from "./checks";
import { dnsblZone } from "./parse";

type PublicDkim = Pick<DkimKey, "domain" | "selector" | "publicKey">;

export interface ExpectOptions {
  /** Folder of the stack files (stacks/). */
  dir?: string;
  passphrase?: string;
  /** AddressBook as JSON, or `pulumi stack output --json` with an `addresses` output. */
  addressesJson?: string;
  /** [{domain, selector, publicKey}] as JSON, or stack outputs with a `dkim` output. */
  dkimJson?: string;
  /** DNSBL zones; spec.spam.dnsbls when not given. */
  dnsbls?: string[];
}

function fromOutputs(json: string, key: string): unknown {
  const value = JSON.parse(json) as unknown;
  return value && typeof value === "object" && !Array.isArray(value) && key in value ? (value as Record<string, unknown>)[key] : value;
}

function addressBook(value: unknown): AddressBook {
  const ok =
    value &&
    typeof value === "object" &&
    Object.values(value).every((a) => a && typeof a === "object" && typeof (a as { ipv4?: unknown }).ipv4 === "string");
  if (!ok) throw new Error("--addresses: expected {\"<host>\": {\"ipv4\": \"…\", \"ipv6\": \"…\"}} or stack outputs with an `addresses` output");
  return value as AddressBook;
}

function dkimKeys(value: unknown): PublicDkim[] {
  const ok = Array.isArray(value) && value.every((k) => k && typeof k.domain === "string" && typeof k.selector === "string" && typeof k.publicKey === "string");
  if (!ok) throw new Error("--dkim: expected [{\"domain\", \"selector\", \"publicKey\"}] or stack outputs with a `dkim` output");
  return value as PublicDkim[];
}

export function expectedFromStack(stack: string, options: ExpectOptions = {}): Expected {
  const spec = parseFleetConfig(readStackConfig(stack, { dir: options.dir, passphrase: options.passphrase }).raw);
  const topology = buildTopology(spec);
  let addresses: AddressBook;
  if (options.addressesJson !== undefined) addresses = addressBook(fromOutputs(options.addressesJson, "addresses"));
  else if (spec.compute === "byo") addresses = givenAddresses(spec);
  else throw new Error(`stack ${stack} allocates its addresses in AWS: pass --addresses <file> with \`pulumi stack output --json\``);
  const given = options.dkimJson !== undefined ? dkimKeys(fromOutputs(options.dkimJson, "dkim")) : undefined;
  // Without the keys the record set still needs one per selector; the DKIM check then judges the
  // published key by its form alone (dkimKeysKnown: false), never by this empty placeholder.
  const keys = given ?? spec.domains.flatMap((domain) => spec.dkim.selectors.map((selector) => ({ domain, selector, publicKey: "" })));
  return {
    topology,
    recordSet: buildRecordSet(topology, addresses, keys),
    dkimKeysKnown: given !== undefined,
    dnsbls: (options.dnsbls ?? spec.spam.dnsbls).map(dnsblZone),
  };
}

export function readJsonFile(path: string | undefined): string | undefined {
  return path === undefined ? undefined : readFileSync(path, "utf8");
}
