/**
 * What the check expects, from the stack: its file (read and validated like every tool does), the
 * hosts' addresses (given in the file for byo hosts; for aws from the stack outputs) and, when
 * known, the DKIM public keys. The record set is built by the same buildRecordSet the DNS
 * backends publish from, so the check compares DNS with exactly what should have been published.
 */
import { readStackSpec } from "../../components/build";
import { FleetSpec } from "../../components/config";
import { blocklistZones } from "../../components/config/dnsList";
import { givenAddresses } from "../../components/build";
import { buildRecordSet, RecordSet } from "../../components/records";
import { buildTopology, Host, Topology } from "../../components/topology";
import { AddressBook } from "../../components/topology/addresses";
import { DkimKey, publishedKeyNames } from "../../components/keys/material";
import { parseDkimRecord } from "./parse";

export interface Expected {
  /** The stack's name, for the commands a fix names. */
  stack: string;
  topology: Topology;
  recordSet: RecordSet;
  /** Whether the DKIM public keys in recordSet are the real ones (else only their form is checked). */
  dkimKeysKnown: boolean;
  /** DNSBL zones to look the sending addresses up in. */
  dnsbls: string[];
}

/** The addresses of a host, as the record set publishes them. */
export function addressesOf(e: Expected, host: Host): string[] {
  return e.recordSet.ptr.filter((w) => w.host === host.name).map((w) => w.address);
}

type PublicDkim = Pick<DkimKey, "domain" | "selector" | "publicKey">;

export interface ExpectOptions {
  /** Folder of the stack files (stacks/). */
  dir?: string;
  passphrase?: string;
  /**
   * The stack's outputs as `pulumi stack output --json --show-secrets` prints them: `hostAddresses`
   * (the addresses AWS allocated) and `dkimTxt` (the keys the outbound MTA signs with).
   */
  outputsJson?: string;
  /** DNSBL zones; spec.spam.dnsbls when not given. */
  dnsbls?: string[];
}

export interface StackOutputs {
  hostAddresses?: AddressBook;
  dkimTxt?: Record<string, string>;
}

export function readOutputs(json: string): StackOutputs {
  const value = JSON.parse(json) as Record<string, unknown>;
  const out: StackOutputs = {};
  const book = value?.hostAddresses;
  if (book !== undefined) {
    const ok =
      book && typeof book === "object" && Object.values(book).every((a) => a && typeof a === "object" && typeof (a as { ipv4?: unknown }).ipv4 === "string");
    if (!ok) throw new Error('--outputs: hostAddresses is not {"<host>": {"ipv4": …, "ipv6": …}}');
    out.hostAddresses = book as AddressBook;
  }
  const dkim = value?.dkimTxt;
  if (dkim !== undefined) {
    if (!dkim || typeof dkim !== "object" || !Object.values(dkim).every((t) => typeof t === "string"))
      throw new Error('--outputs: dkimTxt is not {"<selector>._domainkey.<domain>": "<TXT>"}');
    out.dkimTxt = dkim as Record<string, string>;
  }
  return out;
}

/** The public keys of the dkimTxt output: `<selector>._domainkey.<domain>` -> its p= value. */
function dkimKeys(dkimTxt: Record<string, string>): PublicDkim[] {
  return Object.entries(dkimTxt).map(([name, text]) => {
    const at = name.indexOf("._domainkey.");
    const parsed = parseDkimRecord(text);
    if (at < 0 || "problem" in parsed) throw new Error(`--outputs: dkimTxt ${name} is not a DKIM key record`);
    return { selector: name.slice(0, at), domain: name.slice(at + "._domainkey.".length), publicKey: parsed.key.publicKey };
  });
}

/** The hosts' addresses: the stack outputs' when given, else (byo) the stack file's own. */
export function stackAddresses(stack: string, spec: FleetSpec, outputs: StackOutputs): AddressBook {
  if (outputs.hostAddresses) return outputs.hostAddresses;
  if (spec.compute === "byo") return givenAddresses(spec);
  throw new Error(`stack ${stack} allocates its addresses in AWS: pass --outputs <file> with \`pulumi stack output --json --show-secrets\``);
}

export function expectedFromStack(stack: string, options: ExpectOptions = {}): Expected {
  // A read-only check: it needs no secret, so undecrypted ones may stand as placeholders.
  const { spec } = readStackSpec(stack, { dir: options.dir, passphrase: options.passphrase, allowRedacted: true });
  const topology = buildTopology(spec);
  const outputs = options.outputsJson === undefined ? {} : readOutputs(options.outputsJson);
  const addresses = stackAddresses(stack, spec, outputs);
  const given = outputs.dkimTxt ? dkimKeys(outputs.dkimTxt) : undefined;
  // Without the keys the record set still needs one per selector; the DKIM check then judges the
  // published key by its form alone (dkimKeysKnown: false), never by this empty placeholder.
  const keys = given ?? publishedKeyNames(spec).map((name) => ({ ...name, publicKey: "" }));
  return {
    stack,
    topology,
    recordSet: buildRecordSet(topology, addresses, keys),
    dkimKeysKnown: given !== undefined,
    dnsbls: blocklistZones(options.dnsbls ?? spec.spam.dnsbls),
  };
}
