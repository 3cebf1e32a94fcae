/**
 * BIMI (issue 25): each rule of the SVG Tiny PS profile, the mark certificate and the DMARC policy
 * refused at its key path with its fix; a logo that keeps to the profile accepted.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { parseFleet } from "../../components/build";
import { MAX_LOGO_BYTES } from "../../components/config/bimi";
import { problemsOf, validRaw } from "../support/fixtures";

const LOGO_PATH = 'bimi["example.com"].logo';
const svg = (attributes: string, body: string) => `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" ${attributes}>${body}</svg>`;
const PROFILE = 'version="1.2" baseProfile="tiny-ps" viewBox="0 0 100 100"';
const GOOD = svg(PROFILE, '<title>Example</title><defs><path id="p" d="M0 0h100v100z"/></defs><use xlink:href="#p" fill="#123456"/>');
// A certificate the system's parser reads: the lab ACME API CA in the lab stack.
const PEM = /caBundle: \|\n((?: {8}.*\n)+)/.exec(readFileSync("stacks/Pulumi.lab.yaml", "utf8"))![1].replace(/^ {8}/gm, "");

const withBimi = (entry: Record<string, unknown>, change: (raw: Record<string, any>) => void = () => {}) => {
  const raw = validRaw();
  raw.dmarc = { policy: "reject" };
  raw.bimi = { "example.com": entry };
  change(raw);
  return raw;
};

describe("BIMI config", () => {
  it("accepts a logo that keeps to SVG Tiny PS, with and without a mark certificate, and the spec carries both", () => {
    assert.deepEqual(parseFleet(withBimi({ logo: GOOD })).bimi, { "example.com": { logo: GOOD } });
    const multiline = `<?xml version="1.0" encoding="UTF-8"?>\n${svg(PROFILE, "\n  <title>Example</title>\n  <rect width=\"100\" height=\"100\"/>\n")}\n`;
    assert.deepEqual(parseFleet(withBimi({ logo: multiline, certificate: PEM })).bimi["example.com"], { logo: multiline, certificate: PEM });
    assert.deepEqual(parseFleet(validRaw()).bimi, {});
  });

  const refusals: [title: string, logo: string, fix: RegExp][] = [
    ["no baseProfile", svg('version="1.2" viewBox="0 0 100 100"', "<title>x</title>"), /baseProfile="tiny-ps".*export the logo as SVG Tiny PS/],
    ["another baseProfile", svg('version="1.2" baseProfile="tiny" viewBox="0 0 100 100"', "<title>x</title>"), /baseProfile="tiny-ps"/],
    ["version 1.1", svg('version="1.1" baseProfile="tiny-ps" viewBox="0 0 100 100"', "<title>x</title>"), /version="1.2"/],
    ["no title", svg(PROFILE, '<rect width="1" height="1"/>'), /no <title>.*add the brand's name/],
    ["a title only deeper down", svg(PROFILE, "<g><title>x</title></g>"), /no <title>/],
    ["a wide viewBox", svg('version="1.2" baseProfile="tiny-ps" viewBox="0 0 200 100"', "<title>x</title>"), /no square viewBox.*viewBox="0 0 N N"/],
    ["no viewBox", svg('version="1.2" baseProfile="tiny-ps"', "<title>x</title>"), /no square viewBox \(none\)/],
    ["x on the root", svg(`${PROFILE} x="0"`, "<title>x</title>"), /has x or y on <svg>/],
    ["a script", svg(PROFILE, "<title>x</title><script>alert(1)</script>"), /<script> element.*remove it/],
    ["a prefixed script", svg(`${PROFILE} xmlns:s="http://www.w3.org/2000/svg"`, "<title>x</title><g><s:script>1</s:script></g>"), /<s:script> element/],
    ["a raster image", svg(PROFILE, '<title>x</title><image xlink:href="#p" width="1" height="1"/>'), /<image> element/],
    ["an animation", svg(PROFILE, '<title>x</title><rect width="1" height="1"><animate attributeName="x" to="5"/></rect>'), /<animate> element/],
    ["an external xlink:href", svg(PROFILE, '<title>x</title><use xlink:href="https://evil.example/a.svg#p"/>'), /xlink:href="https:\/\/evil.example\/a.svg#p" on <use>.*only local #id references/],
    ["an external href", svg(PROFILE, '<title>x</title><a href="http://example.net/"><rect width="1" height="1"/></a>'), /href="http:\/\/example.net\/" on <a>/],
    ["a data: href", svg(PROFILE, '<title>x</title><use href="data:image/svg+xml,x"/>'), /a reference outside the file/],
    ["a DOCTYPE", `<!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>${GOOD}`, /DOCTYPE or ENTITY.*remove it/],
    ["no XML", "a logo", /not well-formed XML/],
    ["broken XML", svg(PROFILE, "<title>x</title><g>"), /not well-formed XML \(line 1/],
    ["another root", '<html><svg version="1.2" baseProfile="tiny-ps"/></html>', /not an SVG document/],
    ["over 32 KiB", svg(PROFILE, `<title>x</title><desc>${"a".repeat(MAX_LOGO_BYTES)}</desc>`), /over the SVG Tiny PS limit of 32768 \(32 KiB\)/],
  ];
  for (const [title, logo, fix] of refusals) {
    it(`refuses a logo with ${title} at ${LOGO_PATH}`, () => {
      const problems = problemsOf(withBimi({ logo }));
      assert.match(problems.get(LOGO_PATH) ?? [...problems].join("\n"), fix);
    });
  }

  it("names every broken rule of one logo at once", () => {
    const message = problemsOf(withBimi({ logo: svg('viewBox="0 0 1 2"', "<script/>") })).get(LOGO_PATH) ?? "";
    for (const rule of [/baseProfile/, /version/, /square/, /title/, /script/]) assert.match(message, rule);
  });

  it("refuses a mark certificate that is not PEM, or whose PEM does not parse", () => {
    assert.match(problemsOf(withBimi({ logo: GOOD, certificate: "a VMC" })).get('bimi["example.com"].certificate')!, /not PEM certificates/);
    const mangled = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    assert.match(problemsOf(withBimi({ logo: GOOD, certificate: mangled })).get('bimi["example.com"].certificate')!, /does not parse.*paste the VMC\/CMC PEM file/);
  });

  it("refuses a logo where DMARC is p=none (receivers ignore BIMI then), naming the fix", () => {
    assert.match(problemsOf(withBimi({ logo: GOOD }, (raw) => (raw.dmarc = { policy: "none" }))).get('bimi["example.com"]')!, /DMARC is p=none.*set dmarc.policy to quarantine or reject/);
    assert.match(problemsOf(withBimi({ logo: GOOD }, (raw) => delete raw.dmarc)).get('bimi["example.com"]')!, /p=none/);
    assert.equal(parseFleet(withBimi({ logo: GOOD }, (raw) => (raw.dmarc = { policy: "quarantine" }))).dmarc.policy, "quarantine");
  });

  it("refuses a logo for a domain the fleet does not host", () => {
    assert.match(problemsOf(withBimi({ logo: GOOD }, (raw) => (raw.bimi = { "example.net": { logo: GOOD } }))).get('bimi["example.net"]')!, /not a hosted domain.*example.com, example.org/);
  });

  it("allows new lines in the logo and certificate only, and no other control characters", () => {
    assert.match(problemsOf(withBimi({ logo: GOOD.replace("<title>", "\u0000<title>") })).get(LOGO_PATH)!, /control character/);
    assert.match(problemsOf({ ...withBimi({ logo: GOOD }), admin: "alice@example.com\n" }).get("admin")!, /control character/);
  });
});
