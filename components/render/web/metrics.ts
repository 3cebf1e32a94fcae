/**
 * rspamd's metrics for the scrapers, and nothing else of its controller: nginx on the host's private
 * address answers GET /metrics from the controller on loopback, which rspamd trusts without a
 * password (secure_ip), and 404 for every other path. The controller's writes (learnspam,
 * saveactions, statreset, …) and its reads (history, maps) stay on loopback and, on an edge, behind
 * the learn password. Why a path in front: Prometheus 2.53 (Debian 13) cannot send rspamd's
 * `Password` header (rspamd issue #4773), and the /metrics a normal worker answers since rspamd 3.9
 * would open its scan endpoint too, whose autolearn, greylisting and rate limits write to the
 * shared state.
 */
import { isIPv4 } from "node:net";
import { Host, RSPAMD_METRICS_PORT } from "../../topology";
import { internalIpv4 } from "../../topology/addresses";
import { placed, RenderInput } from "../input";
import { RSPAMD_LOOPBACK_CONTROLLER } from "../rspamd";

/** The server block, inside nginx.conf's http block. */
export function rspamdMetricsServer(input: RenderInput, host: Host): string[] {
  const address = internalIpv4(placed(input, host).addresses);
  if (!isIPv4(address)) throw new Error(`refusing to write ${JSON.stringify(address)} into nginx.conf`);
  return [
    "    # rspamd's metrics for the scrapers (the firewall admits no one else): GET /metrics only.",
    "    server {",
    `        listen ${address}:${RSPAMD_METRICS_PORT};`,
    "        access_log off;",
    "        location = /metrics {",
    "            limit_except GET { deny all; }",
    `            proxy_pass http://${RSPAMD_LOOPBACK_CONTROLLER}/metrics;`,
    "            # No header of the scraper's reaches rspamd: an X-Forwarded-For or X-Real-IP would",
    "            # make it judge the address named there instead of loopback.",
    "            proxy_pass_request_headers off;",
    "            proxy_pass_request_body off;",
    "        }",
    "        location / {",
    "            return 404;",
    "        }",
    "    }",
  ];
}
