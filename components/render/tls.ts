/** A host's TLS files, at the one layout every role's daemons read (TLS_PATHS). */
import { Host } from "../topology";
import { RenderedFile, file } from "./file";
import { RenderInput, TLS_PATHS } from "./input";

export function renderTlsFiles(input: RenderInput, host: Host): RenderedFile[] {
  const cert = input.keys.hosts[host.name];
  if (!cert) throw new Error(`no certificate for host ${host.name}`);
  const pem = (s: string) => (s.endsWith("\n") ? s : `${s}\n`);
  return [
    // Leaf first, then the CA: Postfix, Dovecot and nginx send the file whole, so a peer sees the
    // full chain and an operator can pin the fleet CA from any handshake.
    file(TLS_PATHS.cert, pem(cert.certPem) + pem(input.keys.caCertPem)),
    // Read by each daemon's master process as root before it drops privileges.
    file(TLS_PATHS.key, pem(cert.keyPem), { secret: true }),
    file(TLS_PATHS.ca, pem(input.keys.caCertPem)),
  ];
}
