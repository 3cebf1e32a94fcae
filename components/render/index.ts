/** Every file a host needs, by role: the daemons' configs plus the host's TLS files. */
import { Host } from "../topology";
import { renderStoreBackup } from "./backup";
import { renderStoreDovecot } from "./dovecot";
import { RenderedFile } from "./file";
import { renderHostFirewall } from "./firewall";
import { RenderInput } from "./input";
import { renderMonitoringHost, renderMtaExporters, renderNodeExporter } from "./monitoring";
import { renderEdgePostfix, renderOutboundPostfix } from "./postfix";
import { renderPostsrsd } from "./postsrsd";
import { renderResolver } from "./resolver";
import { renderOutboundTls } from "./outboundTls";
import { renderEdgeRspamd, renderOutboundRspamd } from "./rspamd";
import { renderTlsFiles } from "./tls";
import { renderValkey } from "./valkey";
import { renderEdgeWeb, renderOutboundWeb } from "./web";

/**
 * A resolver of the host's own: the hosts that send to the Internet (edges forward) validate DNSSEC
 * for DANE with it; the monitoring host asks the blocklists with it, which refuse public resolvers.
 */
const ownResolver = (input: RenderInput) => renderResolver(input.topology.spec);

const ROLE_RENDERERS: Record<Host["role"], ((input: RenderInput, host: Host) => RenderedFile[])[]> = {
  edge: [renderEdgePostfix, renderMtaExporters, renderEdgeRspamd, renderEdgeWeb, renderPostsrsd, ownResolver, renderOutboundTls],
  outbound: [renderOutboundPostfix, renderMtaExporters, renderOutboundRspamd, renderOutboundWeb, ownResolver, renderOutboundTls],
  store: [renderStoreDovecot, renderStoreBackup],
  monitoring: [renderMonitoringHost, ownResolver],
};

export function renderHost(input: RenderInput, host: Host): RenderedFile[] {
  const files = [
    renderHostFirewall(input.topology, input.hosts, host),
    ...renderTlsFiles(input, host),
    ...renderNodeExporter(input, host),
    ...ROLE_RENDERERS[host.role].flatMap((render) => render(input, host)),
    ...renderValkey(input, host),
  ];
  const paths = new Set<string>();
  for (const { path } of files) {
    if (paths.has(path)) throw new Error(`two renderers write ${path} on ${host.name}`);
    paths.add(path);
  }
  return files;
}

export { RenderedFile } from "./file";
export { RenderInput, renderInput, TLS_PATHS } from "./input";
