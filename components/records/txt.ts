/** RFC 1035 §3.3: a TXT character-string holds at most 255 bytes. */
const TXT_STRING_MAX = 255;

/**
 * Splits one logical TXT value into character-strings of at most 255 bytes, never inside a
 * UTF-8 sequence. Receivers concatenate them without separators (RFC 7208 §3.3, RFC 6376 §3.6.2.2).
 */
export function txtStrings(text: string): string[] {
  const strings: string[] = [];
  let current = "";
  let bytes = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char);
    if (bytes + size > TXT_STRING_MAX) {
      strings.push(current);
      current = "";
      bytes = 0;
    }
    current += char;
    bytes += size;
  }
  strings.push(current);
  return strings;
}
