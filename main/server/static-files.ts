import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

/**
 * The policy for pages the server hands out: scripts and connections to this origin only, no
 * framing (clickjacking), no plugins, no `<base>` tricks.
 */
export const pageSecurityPolicy = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join('; ');

/** The plain page served when the renderer has not been built. */
export function notBuiltMessage(root: string): string {
  return [
    'Ultravisor: the web UI is not built.',
    '',
    `Nothing is in ${root}. Build it with:`,
    '',
    '    npm run build:renderer',
    '',
    'then reload this page. The API (POST /api/<method>, WebSocket /api/events) works meanwhile;',
    'see docs/api.md.',
    '',
  ].join('\n');
}

/**
 * Serves the built renderer (`dist/renderer`) read-only, without the token.
 *
 * The files are the public app, not data: the page reads the token from the URL fragment and
 * sends it with every API call. Paths are resolved inside the root (no `..`, no NUL); paths
 * without an extension get index.html so client-side routes survive a reload.
 */
export class StaticFiles {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  /** Answers a GET or HEAD for `pathname`. */
  async serve(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
    let decoded: string;
    try {
      decoded = decodeURIComponent(pathname);
    } catch {
      this.plain(res, 400, 'bad path\n');
      return;
    }
    if (decoded.includes('\0') || decoded.split('/').includes('..')) {
      this.plain(res, 400, 'bad path\n');
      return;
    }
    const index = join(this.root, 'index.html');
    const indexInfo = await stat(index).catch(() => undefined);
    if (indexInfo?.isFile() !== true) {
      this.plain(res, 503, notBuiltMessage(this.root));
      return;
    }
    const relative = normalize(decoded).replace(/^[/\\]+/, '');
    let file = relative === '' ? index : resolve(this.root, relative);
    if (file !== this.root && !file.startsWith(`${this.root}${sep}`)) {
      this.plain(res, 400, 'bad path\n');
      return;
    }
    let info = await stat(file).catch(() => undefined);
    if (info?.isDirectory() === true) {
      file = join(file, 'index.html');
      info = await stat(file).catch(() => undefined);
    }
    if (info?.isFile() !== true) {
      if (extname(relative) !== '') {
        this.plain(res, 404, `not found: ${pathname}\n`);
        return;
      }
      file = index;
      info = indexInfo;
    }
    const type = contentTypes[extname(file).toLowerCase()] ?? 'application/octet-stream';
    res.statusCode = 200;
    res.setHeader('content-type', type);
    res.setHeader('content-length', info.size);
    // Hashed asset names change with their content; index.html must be fetched fresh.
    res.setHeader('cache-control', file === index ? 'no-cache' : 'public, max-age=31536000, immutable');
    if (type.startsWith('text/html')) res.setHeader('content-security-policy', pageSecurityPolicy);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const stream = createReadStream(file);
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  }

  private plain(res: ServerResponse, status: number, text: string): void {
    res.statusCode = status;
    res.setHeader('content-type', 'text/plain; charset=utf-8');
    res.end(text);
  }
}
