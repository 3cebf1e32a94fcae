/**
 * Postfix configs for the edge MX and the outbound MTA: every edge and outbound host of the lab
 * stack and two variants go through Debian 13's own `postfix check` and `postconf`, and the key
 * settings are read back from postconf (expanded), not grepped from the file.
 */
import assert from "node:assert/strict";
import { postscreenAllowSite } from "../../components/config/dnsList";
import { describe, it } from "node:test";
import { renderEdgePostfix, renderOutboundPostfix } from "../../components/render/postfix";
import { Host, hostsOf } from "../../components/topology";
import { forwardingDomain } from "../../components/topology/naming";
import { withDebian13Host, Debian13Host } from "../support/debian13";
import { TestRenderInput } from "../support/renderInput";
import { labInput, srsAddressCases } from "./postfix.fixtures";

function renderPostfix(input: TestRenderInput, host: Host) {
  return host.role === "edge" ? renderEdgePostfix(input, host) : renderOutboundPostfix(input, host);
}

/** `postconf -x name…`: the values Postfix will use, with $parameters expanded. */
function postconf(host: Debian13Host, names: string[], flag = "-x"): Record<string, string> {
  const r = host.run(["postconf", flag, ...names]);
  assert.equal(r.stderr, "", `postconf ${names.join(" ")} warned`);
  assert.equal(r.code, 0);
  return Object.fromEntries(
    r.stdout.trimEnd().split("\n").map((line) => {
      const [, name, value] = /^(\S+) =(?: (.*))?$/.exec(line) ?? assert.fail(`postconf printed ${line}`);
      return [name, value ?? ""];
    }),
  );
}

/** Looks keys up in one of the host's tables the way Postfix does; prints `key value` per hit. */
function lookup(h: Debian13Host, table: string, keys: string[], type = "texthash"): string[] {
  const r = h.run(["postmap", "-q", "-", `${type}:/etc/postfix/${table}`], keys.join("\n") + "\n");
  assert.equal(r.stderr, "");
  return r.stdout.split("\n").filter(Boolean).map((line) => line.replace("\t", " "));
}

/** The network services in master.cf as "service type command". */
function inetServices(h: Debian13Host): string[] {
  const r = h.run(["postconf", "-M"]);
  assert.equal(r.stderr, "");
  return r.stdout
    .split("\n")
    .map((line) => line.split(/\s+/))
    .filter((f) => f[1] === "inet")
    .map((f) => `${f[0]} ${f[1]} ${f[7]}`);
}

/** Runs `postfix check` and `postconf -n` (both silent), then hands the host to more checks. */
function checked(input: TestRenderInput, host: Host, more: (h: Debian13Host) => void): void {
  withDebian13Host(renderPostfix(input, host), (h) => {
    for (const argv of [["postfix", "check"], ["postconf", "-n"]]) {
      const r = h.run(argv);
      assert.deepEqual({ code: r.code, stderr: r.stderr }, { code: 0, stderr: "" }, `${argv.join(" ")} on ${host.name}`);
    }
    more(h);
  });
}

