/**
 * Mail durability on AWS (issue 14): the pure decisions and policies, then the resources the aws
 * backend registers under mocks — the stores' data volumes, their attachments, the snapshot
 * policy and its role, the backup bucket and each store's access to it — and which of them a
 * `pulumi destroy` keeps, read from the resource options the SDK applies.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import {
  awsBackupRepositoryBase,
  DLM_SERVICE_POLICY,
  MAIL_VOLUME_DEVICE_NAME,
  MAIL_VOLUME_TAG,
  mailVolumeDevice,
  retainMailData,
  storeBackupPolicy,
} from "../../components/compute/awsStorage";
import { FleetSpec } from "../../components/config";
import { MailFleet } from "../../components/fleet";
import { buildTopology, hostsOf } from "../../components/topology";
import { byName, exampleSpec, MOCK_ZONE, ofType, Registered, reveal, underMocks } from "../support/harness";

const VOLUME = "aws:ebs/volume:Volume";
const ATTACHMENT = "aws:ec2/volumeAttachment:VolumeAttachment";
const BUCKET = "aws:s3/bucket:Bucket";
const ROLE = "aws:iam/role:Role";

describe("retainMailData: what a destroy keeps, per stack", () => {
  it("keeps the mail of every stack but a test stack, unless the stack opts out", () => {
    for (const stack of ["dev", "prod", "staging", "org/mailfleet/prod", "test"]) assert.equal(retainMailData(undefined, stack), true, stack);
    assert.equal(retainMailData(false, "prod"), false, "the opt-out");
    for (const stack of ["test-pr-12", "org/mailfleet/test-pr-12"]) {
      assert.equal(retainMailData(undefined, stack), false, stack);
      assert.equal(retainMailData(true, stack), false, `${stack}: a copied setting cannot make the teardown leave volumes behind`);
    }
    // The teardown refuses names with a protected word: such a stack is not a test stack and keeps its mail.
    assert.equal(retainMailData(undefined, "test-prod-copy"), true);
  });
});

describe("backup access", () => {
  it("names the restic repository base from region and bucket", () => {
    assert.equal(awsBackupRepositoryBase("eu-central-1", "mail-backups-1a2b"), "s3:s3.eu-central-1.amazonaws.com/mail-backups-1a2b");
  });

  it("lets a store read the whole bucket and write and delete only under its own prefix", () => {
    const arn = "arn:aws:s3:::mail-backups-1a2b";
    const doc = JSON.parse(storeBackupPolicy(arn, "store1"));
    const allows = (action: string) =>
      doc.Statement.filter((s: any) => s.Effect === "Allow" && [s.Action].flat().includes(action)).map((s: any) => s.Resource);
    assert.deepEqual(allows("s3:ListBucket"), [arn]);
    assert.deepEqual(allows("s3:GetObject"), [`${arn}/*`], "a restore onto another store reads the lost store's prefix");
    for (const write of ["s3:PutObject", "s3:DeleteObject"]) assert.deepEqual(allows(write), [`${arn}/store1/*`], write);
    assert.ok(doc.Statement.every((s: any) => s.Effect === "Allow" && ![s.Action].flat().some((a: string) => a.includes("*") || a.includes("Version"))),
      "no wildcard action, no version deletion: a broken-into store cannot erase the bucket's history");
    // The slash ends the prefix: store1 cannot write store10's backups.
    assert.ok(!`${arn}/store10/data`.startsWith(`${arn}/store1/`));
  });

  it("finds the volume by its id as udev links it on Nitro instances", () => {
    assert.equal(mailVolumeDevice("vol-0123456789abcdef0"), "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol0123456789abcdef0");
    for (const bad of ["vol-", "vol-0123'; reboot", "snap-0123456789abcdef0"]) assert.throws(() => mailVolumeDevice(bad), /not an EBS volume id/);
  });
});

interface Run {
  spec: FleetSpec;
  resources: Registered[];
  fleet: MailFleet;
  options: Map<string, pulumi.CustomResourceOptions>;
}

/** Runs the fleet under mocks as the given stack, keeping each resource's options as the SDK applies them. */
async function runAs(stack: string, spec: FleetSpec): Promise<Run> {
  const options = new Map<string, pulumi.CustomResourceOptions>();
  const record: pulumi.ResourceTransformation = (args) => {
    options.set(args.name, args.opts);
    return undefined;
  };
  const { resources, result: fleet } = await underMocks(() => new MailFleet("mailfleet", { spec }, { transformations: [record] }), stack);
  return { spec, resources, fleet, options };
}

