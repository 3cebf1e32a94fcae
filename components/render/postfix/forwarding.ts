/**
 * Forwarding on the edges (issue 25): mail to an alias with foreign targets leaves from the edge that
 * took it in, with an SRS envelope sender made by Debian's postsrsd (render/postsrsd.ts), so SPF holds
 * at the receiver; bounces to those SRS addresses come back to the edges (the forwarding domain's MX), are
 * reversed and go to the original sender. rspamd seals with ARC on the way in (render/rspamd).
 *
 * postsrsd's own README warns that its canonical maps rewrite every sender, forwarded or not: here
 * only mail leaving for a foreign domain passes through the loopback smtpd below, whose own cleanup
 * rewrites, so the mail the stores keep holds its real envelope sender.
 */
import { FleetSpec } from "../../config/spec";
import { FORWARD_PORT, SRS_FORWARD_PORT, SRS_REVERSE_PORT } from "../../topology";
import { forwardingDomain } from "../../topology/naming";
import { hostNamePattern, regexpTable, Service, Setting, setting } from "./format";

const LOOPBACK = "127.0.0.1";
const srsTable = (port: number) => `tcp:${LOOPBACK}:${port}`;
const FORWARD_TRANSPORT = "forward";
const SRS_CLEANUP = "srscleanup";

/** The edge's table of addresses that can be SRS addresses of the forwarding domain (srsAddressTable). */
export const SRS_ADDRESS_TABLE = "srs_addresses";

/**
 * Passes through (maps to itself) only an address that can be an SRS address of the forwarding
 * domain: SRS0 or SRS1, a separator, then anything, at exactly fwd.<serverDomain>. Postfix's
 * regexp tables match without regard to case by default, as SRS addresses may come back folded.
 */
export function srsAddressTable(spec: FleetSpec): string {
  return [
    "# every edge MX: the addresses postsrsd is asked to reverse (any other is not looked up there)",
    "# Rendered by mailfleet; the next deploy replaces local edits.",
    `/^(SRS[01][-+=].+@${hostNamePattern(forwardingDomain(spec))})$/ \${1}`,
    "",
  ].join("\n");
}

/**
 * postsrsd's reverse table behind the address filter: an address that cannot be SRS is no lookup
 * at all (not found), so hosted mail does not wait for postsrsd, or get deferred while it is down.
 */
const srsReverse = `pipemap:{${regexpTable(SRS_ADDRESS_TABLE)}, ${srsTable(SRS_REVERSE_PORT)}}`;

export function forwardingSettings(spec: FleetSpec): Setting[] {
  return [
    setting(
      "relay_domains",
      forwardingDomain(spec),
      "The SRS return addresses (SRS0=…@fwd.<serverDomain>): a bounce of forwarded mail comes back here and is passed on to the original sender.",
    ),
    setting(
      "relay_recipient_maps",
      srsReverse,
      "An SRS address is a recipient only when postsrsd can reverse it: a forged one (bad hash, too old) gets 550 at RCPT, so the edge is no open relay.",
    ),
    setting(
      "recipient_canonical_maps",
      srsReverse,
      "Reverses SRS recipients to the original sender; any other address is left as it is, without asking postsrsd.",
    ),
    setting(
      "recipient_canonical_classes",
      "envelope_recipient",
      "The envelope only: Postfix rewrites no header of mail from other hosts, so the bounce's To: keeps the SRS address its writer used.",
    ),
    setting(
      "default_transport",
      `${FORWARD_TRANSPORT}:[${LOOPBACK}]:${FORWARD_PORT}`,
      "Mail for a foreign domain (a forward, or a bounce to a foreign sender) goes round the loopback smtpd that gives it its SRS sender.",
    ),
  ];
}

export function forwardingServices(): Service[] {
  return [
    {
      service: FORWARD_TRANSPORT,
      type: "unix",
      command: "smtp",
      options: [setting("smtp_bind_address", LOOPBACK), setting("smtp_tls_security_level", "none"), setting("inet_protocols", "ipv4")],
      why: "To the loopback smtpd below, from loopback, in clear: the message never leaves the host on this hop.",
    },
    {
      service: `${LOOPBACK}:${FORWARD_PORT}`,
      type: "inet",
      private: "n",
      command: "smtpd",
      options: [
        setting("syslog_name", "postfix/forward"),
        setting("mynetworks", `${LOOPBACK}/32`),
        setting("smtpd_helo_restrictions", "permit_mynetworks,reject"),
        setting("smtpd_sender_restrictions", "permit_mynetworks,reject"),
        setting("smtpd_relay_restrictions", "permit_mynetworks,reject"),
        setting("smtpd_recipient_restrictions", "permit_mynetworks,reject"),
        setting("smtpd_tls_security_level", "none"),
        // Scanned and ARC-sealed once, on the way in; a second pass would record loopback's SPF result.
        setting("receive_override_options", "no_milters"),
        setting("cleanup_service_name", SRS_CLEANUP),
        // Straight to the recipient domain's MX: not default_transport again, which would loop.
        setting("content_filter", "smtp:"),
      ],
      why: "Forwarded mail re-enters here and is rewritten by its own cleanup, then leaves by MX lookup.",
    },
    {
      service: SRS_CLEANUP,
      type: "unix",
      private: "n",
      maxproc: "0",
      command: "cleanup",
      options: [setting("sender_canonical_maps", srsTable(SRS_FORWARD_PORT)), setting("sender_canonical_classes", "envelope_sender")],
      why: "The envelope sender of a forward becomes SRS0=…@fwd.<serverDomain> (postsrsd), whose SPF names the edges; the header From is left as written.",
    },
  ];
}
