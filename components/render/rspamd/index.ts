/**
 * rspamd 3.12 (Debian 13) for the two roles that pass mail through it as Postfix's milter:
 * the outbound MTA (DKIM signing) and the edge MX (spam scoring). Only local.d/ files are
 * written: they merge over Debian's defaults, so a package update keeps its own fixes.
 */
import { parseDnsList } from "../../config/dnsList";
import { FleetSpec } from "../../config/spec";
import { arcKeyName, findDkimKey } from "../../keys/material";
import { oncePer } from "../../memo";
import { Host } from "../../topology";
import { RenderedFile, file } from "../file";
import { RSPAMD_MILTER, RenderInput } from "../input";
import { dnsblThreshold } from "../postfix/edge";
import { senderLogins } from "../postfix/tables";
import { STATE_MASTER, stateAddress } from "../valkey";
import { RSPAMD_CONTROLLER_PORT, SENTINEL_PORT, VALKEY_PORT } from "../../topology";
import { internalIpv4 } from "../../topology/addresses";

const LOCAL = "/etc/rspamd/local.d";
export const RSPAMD_DKIM_DIR = "/var/lib/rspamd/dkim";
/** The group Debian's rspamd package runs as: it reads the keys, never writes them (deploy.sh keeps the directory root:_rspamd 0750). */
export const RSPAMD_GROUP = "_rspamd";
const SCANNER = "127.0.0.1:11333";
/** The controller on loopback, which rspamd trusts without a password (secure_ip): nginx's metrics path reaches it here (render/web/metrics.ts). */
export const RSPAMD_LOOPBACK_CONTROLLER = `127.0.0.1:${RSPAMD_CONTROLLER_PORT}`;

/** Edge thresholds: rspamd's own defaults, which its symbol scores are tuned for. */
export const EDGE_SCORES = { reject: 15, addHeader: 6, greylist: 4 } as const;

/**
 * A quoted UCL string of one or more words (a map line's key and value); refuses anything that
 * could end the string or the line.
 */
function ucl(...words: string[]): string {
  for (const word of words) if (!/^[A-Za-z0-9._:/$@*+=()-]+$/.test(word)) throw new Error(`refusing to write ${JSON.stringify(word)} into an rspamd file`);
  return `"${words.join(" ")}"`;
}

/** A regular expression as an rspamd regexp-map entry (/…/), of the characters a reply filter's pattern holds only. */
function uclRegexp(pattern: string): string {
  if (!/^[0-9|()[\].^$]+$/.test(pattern)) throw new Error(`refusing to write ${JSON.stringify(pattern)} into an rspamd file`);
  return `"/${pattern}/"`;
}

function milterAddress(): string {
  const address = RSPAMD_MILTER.replace(/^inet:/, "");
  if (address === RSPAMD_MILTER) throw new Error(`RSPAMD_MILTER must be an inet: address, got ${RSPAMD_MILTER}`);
  return address;
}

/**
 * The controller (web UI and learning API). Loopback trusts its callers (rspamd's secure_ip), among
 * them nginx's metrics-only path for the scrapers (render/web/metrics.ts); on an
 * edge it also listens on the private address for the stores' Junk reports (render/dovecot/learn.ts),
 * where every command needs the learn password (enable_password for writes such as learn_spam, the
 * same for reads): the firewall admits the stores only. rspamd 3.12 takes the password as written
 * (its own hash format has no standard KDF to make it with), so the file is secret, rspamd's group only.
 */
function controller(input: RenderInput, host: Host): RenderedFile {
  const lines = ["# Web UI and learning API: loopback, and on an edge the private address for the stores.", `bind_socket = ${ucl(RSPAMD_LOOPBACK_CONTROLLER)};`];
  if (host.role === "edge") {
    const password = ucl(input.keys.state.learn);
    lines.push(`bind_socket = ${ucl(`${internalIpv4(input.hosts[host.name].addresses)}:${RSPAMD_CONTROLLER_PORT}`)};`, `password = ${password};`, `enable_password = ${password};`);
  }
  return file(`${LOCAL}/worker-controller.inc`, [...lines, ""].join("\n"), { secret: true, mode: 0o640, group: RSPAMD_GROUP });
}