/** The volume's id, from its ARN (the mocks give both). */
const volumeId = (volume: Registered): string => volume.state.arn.split("/").pop();


describe("the aws backend's mail storage (prod stack, under mocks)", () => {
  let run: Run;
  before(async () => {
    const spec = exampleSpec("prod", (raw) => {
      raw.hosts.store.dataVolumeGb = 50;
      raw.aws = { ...raw.aws, snapshots: { intervalHours: 6, retain: 28 } };
    });
    run = await runAs("prod", spec);
  });
  const stores = () => hostsOf(buildTopology(run.spec), "store");

  it("gives each store an encrypted gp3 volume of the configured size in its subnet's zone, tagged for the snapshots", () => {
    const volumes = ofType(run.resources, VOLUME);
    assert.deepEqual(volumes.map((v) => v.name).sort(), stores().map((s) => `${s.name}-mail`).sort());
    for (const store of stores()) {
      const v = byName(volumes, `${store.name}-mail`).inputs;
      assert.equal(v.encrypted, true);
      assert.equal(v.type, "gp3");
      assert.equal(v.size, 50);
      assert.equal(v.availabilityZone, MOCK_ZONE);
      assert.equal(v.tags[MAIL_VOLUME_TAG], "mailfleet/prod");
      assert.equal(v.tags.Name, `mail of ${store.fqdn}`);
    }
  });

  it("attaches each volume to its own store's instance at the fixed device name, and pushes only after that", () => {
    const attachments = ofType(run.resources, ATTACHMENT);
    assert.equal(attachments.length, stores().length);
    for (const store of stores()) {
      const a = byName(attachments, `${store.name}-mail-attachment`);
      assert.equal(a.inputs.volumeId, volumeId(byName(run.resources, `${store.name}-mail`)));
      assert.equal(a.inputs.instanceId, `${store.name}-id`);
      assert.equal(a.inputs.deviceName, MAIL_VOLUME_DEVICE_NAME);
      assert.equal(a.inputs.stopInstanceBeforeDetaching, true);
      assert.equal(run.options.get(a.name)?.deleteBeforeReplace, true, "the old instance lets go of the volume before the new one takes it");
      assert.ok(byName(run.resources, store.name).inputs.userData.includes(mailVolumeDevice(a.inputs.volumeId)), "first boot waits for this volume");
    }
    assert.equal(ofType(run.resources, ATTACHMENT).filter((a) => !a.name.startsWith("store")).length, 0);
  });

  it("snapshots the stack's mail volumes by tag on the configured schedule, through a role only DLM may assume", () => {
    const [policy] = ofType(run.resources, "aws:dlm/lifecyclePolicy:LifecyclePolicy");
    assert.ok(policy);
    const details = policy.inputs.policyDetails;
    assert.deepEqual(details.resourceTypes, ["VOLUME"]);
    assert.deepEqual(details.targetTags, { [MAIL_VOLUME_TAG]: "mailfleet/prod" });
    assert.equal(details.schedules.length, 1);
    assert.deepEqual(details.schedules[0].createRule, { interval: 6, intervalUnit: "HOURS", times: "03:00" });
    assert.deepEqual(details.schedules[0].retainRule, { count: 28 });
    assert.equal(policy.inputs.state, "ENABLED");
    for (const text of [policy.inputs.description, details.schedules[0].name]) assert.match(text, /^[0-9A-Za-z _-]+$/, "DLM's alphabet for names");
    const role = byName(run.resources, "mail-snapshots-role");
    assert.equal(policy.inputs.executionRoleArn, role.state.arn);
    const trust = JSON.parse(role.inputs.assumeRolePolicy);
    assert.deepEqual(trust.Statement.map((s: any) => [s.Principal.Service, s.Action]), [["dlm.amazonaws.com", "sts:AssumeRole"]]);
    const attached = ofType(run.resources, "aws:iam/rolePolicyAttachment:RolePolicyAttachment");
    assert.deepEqual(attached.map((a) => [a.inputs.role, a.inputs.policyArn]), [[role.state.name, DLM_SERVICE_POLICY]]);
  });

  it("keeps the backups in a private, encrypted, versioned bucket, and exports its name", async () => {
    const bucket = byName(run.resources, "mail-backups");
    const on = (type: string) => {
      const found = ofType(run.resources, type);
      assert.equal(found.length, 1, type);
      assert.equal(found[0].inputs.bucket, bucket.state.bucket, `${type} configures the backup bucket`);
      return found[0].inputs;
    };
    const block = on("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock");
    for (const key of ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"]) assert.equal(block[key], true, key);
    assert.equal(on("aws:s3/bucketOwnershipControls:BucketOwnershipControls").rule.objectOwnership, "BucketOwnerEnforced");
    assert.equal(on("aws:s3/bucketVersioning:BucketVersioning").versioningConfiguration.status, "Enabled");
    const sse = on("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration");
    assert.ok(["AES256", "aws:kms"].includes(sse.rules[0].applyServerSideEncryptionByDefault.sseAlgorithm));
    const lifecycle = on("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration");
    assert.ok(lifecycle.rules.every((r: any) => !r.expiration), "current backups never expire by age; only replaced versions do");
    assert.equal((await reveal(run.fleet.backupBucket!)).value, bucket.state.bucket);
    assert.equal(run.fleet.outputs().backupBucket, run.fleet.backupBucket);
  });

  it("gives each store, and only stores, an instance role that writes only its own prefix", () => {
    const bucket = byName(run.resources, "mail-backups");
    for (const host of buildTopology(run.spec).hosts) {
      const instance = byName(run.resources, host.name).inputs;
      if (host.role !== "store") {
        assert.equal(instance.iamInstanceProfile, undefined, `${host.name}: no AWS credentials on a host that keeps no mail`);
        continue;
      }
      const profile = byName(run.resources, `${host.name}-profile`);
      assert.equal(instance.iamInstanceProfile, profile.state.name);
      const role = byName(run.resources, `${host.name}-role`);
      assert.equal(profile.inputs.role, role.state.name);
      assert.deepEqual(JSON.parse(role.inputs.assumeRolePolicy).Statement[0].Principal, { Service: "ec2.amazonaws.com" });
      const policy = byName(run.resources, `${host.name}-backup-access`).inputs;
      assert.equal(policy.role, role.state.name, "the role's id is its name");
      const writes = JSON.parse(policy.policy).Statement.filter((s: any) => [s.Action].flat().includes("s3:PutObject"));
      assert.deepEqual(writes.map((s: any) => s.Resource), [`${bucket.state.arn}/${host.name}/*`]);
    }
    assert.deepEqual(ofType(run.resources, ROLE).map((r) => r.name).sort(), ["mail-snapshots-role", ...stores().map((s) => `${s.name}-role`)].sort());
  });

  it("keeps the volumes and the bucket with its settings on destroy, and never empties the bucket", () => {
    for (const name of [...stores().map((s) => `${s.name}-mail`), "mail-backups", "mail-backups-public-access", "mail-backups-encryption"]) {
      assert.equal(run.options.get(name)?.retainOnDelete, true, name);
    }
    assert.equal(byName(run.resources, "mail-backups").inputs.forceDestroy, false);
    for (const [name, opts] of run.options) assert.ok(!opts.protect, `${name}: nothing protected, so a test stack's teardown can destroy it`);
  });
});

describe("a test stack keeps nothing", () => {
  it("neither retains the volumes or the bucket on destroy, and empties the bucket", async () => {
    const run = await runAs("test-pr-7", exampleSpec("dev"));
    const volumes = ofType(run.resources, VOLUME);
    assert.ok(volumes.length > 0);
    for (const r of [...volumes, ...ofType(run.resources, BUCKET)]) assert.equal(run.options.get(r.name)?.retainOnDelete, false, r.name);
    assert.equal(byName(run.resources, "mail-backups").inputs.forceDestroy, true);
    assert.equal(volumes[0].inputs.tags[MAIL_VOLUME_TAG], "mailfleet/test-pr-7");
  });

  it("and a stack that opts out keeps nothing either", async () => {
    const run = await runAs("prod", exampleSpec("prod", (raw) => (raw.aws = { ...raw.aws, retainMailVolumes: false })));
    for (const r of ofType(run.resources, VOLUME)) assert.equal(run.options.get(r.name)?.retainOnDelete, false, r.name);
  });
});

