import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildFleet } from "../../components/build";
import { AddressBook } from "../../components/topology/addresses";
import { labInput } from "../support/lab";

// Behind a cloud's 1:1 NAT the published address is not on the host: records name the public
// address, while daemons bind to, and the fleet's hosts reach each other on, the private one.
describe("published and private addresses", () => {
  const { topology, addresses, keys } = labInput();
  const natted: AddressBook = Object.fromEntries(
    Object.entries(addresses).map(([name, a], i) => [name, { ...a, privateIpv4: `198.51.100.${100 + i}` }]),
  );
  const build = buildFleet(topology.spec, natted, keys);
  const fileOf = (host: string, path: string) => build.hostFiles[host].find((f) => f.path === path)!.content;

  it("publishes only the public addresses", () => {
    const a = build.recordSet.records.filter((r) => r.type === "A").map((r) => (r.type === "A" ? r.address : ""));
    assert.ok(a.every((address) => address.startsWith("192.0.2.")), a.join(" "));
    assert.ok(build.recordSet.ptr.every((p) => !p.address.startsWith("198.51.100.")));
  });

  it("binds and connects on the private ones", () => {
    const store1 = natted.store1.privateIpv4!;
    assert.match(fileOf("mx1", "/etc/postfix/main.cf"), new RegExp(`^smtp_bind_address = ${natted.mx1.privateIpv4}$`, "m"));
    assert.match(fileOf("mx1", "/etc/postfix/mailboxes"), new RegExp(`^alice@example\\.com\\s+lmtp:inet:\\[${store1}\\]:24$`, "m"));
    assert.match(fileOf("out1", "/etc/postfix/main.cf"), new RegExp(`^smtpd_sasl_path = inet:${store1}:12345$`, "m"));
    assert.match(fileOf("store1", "/etc/dovecot/dovecot.conf"), new RegExp(`listen = ${store1} `));
    assert.match(fileOf("store2", "/etc/dovecot/users"), new RegExp(`^alice@example\\.com:.*hostip=${store1}`, "m"));
  });
});

// One rule for IPv6: with ipv6 on every host has an address of it, with ipv6 off no file uses one.
describe("IPv6 on or off, the same for every host and file", () => {
  const { topology, addresses, keys } = labInput();

  it("ipv6 on: a host without an IPv6 address is refused, whatever its role", () => {
    for (const host of ["mx1", "out1", "store2"]) {
      const { ipv6: _, ...ipv4Only } = addresses[host];
      assert.throws(() => buildFleet(topology.spec, { ...addresses, [host]: ipv4Only }, keys), new RegExp(`^Error: ${host} has no IPv6 address, but ipv6 is true`));
    }
  });

  it("ipv6 off: given IPv6 addresses appear in no record and no host's files", () => {
    const off = labInput((s) => ({ ...s, ipv6: false }));
    const build = buildFleet(off.topology.spec, addresses, off.keys);
    const v6 = Object.values(addresses).map((a) => a.ipv6!);
    assert.equal(v6.length, 6);
    for (const [host, files] of Object.entries(build.hostFiles)) {
      for (const f of files) assert.ok(!v6.some((a) => f.content.includes(a)), `${host} ${f.path} names an IPv6 address`);
    }
    assert.ok(!build.recordSet.records.some((r) => r.type === "AAAA"));
  });
});
