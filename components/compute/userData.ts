/**
 * First-boot script of a new cloud host (EC2 user data, run once by cloud-init as root): the
 * role's Debian packages, the mailbox owner on stores, and the deploy user the push logs in as.
 * Pure: every value in it passed components/config (host labels, a Unix user name, an OpenSSH key
 * line), none can carry quotes, spaces beyond the key's fields, or a newline.
 */
import { FleetSpec, Role } from "../config/spec";
import { Host } from "../topology";
import { VMAIL } from "../topology/vmail";

/**
 * The packages deploy.sh (components/push/deploy.sh) makes sure of for each role; installed at
 * boot already so the first push has nothing to fetch. A test keeps the two lists equal.
 */
export const ROLE_PACKAGES: Record<Role, readonly string[]> = {
  // nftables: every role loads its rule set, /etc/nftables.conf, with `nft -f`.
  edge: ["postfix", "postfix-lmdb", "rspamd", "nginx-light", "nftables"],
  // libsasl2-modules: the PLAIN/LOGIN mechanisms Postfix needs to log in to a smarthost.
  outbound: ["postfix", "postfix-lmdb", "rspamd", "libsasl2-modules", "nftables"],
  // restic: the store's backups (render/backup.ts); installed whether or not the stack configures them.
  store: ["dovecot-imapd", "dovecot-lmtpd", "dovecot-pop3d", "dovecot-sieve", "dovecot-managesieved", "restic", "nftables"],
};

export function userData(spec: FleetSpec, host: Host): string {
  const { user, publicKey } = spec.ssh;
  if (!publicKey) throw new Error("ssh.publicKey is required for new hosts: the push could not log in");
  const lines = [
    "#!/bin/sh",
    `# mailfleet first boot: ${host.fqdn} (${host.role})`,
    "set -eu",
    "export DEBIAN_FRONTEND=noninteractive",
    `hostnamectl set-hostname ${host.fqdn}`,
    "# Without this, Postfix's package would ask for (and write) a default main.cf of its own.",
    "echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections",
    "# The mirror may not be reachable in the first seconds of boot.",
    "for try in 1 2 3 4 5; do apt-get update -q && break; sleep 10; done",
    `apt-get install -y -q --no-install-recommends ${ROLE_PACKAGES[host.role].join(" ")}`,
  ];
  if (host.role === "store") {
    lines.push(
      "# Every mailbox belongs to one unprivileged user with fixed ids, so a mailbox copied to another store keeps its owner.",
      `getent group ${VMAIL.group} >/dev/null || groupadd --system --gid ${VMAIL.gid} ${VMAIL.group}`,
      `getent passwd ${VMAIL.user} >/dev/null || useradd --system --uid ${VMAIL.uid} --gid ${VMAIL.gid} ` +
        `--home-dir ${VMAIL.home} --no-create-home --shell /usr/sbin/nologin ${VMAIL.user}`,
      `install -d -o ${VMAIL.user} -g ${VMAIL.group} -m 0750 ${VMAIL.home}`,
    );
  }
  lines.push(
    "# The deploy user comes last: the push can log in only once the daemons it validates with are installed.",
    `id ${user} >/dev/null 2>&1 || useradd --create-home --shell /bin/bash ${user}`,
    `home=$(getent passwd ${user} | cut -d: -f6)`,
    `install -d -o ${user} -g ${user} -m 0700 "$home/.ssh"`,
    `printf '%s\\n' '${publicKey}' > "$home/.ssh/authorized_keys"`,
    `chown ${user}:${user} "$home/.ssh/authorized_keys"`,
    `chmod 0600 "$home/.ssh/authorized_keys"`,
    "# deploy.sh validates, swaps and reloads as root.",
    `printf '%s\\n' '${user} ALL=(root) NOPASSWD: ALL' > /etc/sudoers.d/90-mailfleet-deploy`,
    "chmod 0440 /etc/sudoers.d/90-mailfleet-deploy",
    "",
  );
  return lines.join("\n");
}
