/**
 * First-boot script of a new cloud host (EC2 user data, run once by cloud-init as root): on
 * stores the mail volume mounted at the mail home, the role's Debian packages, the mailbox owner
 * on stores, and the deploy user the push logs in as. Pure: every value in it passed
 * components/config (host labels, a Unix user name, an OpenSSH key line) or is checked here (the
 * volume id), none can carry quotes, spaces beyond the key's fields, or a newline.
 */
import { FleetSpec } from "../config/spec";
import { ROLE_PACKAGES } from "../push/roles";
import { Host } from "../topology";
import { VMAIL } from "../topology/vmail";
import { mailVolumeDevice } from "./awsStorage";

/** The mail file system's label, for a person reading lsblk; /etc/fstab mounts it by UUID, which no other disk shares. */
export const MAIL_FS_LABEL = "mailfleet-mail";
/** How long first boot waits for the mail volume (s): a replaced instance gives it up only once it has stopped. */
export const MAIL_VOLUME_WAIT_SECONDS = 900;

/**
 * The store's mail volume at the mail home, before anything writes there. Formatted only when
 * blank, so a volume that already holds mail (the volume of a replaced instance, or one made
 * from a snapshot) is mounted as it is.
 */
export function mailVolumeLines(volumeId: string): string[] {
  const device = mailVolumeDevice(volumeId);
  const unit = "/etc/systemd/system/dovecot.service.d/mailfleet-mail-volume.conf";
  return [
    `# The mail volume ${volumeId}: its attachment follows this instance, so it may appear only after boot.`,
    `dev=${device}`,
    `waited=0; while [ ! -e "$dev" ] && [ "$waited" -lt ${MAIL_VOLUME_WAIT_SECONDS} ]; do sleep 5; waited=$((waited + 5)); done`,
    `[ -e "$dev" ] || { echo "mailfleet: mail volume ${volumeId} did not appear at $dev" >&2; exit 1; }`,
    "# blkid exits 2 when it finds neither a file system nor a partition table: only then is the volume blank.",
    `found=0; blkid -p "$dev" >/dev/null || found=$?`,
    `if [ "$found" -eq 2 ]; then mkfs.ext4 -q -L ${MAIL_FS_LABEL} "$dev"; elif [ "$found" -ne 0 ]; then echo "mailfleet: blkid failed on $dev" >&2; exit 1; fi`,
    `uuid=$(blkid -s UUID -o value "$dev")`,
    `[ -n "$uuid" ] || { echo "mailfleet: $dev holds no file system of its own (a partition table?); left as it is" >&2; exit 1; }`,
    "# nofail: a missing volume must not keep the host from booting (SSH stays reachable); Dovecot waits for the mount instead.",
    `grep -q ' ${VMAIL.home} ' /etc/fstab || printf 'UUID=%s ${VMAIL.home} ext4 defaults,nofail 0 2\\n' "$uuid" >> /etc/fstab`,
    `mkdir -p ${VMAIL.home}`,
    `mountpoint -q ${VMAIL.home} || mount ${VMAIL.home}`,
    "# Without its volume Dovecot would deliver onto the root disk, where the mail would not survive.",
    `mkdir -p ${unit.slice(0, unit.lastIndexOf("/"))}`,
    `printf '[Unit]\\nRequiresMountsFor=${VMAIL.home}\\n' > ${unit}`,
    "systemctl daemon-reload",
  ];
}

/** mailVolumeId: a store's data volume (aws), mounted at the mail home before anything writes there. */
export function userData(spec: FleetSpec, host: Host, mailVolumeId?: string): string {
  const { user, publicKey } = spec.ssh;
  if (!publicKey) throw new Error("ssh.publicKey is required for new hosts: the push could not log in");
  if ((host.role === "store") !== (mailVolumeId !== undefined)) throw new Error(`${host.name}: a store, and only a store, boots with its mail volume`);
  const lines = [
    "#!/bin/sh",
    `# mailfleet first boot: ${host.fqdn} (${host.role})`,
    "set -eu",
    "export DEBIAN_FRONTEND=noninteractive",
    `hostnamectl set-hostname ${host.fqdn}`,
    ...(mailVolumeId ? mailVolumeLines(mailVolumeId) : []),
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