function expectEdge(h: Debian13Host, input: TestRenderInput, host: Host): void {
  const spec = input.topology.spec;
  const own = input.addresses[host.name];
  const warn = (r: string) => (spec.spam.warnOnly ? `warn_if_reject ${r}` : r);
  const got = postconf(h, [
    "myhostname", "mydestination", "mynetworks", "inet_protocols", "virtual_mailbox_domains", "smtpd_relay_restrictions",
    "smtpd_recipient_restrictions", "smtpd_sender_restrictions", "smtpd_helo_restrictions", "smtpd_helo_required",
    "disable_vrfy_command", "smtpd_tls_security_level", "smtpd_tls_chain_files", "smtpd_tls_protocols", "message_size_limit",
    "recipient_delimiter", "smtpd_milters", "milter_default_action", "smtp_bind_address", "smtp_bind_address6", "smtp_helo_name",
    "smtp_tls_security_level", "smtp_dns_support_level", "postscreen_greet_action", "postscreen_dnsbl_sites", "postscreen_dnsbl_threshold",
    "postscreen_dnsbl_action", "lmtp_bind_address", "smtpd_sasl_auth_enable",
  ]);
  assert.deepEqual(got, {
    myhostname: host.fqdn,
    mydestination: `${host.fqdn}, localhost`,
    mynetworks: spec.ipv6 ? "127.0.0.0/8, [::1]/128" : "127.0.0.0/8",
    inet_protocols: spec.ipv6 ? "all" : "ipv4",
    virtual_mailbox_domains: "example.com, example.org",
    smtpd_relay_restrictions: "permit_mynetworks, reject_unauth_destination",
    smtpd_recipient_restrictions: "reject_non_fqdn_recipient, reject_unlisted_recipient",
    smtpd_sender_restrictions: `${warn("reject_non_fqdn_sender")}, ${warn("reject_unknown_sender_domain")}`,
    smtpd_helo_restrictions: warn("reject_invalid_helo_hostname"),
    smtpd_helo_required: "yes",
    disable_vrfy_command: "yes",
    smtpd_tls_security_level: "may",
    smtpd_tls_chain_files: `/etc/mailfleet/tls/live/${host.name}.pem`,
    smtpd_tls_protocols: ">=TLSv1.2",
    message_size_limit: String(spec.messageSizeLimitMb * 1024 * 1024),
    recipient_delimiter: spec.recipientDelimiter,
    smtpd_milters: "inet:127.0.0.1:11332",
    milter_default_action: "accept",
    smtp_bind_address: own.ipv4,
    smtp_bind_address6: own.ipv6 ?? "",
    smtp_helo_name: host.fqdn,
    // Forwarded mail leaves by DANE, with DNSSEC-validated lookups through the host's own unbound.
    smtp_tls_security_level: "dane",
    smtp_dns_support_level: "dnssec",
    postscreen_greet_action: spec.spam.warnOnly ? "ignore" : "enforce",
    // The blocklists, then the allowlists (spam.dnswls) with their weight subtracted; the lab's are
    // "bl.example.net*3, wl.example.net*-3" (test/config/dnsList.test.ts has the syntax).
    postscreen_dnsbl_sites: [...spec.spam.dnsbls, ...spec.spam.dnswls.map(postscreenAllowSite)].join(", "),
    postscreen_dnsbl_threshold: "3",
    postscreen_dnsbl_action: spec.spam.warnOnly ? "ignore" : "enforce",
    lmtp_bind_address: own.ipv4,
    smtpd_sasl_auth_enable: "no",
  });
  // Port 25 goes through postscreen; the only other listener is loopback's, where forwards re-enter for SRS.
  assert.deepEqual(inetServices(h), ["smtp inet postscreen", "127.0.0.1:10027 inet smtpd"]);
  const fwd = forwardingDomain(spec);
  assert.deepEqual(postconf(h, ["relay_domains", "relay_recipient_maps", "recipient_canonical_maps", "default_transport"]), {
    relay_domains: fwd,
    // postsrsd (port 10002) is asked only about what the regexp table passes through.
    relay_recipient_maps: "pipemap:{regexp:/etc/postfix/srs_addresses, tcp:127.0.0.1:10002}",
    recipient_canonical_maps: "pipemap:{regexp:/etc/postfix/srs_addresses, tcp:127.0.0.1:10002}",
    default_transport: "forward:[127.0.0.1]:10027",
  });
  assert.deepEqual(
    postconf(h, ["127.0.0.1:10027/inet/cleanup_service_name", "127.0.0.1:10027/inet/content_filter", "127.0.0.1:10027/inet/receive_override_options", "srscleanup/unix/sender_canonical_maps", "srscleanup/unix/sender_canonical_classes"], "-P"),
    {
      "127.0.0.1:10027/inet/cleanup_service_name": "srscleanup",
      "127.0.0.1:10027/inet/content_filter": "smtp:",
      "127.0.0.1:10027/inet/receive_override_options": "no_milters",
      "srscleanup/unix/sender_canonical_maps": "tcp:127.0.0.1:10001",
      "srscleanup/unix/sender_canonical_classes": "envelope_sender",
    },
    "only mail re-entering on loopback (forwards) gets an SRS sender",
  );
  const { srs, other } = srsAddressCases(fwd);
  assert.deepEqual(lookup(h, "srs_addresses", [...srs, ...other], "regexp"), srs.map((a) => `${a} ${a}`), "only SRS addresses of the forwarding domain pass");
  // The tables as Postfix reads them: per-mailbox LMTP to the right store, aliases expanded.
  const lmtp = Object.entries(input.topology.mailboxStore).map(([mailbox, store]) => `${mailbox} lmtp:inet:[${input.addresses[store].ipv4}]:24`);
  assert.deepEqual(lookup(h, "mailboxes", Object.keys(input.topology.mailboxStore)), lmtp);
  assert.deepEqual(lookup(h, "virtual", ["@example.org", `postmaster@${host.fqdn}`, "nobody@example.com"]), [
    "@example.org bob@example.org",
    `postmaster@${host.fqdn} ${spec.admin}`,
  ]);
}

