/**
 * The edge web server, checked by nginx itself in the Debian 13 root: `nginx -t`, then a started
 * nginx fetched over real TLS (verified against the fleet CA, names checked) with python3.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { mtaStsPolicy } from "../../components/records/mtaSts";
import { createFleetCa, issueHostCertificate } from "../../components/keys/generate";
import { file } from "../../components/render/file";
import { liveTls } from "../../components/render/input";
import { renderTlsFiles } from "../../components/render/tls";
import { NGINX_CONF, renderEdgeWeb } from "../../components/render/web";
import { hostNamed } from "../../components/topology";
import { labInput } from "../support/lab";
import { withDebian13Host } from "../support/debian13";
import { bootstrapLiveFiles } from "../support/tlsLive";

const input = labInput();
const mx1 = hostNamed(input.topology, "mx1");
const { ipv4 } = input.addresses.mx1;
const names = input.topology.spec.domains.flatMap((d) => [`mta-sts.${d}`, `autoconfig.${d}`, `autodiscover.${d}`]);
const files = [
  ...renderEdgeWeb(input, mx1),
  ...renderTlsFiles(input, mx1),
  ...bootstrapLiveFiles(input, mx1),
  // The names resolve to the edge's address, as the published records make them.
  file("/etc/hosts", `127.0.0.1 localhost\n${ipv4} ${[mx1.fqdn, input.topology.services.web.fqdn, ...names].join(" ")}\n`),
];

interface Fetched {
  url: string;
  status: number;
  type: string | null;
  body: string;
}

/** Fetches each [method, url] on the host, verifying the server certificate against the fleet CA. */
const FETCH = `
import json, ssl, sys, urllib.request, urllib.error
ctx = ssl.create_default_context(cafile=sys.argv[1])
out = []
for method, url in json.loads(sys.stdin.read()):
    data = b"<Autodiscover/>" if method == "POST" else None
    req = urllib.request.Request(url, data=data, method=method)
    try:
        r = urllib.request.urlopen(req, context=ctx, timeout=5)
    except urllib.error.HTTPError as e:
        r = e
    out.append({"url": url, "status": r.status, "type": r.headers.get("Content-Type"), "body": r.read().decode()})
print(json.dumps(out))
`;

function fetchAll(requests: [string, string][]): Fetched[] {
  return withDebian13Host([...files, file("/tmp/fetch.py", FETCH)], (host) => {
    const script = `ip addr add ${ipv4}/32 dev lo && nginx -c ${NGINX_CONF} && python3 /tmp/fetch.py /etc/mailfleet/tls/ca.crt; rc=$?; nginx -s quit; exit $rc`;
    const run = host.run(["sh", "-c", script], JSON.stringify(requests));
    assert.equal(run.code, 0, run.stderr);
    return JSON.parse(run.stdout) as Fetched[];
  });
}

test("nginx -t accepts the edge configuration", () => {
  withDebian13Host(files, (host) => {
    // On the edge's own interface: its private address, where rspamd's metrics path listens (nginx -t binds it).
    const check = host.run(["sh", "-c", `ip addr add ${ipv4}/32 dev lo && nginx -t -c ${NGINX_CONF}`]);
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stderr, /test is successful/);
  });
});

