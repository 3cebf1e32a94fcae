/**
 * Certificates by ACME: the lineages a host asks for (pure), the certbot files each host gets, the
 * flags checked against Debian 13's own certbot, and the deploy hook run for real.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FleetSpec, LETSENCRYPT_DIRECTORY } from "../../components/config/spec";
import { ACME_PATHS } from "../../components/render/acme";
import { RenderedFile } from "../../components/render/file";
import { CERT_DEPLOY_HOOK, liveTls, RenderInput, TLS_LINEAGES } from "../../components/render/input";
import { renderTlsFiles } from "../../components/render/tls";
import { buildTopology, certificateLineages, hostCertificateNames, hostNamed, MAX_NAMES_PER_CERTIFICATE } from "../../components/topology";
import { withDebian13Host } from "../support/debian13";
import { labInput } from "../support/lab";

const acme = (change: (acme: FleetSpec["tls"]["acme"]) => FleetSpec["tls"]["acme"] = (a) => a) => (s: FleetSpec): FleetSpec => ({
  ...s,
  tls: { mode: "acme", acme: change({ directory: LETSENCRYPT_DIRECTORY, propagationSeconds: 60 }) },
});
const ACME = labInput(acme());
const filesOf = (input: RenderInput, host: string) => renderTlsFiles(input, hostNamed(input.topology, host));
const at = (files: RenderedFile[], path: string) => {
  const found = files.find((f) => f.path === path);
  assert.ok(found, `no ${path}`);
  return found;
};
/** The certbot command line of one lineage in mailfleet-certs. */
const issueLine = (script: string, lineage: string) => script.split("\n").find((l) => l.startsWith(`issue ${lineage} `));

describe("certificate lineages", () => {
  it("give a host its own and its role's service names, and edges every hosted domain's web names by SNI chunks", () => {
    const { topology } = ACME;
    assert.deepEqual(certificateLineages(topology, hostNamed(topology, "out1")), [
      { name: "out1", names: ["out1.mail.example.com", "smtp.mail.example.com"], daemons: ["postfix"] },
    ]);
    assert.deepEqual(certificateLineages(topology, hostNamed(topology, "store2")), [
      { name: "store2", names: ["store2.mail.example.com", "imap.mail.example.com"], daemons: ["dovecot"] },
    ]);
    assert.deepEqual(certificateLineages(topology, hostNamed(topology, "mx1")), [
      { name: "mx1", names: ["mx1.mail.example.com", "mail.mail.example.com", "mta-sts.mail.example.com"], daemons: ["postfix", "nginx"] },
      {
        name: "mx1-web-1",
        names: ["mta-sts.example.com", "autoconfig.example.com", "autodiscover.example.com", "mta-sts.example.org", "autoconfig.example.org", "autodiscover.example.org"],
        daemons: ["nginx"],
      },
    ]);
  });

  it("stay within Let's Encrypt's 100 names, keep a domain's names together and cover every name once", () => {
    for (const count of [1, 33, 34, 100, 250]) {
      const domains = Array.from({ length: count }, (_, i) => `d${i}.example.net`);
      const topology = buildTopology({ ...ACME.topology.spec, domains });
      const mx1 = hostNamed(topology, "mx1");
      const lineages = certificateLineages(topology, mx1);
      for (const l of lineages) assert.ok(l.names.length <= MAX_NAMES_PER_CERTIFICATE, `${l.name}: ${l.names.length} names`);
      assert.equal(lineages.length, 1 + Math.ceil(count / 33), `${count} domains`);
      assert.deepEqual(lineages.map((l) => l.name).slice(0, 3), ["mx1", "mx1-web-1", ...(count > 33 ? ["mx1-web-2"] : [])]);
      const names = lineages.flatMap((l) => l.names);
      assert.equal(new Set(names).size, names.length);
      assert.deepEqual(names, hostCertificateNames(topology, mx1));
      for (const d of domains) assert.equal(lineages.filter((l) => l.names.includes(`mta-sts.${d}`) && l.names.includes(`autodiscover.${d}`)).length, 1, d);
    }
  });
});

