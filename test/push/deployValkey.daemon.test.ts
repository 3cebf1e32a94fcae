/**
 * deploy.sh on a systemd host (/run/systemd/system) for a state host's Valkey and Sentinel
 * (render/valkey.ts): Debian's own units run them, pointed at the fleet's files by the rendered
 * drop-ins. The stand-in systemctl records its calls and runs a valkey unit as systemd would from the
 * files on the host: the last ExecStart= of Debian's unit and its drop-ins, as the unit's User=, with
 * its RuntimeDirectory=. So the real daemons start from the drop-ins' command lines, and what they
 * write lies where the units' sandbox (ProtectSystem=strict, ReadWritePaths=) lets them write.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { buildFleet, givenAddresses } from "../../components/build";
import { bundleFiles } from "../../components/push/bundle";
import { parseFleetConfig } from "../../components/config";
import { loadOrCreateKeys } from "../../components/keys/offline";
import { RenderedFile } from "../../components/render/file";
import { SENTINEL_STATE_FILE, VALKEY_PATHS, VALKEY_UNITS } from "../../components/render/valkey";
import { buildTopology } from "../../components/topology";
import { bootSystemdHost, SystemdHost } from "../support/systemdHost";
import { validRaw } from "../support/fixtures";

const keys = mkdtempSync(join(tmpdir(), "mailfleet-keys-"));
/** store1's files: the state's primary (first of the state hosts), or no state host when `stateHosts` leaves it out. */
function store1(o: { stateHosts?: string[]; maxMemoryMb?: number } = {}): RenderedFile[] {
  const raw = validRaw();
  raw.state = { hosts: o.stateHosts ?? ["store1", "mx1", "out1"], ...(o.maxMemoryMb ? { maxMemoryMb: o.maxMemoryMb } : {}) };
  const spec = parseFleetConfig(raw);
  return buildFleet(spec, givenAddresses(spec), loadOrCreateKeys(keys, buildTopology(spec))).hostFiles.store1;
}
const address = givenAddresses(parseFleetConfig(validRaw())).store1.ipv4;

let lab: SystemdHost;
const sh = (script: string, input?: string) => lab.sh(script, input);
const deploy = (files: RenderedFile[]) => lab.deploy("store", files);
const valkeyCalls = () => lab.calls().filter((c) => c.includes("valkey"));
/** A unit's setting as systemd reads it: Debian's unit, then the drop-ins; the last line wins. */
const UNIT_SETTING = 'setting() { cat "/lib/systemd/system/$1" /etc/systemd/system/"$1".d/*.conf 2>/dev/null | sed -n "s/^$2=//p" | tail -1; }';

before(() => {
  lab = bootSystemdHost(
    [
      UNIT_SETTING,
      // Running, not a zombie: the host's init (sleep) reaps nothing.
      'pidof_unit() { [ -s "/tmp/$1.pid" ] && [[ $(awk \'{print $3}\' "/proc/$(cat "/tmp/$1.pid")/stat" 2>/dev/null) =~ ^[RSD]$ ]]; }',
      'stop() { if pidof_unit "$1"; then kill -TERM "$(cat "/tmp/$1.pid")"; while pidof_unit "$1"; do sleep 0.1; done; fi; rm -f "/tmp/$1.pid"; }',
      "start() {",
      '  local user; user=$(setting "$1" User)',
      '  install -d -o "$user" -g "$user" -m 2755 "/run/$(setting "$1" RuntimeDirectory)"',
      '  # shellcheck disable=SC2046 # ExecStart= is a command line',
      '  setsid setpriv --reuid="$user" --regid="$user" --init-groups $(setting "$1" ExecStart) </dev/null >>"/tmp/$1.out" 2>&1 &',
      '  echo $! > "/tmp/$1.pid"',
      '  local n; for n in $(seq 1 50); do [ -s "$(setting "$1" PIDFile)" ] && return 0; sleep 0.1; done; return 1',
      "}",
      // Other units (postfix, dovecot, ...) are only recorded: active, and started or stopped at once.
      'verb=$1; shift; units=(); for a in "$@"; do [[ $a == --* ]] || units+=("$a"); done',
      'for u in "${units[@]}"; do',
      '  [[ $u == valkey-* ]] || continue',
      "  case $verb in",
      '    restart) stop "$u"; start "$u" || exit 1 ;;',
      '    stop) stop "$u" ;;',
      '    disable) [ "$1" = --now ] && stop "$u" ;;',
      '    is-active) pidof_unit "$u" || exit 3 ;;',
      "  esac",
      "done",
      "exit 0",
    ].join("\n"),
  );
  // The host has loopback only: the private address Valkey binds is put on it.
  assert.equal(sh(`ip addr add ${address}/32 dev lo`).code, 0);
});

after(() => lab?.host.dispose());

/** valkey-cli as rspamd's user (the password on stdin) against a port on the host's private address. */
const cli = (...args: string[]) =>
  sh(`REDISCLI_AUTH=$(cat) exec valkey-cli --no-auth-warning -h ${address} --user rspamd ${args.join(" ")}`, loadOrCreateKeys(keys, buildTopology(parseFleetConfig({ ...validRaw(), state: { hosts: ["store1", "mx1", "out1"] } }))).state.rspamd).stdout.trim();

