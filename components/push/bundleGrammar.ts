/**
 * The bundle's grammar (bundle.ts writes and reads it, the deploy script reads it again on the
 * host): each pattern is written once, in the part of regular expression syntax that JavaScript
 * and POSIX extended regular expressions (bash's =~) read alike, and the script's header carries
 * these very strings.
 */

/** The first line, followed by a space and the number of files. */
export const BUNDLE_MAGIC = "mailfleet-bundle 1";
/** The number of files: decimal, no leading zero, at most 99999. */
export const BUNDLE_COUNT = "(0|[1-9][0-9]{0,4})";
/**
 * Every byte a bundle may hold, as the body of a bracket expression (and tr's set: both read "\n"
 * as a newline): a field can never split a line, escape the target path or carry shell syntax.
 */
export const BUNDLE_ALPHABET = "A-Za-z0-9 +/=_.@\\n-";
/** A Unix user or group name. */
const NAME = "[a-z_][a-z0-9_-]{0,31}";
/** `<mode> <owner> <group> <path> <base64 content>`, separated by exactly one space. */
export const BUNDLE_LINE = `^(0[0-7]{3}) (${NAME}) (${NAME}) ([^ ]+) ([^ ]*)$`;
/** An owner or group alone. */
export const BUNDLE_NAME = `^${NAME}$`;
/** Canonical base64: padded, nothing after the padding. */
export const BUNDLE_BASE64 = "^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$";
/** An absolute path of plain names; "." and ".." components are refused besides. */
export const BUNDLE_PATH = "^(/[A-Za-z0-9_.+@-]+)+$";
