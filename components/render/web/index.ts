/**
 * The edge's web server (nginx-light, Debian 13): the MTA-STS policy (RFC 8461), mail client
 * autoconfig/autodiscover for every hosted domain, and the BIMI logos of those that have one;
 * everything else is 404. One self-contained nginx.conf (Debian's sites-enabled default site is
 * not included) with maps from the Host header to the hosted domain. Apart from the BIMI files
 * (one logo, and maybe a certificate, per domain that has them), the files an edge gets do not
 * grow with the domains: the policy and the autodiscover answer are the same for every domain
 * (one file each), and the autoconfig document, which names its domain, is answered by nginx
 * itself with the domain from the map filled in. On the edges and the outbound hosts nginx also
 * answers rspamd's metrics to the scrapers (metrics.ts); an outbound host's nginx does nothing else.
 */
import { BIMI_PATHS, certificateLineages, CertificateLineage, domainWebNames, Host } from "../../topology";
import { RenderedFile, file } from "../file";
import { liveTls, placed, RenderInput } from "../input";
import { outlookAutodiscover, thunderbirdAutoconfig } from "./clientConfig";
import { rspamdMetricsServer } from "./metrics";

export const WEB_ROOT = "/var/www/mailfleet";
export const NGINX_CONF = "/etc/nginx/nginx.conf";

/** Where each document lives: one file each, whichever domain asks. */
export const WEB_FILES = {
  mtaSts: `${WEB_ROOT}/mta-sts.txt`,
  autodiscover: `${WEB_ROOT}/autodiscover.xml`,
} as const;

/** A hosted domain's BIMI files, named by the domain (nginx's map picks them by the Host header). */
export function bimiFiles(domain: string) {
  return { logo: `${WEB_ROOT}/bimi/${domain}.svg`, certificate: `${WEB_ROOT}/bimi/${domain}.pem` };
}

/** Host names are validated by the config layer; this refuses anything else in a map line. */
function hostName(value: string): string {
  if (!/^[a-z0-9.-]+$/.test(value)) throw new Error(`refusing to write ${JSON.stringify(value)} into nginx.conf`);
  return value;
}

/**
 * An nginx `return` body: the autoconfig document with the map's domain variable in place of the
 * domain. Single-quoted, so nothing in it but the one variable may be a quote, a backslash or a `$`.
 */
