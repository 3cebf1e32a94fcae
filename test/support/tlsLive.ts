/** A host's live certificate files as deploy.sh first installs them (mailfleet-cert-deploy from the bootstrap certificate). */
import { file, RenderedFile } from "../../components/render/file";
import { liveTls, RenderInput, TLS_PEERS_CA } from "../../components/render/input";
import { certificateLineages, Host } from "../../components/topology";

export function bootstrapLiveFiles(input: RenderInput, host: Host): RenderedFile[] {
  const { certPem, keyPem } = input.keys.hosts[host.name];
  const chain = certPem + input.keys.caCertPem;
  return [
    ...certificateLineages(input.topology, host).flatMap((l) => [
      file(liveTls(l.name).chain, keyPem + chain, { secret: true }),
      file(liveTls(l.name).key, keyPem, { secret: true }),
      file(liveTls(l.name).cert, chain),
    ]),
    file(TLS_PEERS_CA, input.keys.caCertPem),
  ];
}
