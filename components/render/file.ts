/** One file a host needs, with where it goes and who may read it. */
export interface RenderedFile {
  /** Absolute path on the host, e.g. /etc/postfix/main.cf. */
  path: string;
  content: string;
  /** Octal file mode, e.g. 0o644; secrets are 0o600 or 0o640. */
  mode: number;
  owner: string;
  group: string;
  /** Holds a private key, a password or a hash: exported only as a Pulumi secret. */
  secret: boolean;
}

export function file(path: string, content: string, options: Partial<Omit<RenderedFile, "path" | "content">> = {}): RenderedFile {
  const secret = options.secret ?? false;
  return { path, content, mode: options.mode ?? (secret ? 0o600 : 0o644), owner: options.owner ?? "root", group: options.group ?? "root", secret };
}
