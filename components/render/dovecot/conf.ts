/**
 * /etc/dovecot/dovecot.conf for an IMAP store, in Dovecot 2.4 syntax (Debian 13 ships 2.4.1).
 * Self-contained: no conf.d includes, so what the push validates with `doveconf -n` is all the
 * daemon reads.
 */
import { DOVECOT_METRICS_PORT, Host, IMAPS_PORT, LMTP_CONCURRENCY, LMTP_PORT, AUTH_PORT, POP3S_PORT, SIEVE_PORT, Topology, hostsOf } from "../../topology";
import { VMAIL } from "../../topology/vmail";
import { HostAddresses, internalIpv4, PlacedHosts } from "../../topology/addresses";
import { liveTls, TLS_PEERS_CA } from "../input";
import { USERS_PATH } from "./users";
import { LOCK_PATHS } from "../lock";
import { JUNK, learnConf, TRASH } from "./learn";

/** The one system user and group that owns every mailbox; host provisioning creates them. */
/** Every mailbox lives under the vmail user's home (topology/vmail.ts). */
export const VMAIL_BASE = VMAIL.home;

// The addresses on the host's own interface (not a NATed public one) and where other hosts reach it.
const addressList = (a: HostAddresses): string => [internalIpv4(a), ...(a.ipv6 ? [a.ipv6] : [])].join(" ");

/** Mail to postmaster@ of the first hosted domain: Dovecot puts it in its own bounces and rejections. */
export function postmasterAddress(topology: Topology): string {
  return `postmaster@${topology.spec.domains[0]}`;
}

/**
 * A login service on implicit TLS only (the cleartext port stays closed), and how a user it
 * proxies reaches the user's own store: the same port, TLS, that store's certificate verified.
 */
function implicitTlsLogin(protocol: "imap" | "pop3", port: number, protocolSettings = ""): string {
  return `service ${protocol}-login {
  inet_listener ${protocol} {
    port = 0
  }
  inet_listener ${protocol}s {
    port = ${port}
    ssl = yes
  }
}
protocol ${protocol} {
${protocolSettings}  passdb passwd-file {
    fields {
      port = ${port}
      ssl = yes
    }
  }
}
`;
}

/**
 * The auth listener the outbound MTA's Postfix asks, on the auth store only: the other stores hold
 * no hash of another store's users (users.ts), so their auth service must not answer SASL at all.
 */
function postfixAuth(host: Host, own: string): string {
  return `## Auth for the outbound MTA's Postfix (smtpd_sasl_type = dovecot, smtpd_sasl_path = inet:${host.fqdn}:${AUTH_PORT})
# On this host's own addresses; only the outbound hosts may reach port ${AUTH_PORT} (firewall). The
# auth protocol has no TLS of its own, and the auth server does not ask whether Postfix's SMTP
# session was encrypted: Postfix must offer AUTH only over TLS (smtpd_tls_auth_only = yes).
service auth {
  inet_listener auth-postfix {
    listen = ${own}
    port = ${AUTH_PORT}
  }
}
`;
}
const NO_POSTFIX_AUTH = "## No auth listener for Postfix: the auth store answers the outbound MTA's SASL.\n";

