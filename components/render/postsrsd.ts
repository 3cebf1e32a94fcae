/**
 * Debian's postsrsd on the edges (render/postfix/forwarding.ts): its settings in /etc/default/postsrsd,
 * which Debian's launcher reads, and its secrets, one a line: the first signs, every one verifies,
 * so a new secret put first (forwarding.srsKeys) rotates while addresses signed with the old one
 * are still in flight (SRS addresses live 21 days). The same secrets on every edge: a bounce may come
 * back to any MX.
 */
import { SRS_FORWARD_PORT, SRS_REVERSE_PORT } from "../topology";
import { forwardingDomain } from "../topology/naming";
import { file, RenderedFile } from "./file";
import { RenderInput } from "./input";

export const POSTSRSD_PATHS = { settings: "/etc/default/postsrsd", secrets: "/etc/postsrsd.secret" } as const;

/** Shell assignments Debian's launcher sources: only values of letters, digits, dots, hyphens and slashes. */
function assignment(name: string, value: string | number): string {
  const text = String(value);
  if (!/^[A-Za-z0-9./-]+$/.test(text)) throw new Error(`refusing to write ${JSON.stringify(text)} into ${POSTSRSD_PATHS.settings}`);
  return `${name}=${text}`;
}

export function renderPostsrsd(input: RenderInput): RenderedFile[] {
  const secrets = input.keys.srs;
  if (secrets.length === 0 || secrets.some((s) => !/^[0-9a-f]{64}$/.test(s))) throw new Error("the SRS secrets are not 64 hex digits each");
  const settings = [
    "# Rendered by mailfleet: postsrsd's settings (Debian's launcher sources this file).",
    "# The SRS return domain: its MX are the edges, its SPF covers them.",
    assignment("SRS_DOMAIN", forwardingDomain(input.topology.spec)),
    assignment("SRS_SECRET", POSTSRSD_PATHS.secrets),
    assignment("SRS_FORWARD_PORT", SRS_FORWARD_PORT),
    assignment("SRS_REVERSE_PORT", SRS_REVERSE_PORT),
    "# Loopback only: the lookup tables would let anyone make or reverse SRS addresses.",
    assignment("SRS_LISTEN_ADDR", "127.0.0.1"),
    "",
  ];
  return [
    file(POSTSRSD_PATHS.settings, settings.join("\n")),
    // Read as root before postsrsd drops to its own user.
    file(POSTSRSD_PATHS.secrets, secrets.map((s) => `${s}\n`).join(""), { secret: true, mode: 0o600 }),
  ];
}
