/**
 * Pure readers of what a store's mailfleet-backup prints (components/render/mailfleet-backup.sh):
 * the snapshot list of `status` / `snapshots`, and restic's JSON progress and summary lines of
 * `run --progress` / `restore --progress`, turned into words for the operator.
 */

export interface Snapshot {
  /** restic's short id (8 hex digits): what `./mf restore --snapshot` takes. */
  id: string;
  time: Date;
  /** Bytes of mail the snapshot holds (restic's summary), when restic recorded it. */
  bytes?: number;
  files?: number;
}

export interface SnapshotList {
  store: string;
  repository: string;
  /** Oldest first, as restic lists them. */
  snapshots: Snapshot[];
}

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === "object" && !Array.isArray(v);

/** `{"store", "repository", "snapshots": [restic snapshot objects]}`, or throws saying what is wrong. */
export function parseSnapshotList(text: string): SnapshotList {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`mailfleet-backup printed no JSON: ${text.trim().slice(0, 120) || "nothing"}`);
  }
  if (!isObject(value) || typeof value.store !== "string" || typeof value.repository !== "string" || !Array.isArray(value.snapshots)) {
    throw new Error("mailfleet-backup printed JSON without store, repository and snapshots");
  }
  const snapshots = value.snapshots.map((s): Snapshot => {
    const time = isObject(s) && typeof s.time === "string" ? new Date(s.time) : new Date(NaN);
    if (!isObject(s) || typeof s.short_id !== "string" || Number.isNaN(time.getTime())) throw new Error("a snapshot without short_id or time");
    const summary = isObject(s.summary) ? s.summary : {};
    return {
      id: s.short_id,
      time,
      ...(typeof summary.total_bytes_processed === "number" ? { bytes: summary.total_bytes_processed } : {}),
      ...(typeof summary.total_files_processed === "number" ? { files: summary.total_files_processed } : {}),
    };
  });
  snapshots.sort((a, b) => a.time.getTime() - b.time.getTime());
  return { store: value.store, repository: value.repository, snapshots };
}

export function newest(list: SnapshotList): Snapshot | undefined {
  return list.snapshots[list.snapshots.length - 1];
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

export function formatAge(ms: number): string {
  const minutes = Math.max(0, Math.floor(ms / 60_000));
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return hours < 48 ? `${hours} h ${minutes % 60} min` : `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** What one JSON line of restic's backup or restore says: progress, the final summary, an error, or nothing known. */
export type ResticLine =
  | { kind: "progress"; text: string }
  | { kind: "summary"; snapshot?: string; files: number; bytes: number; added?: number }
  | { kind: "error"; text: string }
  | { kind: "other"; text: string };

const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : 0);

export function readResticLine(line: string): ResticLine {
  let m: unknown;
  try {
    m = JSON.parse(line);
  } catch {
    return { kind: "other", text: line };
  }
  if (!isObject(m)) return { kind: "other", text: line };
  switch (m.message_type) {
    case "status": {
      // backup: files_done/bytes_done; restore: files_restored/bytes_restored.
      const percent = Math.floor(num(m.percent_done) * 100);
      const bytes = num(m.bytes_done ?? m.bytes_restored);
      const files = num(m.files_done ?? m.files_restored);
      const total = num(m.total_bytes);
      const totalFiles = num(m.total_files);
      return {
        kind: "progress",
        text: `${percent}%  ${formatBytes(bytes)} of ${formatBytes(total)}, ${files} of ${totalFiles} files, ${Math.round(num(m.seconds_elapsed))} s`,
      };
    }
    case "summary":
      return {
        kind: "summary",
        ...(typeof m.snapshot_id === "string" ? { snapshot: m.snapshot_id.slice(0, 8) } : {}),
        files: num(m.total_files_processed ?? m.files_restored ?? m.total_files),
        bytes: num(m.total_bytes_processed ?? m.bytes_restored ?? m.total_bytes),
        ...(m.data_added !== undefined ? { added: num(m.data_added) } : {}),
      };
    // restic 0.17+: a fatal error, with --json, is a last line of its own.
    case "exit_error":
      return { kind: "error", text: typeof m.message === "string" ? m.message : line };
    case "error": {
      const error = isObject(m.error) ? m.error.message : m.error;
      return { kind: "error", text: `${typeof m.item === "string" ? `${m.item}: ` : ""}${typeof error === "string" ? error : JSON.stringify(m.error)}` };
    }
    default:
      return { kind: "other", text: line };
  }
}
