/**
 * deploy.sh and the certificates, as root in a booted throwaway Debian 13 host (out1 of the lab:
 * Postfix + rspamd on its documentation addresses, added to the host's own loopback): the first
 * push serves the bootstrap certificate and starts mailfleet-certs without waiting for it; a
 * certificate certbot installed survives later pushes; fleet-ca puts the bootstrap back.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { FleetSpec, LETSENCRYPT_DIRECTORY } from "../../components/config/spec";
import { buildFleet } from "../../components/build";
import { bundleFiles, deployCommand } from "../../components/push/bundle";
import { renderHost } from "../../components/render";
import { file, RenderedFile } from "../../components/render/file";
import { CERT_DEPLOY_HOOK, liveTls, TLS_PATHS, TLS_PEERS_CA } from "../../components/render/input";
import { hostNamed } from "../../components/topology";
import { Debian13Host } from "../support/debian13";
import { labInput } from "../support/lab";

/** The lab's admin host: the rendered firewall lets it reach SSH, so the lockout check passes. */
const PUSHER = "192.0.2.2";
const LIVE = liveTls("out1");

function out1Files(mode: "acme" | "fleet-ca", messageSizeLimitMb = 25): RenderedFile[] {
  const input = labInput((s: FleetSpec) => ({ ...s, messageSizeLimitMb, tls: { ...s.tls, mode, acme: { directory: LETSENCRYPT_DIRECTORY, propagationSeconds: 60 } } }));
  return renderHost(input, hostNamed(input.topology, "out1"));
}

function push(host: Debian13Host, files: RenderedFile[]): string {
  const r = host.exec(["env", `SSH_CONNECTION=${PUSHER} 50022 192.0.2.21 22`, "sh", "-c", deployCommand("outbound")], bundleFiles(files));
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return r.stdout + r.stderr;
}

