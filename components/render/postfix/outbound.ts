/**
 * The outbound MTA: users submit on 587 (STARTTLS) and 465 (implicit TLS) with AUTH checked by
 * Dovecot on a store; rspamd DKIM-signs; Postfix delivers to the Internet from the host's own
 * addresses, or through the optional smarthost. No port 25 at all: nothing arrives unauthenticated.
 */
import { FleetSpec } from "../../config/spec";
import { AUTH_PORT, Host, hostNamed } from "../../topology";
import { internalIpv4 } from "../../topology/addresses";
import { file, RenderedFile } from "../file";
import { placed, RenderInput } from "../input";
import { assertRole, baseSettings, CONFIG_DIR, coreServices, hostAliases, mynetworks, outboundTls, SYSTEM_TRUST, VIRTUAL_TABLE } from "./common";
import { renderMainCf, renderMasterCf, renderTable, Service, Setting, setting, texthash } from "./format";
import { relayhost, relayPasswords, relayTlsPolicies, senderLogins, senderRelays } from "./tables";

const SENDER_LOGIN_TABLE = "sender_login";
const SMARTHOST_TABLE = "sasl_passwd";
export const SMARTHOST_CA = "smarthost-ca.pem";
const SENDER_RELAY_TABLE = "sender_relay";
const TLS_POLICY_TABLE = "tls_policy";
/** The domain relays' pinned CAs, one file per domain. */
export const RELAY_CA_DIR = `${CONFIG_DIR}/relay-ca`;
const relayTrust = (domain: string, relay: { caCertificate?: string }) => (relay.caCertificate ? `${RELAY_CA_DIR}/${domain}.pem` : SYSTEM_TRUST);

const hasDomainRelays = (spec: FleetSpec) => Object.keys(spec.domainSmarthosts).length > 0;

function outboundSettings(input: RenderInput, host: Host): Setting[] {
  const { topology } = input;
  const spec = topology.spec;
  const authStore = hostNamed(topology, topology.authStore);
  const authAddress = internalIpv4(placed(input, authStore).addresses);
  const smarthost = spec.smarthost;
  const relayPolicies = texthash(TLS_POLICY_TABLE);
  return [
    ...baseSettings(input, host),
    mynetworks(spec, spec.relayNetworks, "Loopback and the configured relay networks may send without AUTH; anyone else must log in."),
    // The only smtpd services are submission (587) and submissions (465), so these apply to them alone.
    setting("smtpd_sasl_auth_enable", "yes"),
    setting("smtpd_sasl_type", "dovecot"),
    setting("smtpd_sasl_path", `inet:${authAddress}:${AUTH_PORT}`, "Every store's Dovecot knows every user; one of them answers for all."),
    setting("smtpd_tls_auth_only", "yes", "AUTH is offered only inside TLS, so passwords never cross the network in clear."),
    setting("smtpd_sasl_security_options", "noanonymous"),
    setting("smtpd_client_auth_rate_limit", 30, "Slows password guessing: at most 30 AUTH attempts a minute per client."),
    setting("smtpd_relay_restrictions", ["permit_mynetworks", "permit_sasl_authenticated", "reject"]),
    setting(
      "smtpd_sender_login_maps",
      texthash(SENDER_LOGIN_TABLE),
      "A user may send only as their own addresses (mailbox and the aliases that reach it), so one stolen password cannot forge the whole domain.",
    ),
    setting("smtpd_sender_restrictions", ["reject_non_fqdn_sender", "permit_mynetworks", "reject_sender_login_mismatch"]),
    setting("smtpd_recipient_restrictions", ["reject_non_fqdn_recipient"]),
    setting(
      "smtpd_recipient_limit",
      spec.spam.ratelimits.recipientsPerMessage,
      "A cap on recipients per message (spam.ratelimits.recipientsPerMessage): past it Postfix answers 452 4.5.3 and the client sends the rest in another message.",
    ),
    setting("smtpd_hide_client_session", "yes", "The Received: header leaves out the user's IP address and client name (privacy); rspamd still sees them."),
    setting(
      "milter_default_action",
      "tempfail",
      "rspamd adds the DKIM signature: when it is down, submission gets a 4xx and the client retries, rather than unsigned mail failing DMARC.",
    ),
    setting("non_smtpd_milters", "$smtpd_milters", "Mail made on the host (sendmail) is signed too."),
    ...(smarthost
      ? [
          setting("relayhost", relayhost(smarthost), "All mail leaves through the smarthost (but a domain's own relay's)."),
          setting(
            "smtp_tls_security_level",
            "secure",
            "TLS to the smarthost with its certificate verified for its name: the login goes to the real relay only, never in clear or to a man in the middle.",
          ),
          setting("smtp_tls_CAfile", smarthost.caCertificate ? `${CONFIG_DIR}/${SMARTHOST_CA}` : SYSTEM_TRUST, "The relay's certificate chains to this trust (smarthost.caCertificate, or the system's)."),
          // Port 465 speaks TLS from the first byte (RFC 8314); 587 starts with STARTTLS.
          ...(smarthost.port === 465 ? [setting("smtp_tls_wrappermode", "yes")] : []),
        ]
      : outboundTls(hasDomainRelays(spec) ? [relayPolicies] : [])),
    ...(hasDomainRelays(spec)
      ? [
          setting("sender_dependent_relayhost_maps", texthash(SENDER_RELAY_TABLE), "A domain with its own relay (domainSmarthosts): its senders' mail leaves through it."),
          setting("smtp_sender_dependent_authentication", "yes", "The login is looked up by sender domain first, so each domain logs in to its relay as itself."),
          // Without a smarthost, outboundTls asks the domain relays' table first.
          ...(smarthost
            ? [setting("smtp_tls_policy_maps", relayPolicies, "Each domain relay is `secure` whatever the default level: verified for its name against its own trust before the login is sent.")]
            : []),
        ]
      : []),
    ...(smarthost || hasDomainRelays(spec)
      ? [
          setting("smtp_sasl_auth_enable", "yes"),
          setting("smtp_sasl_password_maps", texthash(SMARTHOST_TABLE)),
          setting("smtp_sasl_security_options", "noanonymous"),
          setting("smtp_sasl_tls_security_options", "noanonymous"),
          setting("smtp_sasl_auth_soft_bounce", "yes", "A relay that refuses the login (its 4xx or 5xx) defers the mail, which waits in the queue instead of bouncing (Postfix's default, kept on purpose)."),
        ]
      : []),
  ];
}

