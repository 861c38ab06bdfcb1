// `npm run bench -- <name> [args]`: runs bench/<name>/<name>-bench.ts. Each benchmark prints its
// figures beside a baseline measured in the same run.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [name, ...rest] = process.argv.slice(2);
const root = import.meta.dirname;
const available = readdirSync(root, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name);
if (name === undefined || !available.includes(name)) {
  process.stderr.write(`usage: npm run bench -- <name> [args]\nbenchmarks: ${available.join(', ')}\n`);
  process.exit(2);
}
process.argv = [process.argv[0] ?? 'node', join(root, name, `${name}-bench.ts`), ...rest];
await import(pathToFileURL(join(root, name, `${name}-bench.ts`)).href);
