/**
 * The mailbox owner on stores, in one place: one unprivileged user with fixed ids, so a mailbox
 * copied to another store keeps its owner. The first-boot script creates it (compute/userData.ts)
 * and the Dovecot renderer runs mail as it (render/dovecot/conf.ts); the deploy script gets them in
 * its generated header (push/deployScript.ts).
 */
export const VMAIL = { user: "vmail", group: "vmail", uid: 5000, gid: 5000, home: "/var/vmail" } as const;
