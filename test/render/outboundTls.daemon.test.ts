/**
 * Outbound TLS policy (render/outboundTls.ts) on Debian 13: the edge's and the outbound host's
 * main.cf with its policy tables passes `postfix check`; Debian's mta-sts-daemon loads the rendered
 * config (what deploy.sh's check_mta_sts runs) and answers on loopback, and the DANE-first socketmap
 * answers Postfix's own lookups (postmap -q through the tables main.cf names), in the order given.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { file } from "../../components/render/file";
import { OUTBOUND_TLS_PATHS, renderOutboundTls, STS_USER } from "../../components/render/outboundTls";
import { renderEdgePostfix, renderOutboundPostfix } from "../../components/render/postfix";
import { DANE_FIRST_PORT, hostNamed, MTA_STS_RESOLVER_PORT } from "../../components/topology";
import { Debian13Host, withDebian13Host } from "../support/debian13";
import { labInput } from "../support/lab";

/** deploy.sh's check_mta_sts, as it runs on a host. */
const CHECK_STS = [
  "python3",
  "-c",
  'import sys\nfrom postfix_mta_sts_resolver import utils\ncfg = utils.load_config(sys.argv[1])\nassert cfg["host"] in ("127.0.0.1", "::1")\nutils.create_cache(cfg["cache"]["type"], cfg["cache"]["options"])',
  OUTBOUND_TLS_PATHS.stsConf,
];

test("the edge's and the outbound host's main.cf with DANE-first and MTA-STS policy tables pass postfix check", () => {
  const input = labInput();
  for (const [name, render] of [["mx1", renderEdgePostfix], ["out1", renderOutboundPostfix]] as const) {
    withDebian13Host([...render(input, hostNamed(input.topology, name)), ...renderOutboundTls()], (host) => {
      const check = host.run(["sh", "-c", "postfix check && postconf -n >/dev/null"]);
      assert.equal(check.code, 0, check.stdout + check.stderr);
      assert.equal(check.stderr, "", `${name}: postconf warns: ${check.stderr}`);
      assert.equal(
        host.run(["postconf", "-h", "smtp_tls_policy_maps"]).stdout.trim(),
        `socketmap:inet:127.0.0.1:${DANE_FIRST_PORT}:dane, socketmap:inet:127.0.0.1:${MTA_STS_RESOLVER_PORT}:postfix`,
      );
      assert.equal(host.run(["postconf", "-h", "smtp_tls_security_level"]).stdout.trim(), "dane");
    });
  }
});

test("mta-sts-daemon's loader takes the rendered config and refuses a broken one", () => {
  const files = renderOutboundTls();
  withDebian13Host(files, (host) => {
    const r = host.run(CHECK_STS);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });
  const conf = files.find((f) => f.path === OUTBOUND_TLS_PATHS.stsConf)!;
  withDebian13Host(files.map((f) => (f === conf ? file(f.path, `${f.content}cache: [unclosed\n`) : f)), (host) => {
    assert.notEqual(host.run(CHECK_STS).code, 0, "broken YAML must be refused");
  });
  withDebian13Host(files.map((f) => (f === conf ? file(f.path, f.content.replace("host: 127.0.0.1", "host: 0.0.0.0")) : f)), (host) => {
    assert.notEqual(host.run(CHECK_STS).code, 0, "a public listener must be refused");
  });
});

test("both daemons answer on loopback only; each answers Postfix's lookups; a failed DANE lookup answers dane, never nothing", () => {
  const input = labInput();
  const host = new Debian13Host([...renderOutboundPostfix(input, hostNamed(input.topology, "out1")), ...renderOutboundTls()]).boot();
  try {
    const start = (argv: string[], log: string) => host.exec(["sh", "-c", `setsid "$@" </dev/null >${log} 2>&1 &`, "sh", ...argv]);
    assert.equal(start(["setpriv", `--reuid=${STS_USER}`, `--regid=${STS_USER}`, "--init-groups", "mta-sts-daemon", "--config", OUTBOUND_TLS_PATHS.stsConf], "/tmp/sts.log").code, 0);
    assert.equal(start(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "python3", OUTBOUND_TLS_PATHS.daneFirst, String(DANE_FIRST_PORT)], "/tmp/dane.log").code, 0);
    const listening = () => host.exec(["ss", "-Hltn"]).stdout;
    for (let i = 0; i < 100 && !(listening().includes(`:${DANE_FIRST_PORT}`) && listening().includes(`:${MTA_STS_RESOLVER_PORT}`)); i++) host.exec(["sleep", "0.1"]);
    const sockets = listening();
    for (const port of [DANE_FIRST_PORT, MTA_STS_RESOLVER_PORT]) {
      assert.match(sockets, new RegExp(`127\\.0\\.0\\.1:${port} `), `${port} on loopback: ${sockets}\n${host.exec(["cat", "/tmp/sts.log", "/tmp/dane.log"]).stdout}`);
      assert.doesNotMatch(sockets, new RegExp(`(0\\.0\\.0\\.0|\\*|\\[::\\]):${port} `), sockets);
    }
    // Each table main.cf names, as Postfix's smtp asks it (postmap -q takes one table at a time).
    const [dane, sts] = host.exec(["postconf", "-xh", "smtp_tls_policy_maps"]).stdout.trim().split(/,\s*/);
    const lookup = (table: string, key: string) => host.exec(["postmap", "-q", key, table]);
    // This host has no resolver: the DANE lookup fails, and the answer leaves the decision to Postfix's own DANE.
    assert.equal(lookup(dane, "example.net").stdout.trim(), "dane");
    // An address next hop has no TLSA and no policy: both tables answer that they have nothing (no socketmap error).
    for (const table of [dane, sts]) {
      const r = lookup(table, "[192.0.2.1]:25");
      assert.deepEqual([r.code, r.stdout, r.stderr], [1, "", ""], `${table}: ${r.stderr}`);
    }
    // The resolver answers a domain it could not fetch a policy for with nothing: the next rule (dane) stands.
    const none = lookup(sts, "example.net");
    assert.deepEqual([none.code, none.stdout, none.stderr], [1, "", ""], none.stderr);
  } finally {
    host.dispose();
  }
});
