/**
 * DNS block- and allowlists as `spam.dnsbls` and `spam.dnswls` give them, in postscreen's site
 * syntax `zone[=reply-filter][*weight]`: the one parser both postscreen's and rspamd's renderings
 * read, so the two never disagree about a list.
 */

export interface DnsList {
  zone: string;
  /** The replies that count as a listing (any reply when absent), as an anchored regular expression. */
  replies?: string;
  /** Postscreen's weight: positive blocks, negative allows. */
  weight: number;
}

/**
 * The numbers each octet of a postscreen reply filter allows (`127.0.0.[2..11]`, `127.0.[0..255].[1;3]`),
 * or a reason it is no filter: each of the four octets is a number or a bracketed `;`-list of numbers
 * and `a..b` ranges.
 */
export function filterOctets(filter: string): number[][] | string {
  // A dot separates octets unless it is inside brackets (the "a..b" of a range).
  const octets = filter.split(/\.(?![.\d;]*\])/);
  if (octets.length !== 4) return `${filter} has not four octets`;
  const values: number[][] = [];
  for (const octet of octets) {
    const items = /^\[(.+)\]$/.exec(octet)?.[1].split(";") ?? [octet];
    const numbers: number[] = [];
    for (const item of items) {
      const range = /^(\d{1,3})(?:\.\.(\d{1,3}))?$/.exec(item);
      if (!range) return `${octet} is not a number, [a..b] or [a;b]`;
      const [from, to] = [Number(range[1]), Number(range[2] ?? range[1])];
      if (to > 255 || from > to) return `${octet} is not within 0..255, low to high`;
      for (let n = from; n <= to; n++) numbers.push(n);
    }
    values.push(numbers);
  }
  return values;
}

/**
 * The longest list zone a query about an IPv6 address fits under: its 32 reversed nibbles take 64
 * of a DNS name's 253 characters (postscreen, rspamd and the monitoring host all ask so).
 */
export const MAX_LIST_ZONE_LENGTH = 253 - 64;

/** The zone of a site: `zen.spamhaus.org=127.0.0.[2..11]*3` → `zen.spamhaus.org`. */
export function siteZone(site: string): string {
  return /^[^=*]*/.exec(site)![0];
}

/** The zones of spam.dnsbls, each once (a zone may be listed twice with different reply filters and weights). */
export function blocklistZones(sites: readonly string[]): string[] {
  return [...new Set(sites.map(siteZone))];
}

/** A site of spam.dnsbls; a site of spam.dnswls is the same with its weight counted against the score (`allow`). */
export function parseDnsList(site: string, allow = false): DnsList {
  const match = /^([^=*]+)(?:=([^*]+))?(?:\*(-?\d+))?$/.exec(site);
  if (!match) throw new Error(`not a DNS list site: ${site}`);
  const octets = match[2] === undefined ? undefined : filterOctets(match[2]);
  if (typeof octets === "string") throw new Error(`${site}: ${octets}`);
  const weight = Number(match[3] ?? 1);
  const replies = octets && `^${octets.map((numbers) => `(${numbers.join("|")})`).join("[.]")}$`;
  return { zone: match[1], ...(replies ? { replies } : {}), weight: allow ? -weight : weight };
}

/** An allowlist site in postscreen's syntax: the filter as the operator wrote it, the weight negative. */
export function postscreenAllowSite(site: string): string {
  return `${site.replace(/\*-?\d+$/, "")}*${parseDnsList(site, true).weight}`;
}
