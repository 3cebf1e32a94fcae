/**
 * The backup check: the newest snapshot's age per store, run only with SSH access and a backup
 * block; and the readers of restic's output it rests on.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseSnapshotList, readResticLine } from "../../scripts/backup/snapshots";
import { backupVerdict } from "../../scripts/check/backup";
import { runChecks } from "../../scripts/check/checks";
import { Expected } from "../../scripts/check/expect";
import { Probes } from "../../scripts/check/probes";
import { EXPECTED, fakeDns, goodPolicy, goodTls, NOW, publishedZone, spec, topology } from "./fixtures";

describe("the backup check", () => {
  const snapshot = (time: string, id = "1a2b3c4d") => ({ time, short_id: id, id: `${id}${"0".repeat(56)}`, summary: { total_bytes_processed: 2048, total_files_processed: 3 } });
  const status = (...snapshots: object[]) => ({ stdout: JSON.stringify({ store: "store1", repository: "rest:http://10.0.0.5:8000/store1", snapshots }) });

  it("passes a snapshot younger than twice the interval, fails an older one, none, or a failed status", () => {
    const fresh = backupVerdict("lab", "store1", status(snapshot("2026-03-10T10:05:00Z")), 60, NOW);
    assert.equal(fresh.status, "pass");
    assert.equal(fresh.detail, "newest snapshot 1a2b3c4d is 1 h 55 min old (backups every 60 min)");
    const stale = backupVerdict("lab", "store1", status(snapshot("2026-03-10T09:59:00Z")), 60, NOW);
    assert.equal(stale.status, "fail");
    assert.match(stale.detail, /is 2 h 1 min old .*: more than twice the interval/);
    assert.match(stale.fix!, /\.\/mf backup --stack lab --store store1.*journalctl -u mailfleet-backup\.service/);
    // The newest counts, whatever order the list comes in.
    assert.equal(backupVerdict("lab", "store1", status(snapshot("2026-03-10T11:50:00Z", "ffffffff"), snapshot("2026-03-01T00:00:00Z")), 15, NOW).status, "pass");
    const none = backupVerdict("lab", "store1", status(), 60, NOW);
    assert.deepEqual([none.status, none.detail], ["fail", "no snapshot in rest:http://10.0.0.5:8000/store1 yet"]);
    const failed = backupVerdict("lab", "store2", { error: "wrong password for rest:http://10.0.0.5:8000/store2" }, 60, NOW);
    assert.deepEqual([failed.status, failed.subject], ["fail", "store2"]);
    assert.match(failed.detail, /status failed: wrong password/);
    assert.match(failed.fix!, /backup\.repository and backup\.password/);
    assert.equal(backupVerdict("lab", "store1", { stdout: "Fatal: x" }, 60, NOW).status, "fail");
  });

  it("runs per store only with SSH access and a backup block", async () => {
    const backup = { repository: "rest:http://10.0.0.5:8000", password: "a long enough repository password", intervalMinutes: 60, retention: { hourly: 1, daily: 1, weekly: 1 } };
    const withBackup: Expected = { ...EXPECTED, topology: { ...topology, spec: { ...spec, backup } } };
    const asked: string[] = [];
    const probes: Probes = {
      dns: fakeDns(publishedZone()),
      starttls: async (h) => goodTls(h),
      tls: async (ep) => goodTls(ep.name),
      policy: async () => goodPolicy,
      now: NOW,
      backupStatus: async (store) => (asked.push(store), store === "store1" ? status(snapshot("2026-03-10T11:30:00Z")) : { error: "unreachable" }),
    };
    const lines = (await runChecks(withBackup, probes)).filter((r) => r.check === "backup");
    assert.deepEqual(asked, ["store1", "store2"]);
    assert.deepEqual(lines.map((r) => [r.subject, r.status]), [["store1", "pass"], ["store2", "fail"]]);
    const { backupStatus: _ssh, ...noSsh } = probes;
    assert.deepEqual((await runChecks(withBackup, noSsh)).filter((r) => r.check === "backup"), []);
    const withoutBackup: Expected = { ...EXPECTED, topology: { ...topology, spec: { ...spec, backup: undefined } } };
    assert.deepEqual((await runChecks(withoutBackup, probes)).filter((r) => r.check === "backup"), []);
  });

  it("reads restic's progress and summary lines, and the snapshot list with sizes", () => {
    assert.deepEqual(
      readResticLine('{"message_type":"status","percent_done":0.5,"total_files":10,"files_done":5,"total_bytes":2097152,"bytes_done":1048576,"seconds_elapsed":3}'),
      { kind: "progress", text: "50%  1.0 MiB of 2.0 MiB, 5 of 10 files, 3 s" },
    );
    assert.deepEqual(
      readResticLine('{"message_type":"status","percent_done":1,"total_files":4,"files_restored":4,"total_bytes":100,"bytes_restored":100}'),
      { kind: "progress", text: "100%  100 B of 100 B, 4 of 4 files, 0 s" },
    );
    assert.deepEqual(
      readResticLine('{"message_type":"summary","snapshot_id":"0123456789abcdef","total_files_processed":7,"total_bytes_processed":4096,"data_added":512}'),
      { kind: "summary", snapshot: "01234567", files: 7, bytes: 4096, added: 512 },
    );
    assert.deepEqual(readResticLine('{"message_type":"error","error":{"message":"permission denied"},"item":"/var/vmail/x"}'), {
      kind: "error",
      text: "/var/vmail/x: permission denied",
    });
    assert.deepEqual(readResticLine('{"message_type":"exit_error","code":1,"message":"Fatal: unable to save snapshot"}'), {
      kind: "error",
      text: "Fatal: unable to save snapshot",
    });
    assert.deepEqual(readResticLine("plain words"), { kind: "other", text: "plain words" });
    const list = parseSnapshotList(status(snapshot("2026-03-10T11:00:00Z", "bbbbbbbb"), snapshot("2026-03-10T10:00:00Z", "aaaaaaaa")).stdout);
    assert.deepEqual(list.snapshots.map((s) => [s.id, s.bytes, s.files]), [["aaaaaaaa", 2048, 3], ["bbbbbbbb", 2048, 3]]);
    assert.throws(() => parseSnapshotList('{"store":"store1"}'), /without store, repository and snapshots/);
    assert.throws(() => parseSnapshotList(""), /printed no JSON: nothing/);
  });
});
