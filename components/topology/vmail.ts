/**
 * The mailbox owner on stores, in one place: one unprivileged user with fixed ids, so a mailbox
 * copied to another store keeps its owner. The first-boot script creates it (compute/userData.ts);
 * the Dovecot renderer (render/dovecot/conf.ts) and the push (push/deploy.sh) still spell the same
 * ids out and are to take them from here.
 */
export const VMAIL = { user: "vmail", group: "vmail", uid: 5000, gid: 5000, home: "/var/vmail" } as const;
