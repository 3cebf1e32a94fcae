/** The rendered Knot server's config (knotc and knotd run it in knot.daemon.test.ts). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { KNOT_CONF } from "../../components/render/knot";
import { acmeFiles, files, TSIG } from "./knot.fixtures";

describe("Knot server with ACME updates", () => {
  it("renders a key and an ACL per host that allows TXT updates at its own _acme-challenge names only", () => {
    const conf = acmeFiles.find((f) => f.path === KNOT_CONF)!;
    assert.ok(conf.secret, "knot.conf holds the TSIG secrets");
    assert.equal(conf.mode, 0o640);
    assert.equal(conf.group, "knot");
    assert.match(conf.content, new RegExp(`id: acme-mx1\\n    algorithm: hmac-sha256\\n    secret: ${TSIG.mx1.replace(/[+/]/g, "\\$&")}`));
    assert.match(conf.content, /update-owner-name: \[ _acme-challenge\.mx1\.mail\.example\.com\., _acme-challenge\.mail\.mail\.example\.com\., _acme-challenge\.mta-sts\.mail\.example\.com\., _acme-challenge\.mta-sts\.example\.com\., /);
    assert.match(conf.content, /update-owner-name: \[ _acme-challenge\.out1\.mail\.example\.com\., _acme-challenge\.smtp\.mail\.example\.com\. \]/);
    assert.match(conf.content, /acl: \[ acme-mx1, acme-mx2, acme-out1, acme-store1, acme-store2, acme-mon \]/);
    // fleet-ca: no key, no acl.
    assert.doesNotMatch(files.find((f) => f.path === KNOT_CONF)!.content, /^(key|acl):/m);
  });
});

describe("Knot server statistics", () => {
  it("counts every zone's queries with mod-stats in the default template, which knot-exporter reads", () => {
    const conf = files.find((f) => f.path === KNOT_CONF)!.content;
    assert.match(conf, /^mod-stats:\n  - id: mailfleet\n    query-type: on\n/m);
    assert.match(conf, /^template:\n  - id: default\n(    .*\n)*    module: mod-stats\/mailfleet\n/m);
  });
});
