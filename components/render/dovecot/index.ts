/** The IMAP store's Dovecot: its configuration and its passwd-file. */
import { Host } from "../../topology";
import { RenderedFile, file } from "../file";
import { RenderInput } from "../input";
import { renderLockScript } from "../lock";
import { renderDovecotConf } from "./conf";
import { USERS_PATH, renderUsers } from "./users";
import { renderLearnFiles } from "./learn";

export { VMAIL_BASE } from "./conf";
export { USERS_PATH } from "./users";
export { LEARN_PATHS } from "./learn";

export function renderStoreDovecot(input: RenderInput, host: Host): RenderedFile[] {
  if (host.role !== "store") throw new Error(`${host.name} is a ${host.role} host, not an IMAP store`);
  return [
    file("/etc/dovecot/dovecot.conf", renderDovecotConf(input.topology, input.hosts, host)),
    // Password hashes: readable by the auth processes (group dovecot), by nobody else.
    file(USERS_PATH, renderUsers(input, host), { secret: true, mode: 0o640, group: "dovecot" }),
    renderLockScript(),
    ...renderLearnFiles(input.topology, input.hosts, input.keys.state.learn),
  ];
}
