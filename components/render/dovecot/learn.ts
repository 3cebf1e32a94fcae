/**
 * Learning from users (issue 23): Dovecot's IMAPSieve runs a global Sieve script when a user moves
 * (or copies) a message into Junk, or out of Junk into anything but Trash, and its `vnd.dovecot.pipe`
 * hands the message to mailfleet-learn, which posts it to an edge's rspamd controller as spam or ham
 * (rspamd's learn API, what `rspamc learn_spam` calls) with the learn password. Bayes lives in the
 * shared Valkey, so one edge learning is every edge learning; the program tries each edge in turn.
 * A global Sieve rule before the user's own files what the edges marked as spam into Junk.
 */
import { FleetSpec } from "../../config/spec";
import { hostsOf, RSPAMD_CONTROLLER_PORT, Topology } from "../../topology";
import { internalIpv4, PlacedHosts } from "../../topology/addresses";
import { VMAIL } from "../../topology/vmail";
import { file, RenderedFile } from "../file";

/** The special-use folders the learning is about; conf.ts creates them for every user. */
export const JUNK = "Junk";
export const TRASH = "Trash";

const SIEVE_DIR = "/etc/dovecot/sieve";
export const LEARN_PATHS = {
  /** Global scripts only (the users' own live in their homes): deploy.sh compiles each *.sieve here. */
  sieveDir: SIEVE_DIR,
  reportSpam: `${SIEVE_DIR}/report-spam.sieve`,
  reportHam: `${SIEVE_DIR}/report-ham.sieve`,
  fileJunk: `${SIEVE_DIR}/file-junk.sieve`,
  /** sieve_pipe_bin_dir: the only programs a global script may pipe to. */
  pipeDir: "/etc/dovecot/sieve-pipe",
  program: "/etc/dovecot/sieve-pipe/mailfleet-learn",
  /** The controller's Password: header, read by curl from the file (never on a command line). */
  passwordHeader: "/etc/dovecot/learn-password.header",
} as const;

const REPORT_SPAM = `# Rendered by mailfleet: a message moved or copied into ${JUNK} is reported to rspamd as spam.
require ["vnd.dovecot.pipe", "copy", "imapsieve"];
pipe :copy "mailfleet-learn" ["spam"];
`;

const REPORT_HAM = `# Rendered by mailfleet: a message moved or copied out of ${JUNK} is reported to rspamd as ham,
# unless it goes to ${TRASH} (thrown away, not called good).
require ["vnd.dovecot.pipe", "copy", "imapsieve", "environment", "variables"];
if environment :matches "imap.mailbox" "*" { set "mailbox" "\${1}"; }
if string :is "\${mailbox}" ["${TRASH}", "${JUNK}"] { stop; }
pipe :copy "mailfleet-learn" ["ham"];
`;

// rspamd writes X-Spam-Status: Yes at add_header and above, and removes any a sender wrote (render/rspamd).
const FILE_JUNK = `# Rendered by mailfleet: mail the edges marked as spam goes to ${JUNK}, before the user's own rules.
require ["fileinto"];
if header :matches "X-Spam-Status" "Yes,*" { fileinto "${JUNK}"; }
`;

/** Each edge's controller address, in the order the program tries them; only dotted IPv4 reaches the script. */
function controllers(topology: Topology, hosts: PlacedHosts): string[] {
  return hostsOf(topology, "edge").map((edge) => {
    const address = internalIpv4(hosts[edge.name].addresses);
    if (!/^(\d{1,3}\.){3}\d{1,3}$/.test(address)) throw new Error(`${edge.name}: ${JSON.stringify(address)} is not an IPv4 address`);
    return `${address}:${RSPAMD_CONTROLLER_PORT}`;
  });
}

/**
 * The pipe program: Dovecot runs it as the mail user with the message on stdin. A copy is kept so
 * each edge can be tried; an answer other than learned (200) or already learned (208) tries the next.
 */
export function renderLearnProgram(topology: Topology, hosts: PlacedHosts): string {
  return `#!/bin/sh
# Rendered by mailfleet: mailfleet-learn spam|ham teaches rspamd's shared Bayes the message on stdin
# at the first edge that takes it (render/dovecot/learn.ts). Errors go to Dovecot's log.
set -u
case "\${1:-}" in spam|ham) ;; *) echo "usage: mailfleet-learn spam|ham" >&2; exit 64 ;; esac
message=$(mktemp) || exit 75
trap 'rm -f "$message"' EXIT
cat >"$message"
for controller in ${controllers(topology, hosts).join(" ")}; do
  status=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -H @${LEARN_PATHS.passwordHeader} --data-binary @"$message" "http://$controller/learn$1") || continue
  case $status in 200|208) exit 0 ;; esac
  echo "mailfleet-learn: $controller answered $status to learn$1" >&2
done
echo "mailfleet-learn: no edge learned this $1 report" >&2
exit 75
`;
}

const script = (name: string, path: string, cause = "") => `  sieve_script ${name} {
    type = before
    driver = file
    path = ${path}
${cause}  }
`;

/** dovecot.conf's part: inside the inbox namespace's Junk mailbox, and at the top level. */
export function learnConf(spam: FleetSpec["spam"]): { junkMailbox: string; global: string; lmtp: string } {
  return {
    // Into Junk, by MOVE, COPY or APPEND-less copy: IMAPSieve's COPY cause covers MOVE.
    junkMailbox: script("report-spam", LEARN_PATHS.reportSpam, "    cause = copy\n"),
    global: `## Learning from users (render/dovecot/learn.ts): moves into and out of ${JUNK} teach rspamd
sieve_plugins {
  sieve_imapsieve = yes
  sieve_extprograms = yes
}
# Piping is for the global scripts only, to the programs in sieve_pipe_bin_dir.
sieve_global_extensions {
  vnd.dovecot.pipe = yes
}
sieve_pipe_bin_dir = ${LEARN_PATHS.pipeDir}
imapsieve_from ${JUNK} {
${script("report-ham", LEARN_PATHS.reportHam, "    cause = copy\n")}}
`,
    lmtp: spam.junkFolder ? script("file-junk", LEARN_PATHS.fileJunk) : "",
  };
}

/** The store's files for learning: the global scripts, the pipe program and its password (readable by the mail user's group, which the program runs as). */
export function renderLearnFiles(topology: Topology, hosts: PlacedHosts, password: string): RenderedFile[] {
  if (!/^[0-9a-f]{64}$/.test(password)) throw new Error("the learn password must be 64 hex digits (keys/generate.ts generatePassword)");
  return [
    file(LEARN_PATHS.reportSpam, REPORT_SPAM),
    file(LEARN_PATHS.reportHam, REPORT_HAM),
    ...(topology.spec.spam.junkFolder ? [file(LEARN_PATHS.fileJunk, FILE_JUNK)] : []),
    file(LEARN_PATHS.program, renderLearnProgram(topology, hosts), { mode: 0o755 }),
    file(LEARN_PATHS.passwordHeader, `Password: ${password}\n`, { secret: true, mode: 0o640, group: VMAIL.group }),
  ];
}
