import assert from "node:assert/strict";
import { test } from "node:test";
import { filterOctets, parseDnsList, postscreenAllowSite } from "../../components/config/dnsList";

test("a site's zone, reply filter (as a regular expression) and weight; an allowlist's weight counts against the score", () => {
  assert.deepEqual(parseDnsList("zen.spamhaus.org*3"), { zone: "zen.spamhaus.org", weight: 3 });
  assert.deepEqual(parseDnsList("bl.spamcop.net"), { zone: "bl.spamcop.net", weight: 1 });
  assert.deepEqual(parseDnsList("zen.spamhaus.org=127.0.0.[2..4]*2"), { zone: "zen.spamhaus.org", replies: "^(127)[.](0)[.](0)[.](2|3|4)$", weight: 2 });
  const dnswl = parseDnsList("list.dnswl.org=127.0.[0;15].[2..3]*3", true);
  assert.equal(dnswl.weight, -3);
  const matches = (reply: string) => new RegExp(dnswl.replies!).test(reply);
  assert.deepEqual(["127.0.0.2", "127.0.15.3", "127.0.0.1", "127.0.1.2", "127.0.15.30", "127.0.0.23"].map(matches), [true, true, false, false, false, false]);
  assert.equal(postscreenAllowSite("wl.example.net*3"), "wl.example.net*-3");
  assert.equal(postscreenAllowSite("list.dnswl.org=127.0.[0..255].[1..3]"), "list.dnswl.org=127.0.[0..255].[1..3]*-1");
});

test("a reply filter that is no filter is named", () => {
  assert.deepEqual(filterOctets("127.0.[1;3..4].2"), [[127], [0], [1, 3, 4], [2]]);
  assert.match(filterOctets("127.0.0") as string, /not four octets/);
  assert.match(filterOctets("127.0.0.[5..2]") as string, /low to high/);
  assert.match(filterOctets("127.0.0.x") as string, /not a number/);
});