function sh(host: Debian13Host, script: string): string {
  const r = host.exec(["bash", "-c", script]);
  assert.equal(r.code, 0, `${script}\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** The subject of the certificate submissions (465) presents. */
const served = (host: Debian13Host) =>
  sh(host, "openssl s_client -connect 192.0.2.21:465 -servername smtp.mail.example.com </dev/null 2>/dev/null | openssl x509 -noout -subject");

/** The lab's nameserver files (firewall, knot.conf with the hosts' TSIG keys, zones) with tls.mode acme. */
function nameserverFiles(dmarc: "reject" | "quarantine") {
  const input = labInput((s: FleetSpec) => ({ ...s, dmarc: { ...s.dmarc, policy: dmarc }, tls: { ...s.tls, mode: "acme", acme: { directory: LETSENCRYPT_DIRECTORY, propagationSeconds: 60 } } }));
  return { files: buildFleet(input.topology.spec, input.addresses, input.keys).dnsServerFiles, tsig: input.keys.tsig };
}

describe("deploy.sh and the DNS-01 records (dns role, Knot)", () => {
  const hosts: Debian13Host[] = [];
  after(() => hosts.forEach((h) => h.dispose()));

  it("a zone push keeps the TXT a host added at its _acme-challenge name", () => {
    const host = new Debian13Host([]).boot();
    hosts.push(host);
    sh(host, "ip addr add 192.0.2.53/32 dev lo && ip addr add 2001:db8:0:1::53/128 dev lo");
    const first = nameserverFiles("reject");
    const pushDns = (files: RenderedFile[]) => {
      const r = host.exec(["env", `SSH_CONNECTION=${PUSHER} 50022 192.0.2.53 22`, "sh", "-c", deployCommand("dns")], bundleFiles(files));
      assert.equal(r.code, 0, r.stdout + r.stderr);
      return r.stdout + r.stderr;
    };
    pushDns(first.files);
    sh(
      host,
      `for i in $(seq 100); do [ -n "$(kdig +tcp @192.0.2.53 SOA example.com +short 2>/dev/null)" ] && break; sleep 0.1; done
       printf 'server 192.0.2.53 53\nzone example.com.\nkey hmac-sha256:acme-mx1 ${first.tsig.mx1}\nupdate add _acme-challenge.mx1.mail.example.com. 60 TXT "token-1"\nsend\n' | knsupdate`,
    );
    const txt = () => sh(host, "kdig @192.0.2.53 TXT _acme-challenge.mx1.mail.example.com +short");
    assert.equal(txt(), '"token-1"\n');
    const second = pushDns(nameserverFiles("quarantine").files);
    assert.match(second, /changed: \/var\/lib\/knot\/zones\/example\.com\.zone/);
    assert.match(sh(host, "kdig @192.0.2.53 TXT _dmarc.example.com +short"), /p=quarantine/);
    assert.equal(txt(), '"token-1"\n');
  });
});

describe("deploy.sh and the certificates (outbound role)", () => {
  const hosts: Debian13Host[] = [];
  after(() => hosts.forEach((h) => h.dispose()));

  it("seeds from the bootstrap, starts mailfleet-certs detached, and never overwrites what certbot installed", () => {
    const host = new Debian13Host([file("/etc/resolv.conf", "nameserver 127.0.0.1\n")]).boot();
    hosts.push(host);
    sh(host, "ip addr add 192.0.2.21/32 dev lo && ip addr add 2001:db8:0:1::21/128 dev lo");

    // 1. The first push: the daemons serve the bootstrap certificate, issuance runs on its own.
    const first = push(host, out1Files("acme"));
    assert.match(first, /mailfleet-certs started: see \/var\/log\/mailfleet-certs\.log/);
    sh(host, `cmp ${LIVE.cert} ${TLS_PATHS.cert} && cmp ${LIVE.key} ${TLS_PATHS.key} && cat ${TLS_PATHS.key} ${TLS_PATHS.cert} | cmp - ${LIVE.chain}`);
    assert.equal(sh(host, `stat -c '%a %U:%G' ${LIVE.chain} ${LIVE.key} ${LIVE.cert} ${TLS_PEERS_CA}`), "600 root:root\n600 root:root\n644 root:root\n644 root:root\n");
    assert.equal(sh(host, `head -c 27 ${TLS_PEERS_CA}`), "-----BEGIN CERTIFICATE-----");
    assert.ok(Number(sh(host, `grep -c BEGIN ${TLS_PEERS_CA}`)) > 100, "the fleet CA and the system's trust store");
    assert.match(served(host), /CN\s*=\s*out1\.mail\.example\.com/);
    // certbot tried (and, with no network here, failed) after the push had returned; the lock is free.
    const log = sh(host, "for i in $(seq 300); do grep -q 'out1 failed' /var/log/mailfleet-certs.log 2>/dev/null && break; sleep 0.2; done; cat /var/log/mailfleet-certs.log");
    assert.match(log, /mailfleet-certs: out1\n[\s\S]*mailfleet-certs: out1 failed: see \/var\/log\/letsencrypt\/letsencrypt\.log/);

    // 2. certbot issues: its deploy hook installs the lineage and reloads Postfix, gracefully.
    const master = sh(host, "cat /var/spool/postfix/pid/master.pid");
    sh(
      host,
      `mkdir -p /etc/letsencrypt/live/out1 /etc/letsencrypt/renewal && touch /etc/letsencrypt/renewal/out1.conf
       openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 90 -subj /CN=issued-by-acme \\
         -keyout /etc/letsencrypt/live/out1/privkey.pem -out /etc/letsencrypt/live/out1/fullchain.pem 2>/dev/null
       RENEWED_LINEAGE=/etc/letsencrypt/live/out1 ${CERT_DEPLOY_HOOK}`,
    );
    assert.match(served(host), /CN\s*=\s*issued-by-acme/);
    assert.equal(sh(host, "cat /var/spool/postfix/pid/master.pid"), master, "a reload, not a restart");

    // 3. Later pushes leave it alone; an unchanged one with every lineage issued starts nothing.
    const changed = push(host, out1Files("acme", 30));
    assert.match(changed, /changed: \/etc\/postfix\/main\.cf/);
    sh(host, `cmp ${LIVE.key} /etc/letsencrypt/live/out1/privkey.pem && cmp ${LIVE.cert} /etc/letsencrypt/live/out1/fullchain.pem`);
    assert.match(served(host), /CN\s*=\s*issued-by-acme/);
    const same = push(host, out1Files("acme", 30));
    assert.match(same, /no change/);
    assert.doesNotMatch(same, /mailfleet-certs started/);
    sh(host, "rm /etc/letsencrypt/renewal/out1.conf");
    assert.match(push(host, out1Files("acme", 30)), /no change[\s\S]*mailfleet-certs started/, "an unissued lineage is tried again");

    // 4. fleet-ca: the bootstrap certificate is the one served again, and certbot's hook is ignored.
    const fleetCa = push(host, out1Files("fleet-ca", 30));
    assert.doesNotMatch(fleetCa, /mailfleet-certs started/);
    assert.match(served(host), /CN\s*=\s*out1\.mail\.example\.com/);
    const ignored = host.exec(["env", "RENEWED_LINEAGE=/etc/letsencrypt/live/out1", CERT_DEPLOY_HOOK]);
    assert.equal(ignored.code, 0, ignored.stderr);
    assert.match(ignored.stderr, /out1 is not an ACME lineage of this host/);
    sh(host, `cmp ${LIVE.cert} ${TLS_PATHS.cert}`);
  });
});
