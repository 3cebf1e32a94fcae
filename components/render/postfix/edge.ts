/**
 * The edge MX: receives mail for the hosted domains on port 25 and hands each message over LMTP
 * to the store that holds the mailbox. Accepts nothing else, relays for nobody.
 */
import { postscreenAllowSite } from "../../config/dnsList";
import { FleetSpec } from "../../config/spec";
import { oncePer } from "../../memo";
import { Host, LMTP_CONCURRENCY } from "../../topology";
import { internalIpv4 } from "../../topology/addresses";
import { file, RenderedFile } from "../file";
import { RenderInput } from "../input";
import { assertRole, baseSettings, CONFIG_DIR, coreServices, hostAddresses, hostAliases, mynetworks, outboundTls, VIRTUAL_TABLE } from "./common";
import { renderMainCf, renderMasterCf, renderTable, Service, Setting, setting, texthash } from "./format";
import { forwardingServices, forwardingSettings, SRS_ADDRESS_TABLE, srsAddressTable } from "./forwarding";
import { hostedAliases, mailboxTransports } from "./tables";

const MAILBOX_TABLE = "mailboxes";

/** postscreen blocks a client when its DNSBL listings add up to this (a site counts its `*weight`, 1 by default). */
const DNSBL_THRESHOLD = 3;

/**
 * The threshold actually used: 3, so that one heavy list (zen.spamhaus.org*3) or several light
 * ones block; lower when all positive weights together stay below 3, so a lone light list still works.
 */
export function dnsblThreshold(sites: readonly string[]): number {
  const total = sites.map((s) => Number(/\*(-?[0-9]+)$/.exec(s)?.[1] ?? 1)).filter((w) => w > 0).reduce((a, b) => a + b, 0);
  return Math.max(1, Math.min(DNSBL_THRESHOLD, total));
}

function edgeSettings(input: RenderInput, host: Host): Setting[] {
  const spec = input.topology.spec;
  const { warnOnly, dnsbls, dnswls } = spec.spam;
  // One list of sites: an allowlisting subtracts its weight from the blocklistings'.
  const sites = [...dnsbls, ...dnswls.map(postscreenAllowSite)];
  // Dry run: reputation checks log what they would have rejected and let the mail in.
  const enforce = warnOnly ? "ignore" : "enforce";
  const reputation = (restriction: string) => (warnOnly ? `warn_if_reject ${restriction}` : restriction);
  return [
    ...baseSettings(input, host),
    mynetworks(spec, [], "Only loopback may relay: anything wider would make the MX an open relay."),
    setting(
      "virtual_mailbox_domains",
      spec.domains,
      "The hosted domains are this fleet's final destination (virtual mailbox class, not relay_domains, which means " +
        "'forward to the real destination elsewhere'): smtpd knows every mailbox and rejects the rest at RCPT.",
    ),
    setting("virtual_mailbox_maps", texthash(MAILBOX_TABLE)),
    setting("transport_maps", texthash(MAILBOX_TABLE), "Each mailbox goes over LMTP to the store that holds it."),
    setting(
      "virtual_transport",
      "error:5.1.1 mailbox unknown",
      "A hosted address that is no mailbox (only locally submitted mail gets this far) bounces instead of landing in a local spool.",
    ),
    setting("lmtp_bind_address", internalIpv4(hostAddresses(input, host)), "The stores accept LMTP only from the edge hosts' own addresses."),
    setting(
      "lmtp_destination_concurrency_limit",
      LMTP_CONCURRENCY,
      "Parallel deliveries to one store: the bound the stores rely on instead of a per-user limit that would defer bursts.",
    ),
    setting(
      "minimal_backoff_time",
      "30s",
      "A store that was briefly away (restart, failover) gets its queued mail within seconds of being back, not after 5 minutes.",
    ),
    setting("queue_run_delay", "30s", "Deferred mail is looked at as often as the shortest backoff allows."),
    setting("maximal_backoff_time", "10m", "Even long-deferred mail to a store is retried every 10 minutes."),
    setting(
      "smtpd_relay_restrictions",
      ["permit_mynetworks", "reject_unauth_destination"],
      "Never an open relay: only mail for the hosted domains (and this host's postmaster) is accepted.",
    ),
    setting(
      "smtpd_recipient_restrictions",
      ["reject_non_fqdn_recipient", "reject_unlisted_recipient"],
      "Unknown recipients get 550 at RCPT, so the edge never accepts mail it would later bounce to a forged sender (backscatter).",
    ),
    setting("smtpd_helo_restrictions", [reputation("reject_invalid_helo_hostname")]),
    setting(
      "smtpd_sender_restrictions",
      [reputation("reject_non_fqdn_sender"), reputation("reject_unknown_sender_domain")],
      "A sender domain that cannot receive replies or bounces is forged.",
    ),
    setting("smtpd_tls_security_level", "may", "Offer STARTTLS on port 25; RFC 3207 forbids requiring it of a public MX."),
    ...outboundTls(),
    setting("milter_default_action", "accept", "Mail keeps flowing unscanned when rspamd is down, rather than being deferred."),
    ...forwardingSettings(spec),
    setting("postscreen_access_list", "permit_mynetworks"),
    setting(
      "postscreen_greet_action",
      enforce,
      "Bots that talk before the banner (pregreet) are turned away before an smtpd process is spent on them.",
    ),
    ...(dnsbls.length > 0
      ? [
          setting("postscreen_dnsbl_sites", sites),
          setting("postscreen_dnsbl_threshold", dnsblThreshold(dnsbls)),
          setting(
            "postscreen_dnsbl_action",
            enforce,
            "A client whose listings reach the threshold gets 550 at RCPT, naming the list (the log keeps sender and recipients for an appeal).",
          ),
        ]
      : []),
  ];
}

function edgeServices(spec: FleetSpec): Service[] {
  return [
    {
      service: "smtp",
      type: "inet",
      private: "n",
      maxproc: "1",
      command: "postscreen",
      why: "Port 25: postscreen screens each client (pregreet, DNSBL) and passes the good ones to smtpd.",
    },
    { service: "smtpd", type: "pass", command: "smtpd" },
    { service: "dnsblog", type: "unix", maxproc: "0", command: "dnsblog" },
    { service: "tlsproxy", type: "unix", maxproc: "0", command: "tlsproxy" },
    ...coreServices(spec),
    { service: "lmtp", type: "unix", command: "lmtp" },
    ...forwardingServices(),
  ];
}

/** The mailbox table is the same on every edge: rendered once per build, not once per edge. */
const mailboxTable = oncePer((input: RenderInput) =>
  renderTable("every edge MX: mailbox -> its store's LMTP", mailboxTransports(input.topology, input.hosts)),
);

export function renderEdgePostfix(input: RenderInput, host: Host): RenderedFile[] {
  assertRole(host, "edge");
  const spec = input.topology.spec;
  const title = `${host.fqdn}: edge MX`;
  return [
    file(`${CONFIG_DIR}/main.cf`, renderMainCf(title, edgeSettings(input, host))),
    file(`${CONFIG_DIR}/master.cf`, renderMasterCf(title, edgeServices(spec))),
    file(
      `${CONFIG_DIR}/${VIRTUAL_TABLE}`,
      renderTable(`${title}: aliases (foreign targets are forwarded over SMTP)`, hostAliases(spec, host), hostedAliases(spec)),
    ),
    file(`${CONFIG_DIR}/${MAILBOX_TABLE}`, mailboxTable(input)),
    file(`${CONFIG_DIR}/${SRS_ADDRESS_TABLE}`, srsAddressTable(spec)),
  ];
}
