/**
 * The mailbox owner on stores, in one place: one unprivileged user with fixed ids, so a mailbox
 * copied to another store keeps its owner. The first-boot script creates it (compute/userData.ts)
 * and the Dovecot renderer runs mail as it (render/dovecot/conf.ts); deploy.sh, which runs on the
 * host, spells the ids out and test/push/bundle.test.ts holds them to these.
 */
export const VMAIL = { user: "vmail", group: "vmail", uid: 5000, gid: 5000, home: "/var/vmail" } as const;
