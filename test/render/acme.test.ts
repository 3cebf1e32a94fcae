/**
 * Certificates by ACME: the lineages a host asks for and the certbot files each host gets (checked
 * against Debian 13's own certbot, and the deploy hook run for real, in acme.daemon.test.ts).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ACME_PATHS } from "../../components/render/acme";
import { RenderedFile } from "../../components/render/file";
import { TLS_LINEAGES } from "../../components/render/input";
import { buildTopology, certificateLineages, hostCertificateNames, hostNamed, MAX_NAMES_PER_CERTIFICATE } from "../../components/topology";
import { labInput } from "../support/lab";

import { acme, ACME, filesOf } from "./acme.fixtures";
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
      /certbot certonly --non-interactive --agree-tos --server https:\/\/acme-v02\.api\.letsencrypt\.org\/directory --register-unsafely-without-email --preferred-challenges dns --dns-rfc2136 --dns-rfc2136-credentials \/etc\/mailfleet\/acme\/dns-credentials\.ini --dns-rfc2136-propagation-seconds 60 --keep-until-expiring --expand --reuse-key --deploy-hook \/usr\/local\/sbin\/mailfleet-cert-deploy --cert-name "\$lineage" "\$@"/,
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
});
