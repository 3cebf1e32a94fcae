/**
 * What the hosted domains' SPF record costs in DNS lookups, in one place: config refuses a stack
 * over the limit and the record set writes the record, both by these functions.
 */

/** RFC 7208 §4.6.4: an SPF evaluation may cause at most 10 DNS lookups. */
export const SPF_LOOKUP_LIMIT = 10;
/** RFC 7208 §4.6.4: an `mx` mechanism whose name has more than 10 MX records is a permerror. */
const SPF_MX_LIMIT = 10;

/** Whether SPF names the edge hosts by `mx` (one lookup); past SPF_MX_LIMIT edges it lists their addresses (no lookup). */
export function spfNamesEdgesByMx(edges: number): boolean {
  return edges <= SPF_MX_LIMIT;
}

/** The includes of the hosted domains' SPF: the stack's own, then the smarthost's. */
export function spfIncludes(spec: { spfIncludes: string[]; smarthost?: { spfInclude?: string } }): string[] {
  return [...spec.spfIncludes, ...(spec.smarthost?.spfInclude ? [spec.smarthost.spfInclude] : [])];
}

/** DNS lookups of the hosted domains' SPF: `mx` when it is used, each include at least one; ip4:/ip6: terms none. */
export function spfLookups(edges: number, includes: number): number {
  return (spfNamesEdgesByMx(edges) ? 1 : 0) + includes;
}
