/**
 * Where mail outlives its instance on AWS (issue 14): per store an encrypted gp3 data volume,
 * its own resource, attached to whichever instance the store runs on and snapshotted by Data
 * Lifecycle Manager; one private, versioned S3 bucket for the stores' restic backups, each
 * store's instance role writing only its own prefix. The names and policies are pure functions;
 * awsMailStorage only creates resources from them.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { AwsSpec } from "../config/spec";
import { isTestStack } from "../stackName";
import { Host } from "../topology";

/** The tag that marks a stack's mail volumes; the snapshot policy targets them by it. */
export const MAIL_VOLUME_TAG = "mailfleet:mail-volume";
/** The device name the attachment asks for; a Nitro instance shows the volume as an NVMe disk instead (mailVolumeDevice). */
export const MAIL_VOLUME_DEVICE_NAME = "/dev/sdf";
/** AWS's own policy for Data Lifecycle Manager's snapshot role. */
export const DLM_SERVICE_POLICY = "arn:aws:iam::aws:policy/service-role/AWSDataLifecycleManagerServiceRole";
/**
 * How long the bucket keeps an object's replaced or deleted versions. restic's prune deletes
 * objects; versioning keeps them this long, so a store that is broken into cannot erase its own
 * history (its role may not delete versions), and the bucket does not grow without bound.
 */
export const BACKUP_VERSION_DAYS = 30;

/**
 * The tag value of one stack's mail volumes: project and stack, so two stacks in one account
 * never share a snapshot policy's target (DLM refuses two policies with the same target tags).
 */
export function mailVolumeTagValue(project: string, stack: string): string {
  return `${project}/${stack}`;
}

/**
 * Whether the stack's mail volumes and backup bucket survive `pulumi destroy` (and a store's
 * removal). Yes unless the stack opts out; never for a test stack, whatever settings it copied,
 * so that the teardown removes everything.
 */
export function retainMailData(setting: boolean | undefined, stack: string): boolean {
  return !isTestStack(stack) && (setting ?? true);
}

/** The restic repository URL the stores' repositories live under; a store's own is `<base>/<store name>`. */
export function awsBackupRepositoryBase(region: string, bucket: string): string {
  return `s3:s3.${region}.amazonaws.com/${bucket}`;
}

/** Where udev links an EBS volume on a Nitro instance: by its id, without the dash. */
export function mailVolumeDevice(volumeId: string): string {
  if (!/^vol-[0-9a-f]{8,17}$/.test(volumeId)) throw new Error(`not an EBS volume id: ${volumeId}`);
  return `/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${volumeId.replace("-", "")}`;
}

/** A role only the given AWS service may assume. */
export function trustPolicy(service: string): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Principal: { Service: service }, Action: "sts:AssumeRole" }],
  });
}

/**
 * A store's access to the backup bucket: it lists and reads every store's prefix (a restore onto
 * another store reads the lost store's repository, with `restic restore --no-lock`), and writes
 * and deletes only under its own `<store>/`. No version deletion: only the bucket's lifecycle
 * removes old versions.
 */
export function storeBackupPolicy(bucketArn: string, store: string): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      { Sid: "ListBackups", Effect: "Allow", Action: ["s3:ListBucket", "s3:GetBucketLocation"], Resource: bucketArn },
      { Sid: "ReadEveryStore", Effect: "Allow", Action: "s3:GetObject", Resource: `${bucketArn}/*` },
      {
        Sid: "WriteOwnPrefix",
        Effect: "Allow",
        Action: ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
        Resource: `${bucketArn}/${store}/*`,
      },
    ],
  });
}

/** The snapshot policy: every `snapshots.intervalHours` hours, keeping the last `snapshots.retain`. */
export function snapshotPolicyDetails(tagValue: string, snapshots: AwsSpec["snapshots"]): aws.types.input.dlm.LifecyclePolicyPolicyDetails {
  return {
    resourceTypes: ["VOLUME"],
    targetTags: { [MAIL_VOLUME_TAG]: tagValue },
    schedules: [
      {
        name: `every ${snapshots.intervalHours} hours keep ${snapshots.retain}`,
        // Counted from 03:00 UTC: the daily default lands at night in Europe.
        createRule: { interval: snapshots.intervalHours, intervalUnit: "HOURS", times: "03:00" },
        retainRule: { count: snapshots.retain },
        copyTags: true,
      },
    ],
  };
}

export interface MailStorage {
  /** Per store: the mail volume (its id goes into the first-boot script) and the instance profile. */
  stores: Record<string, { volume: aws.ebs.Volume; profile: aws.iam.InstanceProfile }>;
  /** Attaches a store's volume to the instance it runs on now; replaced along with the instance. */
  attach(store: string, instance: aws.ec2.Instance): aws.ec2.VolumeAttachment;
  backupBucket: pulumi.Output<string>;
  backupRepositoryBase: pulumi.Output<string>;
}

