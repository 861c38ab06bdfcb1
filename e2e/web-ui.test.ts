import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, test } from 'vitest';
import { resultsDir, withUi } from './support/ui-session.js';

/** The page's one navigation link of that name. */
async function openSection(page: Page, name: 'Runs' | 'Operations'): Promise<void> {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name }).click();
  await page.getByRole('heading', { level: 1, name }).waitFor();
}

describe('web UI served by `ultravisor serve`', () => {
  test('lists a saved operation, runs it now, and shows the run finish live with its tasks and logs', () =>
    withUi(
      'run now',
      async ({ page, node }) => {
        await page.goto(node.openUrl);

        // The token left the address bar as soon as the page read it.
        await page.getByRole('navigation', { name: 'Main' }).waitFor();
        expect(page.url()).not.toContain('token');
        expect(page.url()).not.toContain(node.token);

        await openSection(page, 'Operations');
        const row = page.locator('tr[data-operation="e2e-hello"]');
        await row.waitFor();
        expect(await row.textContent()).toContain('E2E hello');
        expect(await row.textContent()).toContain('manual only');

        await mkdir(resultsDir, { recursive: true });
        await page.screenshot({ path: join(resultsDir, 'operations-view.png'), fullPage: true });

        await row.getByRole('button', { name: 'Run now' }).click();
        await row.getByText('Started').waitFor();

        // The run arrives in Runs and reaches success through events alone: this view never polls.
        await openSection(page, 'Runs');
        const run = page.locator('tr[data-run]').filter({ hasText: 'E2E hello' }).first();
        await run.waitFor();
        await page.locator('tr[data-run][data-status="success"]').filter({ hasText: 'E2E hello' }).waitFor();
        expect(await run.locator('.badge').textContent()).toBe('success');

        await page.screenshot({ path: join(resultsDir, 'runs-view.png'), fullPage: true });

        await run.click();
        await page.getByRole('table', { name: 'Tasks' }).waitFor();
        await page.locator('tr[data-task="greet"][data-status="success"]').waitFor();
        await page.locator('tr[data-task="count"][data-status="success"]').waitFor();

        // The first task's log shows by default; another task's log after a click.
        const log = page.locator('pre.log');
        await log.filter({ hasText: 'Hello, Chromium, from the e2e suite!' }).waitFor();
        await page.locator('tr[data-task="count"]').click();
        await log.filter({ hasText: 'letters: 8' }).waitFor();
        expect(page.url()).toContain('/tasks/count');
        // A success that printed nothing has no log file: the viewer shows what the manifest says.
        await page.locator('tr[data-task="quiet"]').click();
        await log.filter({ hasText: '» $ true' }).filter({ hasText: '(no output)' }).waitFor();
        expect(await log.textContent()).toMatch(/» exited with code 0 after/);
        await page.locator('tr[data-task="count"]').click();
        await log.filter({ hasText: 'letters: 8' }).waitFor();

        await page.screenshot({ path: join(resultsDir, 'run-detail.png'), fullPage: true });
      },
      { operations: ['e2e-hello'] },
    ));

  test('follows a running task’s log live', () =>
    withUi(
      'live log',
      async ({ page, node, dataDir }) => {
        await page.goto(node.openUrl);
        await openSection(page, 'Operations');
        const row = page.locator('tr[data-operation="e2e-ticker"]');
        await row.getByRole('button', { name: 'Run now' }).click();
        await row.getByRole('link', { name: 'view the run' }).click();

        // Opened while it runs: the log grows from events, then the run ends, all without a reload.
        const log = page.locator('pre.log');
        await page.locator('[data-log-state="live"]').waitFor();
        await log.filter({ hasText: 'tick 3' }).waitFor();
        // The task ticks until this file appears, so the page saw it running however slow the machine.
        await writeFile(join(dataDir, 'stop-ticker'), '');
        await log.filter({ hasText: 'ticker done' }).waitFor();
        await page.locator('tr[data-task="tick"][data-status="success"]').waitFor();
        await page.locator('h1 .badge.success').waitFor();
        const text = (await log.textContent()) ?? '';
        // Stitched without gaps or repeats.
        const last = Math.max(...[...text.matchAll(/tick (\d+)\n/g)].map((m) => Number(m[1])));
        expect(last).toBeGreaterThanOrEqual(3);
        for (let i = 1; i <= last; i++) expect(text.split(`tick ${i}\n`).length - 1).toBe(1);
      },
      { operations: ['e2e-ticker'] },
    ));

  test('shows a failed run with its error, the skipped task and the failing task’s log', () =>
    withUi(
      'failed run',
      async ({ page, node }) => {
        await page.goto(node.openUrl);
        await openSection(page, 'Operations');
        const row = page.locator('tr[data-operation="e2e-broken"]');
        await row.getByRole('button', { name: 'Run now' }).click();
        await row.getByRole('link', { name: 'view the run' }).click();

        await page.locator('h1 .badge.failure').waitFor();
        await page.locator('tr[data-task="explode"][data-status="failure"]').waitFor();
        expect(await page.locator('tr[data-task="explode"]').textContent()).toContain('exited with code 3');
        expect(await page.locator('tr[data-task="report"]').getAttribute('data-status')).toBe('skipped');
        // With no task chosen, the log shown is the one that explains the failure.
        await page.locator('pre.log').filter({ hasText: 'about to fail' }).waitFor();

        await openSection(page, 'Runs');
        await page.locator('tr[data-run][data-status="failure"]').filter({ hasText: 'E2E broken' }).waitFor();
      },
      { operations: ['e2e-broken'] },
    ));

  test('refuses a request without the token and says where to get it', () =>
    withUi('no token', async ({ page, node }) => {
      const refused = await fetch(`${node.origin}/api/operations.list`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      expect(refused.status).toBe(401);

      await page.goto(`${node.origin}/`);
      const gate = page.locator('[data-gate="missing"]');
      await gate.waitFor();
      expect(await gate.textContent()).toContain('needs the token from ultravisor serve');

      await page.goto(`${node.origin}/#token=not-the-token`);
      const wrong = page.locator('[data-gate="refused"]');
      await wrong.waitFor();
      expect(await wrong.textContent()).toContain('needs the token from ultravisor serve');
      expect(page.url()).not.toContain('not-the-token');
    }));

  test('says it is reconnecting while the node is down, then re-fetches what changed meanwhile', () =>
    withUi(
      'reconnect',
      async (session) => {
        const { page } = session;
        await page.goto(session.node.openUrl);
        await openSection(page, 'Operations');
        await page.locator('tr[data-operation="e2e-hello"]').waitFor();

        await session.restartNode(async () => {
          await page.getByText('Disconnected — reconnecting').waitFor();
          await session.addOperation('e2e-late');
        });

        await page.locator('tr[data-operation="e2e-late"]').waitFor();
        await page.getByText('Disconnected — reconnecting').waitFor({ state: 'hidden' });
        await page.locator('[data-connection="connected"]').waitFor();
      },
      { operations: ['e2e-hello'] },
    ));
});
