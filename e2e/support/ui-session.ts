import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { launchChromium, type Browser } from './chromium.js';
import { startServe, ultravisor, type ServedNode } from './serve-node.js';

export const resultsDir = fileURLToPath(new URL('../../test-results/e2e', import.meta.url));
const fixturesDir = fileURLToPath(new URL('../fixtures', import.meta.url));

/** What one e2e test works with: a fresh data dir, the node serving it, and a browser page. */
export interface UiSession {
  dataDir: string;
  node: ServedNode;
  page: Page;
  /** Saves an operation fixture (`e2e/fixtures/<name>.yaml`) into the data dir with `ultravisor ops add`. */
  addOperation(name: string): Promise<void>;
  /** Stops the node and starts it again on the same port and data dir (same token). */
  restartNode(between?: () => Promise<void>): Promise<void>;
}

function slug(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

/**
 * Runs `body` against a fresh node and browser, and cleans up after it.
 *
 * When the body fails, the evidence stays in `test-results/e2e/<test>/`: a screenshot, a Playwright
 * trace (open with `npx playwright-core show-trace trace.zip`), the node's output and its data dir.
 */
export async function withUi(
  testName: string,
  body: (session: UiSession) => Promise<void>,
  options: { operations?: readonly string[] } = {},
): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'ultravisor-e2e-data-'));
  const addOperation = async (name: string): Promise<void> => {
    await ultravisor(['ops', 'add', join(fixturesDir, `${name}.yaml`), '--data-dir', dataDir]);
  };
  for (const name of options.operations ?? []) await addOperation(name);
  let node = await startServe(dataDir);
  let browser: Browser | undefined;
  let page: Page | undefined;
  const outputs: string[] = [];
  try {
    browser = await launchChromium();
    await browser.context.tracing.start({ screenshots: true, snapshots: true });
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    page.setDefaultTimeout(20_000);
    const consoleLines: string[] = [];
    page.on('console', (m) => consoleLines.push(`[${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => consoleLines.push(`[pageerror] ${e.message}`));
    const session: UiSession = {
      dataDir,
      get node() {
        return node;
      },
      page,
      addOperation,
      async restartNode(between) {
        const port = node.port;
        outputs.push(node.output());
        await node.stop();
        await between?.();
        node = await startServe(dataDir, { port });
      },
    };
    try {
      await body(session);
      // A page error or a CSP violation fails the test even when every check passed.
      const broken = consoleLines.filter(
        (l) => l.startsWith('[pageerror]') || /Content Security Policy/i.test(l),
      );
      if (broken.length > 0) throw new Error(`the page reported problems:\n${broken.join('\n')}`);
    } catch (err) {
      const dir = join(resultsDir, slug(testName));
      await mkdir(dir, { recursive: true });
      await page.screenshot({ path: join(dir, 'failure.png'), fullPage: true }).catch(() => undefined);
      await browser.context.tracing.stop({ path: join(dir, 'trace.zip') }).catch(() => undefined);
      await writeFile(join(dir, 'serve.log'), [...outputs, node.output()].join('\n--- restarted ---\n'));
      await writeFile(join(dir, 'console.log'), consoleLines.join('\n'));
      await writeFile(join(dir, 'data-dir.txt'), `${dataDir}\n`);
      throw err;
    }
    await browser.context.tracing.stop();
    await rm(dataDir, { recursive: true, force: true });
  } finally {
    await browser?.close();
    await node.stop();
  }
}
