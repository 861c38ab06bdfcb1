// A tiny stand-in for a weather REST API, started by rest-pull.yaml.
// Listens on 127.0.0.1 on a free port, writes {"port": N} to the file named by argv[2],
// answers GET /forecast?city=X and POST /shutdown, and exits by itself after 60 s.
import { createServer } from 'node:http';
import { writeFileSync } from 'node:fs';

const temps = { Oslo: 4.5, Lima: 19.2, Pune: 31.4 };
const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  if (req.method === 'POST' && url.pathname === '/shutdown') {
    res.end('bye\n');
    server.close();
    return;
  }
  if (url.pathname === '/forecast') {
    const city = url.searchParams.get('city') ?? 'Oslo';
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ city, temp: temps[city] ?? 12.3, unit: 'C', at: new Date().toISOString() }));
    return;
  }
  res.statusCode = 404;
  res.end('not found\n');
});
server.listen(0, '127.0.0.1', () => {
  writeFileSync(process.argv[2], JSON.stringify({ port: server.address().port }));
});
setTimeout(() => server.close(), 60_000).unref();
server.on('close', () => process.exit(0));
