/**
 * The blackbox exporter's modules: how each probe of targets.ts talks to a service. Each verifies
 * the certificate against the system's trust store for the name it connects to, as a sender does.
 */
import { ProbeModule } from "./targets";

type QueryStep = { expect: string } | { send: string } | { starttls: true };

/** The longest a probe may take; Prometheus' scrape timeout (rules.ts PROBE_MIN_INTERVAL - 1) cuts it shorter. */
const TIMEOUT = "14s";
const tcp = (steps: QueryStep[], tls = false) => ({ prober: "tcp", timeout: TIMEOUT, tcp: { ...(tls ? { tls: true } : {}), query_response: steps } });

/** ehlo: the name the prober greets with (the monitoring host's own). */
export function blackboxModules(ehlo: string): Record<ProbeModule, object> {
  return {
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
}
