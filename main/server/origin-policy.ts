import { hostname, networkInterfaces } from 'node:os';

const loopbackHosts = ['127.0.0.1', 'localhost', '[::1]'];

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]' || host === '';
}

function hostForUrl(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/**
 * The origins a browser page may have to talk to this server: its own.
 *
 * That is `http://<host>:<port>` for the loopback names, the bound address and, when bound to all
 * interfaces, every local address and the host name. The Host header is not trusted for this: a
 * DNS-rebinding page sends a Host and Origin of its own choosing, which would match each other.
 */
export function allowedOrigins(boundHost: string, port: number, extra: readonly string[] = []): Set<string> {
  const hosts = new Set(loopbackHosts);
  if (isWildcard(boundHost)) {
    for (const list of Object.values(networkInterfaces())) {
      for (const info of list ?? []) hosts.add(hostForUrl(info.address.toLowerCase()));
    }
    const name = hostname().toLowerCase();
    hosts.add(name);
    hosts.add(`${name}.local`);
  } else {
    hosts.add(hostForUrl(boundHost.toLowerCase()));
  }
  const origins = new Set([...hosts].map((h) => `http://${h}:${port}`));
  for (const origin of extra) origins.add(origin.toLowerCase().replace(/\/$/, ''));
  return origins;
}

/** Whether a request's Origin header is acceptable: absent (not a browser page) or one of ours. */
export function originAllowed(origin: string | undefined, allowed: ReadonlySet<string>): boolean {
  if (origin === undefined) return true;
  return allowed.has(origin.toLowerCase());
}