test("the edge serves the MTA-STS policy, autoconfig and autodiscover, and 404 for anything else", () => {
  const { policy } = mtaStsPolicy(input.topology);
  const got = fetchAll([
    ["GET", "https://mta-sts.example.com/.well-known/mta-sts.txt"],
    ["GET", "https://mta-sts.example.org/.well-known/mta-sts.txt"],
    ["GET", "http://autoconfig.example.org/mail/config-v1.1.xml"],
    ["GET", "https://autoconfig.example.com/mail/config-v1.1.xml?emailaddress=alice%40example.com"],
    ["POST", "https://autodiscover.example.com/autodiscover/autodiscover.xml"],
    ["POST", "https://mail.mail.example.com/autodiscover/autodiscover.xml"],
    // RFC 8461 §3.3: the policy only over HTTPS.
    ["GET", "http://mta-sts.example.com/.well-known/mta-sts.txt"],
    ["GET", "https://autoconfig.example.com/.well-known/mta-sts.txt"],
    ["GET", "https://mta-sts.example.com/"],
    ["GET", "https://mx1.mail.example.com/mail/config-v1.1.xml"],
    // Debian's default site would answer this one with its welcome page.
    ["GET", "http://mx1.mail.example.com/"],
  ]);
  const [stsCom, stsOrg, acOrg, acCom, adDomain, adService, ...notFound] = got;
  for (const sts of [stsCom, stsOrg]) {
    assert.equal(sts.status, 200, sts.url);
    assert.equal(sts.type, "text/plain", sts.url);
    assert.equal(sts.body, policy);
  }
  assert.match(policy, /^version: STSv1\r\nmode: testing\r\nmx: \*\.mail\.example\.com\r\nmax_age: 86400\r\n$/);

  for (const [ac, domain] of [[acOrg, "example.org"], [acCom, "example.com"]] as const) {
    assert.equal(ac.status, 200, ac.url);
    assert.equal(ac.type, "application/xml");
    assert.match(ac.body, new RegExp(`<emailProvider id="${domain}">\\s*<domain>${domain}</domain>`));
    assert.match(ac.body, /<incomingServer type="imap">\s*<hostname>imap\.mail\.example\.com<\/hostname>\s*<port>993<\/port>\s*<socketType>SSL<\/socketType>/);
    assert.match(ac.body, /<hostname>smtp\.mail\.example\.com<\/hostname>\s*<port>465<\/port>\s*<socketType>SSL<\/socketType>/);
    assert.match(ac.body, /<hostname>smtp\.mail\.example\.com<\/hostname>\s*<port>587<\/port>\s*<socketType>STARTTLS<\/socketType>/);
    assert.match(ac.body, /<username>%EMAILADDRESS%<\/username>/);
  }
  for (const ad of [adDomain, adService]) {
    assert.equal(ad.status, 200, ad.url);
    assert.equal(ad.type, "application/xml");
    assert.match(ad.body, /<Type>IMAP<\/Type>\s*<Server>imap\.mail\.example\.com<\/Server>\s*<Port>993<\/Port>/);
    assert.match(ad.body, /<Type>SMTP<\/Type>\s*<Server>smtp\.mail\.example\.com<\/Server>\s*<Port>465<\/Port>/);
  }
  for (const nf of notFound) assert.equal(nf.status, 404, nf.url);
});

test("the edge serves a domain's BIMI logo and mark certificate on its MTA-STS name only, as the TXT record names them", () => {
  const { logo, certificate } = input.topology.spec.bimi["example.com"];
  const [svg, pem, ...notFound] = fetchAll([
    ["GET", "https://mta-sts.example.com/bimi/logo.svg"],
    ["GET", "https://mta-sts.example.com/bimi/certificate.pem"],
    // example.org has no logo; other names and plain HTTP serve none either.
    ["GET", "https://mta-sts.example.org/bimi/logo.svg"],
    ["GET", "https://autoconfig.example.com/bimi/logo.svg"],
    ["GET", "https://mx1.mail.example.com/bimi/logo.svg"],
    ["GET", "http://mta-sts.example.com/bimi/logo.svg"],
  ]);
  assert.deepEqual([svg.status, svg.type, svg.body], [200, "image/svg+xml", logo]);
  assert.deepEqual([pem.status, pem.type, pem.body], [200, "application/pem-certificate-chain", certificate]);
  for (const nf of notFound) assert.equal(nf.status, 404, nf.url);
});

test("nginx picks the certificate by SNI: the domains' web lineage for their names, the host's for the rest", () => {
  // The web lineage gets a certificate of its own (as certbot would issue it), from another CA.
  const ca = createFleetCa("web lineage test");
  const web = issueHostCertificate(ca, "mta-sts.example.com", names);
  const live = liveTls("mx1-web-1");
  const withWeb = [
    ...files.filter((f) => ![live.cert, live.key, live.chain].includes(f.path)),
    file(live.cert, web.certPem + ca.certPem),
    file(live.key, web.keyPem, { secret: true }),
  ];
  const subject = (name: string) =>
    `echo "== ${name}"; openssl s_client -connect ${ipv4}:443 -servername ${name} </dev/null 2>/dev/null | openssl x509 -noout -subject -issuer`;
  const r = withDebian13Host(withWeb, (host) =>
    host.run(["sh", "-c", `ip addr add ${ipv4}/32 dev lo && nginx -c ${NGINX_CONF} && { ${["mta-sts.example.org", "autoconfig.example.com", "mail.mail.example.com", "mx1.mail.example.com", "unknown.example.net"].map(subject).join("; ")}; }; rc=$?; nginx -s quit; exit $rc`]),
  );
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const served = Object.fromEntries(r.stdout.split("== ").filter(Boolean).map((block) => [block.split("\n")[0], block]));
  for (const name of ["mta-sts.example.org", "autoconfig.example.com"]) assert.match(served[name], /issuer=CN\s*=\s*mailfleet CA web lineage test/, name);
  for (const name of ["mail.mail.example.com", "mx1.mail.example.com", "unknown.example.net"]) {
    assert.match(served[name], /subject=CN\s*=\s*mx1\.mail\.example\.com/, name);
    assert.doesNotMatch(served[name], /web lineage test/, name);
  }
});