describe("certbot files", () => {
  it("with fleet-ca, a host gets none: only the lineages and their installer", () => {
    const files = filesOf(labInput((s) => ({ ...s, tls: { ...s.tls, mode: "fleet-ca" } })), "mx1");
    assert.ok(!files.some((f) => f.path.startsWith("/etc/mailfleet/acme/") || f.path === ACME_PATHS.script));
    assert.match(at(files, TLS_LINEAGES).content, /^fleet-ca mx1 postfix nginx\nfleet-ca mx1-web-1 nginx\n$/m);
  });

  it("with acme on the zone backend: RFC 2136 to the primary with the host's own TSIG key, root-only", () => {
    const files = filesOf(ACME, "mx1");
    const credentials = at(files, ACME_PATHS.credentials);
    assert.deepEqual([credentials.mode, credentials.owner, credentials.secret], [0o600, "root", true]);
    assert.match(credentials.content, /^dns_rfc2136_server = 192\.0\.2\.53$/m);
    assert.match(credentials.content, /^dns_rfc2136_port = 53$/m);
    assert.match(credentials.content, /^dns_rfc2136_name = acme-mx1$/m);
    assert.ok(credentials.content.includes(`dns_rfc2136_secret = ${ACME.keys.tsig.mx1}\n`));
    assert.match(credentials.content, /^dns_rfc2136_algorithm = HMAC-SHA256$/m);
    const script = at(files, ACME_PATHS.script);
    assert.equal(script.mode, 0o755);
    assert.equal(script.secret, false);
    assert.ok(!script.content.includes(ACME.keys.tsig.mx1), "the script holds no secret");
    assert.equal(
      issueLine(script.content, "mx1-web-1"),
      'issue mx1-web-1 "$@" -d mta-sts.example.com -d autoconfig.example.com -d autodiscover.example.com -d mta-sts.example.org -d autoconfig.example.org -d autodiscover.example.org',
    );
    assert.match(
      script.content,
      /certbot certonly --non-interactive --agree-tos --server https:\/\/acme-v02\.api\.letsencrypt\.org\/directory --register-unsafely-without-email --preferred-challenges dns --dns-rfc2136 --dns-rfc2136-credentials \/etc\/mailfleet\/acme\/dns-credentials\.ini --dns-rfc2136-propagation-seconds 60 --keep-until-expiring --expand --deploy-hook \/usr\/local\/sbin\/mailfleet-cert-deploy --cert-name "\$lineage" "\$@"/,
    );
    assert.doesNotMatch(script.content, /REQUESTS_CA_BUNDLE|eab/);
    assert.ok(!files.some((f) => f.path === ACME_PATHS.renewDropIn || f.path === ACME_PATHS.caBundle || f.path === ACME_PATHS.eabHmac));
    assert.match(at(files, ACME_PATHS.unit).content, /^ExecStart=\/usr\/local\/sbin\/mailfleet-certs$/m);
  });

  it("with an account address, EAB and a private ACME server's CA: -m, the HMAC from a root-only file, REQUESTS_CA_BUNDLE for issuance and renewal", () => {
    const ca = "-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----\n";
    const input = labInput(acme((a) => ({ ...a, directory: "https://pebble.example.net:14000/dir", email: "admin@example.com", eab: { kid: "kid-1", hmac: "c2VjcmV0LWhtYWMta2V5LTEyMzQ" }, caBundle: ca, propagationSeconds: 2 })));
    const files = filesOf(input, "store1");
    const script = at(files, ACME_PATHS.script).content;
    assert.match(script, /^export REQUESTS_CA_BUNDLE=\/etc\/mailfleet\/acme\/ca-bundle\.pem$/m);
    assert.match(script, / --server https:\/\/pebble\.example\.net:14000\/dir -m admin@example\.com --eab-kid kid-1 --eab-hmac-key "\$\(cat \/etc\/mailfleet\/acme\/eab-hmac\)" /);
    assert.match(script, / --dns-rfc2136-propagation-seconds 2 /);
    assert.ok(!script.includes("c2VjcmV0"), "the HMAC is not in the script");
    const hmac = at(files, ACME_PATHS.eabHmac);
    assert.deepEqual([hmac.content, hmac.mode, hmac.secret], ["c2VjcmV0LWhtYWMta2V5LTEyMzQ\n", 0o600, true]);
    assert.equal(at(files, ACME_PATHS.caBundle).content, ca);
    assert.match(at(files, ACME_PATHS.renewDropIn).content, /^\[Service\]\nEnvironment=REQUESTS_CA_BUNDLE=\/etc\/mailfleet\/acme\/ca-bundle\.pem$/m);
  });

  it("with acme on Cloudflare: the token the stack made, root-only", () => {
    const input = labInput((s) => ({ ...acme()(s), dns: "cloudflare", zone: undefined }));
    const withToken = { ...input, keys: { ...input.keys, cloudflareAcmeToken: "t".repeat(40) } };
    const files = filesOf(withToken, "out1");
    assert.equal(at(files, ACME_PATHS.credentials).content.split("\n")[1], `dns_cloudflare_api_token = ${"t".repeat(40)}`);
    assert.match(at(files, ACME_PATHS.script).content, / --dns-cloudflare --dns-cloudflare-credentials \/etc\/mailfleet\/acme\/dns-credentials\.ini --dns-cloudflare-propagation-seconds 60 /);
    assert.throws(() => filesOf({ ...input, keys: { ...input.keys, cloudflareAcmeToken: undefined } }, "out1"), /no Cloudflare API token/);
  });

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