/** Workers and their sockets: the same on every role but the controller's. */
function workers(input: RenderInput, host: Host): RenderedFile[] {
  return [
    file(
      `${LOCAL}/worker-proxy.inc`,
      [
        "# Postfix's milter (smtpd_milters). Explicit 127.0.0.1 rather than Debian's \"localhost\",",
        "# which may resolve to ::1 first while Postfix dials the IPv4 address.",
        `bind_socket = ${ucl(milterAddress())};`,
        "milter = yes;",
        'upstream "local" {',
        "  default = yes;",
        `  hosts = ${ucl(SCANNER)};`,
        "}",
        "",
      ].join("\n"),
    ),
    file(`${LOCAL}/worker-normal.inc`, `# The scanner the proxy forwards to; loopback only.\nbind_socket = ${ucl(SCANNER)};\n`),
    file(
      `${LOCAL}/logging.inc`,
      // Debian's info level writes some 20 lines per message (about half rspamd's log lines under a
      // burst); notice keeps each message's scan result and every warning and error.
      '# One line per scanned message (its result), plus warnings and errors.\nlevel = "notice";\n',
    ),
    controller(input, host),
  ];
}

/**
 * Every module that keeps state (Bayes, greylist, ratelimit, replies, history) uses the one shared
 * Valkey, found through the Sentinels: rspamd asks them for the primary and the replicas, and again
 * after two errors and every minute, so it follows a failover. The password is rspamd's own
 * ACL user's (render/valkey.ts); the file is secret, readable by rspamd's group only.
 */
function redis(input: RenderInput): RenderedFile {
  const { state } = input.topology;
  const at = (name: string, port: number) => `${stateAddress(input, name)}:${port}`;
  const password = input.keys.state.rspamd;
  const lines = [
    "# Rendered by mailfleet: the shared state, through Sentinel (render/valkey.ts).",
    `servers = ${ucl(at(state.primary, VALKEY_PORT))};`,
    `sentinels = [${state.hosts.map((h) => ucl(at(h, SENTINEL_PORT))).join(", ")}];`,
    `# The Sentinels monitor one primary, ${STATE_MASTER}: rspamd takes it and its replicas.`,
    "# No sentinel_password: rspamd 3.12 does not pass it on from this file (lua_redis.lua's",
    "# process_redis_opts drops sentinel_*), so the Sentinels answer where the primary is without a",
    "# login, and nothing else (render/valkey.ts). A failed write makes rspamd ask them again.",
    'username = "rspamd";',
    `password = ${ucl(password)};`,
    "timeout = 2s;",
    "",
  ];
  return file(`${LOCAL}/redis.conf`, lines.join("\n"), { secret: true, mode: 0o640, group: RSPAMD_GROUP });
}

/**
 * Bayes on the shared state, so every edge scores with the same statistics: autolearn from clear
 * verdicts, and the users' own (the stores' Junk moves, rspamc learn_spam / learn_ham).
 */
function bayes(spam: FleetSpec["spam"]): RenderedFile {
  return file(
    `${LOCAL}/classifier-bayes.conf`,
    [
      "# Tokens in the shared Valkey (redis.conf): one set of statistics for the farm.",
      'backend = "redis";',
      "autolearn = true;",
      "# Bayes scores once the farm has learned this many spam and as many ham messages (spam.bayesMinLearns).",
      `min_learns = ${spam.bayesMinLearns};`,
      "# How often each worker recounts the learns rspamc stat shows (one SSCAN of the shared set).",
      "monitor_timeout = 5;",
      "",
    ].join("\n"),
  );
}

/**
 * A rate-limit bucket: `count` messages (or recipients) per `period`, answered with a 4xx and
 * `message` past it. rspamd's ratelimit adds a message's SMTP recipients to a bucket unless told
 * skip_recipients: a bucket of messages counts each message once.
 */
function bucket(name: string, selector: string, count: number, unit: "messages" | "recipients", period: "1m" | "1h", message: string): string[] {
  const perMessage = unit === "messages" ? " skip_recipients = true;" : "";
  return [`  ${name} = {`, `    selector = ${ucl(selector)};`, `    bucket = { burst = ${count}; rate = ${ucl(`${count}/${period}`)};${perMessage} message = "${message}"; };`, "  }"];
}

const SENDER_LOGIN_MAP = `${LOCAL}/sender_login.map`;

/**
 * Postfix's reject_sender_login_mismatch checks only the envelope sender (MAIL FROM), never the
 * header From that DKIM and DMARC are about. This prefilter holds the header From to the same
 * table: an authenticated user's message whose From holds an address the login may not use is
 * refused (554 at submission), and rspamd does not sign what it rejects.
 */