function outboundServices(spec: FleetSpec): Service[] {
  return [
    {
      service: "submission",
      type: "inet",
      private: "n",
      command: "smtpd",
      options: [setting("syslog_name", "postfix/submission"), setting("smtpd_tls_security_level", "encrypt")],
      why: "Port 587: STARTTLS is required before anything else (and before AUTH is offered).",
    },
    {
      service: "submissions",
      type: "inet",
      private: "n",
      command: "smtpd",
      options: [setting("syslog_name", "postfix/submissions"), setting("smtpd_tls_wrappermode", "yes")],
      why: "Port 465: TLS from the first byte (RFC 8314).",
    },
    ...coreServices(spec),
  ];
}

export function renderOutboundPostfix(input: RenderInput, host: Host): RenderedFile[] {
  assertRole(host, "outbound");
  const spec = input.topology.spec;
  const title = `${host.fqdn}: outbound MTA`;
  return [
    file(`${CONFIG_DIR}/main.cf`, renderMainCf(title, outboundSettings(input, host))),
    file(`${CONFIG_DIR}/master.cf`, renderMasterCf(title, outboundServices(spec))),
    file(`${CONFIG_DIR}/${VIRTUAL_TABLE}`, renderTable(`${title}: host-local aliases`, hostAliases(spec, host))),
    file(`${CONFIG_DIR}/${SENDER_LOGIN_TABLE}`, renderTable(`${title}: sender address -> SASL logins that may use it`, senderLogins(spec))),
    ...(spec.smarthost || hasDomainRelays(spec)
      ? [file(`${CONFIG_DIR}/${SMARTHOST_TABLE}`, renderTable(`${title}: relay logins`, relayPasswords(spec)), { secret: true, mode: 0o600 })]
      : []),
    ...(spec.smarthost?.caCertificate ? [file(`${CONFIG_DIR}/${SMARTHOST_CA}`, spec.smarthost.caCertificate)] : []),
    ...(hasDomainRelays(spec)
      ? [
          file(`${CONFIG_DIR}/${SENDER_RELAY_TABLE}`, renderTable(`${title}: sender domain -> its relay`, senderRelays(spec))),
          file(`${CONFIG_DIR}/${TLS_POLICY_TABLE}`, renderTable(`${title}: TLS policy of the domain relays`, relayTlsPolicies(spec, relayTrust))),
        ]
      : []),
    ...Object.entries(spec.domainSmarthosts).flatMap(([domain, relay]) => (relay.caCertificate ? [file(relayTrust(domain, relay), relay.caCertificate)] : [])),
  ];
}
