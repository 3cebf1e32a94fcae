/**
 * The state service's files (render/valkey.ts) run by Debian 13's valkey-server and valkey-sentinel:
 * the dry start deploy.sh validates with accepts them and refuses a broken one, the ACL users get
 * exactly their rights, noeviction holds, and data outlives a restart.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { file } from "../../components/render/file";
import { renderValkey, VALKEY_PATHS } from "../../components/render/valkey";
import { hostNamed } from "../../components/topology";
import { asUser, Debian13Host, withDebian13Host } from "../support/debian13";
import { labInput } from "../support/lab";

const input = labInput();
const files = renderValkey(input, hostNamed(input.topology, "mx1"));
const passwords = input.keys.state;
const valkey = (argv: string[]) => asUser("valkey", argv);
/** What deploy.sh's check_valkey runs: no port, so the daemon reads everything and exits saying so. */
const DRY = ["--daemonize", "no", "--port", "0", "--logfile", "", "--pidfile", "/tmp/dry.pid", "--dir", "/tmp"];

test("the dry start accepts the rendered server and Sentinel files and refuses a bad ACL rule", () => {
  withDebian13Host(files, (host) => {
    host.run(["sh", "-c", `cp ${VALKEY_PATHS.sentinel} /tmp/sentinel.conf && chown valkey /tmp/sentinel.conf`]);
    for (const argv of [["valkey-server", VALKEY_PATHS.server, ...DRY], ["valkey-sentinel", "/tmp/sentinel.conf", ...DRY]]) {
      const r = host.run(valkey(argv));
      assert.match(r.stdout + r.stderr, /Configured to not listen anywhere, exiting/, argv[0]);
    }
  });
  const broken = files.map((f) => (f.path === VALKEY_PATHS.server ? file(f.path, `${f.content}user intruder on +nosuchcommand\n`, f) : f));
  withDebian13Host(broken, (host) => {
    const r = host.run(valkey(["valkey-server", VALKEY_PATHS.server, ...DRY]));
    assert.doesNotMatch(r.stdout + r.stderr, /Configured to not listen anywhere/);
    assert.match(r.stdout + r.stderr, /Unknown command or category name in ACL/);
  });
});

test("a started Valkey: no login-free access, rspamd's user reads, writes and runs scripts but cannot wipe or reconfigure, nothing is evicted, data survives a restart", () => {
  const host = new Debian13Host(files).boot();
  try {
    // The host has loopback only: the rendered private address is given up for 127.0.0.1.
    const start = () => assert.equal(host.exec(["sh", "-c", 'install -d -o valkey -g valkey /run/valkey && exec "$@"', "sh", ...valkey(["valkey-server", VALKEY_PATHS.server, "--bind", "127.0.0.1", "--replicaof", "no", "one"])]).code, 0);
    const cli = (user: keyof typeof passwords | undefined, ...args: string[]) =>
      host.exec(["sh", "-c", 'REDISCLI_AUTH=$(cat) exec valkey-cli --no-auth-warning "$@"', "cli", ...(user ? ["--user", user] : []), ...args], user ? passwords[user] : "").stdout.trim();
    start();
    const ready = () => cli("rspamd", "ping") === "PONG";
    for (let i = 0; i < 50 && !ready(); i++) host.exec(["sleep", "0.1"]);
    assert.match(cli(undefined, "get", "k"), /NOAUTH/);
    assert.equal(cli("rspamd", "set", "greylist-key", "v", "ex", "3600"), "OK");
    assert.equal(cli("rspamd", "eval", "return redis.call('get', KEYS[1])", "1", "greylist-key"), "v");
    for (const denied of [["flushall"], ["config", "set", "maxmemory", "0"], ["shutdown"], ["monitor"]]) assert.match(cli("rspamd", ...denied), /NOPERM/, denied.join(" "));
    assert.match(cli("replica", "get", "greylist-key"), /NOPERM/, "the replication user only syncs");
    assert.match(cli("rspamd", "info", "memory"), /maxmemory_policy:noeviction/);
    host.exec(["sh", "-c", 'kill -TERM "$(cat /run/valkey/valkey-server.pid)"; while [ -e /run/valkey/valkey-server.pid ]; do sleep 0.1; done']);
    start();
    for (let i = 0; i < 50 && !ready(); i++) host.exec(["sleep", "0.1"]);
    assert.equal(cli("rspamd", "get", "greylist-key"), "v", "the key outlives a restart");
  } finally {
    host.dispose();
  }
});