function expectOutbound(h: Debian13Host, input: TestRenderInput, host: Host, relayNetworks: string[]): void {
  const spec = input.topology.spec;
  const own = input.addresses[host.name];
  const got = postconf(h, [
    "myhostname", "smtp_helo_name", "smtp_bind_address", "smtp_bind_address6", "inet_protocols", "smtpd_sasl_auth_enable",
    "smtpd_sasl_type", "smtpd_sasl_path", "smtpd_tls_auth_only", "smtpd_relay_restrictions", "smtpd_sender_login_maps",
    "smtpd_sender_restrictions", "smtpd_milters", "non_smtpd_milters", "milter_default_action", "smtpd_hide_client_session",
    "message_size_limit", "relayhost", "smtp_sasl_auth_enable", "smtp_tls_security_level", "smtp_sasl_password_maps", "mynetworks",
    "smtp_tls_CAfile", "smtp_dns_support_level",
  ]);
  const relay = spec.smarthost;
  const logsIn = relay !== undefined || Object.keys(spec.domainSmarthosts).length > 0;
  assert.deepEqual(got, {
    myhostname: host.fqdn,
    smtp_helo_name: host.fqdn,
    smtp_bind_address: own.ipv4,
    smtp_bind_address6: own.ipv6 ?? "",
    inet_protocols: spec.ipv6 ? "all" : "ipv4",
    smtpd_sasl_auth_enable: "yes",
    smtpd_sasl_type: "dovecot",
    smtpd_sasl_path: `inet:${input.addresses[input.topology.authStore].ipv4}:12345`,
    smtpd_tls_auth_only: "yes",
    smtpd_relay_restrictions: "permit_mynetworks, permit_sasl_authenticated, reject",
    smtpd_sender_login_maps: "texthash:/etc/postfix/sender_login",
    smtpd_sender_restrictions: "reject_non_fqdn_sender, permit_mynetworks, reject_sender_login_mismatch",
    smtpd_milters: "inet:127.0.0.1:11332",
    non_smtpd_milters: "inet:127.0.0.1:11332",
    milter_default_action: "tempfail",
    smtpd_hide_client_session: "yes",
    message_size_limit: String(spec.messageSizeLimitMb * 1024 * 1024),
    relayhost: relay ? `[${relay.host}]:${relay.port}` : "",
    smtp_sasl_auth_enable: logsIn ? "yes" : "no",
    // The relay's certificate verified (secure), against the pinned CA or the system's roots, before the login is sent.
    // Or, without a relay, DANE to each receiver: its signed TLSA records or else opportunistic TLS.
    smtp_tls_security_level: relay ? "secure" : "dane",
    smtp_dns_support_level: "dnssec",
    // Without a relay, the system's roots: what an MTA-STS receiver's certificate must chain to.
    smtp_tls_CAfile: relay?.caCertificate ? "/etc/postfix/smarthost-ca.pem" : "/etc/ssl/certs/ca-certificates.crt",
    smtp_sasl_password_maps: logsIn ? "texthash:/etc/postfix/sasl_passwd" : "",
    mynetworks: ["127.0.0.0/8", ...(spec.ipv6 ? ["[::1]/128"] : []), ...relayNetworks].join(", "),
  });
  // No smtpd on port 25; 587 requires STARTTLS, 465 is TLS from the first byte.
  assert.deepEqual(inetServices(h), ["submission inet smtpd", "submissions inet smtpd"]);
  assert.deepEqual(postconf(h, ["submission/inet/smtpd_tls_security_level", "submissions/inet/smtpd_tls_wrappermode"], "-P"), {
    "submission/inet/smtpd_tls_security_level": "encrypt",
    "submissions/inet/smtpd_tls_wrappermode": "yes",
  });
  assert.deepEqual(lookup(h, "sender_login", ["sales@example.com", "bob@example.org"]), [
    "sales@example.com alice@example.com, bob@example.org",
    "bob@example.org bob@example.org",
  ]);
  if (relay) {
    assert.deepEqual(lookup(h, "sasl_passwd", [`[${relay.host}]:${relay.port}`]), [`[${relay.host}]:${relay.port} ${relay.username}:${relay.password}`]);
  }
}