test("the units' sandbox lets the daemons write what the rendered files name: data, logs, pid files (the units' PIDFile=), Sentinel's copy", () => {
  const files = store1();
  const rendered = (path: string) => files.find((f) => f.path === path)!.content;
  for (const [which, { unit, pidFile }] of Object.entries(VALKEY_UNITS)) {
    const config = rendered(which === "server" ? VALKEY_PATHS.server : VALKEY_PATHS.sentinel);
    const writes = [...config.matchAll(/^(?:dir|logfile|pidfile) (\S+)$/gm)].map((m) => m[1]);
    if (which === "sentinel") writes.push(SENTINEL_STATE_FILE);
    const unitFile = sh(`cat /lib/systemd/system/${unit}`).stdout;
    assert.match(unitFile, /^ProtectSystem=strict$/m, `${unit} is sandboxed`);
    const writable = [...unitFile.matchAll(/^ReadWritePaths=-?(\S+)$/gm)].map((m) => m[1].replace(/^\/var\/run\//, "/run/"));
    for (const path of writes) assert.ok(writable.some((w) => path === w || path.startsWith(`${w}/`)), `${unit} may write ${path} (ReadWritePaths: ${writable.join(" ")})`);
    assert.match(unitFile, new RegExp(`^PIDFile=${pidFile}$`, "m"), `${unit}'s PIDFile is the rendered pidfile`);
  }
});

test("a state host's first push: the drop-ins in place, Debian's units enabled and started with the fleet's files, data persisted under /var/lib/valkey", () => {
  deploy(store1());
  const made = valkeyCalls();
  for (const unit of ["valkey-server.service", "valkey-sentinel.service"]) {
    assert.ok(made.includes(`enable --quiet ${unit}`), made.join("\n"));
    assert.ok(made.includes(`restart ${unit}`), made.join("\n"));
  }
  assert.equal(sh(`${UNIT_SETTING}; setting valkey-server.service ExecStart; setting valkey-sentinel.service ExecStart`).stdout, [`/usr/bin/valkey-server ${VALKEY_PATHS.server} --supervised systemd --daemonize no`, `/usr/bin/valkey-sentinel ${SENTINEL_STATE_FILE} --supervised systemd --daemonize no`, ""].join("\n"));
  // The running daemons are the units' (their PIDFile names them) and serve the rendered files.
  for (const [unit, port] of [["valkey-server.service", 6379], ["valkey-sentinel.service", 26379]] as const) {
    const pid = sh(`cat /tmp/${unit}.pid`).stdout.trim();
    assert.equal(sh(`cat ${VALKEY_UNITS[unit === "valkey-server.service" ? "server" : "sentinel"].pidFile}`).stdout.trim(), pid, `${unit} wrote its PIDFile`);
    assert.equal(sh(`stat -c %U /proc/${pid}`).stdout.trim(), "valkey", `${unit} runs as valkey`);
    assert.equal(sh(`ss -Hltn 'sport = :${port}' | awk '{print $4}' | sort | tr '\\n' ' '`).stdout.trim(), `127.0.0.1:${port} ${address}:${port}`);
  }
  assert.equal(cli("set", "k", "v"), "OK");
  assert.match(sh("ls /var/lib/valkey /var/lib/valkey/appendonlydir").stdout, /sentinel\.conf[\s\S]*\.aof/);
});

test("a drop-in systemd would refuse fails the push's validation (systemd-analyze verify): nothing is changed", () => {
  const broken = store1({ maxMemoryMb: 96 }).map((f) => (f.path === VALKEY_UNITS.server.dropIn ? { ...f, content: f.content.replace("ExecStart=\n", "") } : f));
  const r = sh("bash /root/deploy.sh store", bundleFiles(broken));
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /more than one ExecStart= setting/);
  assert.match(r.stderr, /validation failed: nothing was changed/);
  assert.deepEqual(valkeyCalls(), []);
});

test("a re-push leaves unchanged daemons running; a changed server file restarts the server only", () => {
  const pid = () => sh("cat /run/valkey/valkey-server.pid").stdout.trim();
  const before = pid();
  deploy(store1().map((f) => (f.path === "/etc/dovecot/dovecot.conf" ? { ...f, content: `${f.content}\n` } : f)));
  assert.deepEqual(valkeyCalls().filter((c) => /^(restart|stop)/.test(c)), [], "nothing of Valkey's changed");
  assert.equal(pid(), before);
  deploy(store1({ maxMemoryMb: 128 }));
  assert.deepEqual(valkeyCalls().filter((c) => /^(restart|stop)/.test(c)), ["stop valkey-server.service", "restart valkey-server.service"]);
  assert.notEqual(pid(), before);
  assert.match(cli("info", "memory"), /^maxmemory:134217728\r?$/m, "the new file is in force");
  assert.equal(cli("get", "k"), "v", "the data outlived the restart");
});

test("a host that is no longer a state host: the units stopped and disabled, the drop-ins gone", () => {
  deploy(store1({ stateHosts: ["mx1", "mx2", "out1"] }));
  const made = valkeyCalls();
  assert.ok(made.includes("disable --now --quiet valkey-sentinel.service valkey-server.service"), made.join("\n"));
  assert.equal(sh("pgrep --runstates RSD -c valkey || true").stdout.trim(), "0");
  assert.equal(sh(`ls ${Object.values(VALKEY_UNITS).map((u) => u.dropIn).join(" ")} 2>/dev/null | wc -l`).stdout.trim(), "0");
});