function senderCheck(input: RenderInput): RenderedFile[] {
  const map = senderLogins(input.topology.spec).map(([address, logins]) => `${address} ${logins.join(" ")}`);
  const lua = [
    "-- mailfleet: the header From of authenticated mail must be an address the login may send as.",
    `local owners = rspamd_config:add_map({ type = "map", url = "${SENDER_LOGIN_MAP}", description = "sender address -> logins that may use it" })`,
    "rspamd_config:register_symbol({",
    '  name = "MAILFLEET_FROM_NOT_OWNED",',
    '  type = "prefilter",',
    "  score = 0.0,",
    "  callback = function(task)",
    "    local user = task:get_user()",
    "    if not user then return end",
    "    user = user:lower()",
    "    for _, from in ipairs(task:get_from('mime') or {}) do",
    "      local addr = (from.addr or ''):lower()",
    "      local owned = false",
    "      for login in string.gmatch(owners:get_key(addr) or '', '%S+') do",
    "        if login == user then owned = true end",
    "      end",
    "      if not owned then",
    "        task:insert_result('MAILFLEET_FROM_NOT_OWNED', 1.0, addr)",
    "        task:set_pre_result('reject', 'From: ' .. addr .. ' is not an address you may send as')",
    "        return",
    "      end",
    "    end",
    "  end,",
    "})",
    "",
  ];
  return [
    file(SENDER_LOGIN_MAP, [`# sender address -> SASL logins that may use it (the outbound Postfix's sender_login)`, ...map, ""].join("\n")),
    file("/etc/rspamd/lua.local.d/sender_login.lua", lua.join("\n")),
  ];
}

function actions(lines: string[]): RenderedFile {
  return file(`${LOCAL}/actions.conf`, [...lines, ""].join("\n"));
}

/**
 * Every hosted domain's active private key, one line each (`domain domain:selector:key`, rspamd's
 * key_table): one file, not a file per domain (1000 domains would be 1000 files to write and push on
 * every outbound host). The key is the PKCS#8 DER in base64, which rspamd loads as a raw key.
 */
export const DKIM_KEY_TABLE = `${RSPAMD_DKIM_DIR}/keys.map`;

/** The same on every outbound host: made once per build. */
const dkimKeyTable = oncePer((input: RenderInput): string => {
  const { spec } = input.topology;
  const selector = spec.dkim.active;
  const lines = spec.domains.map((domain) => {
    const key = findDkimKey(input.keys.dkim, domain, selector);
    if (!key) throw new Error(`no DKIM key for ${domain} with selector ${selector}`);
    const der = /^-----BEGIN PRIVATE KEY-----\s+([A-Za-z0-9+/=\s]+?)\s*-----END PRIVATE KEY-----\s*$/.exec(key.privateKeyPem);
    if (!der) throw new Error(`the DKIM key of ${selector}._domainkey.${domain} is not a PKCS#8 PEM`);
    return `${domain} ${domain}:${selector}:${der[1].replace(/\s/g, "")}\n`;
  });
  return `# Rendered by mailfleet: hosted domain -> domain:selector:private key (base64 PKCS#8 DER). Secret.\n${lines.join("")}`;
});

/** DKIM signing for every hosted domain with the active selector. */
export function renderOutboundRspamd(input: RenderInput, host: Host): RenderedFile[] {
  const { spec } = input.topology;
  if (host.role !== "outbound") throw new Error(`${host.name} is not an outbound host`);
  const dkim = [
    "# Sign what users submit with AUTH, nothing else: with sign_local (Debian's default) any host on",
    "# a private network (a cloud VPC) could get mail signed for the hosted domains.",
    "sign_authenticated = true;",
    "sign_local = false;",
    ...(spec.relayNetworks.length
      ? ["# The configured relay networks send without AUTH and need signatures to pass DMARC.", `sign_networks = [${spec.relayNetworks.map((network) => ucl(network)).join(", ")}];`]
      : []),
    "# The header From address picks the key: signing_table matches only the hosted domains' addresses",
    "# (a glob per domain) and signs as exactly that domain, whatever the login's or the envelope's",
    "# domain: bob@example.org may send as sales@example.com. What a login may send as is enforced",
    "# before signing: Postfix holds MAIL FROM to sender_login, lua.local.d/sender_login.lua holds the",
    "# header From to it (a rejected message is not signed). key_table holds the domain's selector and key.",
    `signing_table = [${spec.domains.map((domain) => ucl(`*@${domain}`, domain)).join(", ")}];`,
    `key_table = ${ucl(DKIM_KEY_TABLE)};`,
    "# rspamd signs with relaxed/relaxed canonicalization and rsa-sha256 for RSA keys (fixed in its",
    "# signer, not configurable): relaxed survives the header re-folding relays do.",
    "",
  ];
  return [
    ...workers(input, host),
    file(`${LOCAL}/dkim_signing.conf`, dkim.join("\n")),
    ...senderCheck(input),
    actions([
      "# Submission is authenticated: never reject, delay or mark a user's own mail (a spam verdict",
      "# here would bounce legitimate mail with no one to appeal to).",
      "reject = null;",
      "add_header = null;",
      "rewrite_subject = null;",
      "greylist = null;",
    ]),
    file(DKIM_KEY_TABLE, dkimKeyTable(input), { secret: true, mode: 0o640, group: RSPAMD_GROUP }),
    redis(input),
    outboundRatelimit(input),
  ];
}