function checkFleet(input: TestRenderInput, relayNetworks: string[] = []): void {
  for (const host of hostsOf(input.topology, "edge")) checked(input, host, (h) => expectEdge(h, input, host));
  for (const host of hostsOf(input.topology, "outbound")) checked(input, host, (h) => expectOutbound(h, input, host, relayNetworks));
}

describe("postfix configs pass Debian 13's postfix check and postconf, silently, with the expected values", () => {
  it("the lab stack", () => checkFleet(labInput()));

  it("with a smarthost, DNSBLs and warnOnly (dry run)", () => {
    const input = labInput((raw) => {
      raw.smarthost = { host: "relay.example.net", port: 587, username: "mailfleet@example.com", password: "s3cret!pw:x" };
      raw.spam = { dnsbls: ["zen.spamhaus.org*3", "bl.spamcop.net"], warnOnly: true };
    });
    checkFleet(input);
    const [out] = hostsOf(input.topology, "outbound");
    const secret = renderOutboundPostfix(input, out).find((f) => f.path === "/etc/postfix/sasl_passwd");
    assert.deepEqual(secret && { secret: secret.secret, mode: secret.mode }, { secret: true, mode: 0o600 });
  });

  it("with a smarthost whose CA is pinned", () => {
    const input = labInput((raw) => {
      raw.smarthost = { host: "relay.example.net", username: "mailfleet@example.com", password: "s3cret!pw:x", caCertificate: raw.tls.acme.caBundle };
    });
    checkFleet(input);
    const [out] = hostsOf(input.topology, "outbound");
    const ca = renderOutboundPostfix(input, out).find((f) => f.path === "/etc/postfix/smarthost-ca.pem");
    assert.equal(ca?.content, input.topology.spec.smarthost!.caCertificate);
  });

  it("with domain relays (one pinned, one on the system's trust) beside the global smarthost", () => {
    const input = labInput((raw) => {
      raw.smarthost = { host: "relay.example.net", username: "fleet", password: "global-pw" };
      raw.domainSmarthosts = {
        "example.org": { host: "smtp.relay-org.example", username: "org@relay", password: "org:pw!1", caCertificate: raw.tls.acme.caBundle },
        "example.com": { host: "smtp.relay-com.example", port: 2525, username: "com", password: "com-pw" },
      };
    });
    checkFleet(input);
    const [out] = hostsOf(input.topology, "outbound");
    checked(input, out, (h) => {
      assert.deepEqual(
        postconf(h, ["sender_dependent_relayhost_maps", "smtp_sender_dependent_authentication", "smtp_tls_policy_maps", "smtp_sasl_auth_soft_bounce", "smtp_sasl_tls_security_options"]),
        {
          sender_dependent_relayhost_maps: "texthash:/etc/postfix/sender_relay",
          smtp_sender_dependent_authentication: "yes",
          smtp_tls_policy_maps: "texthash:/etc/postfix/tls_policy",
          // A refused login defers: the mail waits in the queue.
          smtp_sasl_auth_soft_bounce: "yes",
          smtp_sasl_tls_security_options: "noanonymous",
        },
      );
      // Postfix's own lookup order for the sender alice@example.org: the address, then @domain.
      assert.deepEqual(lookup(h, "sender_relay", ["@example.org", "@example.com", "@example.net"]), [
        "@example.org [smtp.relay-org.example]:587",
        "@example.com [smtp.relay-com.example]:2525",
      ]);
      assert.deepEqual(lookup(h, "sasl_passwd", ["[relay.example.net]:587", "@example.org", "@example.com"]), [
        "[relay.example.net]:587 fleet:global-pw",
        "@example.org org@relay:org:pw!1",
        "@example.com com:com-pw",
      ]);
      assert.deepEqual(lookup(h, "tls_policy", ["[smtp.relay-org.example]:587", "[smtp.relay-com.example]:2525"]), [
        "[smtp.relay-org.example]:587 secure, match=smtp.relay-org.example, tafile=/etc/postfix/relay-ca/example.org.pem",
        "[smtp.relay-com.example]:2525 secure, match=smtp.relay-com.example, tafile=/etc/ssl/certs/ca-certificates.crt",
      ]);
      assert.equal(h.run(["cat", "/etc/postfix/relay-ca/example.org.pem"]).stdout, input.topology.spec.domainSmarthosts["example.org"].caCertificate);
    });
    const files = renderOutboundPostfix(input, out);
    const secret = files.find((f) => f.path === "/etc/postfix/sasl_passwd");
    assert.deepEqual(secret && { secret: secret.secret, mode: secret.mode }, { secret: true, mode: 0o600 });
    // The password is in the secret table alone.
    assert.deepEqual(files.filter((f) => f.content.includes("org:pw!1")).map((f) => f.path), ["/etc/postfix/sasl_passwd"]);
  });

  it("without IPv6, with relay networks, another delimiter and size", () => {
    checkFleet(
      labInput((raw) => {
        raw.ipv6 = "false";
        for (const role of ["edge", "outbound", "store", "monitoring"]) for (const h of raw.hosts[role]) delete h.ipv6;
        for (const ns of raw.zone.nameservers) delete ns.ipv6;
        raw.relayNetworks = ["198.51.100.0/24", "2001:db8:5::/48"];
        raw.recipientDelimiter = "-";
        raw.messageSizeLimitMb = 50;
      }),
      ["198.51.100.0/24", "[2001:db8:5::]/48"],
    );
  });
});

describe("postfix tables and formats", () => {
  it("on AWS mail leaves over IPv4 only (EC2 gives IPv6 addresses no PTR); elsewhere over both", () => {
    const byo = labInput();
    const aws: TestRenderInput = { ...byo, topology: { ...byo.topology, spec: { ...byo.topology.spec, compute: "aws" } } };
    for (const [input, protocols, bind6] of [[aws, "ipv4", false], [byo, "", true]] as const) {
      for (const host of [...hostsOf(input.topology, "edge"), ...hostsOf(input.topology, "outbound")].slice(0, 2)) {
        checked(input, host, (h) => {
          const client = h.run(["postconf", "-P", "smtp/unix/inet_protocols"]);
          assert.equal(client.stdout.trim(), protocols ? `smtp/unix/inet_protocols = ${protocols}` : "", `${host.name} smtp client`);
          assert.equal(postconf(h, ["smtp_bind_address6"]).smtp_bind_address6 !== "", bind6, `${host.name} smtp_bind_address6`);
        });
      }
    }
  });
});
