/**
 * The blackbox exporter's modules: how each probe of targets.ts talks to a service. Each verifies
 * the certificate against the system's trust store for the name it connects to, as a sender does;
 * each blocklist probe asks one list about one sending address.
 */
import { BlocklistProbe, ProbeModule } from "./targets";

type QueryStep = { expect: string } | { send: string } | { starttls: true };

/** The longest a probe may take; Prometheus' scrape timeout (rules.ts PROBE_MIN_INTERVAL - 1) cuts it shorter. */
const TIMEOUT = "14s";
const tcp = (steps: QueryStep[], tls = false) => ({ prober: "tcp", timeout: TIMEOUT, tcp: { ...(tls ? { tls: true } : {}), query_response: steps } });

/**
 * What a list's answer must not be for the probe to give a verdict (blackbox matches each answer
 * record as text, `<name>\t<ttl>\tIN\tA\t<address>`). A listing is an address in 127.0.0.0/8 and
 * NXDOMAIN is clean, but 127.255.255.0/24 are the lists' error codes (Spamhaus: the query came
 * through a public resolver, or over the free limit) and an address outside 127.0.0.0/8 is a
 * resolver that rewrites NXDOMAIN or a lapsed list answering everything: neither says anything
 * about the address, so the probe fails (BlocklistCheckFailing) instead of reading as listed.
 */
const NO_VERDICT = ["IN\\s+A\\s+127\\.255\\.255\\.[0-9]+$", "IN\\s+A\\s+([0-9]{1,2}|1[01][0-9]|12[0-689]|1[3-9][0-9]|2[0-9]{2})\\."];

/** A blocklist probe: an A query through the prober's own resolver; it succeeds with a verdict, probe_dns_answer_rrs > 0 being listed. */
const blocklistModule = (query: string) => ({
  prober: "dns",
  timeout: TIMEOUT,
  dns: {
    query_name: query,
    query_type: "A",
    // The resolver is on 127.0.0.1 (targets.ts BLOCKLIST_RESOLVER).
    preferred_ip_protocol: "ip4",
    ip_protocol_fallback: false,
    valid_rcodes: ["NOERROR", "NXDOMAIN"],
    validate_answer_rrs: { fail_if_matches_regexp: NO_VERDICT },
  },
});

/** ehlo: the name the prober greets with (the monitoring host's own); blocklists: the blocklist probes (targets.ts blocklistProbes). */
export function blackboxModules(ehlo: string, blocklists: BlocklistProbe[]): Record<string, object> {
  const services: Record<ProbeModule, object> = {
    // The greeting, EHLO, STARTTLS offered and taken: the handshake checks the certificate.
    smtp_starttls: tcp([
      { expect: "^220 " },
      { send: `EHLO ${ehlo}\r` },
      { expect: "^250[ -]STARTTLS" },
      { send: "STARTTLS\r" },
      { expect: "^220 " },
      { starttls: true },
      { send: `EHLO ${ehlo}\r` },
      { expect: "^250 " },
      { send: "QUIT\r" },
    ]),
    tls_connect: tcp([], true),
    lmtp_banner: tcp([{ expect: "^220 " }, { send: "QUIT\r" }]),
    mta_sts: {
      prober: "http",
      timeout: TIMEOUT,
      http: { valid_status_codes: [200], fail_if_not_ssl: true, fail_if_body_not_matches_regexp: ["version: STSv1"] },
    },
  };
  return { ...services, ...Object.fromEntries(blocklists.map((p) => [p.module, blocklistModule(p.query)])) };
}
