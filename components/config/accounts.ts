/**
 * System accounts that must never be `ssh.user`: the push logs in as that user and the EC2 user
 * data grants it `NOPASSWD: ALL`, so a daemon's account there hands root to whoever owns the daemon.
 * root itself is fine (the push runs as root or through sudo).
 */

/** The accounts of the daemons a fleet host runs (Postfix, Dovecot, rspamd, Knot, nginx, Valkey, the exporters, sshd, D-Bus …). */
const DAEMON_ACCOUNTS = [
  "postfix", "dovecot", "dovenull", "vmail", "_rspamd", "knot", "www-data", "nobody", "sshd", "messagebus", "_chrony", "polkitd",
  "valkey", "prometheus", "mtail", "postsrsd", "rbldns",
];

/** Debian's own system accounts (base-passwd's static list and common package users). */
const DEBIAN_ACCOUNTS = [
  "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp", "proxy", "backup", "list", "irc", "gnats", "_apt",
  "tss", "uuidd", "statd", "_rpc", "tcpdump", "dnsmasq", "avahi", "ntpsec", "opendkim", "redis", "clamav", "restic-rest-server", "_mta-sts", "unbound",
];

const SYSTEM_ACCOUNTS = new Set([...DAEMON_ACCOUNTS, ...DEBIAN_ACCOUNTS]);

export function isSystemAccount(user: string): boolean {
  // systemd-network, systemd-timesync, systemd-resolve … are created on demand under this prefix.
  return SYSTEM_ACCOUNTS.has(user) || user.startsWith("systemd-");
}