export function renderDovecotConf(topology: Topology, hosts: PlacedHosts, host: Host): string {
  const spec = topology.spec;
  const own = addressList(hosts[host.name].addresses);
  const otherStores = hostsOf(topology, "store")
    .filter((h) => h.name !== host.name)
    .map((h) => addressList(hosts[h.name].addresses));
  const protocols = ["imap", "lmtp", "sieve", ...(spec.pop3 ? ["pop3"] : [])];
  const learn = learnConf(spec.spam);
  return `# Rendered by mailfleet for ${host.fqdn}: the push replaces this file, edit the stack instead.
# The setting semantics this file is written for, and the oldest Dovecot that must still read
# the mail it stores (so a rollback within 2.4 never meets an unreadable index).
dovecot_config_version = 2.4.0
dovecot_storage_version = 2.4.0

protocols = ${protocols.join(" ")}
# The name in LMTP's greeting and in the Received: header of every delivery.
hostname = ${host.fqdn}
postmaster_address = ${postmasterAddress(topology)}
# Say nothing about the software or its version to unauthenticated clients.
login_greeting = ${host.fqdn} ready.

## TLS
# required: IMAP, POP3 and ManageSieve accept no password before TLS (ManageSieve must STARTTLS).
ssl = required
ssl_min_protocol = TLSv1.2
ssl_server_cert_file = ${liveTls(host.name).cert}
ssl_server_key_file = ${liveTls(host.name).key}
# A store proxying a user to the user's own store checks that store's certificate against the
# fleet CA (its bootstrap certificate) and the public CAs (its ACME one); login processes are
# chrooted, so a CA file, not a directory.
ssl_client_ca_file = ${TLS_PEERS_CA}

## Authentication
# plain and login only: the passwd-file holds salted crypt hashes, which no challenge-response
# mechanism can use. Clients send them only inside TLS (ssl = required); Postfix, below, only
# after its own STARTTLS.
auth_mechanisms = plain login
# Logins the operator locked (./mf lock): refused before the password is looked at, on every
# authentication (the file is read each time it changes: no reload).
passdb locked {
  driver = passwd-file
  passwd_file_path = ${LOCK_PATHS.list}
  deny = yes
}
passdb passwd-file {
  passwd_file_path = ${USERS_PATH}
}
userdb passwd-file {
  passwd_file_path = ${USERS_PATH}
}
# The other stores proxy their users' sessions here: trusting them makes the logs and the
# brute-force penalty see the real client address instead of the proxying store's.
login_trusted_networks = ${otherStores.join(" ")}

## Mail storage
# Virtual users: one system user owns every mailbox, and no other uid may ever be used (so no
# userdb entry can reach a system account).
mail_uid = ${VMAIL.user}
mail_gid = ${VMAIL.group}
first_valid_uid = ${VMAIL.uid}
last_valid_uid = ${VMAIL.uid}
first_valid_gid = ${VMAIL.gid}
last_valid_gid = ${VMAIL.gid}
mail_driver = maildir
mail_home = ${VMAIL_BASE}/%{user | domain}/%{user | username}
mail_path = ~/Maildir

namespace inbox {
  inbox = yes
  separator = /
  # Created and subscribed for every user, so every client files drafts, sent mail and spam in
  # the same folders instead of each inventing its own.
  mailbox Drafts {
    special_use = \\Drafts
    auto = subscribe
  }
  mailbox Sent {
    special_use = \\Sent
    auto = subscribe
  }
  mailbox ${JUNK} {
    special_use = \\Junk
    auto = subscribe
${learn.junkMailbox}  }
  mailbox ${TRASH} {
    special_use = \\Trash
    auto = subscribe
  }
}

## Quota
mail_plugins {
  quota = yes
}
quota "User quota" {
  driver = count
}
# Each user's limit comes from the passwd-file (userdb_quota_storage_size).
quota_exceeded_message = Mailbox full: the recipient has used all of their storage and cannot receive mail until they free some.

## IMAP${spec.pop3 ? " and POP3" : ""}
${implicitTlsLogin("imap", IMAPS_PORT, "  mail_plugins {\n    imap_quota = yes\n    imap_sieve = yes\n  }\n")}${spec.pop3 ? implicitTlsLogin("pop3", POP3S_PORT) : ""}
## LMTP (from the edge MX hosts)
# Listens on this host's own addresses only; who may reach port ${LMTP_PORT} (the edge hosts, and the
# other stores proxying) is the firewall's job: LMTP has no authentication of its own.
service lmtp {
  inet_listener lmtp {
    listen = ${own}
    port = ${LMTP_PORT}
  }
}
# Dovecot 2.4 defers a user's deliveries past 10 at once (451 "Too many concurrent deliveries"):
# a burst to one mailbox (a list, a reply-all storm) then waits minutes in the edges' queues. The
# edges bound what a store takes instead (${LMTP_CONCURRENCY} deliveries per edge: lmtp_destination_concurrency_limit).
lmtp_user_concurrency_limit = unlimited
# alice+news@ is delivered to alice (into INBOX).
recipient_delimiter = ${spec.recipientDelimiter}
# A recipient whose mailbox lives on another store is passed on to that store's LMTP instead of
# being delivered here: one copy, in the right place, whichever store the edge picked.
lmtp_proxy = yes
# Refuse a full mailbox at RCPT, with the quota message and before any data is sent, instead of
# failing at delivery: the edge MX returns the mail to its sender at once, with that reason.
lmtp_rcpt_check_quota = yes
# A Sieve fileinto to a folder that does not exist yet creates it instead of falling back to INBOX.
lda_mailbox_autocreate = yes
lda_mailbox_autosubscribe = yes
protocol lmtp {
  mail_plugins {
    sieve = yes
  }
${learn.lmtp}  passdb passwd-file {
    fields {
      port = ${LMTP_PORT}
    }
  }
}

## Metrics (render/monitoring): Dovecot's own OpenMetrics endpoint, on this host's own address; the
# firewall admits only the monitoring hosts and monitoring.cidrs. Prometheus reads the counters as
# dovecot_<metric>_total.
service stats {
  inet_listener http {
    listen = ${own}
    port = ${DOVECOT_METRICS_PORT}
  }
}
metric auth_successes {
  filter = event=auth_request_finished AND success=yes
}
metric auth_failures {
  filter = event=auth_request_finished AND NOT success=yes
}
metric lmtp_deliveries {
  filter = event=mail_delivery_finished
}

## Sieve (filters run at LMTP delivery; users manage them over ManageSieve)
sieve_script personal {
  driver = file
  path = ~/sieve
  active_path = ~/.dovecot.sieve
}
${learn.global}
service managesieve-login {
  inet_listener sieve {
    port = ${SIEVE_PORT}
  }
}
protocol sieve {
  # ManageSieve starts in cleartext and upgrades with STARTTLS, to the other store as well.
  passdb passwd-file {
    fields {
      port = ${SIEVE_PORT}
      starttls = yes
    }
  }
}

${host.name === topology.authStore ? postfixAuth(host, own) : NO_POSTFIX_AUTH}`;
}