export function awsMailStorage(
  settings: AwsSpec,
  stores: Host[],
  availabilityZone: pulumi.Input<string>,
  tags: (name: string) => Record<string, string>,
  parent: pulumi.Resource,
): MailStorage {
  const opts = { parent };
  const retain = retainMailData(settings.retainMailVolumes, pulumi.getStack());
  // Retained with the bucket: a kept bucket must not lose its public-access block or its encryption.
  const keep = { parent, retainOnDelete: retain };
  const tagValue = mailVolumeTagValue(pulumi.getProject(), pulumi.getStack());

  // A test stack's bucket goes with its test backups in it; a kept one is never emptied by Pulumi.
  const bucket = new aws.s3.Bucket("mail-backups", { forceDestroy: !retain, tags: tags("mail backups") }, keep);
  new aws.s3.BucketPublicAccessBlock(
    "mail-backups-public-access",
    { bucket: bucket.id, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true },
    keep,
  );
  new aws.s3.BucketOwnershipControls("mail-backups-ownership", { bucket: bucket.id, rule: { objectOwnership: "BucketOwnerEnforced" } }, keep);
  // restic encrypts the data itself; this covers what S3 keeps about it.
  new aws.s3.BucketServerSideEncryptionConfiguration(
    "mail-backups-encryption",
    { bucket: bucket.id, rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }] },
    keep,
  );
  new aws.s3.BucketVersioning("mail-backups-versioning", { bucket: bucket.id, versioningConfiguration: { status: "Enabled" } }, keep);
  new aws.s3.BucketLifecycleConfiguration(
    "mail-backups-lifecycle",
    {
      bucket: bucket.id,
      rules: [
        {
          id: "expire-old-versions",
          status: "Enabled",
          filter: {},
          noncurrentVersionExpiration: { noncurrentDays: BACKUP_VERSION_DAYS },
          abortIncompleteMultipartUpload: { daysAfterInitiation: 7 },
        },
      ],
    },
    keep,
  );

  const volumes = stores.map((host) => {
    const volume = new aws.ebs.Volume(
      `${host.name}-mail`,
      {
        availabilityZone,
        size: host.dataVolumeGb!,
        type: "gp3",
        encrypted: true,
        tags: { ...tags(`mail of ${host.fqdn}`), [MAIL_VOLUME_TAG]: tagValue },
      },
      // A volume cannot move to another zone: a subnet elsewhere fails at the attachment instead
      // of starting the store on a new, empty volume (move the mail through a snapshot).
      { parent, retainOnDelete: retain, ignoreChanges: ["availabilityZone"] },
    );
    const role = new aws.iam.Role(`${host.name}-role`, { assumeRolePolicy: trustPolicy("ec2.amazonaws.com"), tags: tags(host.fqdn) }, opts);
    new aws.iam.RolePolicy(`${host.name}-backup-access`, { role: role.id, policy: bucket.arn.apply((arn) => storeBackupPolicy(arn, host.name)) }, opts);
    const profile = new aws.iam.InstanceProfile(`${host.name}-profile`, { role: role.name, tags: tags(host.fqdn) }, opts);
    return [host.name, { volume, profile }] as const;
  });

  const snapshotRole = new aws.iam.Role("mail-snapshots-role", { assumeRolePolicy: trustPolicy("dlm.amazonaws.com"), tags: tags("mail snapshots") }, opts);
  const snapshotAccess = new aws.iam.RolePolicyAttachment("mail-snapshots-access", { role: snapshotRole.name, policyArn: DLM_SERVICE_POLICY }, opts);
  new aws.dlm.LifecyclePolicy(
    "mail-snapshots",
    {
      // DLM takes only letters, digits, spaces, "_" and "-" here (and in the schedule's name).
      description: `mailfleet mail volumes of ${tagValue.replace(/[^0-9A-Za-z _-]/g, "-")}`,
      executionRoleArn: snapshotRole.arn,
      state: "ENABLED",
      policyDetails: snapshotPolicyDetails(tagValue, settings.snapshots),
      tags: tags("mail snapshots"),
    },
    { parent, dependsOn: [snapshotAccess] },
  );

  const stored = Object.fromEntries(volumes);
  return {
    stores: stored,
    attach: (store, instance) =>
      new aws.ec2.VolumeAttachment(
        `${store}-mail-attachment`,
        // Stopped first: the file system is unmounted cleanly before the volume moves on.
        { volumeId: stored[store].volume.id, instanceId: instance.id, deviceName: MAIL_VOLUME_DEVICE_NAME, stopInstanceBeforeDetaching: true },
        // A volume is attached to one instance at a time: the old attachment goes before the new one.
        { parent, deleteBeforeReplace: true },
      ),
    backupBucket: bucket.bucket,
    backupRepositoryBase: pulumi.all([bucket.region, bucket.bucket]).apply(([region, name]) => awsBackupRepositoryBase(region, name)),
  };
}