/**
 * rspamd's RBL module asks exactly the lists postscreen asks (spam.dnsbls and spam.dnswls), about the
 * connecting client's address, and none of its built-in ones: an operator who picks a list (or a
 * registered Spamhaus mirror) is not overruled by a public-resolver query to another. A listing scores
 * its postscreen weight scaled so that listings reaching postscreen's threshold reach add_header:
 * what postscreen would block on its own is marked as spam by rspamd in a warnOnly dry run.
 */
function dnsListRules(spam: FleetSpec["spam"]): RenderedFile[] {
  const unit = EDGE_SCORES.addHeader / dnsblThreshold(spam.dnsbls);
  const symbols = new Set<string>();
  const lists = [...spam.dnsbls.map((site) => parseDnsList(site)), ...spam.dnswls.map((site) => parseDnsList(site, true))].map((list) => {
    // The zone's letters and digits only: a symbol's shape never depends on how many labels a zone has.
    const base = `MAILFLEET_${list.weight < 0 ? "DNSWL" : "DNSBL"}_${list.zone.toUpperCase().replace(/[^A-Z0-9]/g, "")}`;
    let symbol = base;
    for (let n = 2; symbols.has(symbol); n++) symbol = `${base}_${n}`;
    symbols.add(symbol);
    return { ...list, symbol };
  });
  const rule = (list: (typeof lists)[number]) => [
    `  ${ucl(list.symbol.toLowerCase())} {`,
    `    rbl = ${ucl(list.zone)};`,
    `    symbol = ${ucl(list.symbol)};`,
    "    # Only what is written here (the module's defaults would add replies outside the filter).",
    "    ignore_defaults = true;",
    "    checks = [\"from\"];",
    "    ipv4 = true;",
    "    ipv6 = true;",
    "    exclude_local = true;",
    ...(list.replies ? ['    returncodes_matcher = "regexp";', `    returncodes { ${list.symbol} = ${uclRegexp(list.replies)}; }`] : []),
    "  }",
  ];
  return [
    file(
      "/etc/rspamd/override.d/rbl.conf",
      [
        "# The client-address lists of spam.dnsbls and spam.dnswls, the same postscreen asks, replacing rspamd's",
        "# built-in set (override.d): no list the operator did not choose is queried through their resolver.",
        "rbls {",
        ...lists.flatMap(rule),
        "}",
        "",
      ].join("\n"),
    ),
    file(
      `${LOCAL}/rbl_group.conf`,
      [
        `# A listing scores its postscreen weight times ${unit} (add_header ${EDGE_SCORES.addHeader} / postscreen's threshold).`,
        "symbols {",
        ...lists.map((list) => `  ${ucl(list.symbol)} { weight = ${+(list.weight * unit).toFixed(2)}; description = ${ucl(`${list.weight < 0 ? "allowlisted" : "listed"}:${list.zone}`)}; }`),
        "}",
        "",
      ].join("\n"),
    ),
  ];
}

/**
 * Outbound abuse limits: each login's messages and recipients per hour, counted across the outbound
 * hosts in the shared state, so a stolen password cannot send a spam run through the fleet (in few
 * messages to many recipients, or in many). Past either the user's client gets a 4xx naming the
 * limit, and rspamd logs the login (RATELIMITED with the bucket).
 */
function outboundRatelimit(input: RenderInput): RenderedFile {
  const { perLoginPerHour, perLoginRecipientsPerHour } = input.topology.spec.spam.ratelimits;
  const tail = "reached for this login; try again later or ask the postmaster";
  // rspamd keys a bucket by its selector's value alone: the recipients' bucket needs a value of its own.
  return file(
    `${LOCAL}/ratelimit.conf`,
    [
      "# The log line of a held message names the login (user:) and the bucket (RATELIMITED).",
      'info_symbol = "RATELIMITED";',
      "rates {",
      ...bucket("mailfleet_login", "user.lower", perLoginPerHour, "messages", "1h", `Sending limit of ${perLoginPerHour} messages per hour ${tail}`),
      ...bucket("mailfleet_login_recipients", "user.lower.prepend(recipients:)", perLoginRecipientsPerHour, "recipients", "1h", `Sending limit of ${perLoginRecipientsPerHour} recipients per hour ${tail}`),
      "}",
      "",
    ].join("\n"),
  );
}

