/**
 * BIMI (issue 25): a hosted domain's logo and its mark certificate, as the config takes them.
 * Receivers show a logo only if it keeps to the SVG Tiny Portable/Secure profile
 * (draft-svg-tiny-ps-abrotman), so the fleet refuses one that breaks it before publishing it.
 */
import { X509Certificate } from "node:crypto";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { z } from "zod";
import { pemCertificates } from "./formats";

/** The profile's size limit: receivers refuse larger logos. */
export const MAX_LOGO_BYTES = 32 * 1024;

/** Elements the profile forbids: scripts, raster images, animation, foreign content. */
const FORBIDDEN_ELEMENTS = new Set(["script", "image", "animate", "animatemotion", "animatetransform", "animatecolor", "set", "discard", "foreignobject"]);

/** An element as fast-xml-parser's preserveOrder gives it: `{ name: children, ":@": attributes }`. */
type OrderedNode = Record<string, unknown> & { ":@"?: Record<string, string> };

const localName = (name: string) => name.slice(name.indexOf(":") + 1).toLowerCase();
const nameOf = (node: OrderedNode) => Object.keys(node).find((k) => k !== ":@")!;
const isElement = (name: string) => !name.startsWith("#") && !name.startsWith("?");

/** The profile's rules the logo breaks, each with its fix (an empty list: the logo keeps to it). */
export function svgTinyPsProblems(svg: string): string[] {
  const bytes = Buffer.byteLength(svg, "utf8");
  if (bytes > MAX_LOGO_BYTES) return [`is ${bytes} bytes, over the SVG Tiny PS limit of ${MAX_LOGO_BYTES} (32 KiB) — simplify the paths or drop metadata`];
  // A DTD could define entities that pull in other files or expand without bound; the profile has none.
  if (/<!DOCTYPE|<!ENTITY/i.test(svg)) return ["has a DOCTYPE or ENTITY declaration, which SVG Tiny PS does not allow — remove it"];
  const wellFormed = XMLValidator.validate(svg);
  if (wellFormed !== true) return [`is not well-formed XML (line ${wellFormed.err.line}: ${wellFormed.err.msg}) — give the SVG file's whole content`];
  const parser = new XMLParser({ preserveOrder: true, ignoreAttributes: false, attributeNamePrefix: "", processEntities: false, ignoreDeclaration: true, ignorePiTags: true });
  const roots = (parser.parse(svg) as OrderedNode[]).filter((n) => isElement(nameOf(n)));
  const root = roots[0];
  if (roots.length !== 1 || localName(nameOf(root)) !== "svg") return ["is not an SVG document (one root <svg> element) — give the SVG file's whole content"];
  const attributes = root[":@"] ?? {};
  const problems: string[] = [];
  if (attributes.baseProfile !== "tiny-ps") problems.push('has no baseProfile="tiny-ps" on <svg> — export the logo as SVG Tiny PS (the BIMI profile)');
  if (attributes.version !== "1.2") problems.push('has no version="1.2" on <svg> — SVG Tiny PS is SVG Tiny 1.2: set version="1.2"');
  if ("x" in attributes || "y" in attributes) problems.push("has x or y on <svg>, which SVG Tiny PS does not allow — remove them");
  const box = (attributes.viewBox ?? "").trim().split(/[\s,]+/).map(Number);
  if (box.length !== 4 || box.some((n) => !Number.isFinite(n)) || box[2] <= 0 || box[2] !== box[3]) {
    problems.push(`has no square viewBox (${attributes.viewBox === undefined ? "none" : JSON.stringify(attributes.viewBox)}) — BIMI logos are square: give viewBox="0 0 N N"`);
  }
  const children = root[nameOf(root)] as OrderedNode[];
  if (!children.some((c) => localName(nameOf(c)) === "title")) problems.push("has no <title> under <svg> — add the brand's name as <title>");
  const walk = (nodes: OrderedNode[]): void => {
    for (const node of nodes) {
      const name = nameOf(node);
      if (!isElement(name)) continue;
      if (FORBIDDEN_ELEMENTS.has(localName(name))) problems.push(`has a <${name}> element, which SVG Tiny PS forbids (no scripts, raster images or animation) — remove it`);
      for (const [attribute, value] of Object.entries(node[":@"] ?? {})) {
        if (localName(attribute) === "href" && !/^#[A-Za-z_][\w.-]*$/.test(value)) {
          problems.push(`has ${attribute}="${value.slice(0, 60)}" on <${name}>, a reference outside the file — SVG Tiny PS allows only local #id references`);
        }
      }
      walk(node[name] as OrderedNode[]);
    }
  };
  walk([root]);
  return problems;
}

// One issue for all the rules broken: a key path keeps only its first problem.
export const bimiLogo = z.string().superRefine((svg, ctx) => {
  const problems = svgTinyPsProblems(svg);
  if (problems.length > 0) ctx.addIssue({ code: "custom", message: problems.join("; ") });
});

/** A VMC or CMC as its issuer hands it out: the PEM chain, each certificate one the system's X.509 parser reads. */
export const markCertificate = pemCertificates.superRefine((pem, ctx) => {
  for (const block of pem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? []) {
    try {
      new X509Certificate(block);
    } catch {
      ctx.addIssue({ code: "custom", message: "holds a certificate that does not parse — paste the VMC/CMC PEM file your certificate authority issued, unchanged" });
      return;
    }
  }
});

/** Per hosted domain: the logo, and the mark certificate Gmail and Apple Mail require before they show it. */
export const bimiDomains = z.record(z.string(), z.strictObject({ logo: bimiLogo, certificate: markCertificate.optional() })).default({});

/** Whether a config path holds a multi-line BIMI value (`bimi["example.com"].logo`). */
export function isBimiFile(path: readonly (string | number)[]): boolean {
  return path.length === 3 && path[0] === "bimi" && (path[2] === "logo" || path[2] === "certificate");
}