function autoconfigBody(input: RenderInput): string {
  const placeholder = "@DOMAIN@";
  const document = thunderbirdAutoconfig(input.topology, placeholder);
  if (/['\\$]/.test(document)) throw new Error("the autoconfig document cannot be written into nginx.conf");
  return `'${document.replaceAll(placeholder, "$mailfleet_autoconfig")}'`;
}

/** nginx.conf around a role's `http` lines: one self-contained file, no default site, no MIME table. */
function nginxConf(purpose: string, http: string[]): string {
  return [
    `# Rendered by mailfleet: ${purpose}.`,
    "user www-data;",
    "worker_processes auto;",
    "pid /run/nginx.pid;",
    "error_log /var/log/nginx/error.log;",
    "",
    "events {",
    "    worker_connections 768;",
    "}",
    "",
    "http {",
    "    server_tokens off;",
    // No mime.types: each location sets its own type, so a file name cannot change what a
    // client is told (RFC 8461 §3.3 requires text/plain for the policy).
    "    types {}",
    "    default_type application/octet-stream;",
    "    charset off;",
    "    access_log /var/log/nginx/access.log;",
    ...http,
    "}",
    "",
  ].join("\n");
}

function edgeNginxConf(input: RenderInput, host: Host): string {
  const { spec, services } = input.topology;
  const domains = spec.domains.map(hostName);
  const map = (variable: string, entries: [string, string][]) => [
    `    map $host $${variable} {`,
    '        default "";',
    ...entries.map(([name, value]) => `        ${hostName(name)} ${value};`),
    "    }",
  ];
  // Listen on the wildcard address: a cloud host's public address (an Elastic IP) is NATed and
  // not on any interface, so binding it would stop nginx from starting.
  const listen = (port: number, tls: boolean, defaultServer = true) => {
    const options = `${tls ? " ssl" : ""}${defaultServer ? " default_server" : ""}`;
    return [`        listen ${port}${options};`, ...(placed(input, host).addresses.ipv6 ? [`        listen [::]:${port}${options};`] : [])];
  };
  const autoconfig = [
    "        location = /mail/config-v1.1.xml {",
    '            if ($mailfleet_autoconfig = "") { return 404; }',
    "            default_type application/xml;",
    `            return 200 ${autoconfigBody(input)};`,
    "        }",
  ];
  // BIMI logos and mark certificates, on the MTA-STS names (a domain without a certificate has no file: 404).
  const bimiByHost = bimiFiles("$mailfleet_bimi");
  const bimiLocation = (path: string, type: string, alias: string) => [
    `        location = ${path} {`,
    '            if ($mailfleet_bimi = "") { return 404; }',
    `            default_type ${type};`,
    `            alias ${alias};`,
    "        }",
  ];
  const notFound = ["        location / {", "            return 404;", "        }"];
  const httpsServer = (lineage: CertificateLineage, defaultServer: boolean) => [
    "    server {",
    ...listen(443, true, defaultServer),
    `        server_name ${defaultServer ? "_" : lineage.names.map(hostName).join(" ")};`,
    `        ssl_certificate ${liveTls(lineage.name).cert};`,
    `        ssl_certificate_key ${liveTls(lineage.name).key};`,
    "",
    "        location = /.well-known/mta-sts.txt {",
    '            if ($mailfleet_mta_sts = "") { return 404; }',
    "            default_type text/plain;",
    `            alias ${WEB_FILES.mtaSts};`,
    "        }",
    ...bimiLocation(BIMI_PATHS.logo, "image/svg+xml", bimiByHost.logo),
    ...bimiLocation(BIMI_PATHS.certificate, "application/pem-certificate-chain", bimiByHost.certificate),
    ...autoconfig,
    "        location = /autodiscover/autodiscover.xml {",
    '            if ($mailfleet_autodiscover = "") { return 404; }',
    "            default_type application/xml;",
    `            alias ${WEB_FILES.autodiscover};`,
    "            # Outlook POSTs its request; nginx's static handler answers POST with 405, so",
    "            # serve the same file again as a GET instead.",
    "            error_page 405 =200 $uri;",
    "        }",
    ...notFound,
    "    }",
    "",
  ];
  return nginxConf("the edge serves only the MTA-STS policy, mail client autoconfig and BIMI logos, and rspamd's metrics to the scrapers", [
    "    ssl_protocols TLSv1.2 TLSv1.3;",
    "    # Room for any DNS name (up to 253 characters) in a server_name.",
    "    server_names_hash_bucket_size 256;",
    "",
    "    # Host header -> hosted domain whose document answers.",
    ...map("mailfleet_mta_sts", domains.map((d) => [domainWebNames(d).mtaSts, "1"])),
    ...map("mailfleet_bimi", domains.filter((d) => spec.bimi[d]).map((d) => [domainWebNames(d).mtaSts, d])),
    ...map("mailfleet_autoconfig", domains.map((d) => [domainWebNames(d).autoconfig, d])),
    // Outlook also reaches autodiscover through an SRV record pointing at the web service name.
    ...map("mailfleet_autodiscover", [...domains.map((d) => domainWebNames(d).autodiscover), services.web.fqdn].map((n): [string, string] => [n, "1"])),
    "",
    // One HTTPS server per certificate, picked by SNI: the host's own (the default, also for
    // mail.<serverDomain>) and one per chunk of the hosted domains' names.
    ...certificateLineages(input.topology, host).flatMap((lineage, i) => httpsServer(lineage, i === 0)),
    "    # Plain HTTP: autoconfig only (Thunderbird tries it); the MTA-STS policy is HTTPS-only.",
    "    server {",
    ...listen(80, false),
    "        server_name _;",
    ...autoconfig,
    ...notFound,
    "    }",
    ...rspamdMetricsServer(input, host),
  ]);
}

export function renderEdgeWeb(input: RenderInput, host: Host): RenderedFile[] {
  const { topology } = input;
  if (host.role !== "edge") throw new Error(`${host.name} is not an edge host`);
  // The record set's policy, whose id the TXT records carry. Every domain's policy names the same
  // *.<serverDomain> pattern: one file serves them all.
  return [
    file(NGINX_CONF, edgeNginxConf(input, host)),
    file(WEB_FILES.mtaSts, input.mtaStsPolicy),
    file(WEB_FILES.autodiscover, outlookAutodiscover(topology)),
    ...Object.entries(topology.spec.bimi).flatMap(([domain, { logo, certificate }]) => {
      const paths = bimiFiles(hostName(domain));
      return [file(paths.logo, logo), ...(certificate ? [file(paths.certificate, certificate)] : [])];
    }),
  ];
}

/** An outbound host's nginx: rspamd's metrics for the scrapers, nothing else (render/web/metrics.ts). */
export function renderOutboundWeb(input: RenderInput, host: Host): RenderedFile[] {
  if (host.role !== "outbound") throw new Error(`${host.name} is not an outbound host`);
  return [file(NGINX_CONF, nginxConf("the outbound host serves only rspamd's metrics, to the scrapers", rspamdMetricsServer(input, host)))];
}