export const ARC_KEY = `${RSPAMD_DKIM_DIR}/arc.key`;

/**
 * ARC (RFC 8617) on the edges: every message taken in is sealed with the fleet's ARC key under
 * the forwarding domain (fwd.<serverDomain>), recording the SPF, DKIM and DMARC results seen here, so a receiver of a forward that
 * trusts the fleet can rely on them where the forward breaks SPF. rspamd sees only the alias, before
 * Postfix expands it: what stays in a mailbox is sealed too, which costs three headers and no trust.
 */
function arcSealing(input: RenderInput): RenderedFile[] {
  const { domain, selector } = arcKeyName(input.topology.spec);
  const lines = [
    "# Seal what arrives from the Internet, as the forwarding domain, whatever the sender's domain.",
    "sign_inbound = true;",
    "sign_local = false;",
    "sign_authenticated = false;",
    `use_domain_sign_inbound = ${ucl(domain)};`,
    "use_esld = false;",
    "allow_hdrfrom_mismatch = true;",
    "allow_username_mismatch = true;",
    "try_fallback = false;",
    `domain { ${ucl(domain)} { selector = ${ucl(selector)}; path = ${ucl(ARC_KEY)}; } }`,
    "",
  ];
  return [file(`${LOCAL}/arc.conf`, lines.join("\n")), file(ARC_KEY, input.keys.arc.privateKeyPem, { secret: true, mode: 0o640, group: RSPAMD_GROUP })];
}

/** Spam scoring of mail from the Internet; spec.spam.warnOnly keeps it to headers. */
export function renderEdgeRspamd(input: RenderInput, host: Host): RenderedFile[] {
  const { spam } = input.topology.spec;
  if (host.role !== "edge") throw new Error(`${host.name} is not an edge host`);
  const { perSenderIpPerMinute, perRecipientPerMinute } = spam.ratelimits;
  return [
    ...workers(input, host),
    file(`${LOCAL}/dkim_signing.conf`, "# The edge receives; only the outbound MTA signs.\nenabled = false;\n"),
    ...arcSealing(input),
    ...dnsListRules(spam),
    actions([
      ...(spam.warnOnly
        ? ["# warnOnly: a dry run. Nothing is rejected; spam only gets the X-Spam header.", "reject = null;"]
        : [`reject = ${EDGE_SCORES.reject};`]),
      `add_header = ${EDGE_SCORES.addHeader};`,
      ...(spam.greylist.enabled && !spam.warnOnly
        ? ["# Only mail that scores between this and add_header is greylisted: clean senders never wait.", `greylist = ${EDGE_SCORES.greylist};`]
        : ["# Greylisting is off (spam.greylist, or a warnOnly dry run).", "greylist = null;"]),
    ]),
    file(
      `${LOCAL}/greylist.conf`,
      spam.greylist.enabled
        ? [
            "# The greylist entries live in the shared state: a sender greylisted by one MX is let in by",
            "# any other after the delay (equal-priority MX: retries go anywhere).",
            `timeout = ${spam.greylist.delaySeconds}s;`,
            "expire = 1d;",
            "",
          ].join("\n")
        : "enabled = false;\n",
    ),
    file(
      `${LOCAL}/ratelimit.conf`,
      [
        "# Counted in the shared state, so the limit holds whichever MX a sender reaches.",
        'info_symbol = "RATELIMITED";',
        "rates {",
        ...bucket("mailfleet_sender_ip", "ip", perSenderIpPerMinute, "messages", "1m", "Too many messages from your address; try again later"),
        ...bucket("mailfleet_recipient", "rcpts.lower", perRecipientPerMinute, "messages", "1m", "Too many messages for this recipient; try again later"),
        "}",
        "",
      ].join("\n"),
    ),
    redis(input),
    bayes(spam),
    file(
      `${LOCAL}/milter_headers.conf`,
      [
        "# Authentication-Results (SPF, DKIM, DMARC) for Sieve and clients; rspamd removes any such",
        "# header already in the message, so a sender cannot forge a pass. X-Spam-Status shows the",
        "# score of every message, which is what a warnOnly dry run is read from.",
        'use = ["authentication-results", "x-spam-status"];',
        "# X-Spam-Status: Yes files a message into Junk on the stores (render/dovecot/learn.ts): rspamd",
        "# removes every such header a sender wrote (remove = 0: all of them) before adding its own.",
        "routines { x-spam-status { remove = 0; } }",
        "",
      ].join("\n"),
    ),
  ];
}
