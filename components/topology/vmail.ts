/**
 * The mailbox owner on stores, in one place: one unprivileged user with fixed ids, so a mailbox
 * copied to another store keeps its owner. The first-boot script creates it (compute/userData.ts),
 * the push makes sure of it (push/deploy.sh), and Dovecot runs mail access as it (render/dovecot).
 */
export const VMAIL = { user: "vmail", group: "vmail", uid: 5000, gid: 5000, home: "/var/vmail" } as const;
