/** A host's TLS files, checked by OpenSSL in the Debian 13 root at their real paths and modes. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { CERT_DEPLOY_HOOK, TLS_LINEAGES, TLS_PATHS } from "../../components/render/input";
import { renderTlsFiles } from "../../components/render/tls";
import { hostNamed } from "../../components/topology";
import { labInput } from "../support/lab";
import { withDebian13Host } from "../support/debian13";

/** The lab with the fleet CA's certificates only (its stack takes ACME ones). */
const input = labInput((s) => ({ ...s, tls: { ...s.tls, mode: "fleet-ca" } }));

test("the cert file is a chain (host, then CA) that verifies, the key matches it and is root-only", () => {
  const store1 = hostNamed(input.topology, "store1");
  const files = renderTlsFiles(input, store1);
  // tls.mode fleet-ca: the bootstrap certificate, the lineages and their installer, nothing of certbot's.
  assert.deepEqual(files.map((f) => f.path).sort(), [...Object.values(TLS_PATHS), TLS_LINEAGES, CERT_DEPLOY_HOOK].sort());
  assert.equal(files.find((f) => f.path === TLS_LINEAGES)!.content.split("\n")[1], "fleet-ca store1 dovecot");
  assert.ok(files.find((f) => f.path === TLS_PATHS.key)!.secret);
  withDebian13Host(files, (host) => {
    const modes = host.run(["stat", "-c", "%n %a %U:%G", TLS_PATHS.key, TLS_PATHS.cert, TLS_PATHS.ca]);
    assert.equal(modes.stdout, `${TLS_PATHS.key} 600 root:root\n${TLS_PATHS.cert} 644 root:root\n${TLS_PATHS.ca} 644 root:root\n`);

    // The chain file: the leaf (first certificate) verifies against the CA file, and the second
    // certificate in the chain is that CA.
    const split = host.run(["sh", "-c", `awk '/BEGIN/{n++} {print > "/tmp/part" n ".pem"}' ${TLS_PATHS.cert} && ls /tmp/part*.pem`]);
    assert.equal(split.stdout, "/tmp/part1.pem\n/tmp/part2.pem\n");
    const leaf = host.run(["openssl", "verify", "-CAfile", TLS_PATHS.ca, "-purpose", "sslserver", "/tmp/part1.pem"]);
    assert.equal(leaf.code, 0, leaf.stdout + leaf.stderr);
    const subject = (f: string) => host.run(["openssl", "x509", "-in", f, "-noout", "-subject"]).stdout;
    assert.match(subject("/tmp/part1.pem"), /CN\s*=\s*store1\.mail\.example\.com/);
    assert.equal(subject("/tmp/part2.pem"), subject(TLS_PATHS.ca));

    const fromKey = host.run(["openssl", "pkey", "-in", TLS_PATHS.key, "-pubout"]);
    const fromCert = host.run(["openssl", "x509", "-in", TLS_PATHS.cert, "-noout", "-pubkey"]);
    assert.equal(fromKey.code, 0, fromKey.stderr);
    assert.equal(fromKey.stdout, fromCert.stdout);
  });
});
