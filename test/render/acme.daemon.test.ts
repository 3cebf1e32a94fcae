/**
 * Certificates by ACME on Debian 13: the rendered certbot lines checked against its own certbot,
 * and the deploy hook run for real (the files themselves: acme.test.ts).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ACME_PATHS } from "../../components/render/acme";
import { CERT_DEPLOY_HOOK, liveTls } from "../../components/render/input";
import { withDebian13Host } from "../support/debian13";
import { labInput } from "../support/lab";
import { acme, ACME, filesOf } from "./acme.fixtures";

describe("certbot files", () => {
  it("Debian 13's certbot parses every lineage's command line as rendered, and both scripts are valid sh", () => {
    // `certbot plugins` parses the same options as certonly (and checks the deploy hook exists),
    // then lists the plugins without asking any CA: the rendered lines, run with it instead.
    const eab = labInput((s) => ({
      ...acme((a) => ({ ...a, email: "admin@example.com", eab: { kid: "kid-1", hmac: "c2VjcmV0LWhtYWMta2V5LTEyMzQ" }, caBundle: "-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----\n" }))(s),
      dns: "cloudflare",
      zone: undefined,
    }));
    for (const [input, host] of [[ACME, "mx1"], [eab, "out1"]] as const) {
      const files = filesOf(input, host);
      const r = withDebian13Host(files, (h) =>
        h.run(["sh", "-c", `sh -n ${ACME_PATHS.script} && sh -n ${CERT_DEPLOY_HOOK} && sed 's/certbot certonly /certbot plugins /' ${ACME_PATHS.script} > /tmp/parse && sh /tmp/parse --force-renewal`]),
      );
      assert.equal(r.code, 0, `${host}: ${r.stdout}${r.stderr}`);
      assert.match(r.stdout, /\* dns-(rfc2136|cloudflare)\n/);
      assert.doesNotMatch(r.stdout + r.stderr, /failed/);
    }
  });
});

/** A certbot lineage directory made with openssl: a fresh self-signed key and chain for name. */
const FAKE_LINEAGE = `
fake() { # fake <lineage> <cn>
  mkdir -p /etc/letsencrypt/live/$1
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$2" \\
    -keyout /etc/letsencrypt/live/$1/privkey.pem -out /etc/letsencrypt/live/$1/fullchain.pem 2>/dev/null
}
`;

describe("mailfleet-cert-deploy", () => {
  it("installs a renewed lineage's key and chain, each whole, root-only where secret, and refuses what is not this host's", () => {
    const files = filesOf(ACME, "mx1");
    const live = liveTls("mx1-web-1");
    const r = withDebian13Host(files, (host) =>
      host.run([
        "sh",
        "-c",
        `${FAKE_LINEAGE}
set -e
mkdir -p /etc/mailfleet/tls/live
fake mx1-web-1 renewed.example
RENEWED_LINEAGE=/etc/letsencrypt/live/mx1-web-1 ${CERT_DEPLOY_HOOK}
stat -c '%n %a %U:%G' ${live.chain} ${live.key} ${live.cert}
cmp ${live.key} /etc/letsencrypt/live/mx1-web-1/privkey.pem && cmp ${live.cert} /etc/letsencrypt/live/mx1-web-1/fullchain.pem
cat /etc/letsencrypt/live/mx1-web-1/privkey.pem /etc/letsencrypt/live/mx1-web-1/fullchain.pem | cmp - ${live.chain}
ls -a /etc/mailfleet/tls/live
fake store9 other.example
RENEWED_LINEAGE=/etc/letsencrypt/live/store9 ${CERT_DEPLOY_HOOK}
ls /etc/mailfleet/tls/live
`,
      ]),
    );
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /installed mx1-web-1\n/);
    // nginx is not running in this host: nothing to reload, and no error for it.
    assert.doesNotMatch(r.stdout, /reloaded/);
    assert.match(r.stdout, new RegExp(`${live.chain} 600 root:root\n${live.key} 600 root:root\n${live.cert} 644 root:root\n`));
    // No temporary file left behind.
    assert.match(r.stdout, /^\.\n\.\.\nmx1-web-1\.crt\nmx1-web-1\.key\nmx1-web-1\.pem\n/m);
    assert.match(r.stderr, /store9 is not an ACME lineage of this host/);
    assert.doesNotMatch(r.stdout, /store9\./);
  });
});
