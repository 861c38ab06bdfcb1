import { once } from 'node:events';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { launch, type LaunchedProcess } from './launcher.js';
import { isGroupAlive, killTree, liveGroupMembers, signalGroup, superviseGroup } from './process-tree.js';

const fixtures = join(import.meta.dirname, 'fixtures');
const started: LaunchedProcess[] = [];

/** Starts a fixture in its own group and waits for its `ready` line. */
async function startFixture(name: string): Promise<LaunchedProcess> {
  const child = await launch('sh', [join(fixtures, name)], { output: true });
  started.push(child);
  child.stderr?.resume();
  const stdout = child.stdout;
  if (!stdout) throw new Error('no stdout');
  let seen = '';
  while (!seen.includes('ready')) {
    const [chunk] = (await once(stdout, 'data')) as [Buffer];
    seen += chunk.toString();
  }
  stdout.resume();
  return child;
}

afterEach(async () => {
  // Never leave a fixture running, whatever the test did.
  await Promise.all(started.splice(0).map((child) => killTree(child.pid, 0)));
});

describe('signalGroup', () => {
  it('returns false for a group that does not exist instead of throwing', async () => {
    const child = await launch('true', []);
    await child.exited;
    expect(signalGroup(child.pid, 'SIGTERM')).toBe(false);
  });

  it('refuses to signal init, every process, or the engine itself', () => {
    expect(() => signalGroup(1, 'SIGTERM')).toThrow(RangeError);
    expect(() => signalGroup(-1, 'SIGTERM')).toThrow(RangeError);
    expect(() => signalGroup(0, 'SIGTERM')).toThrow(RangeError);
    expect(() => signalGroup(process.pid, 'SIGTERM')).toThrow(RangeError);
  });
});

describe('killTree', () => {
  it('stops a tree that honours SIGTERM without needing SIGKILL', async () => {
    const child = await startFixture('hang.sh');
    expect(await killTree(child.pid, 10_000)).toBe('terminated');
    expect(await isGroupAlive(child.pid)).toBe(false);
  });

  it('kills a tree that ignores SIGTERM once the grace period is over', async () => {
    const child = await startFixture('ignore-term.sh');
    expect((await liveGroupMembers(child.pid)).length).toBeGreaterThanOrEqual(3);
    expect(await killTree(child.pid, 200)).toBe('killed');
    expect(await liveGroupMembers(child.pid)).toEqual([]);
  });

  it('reports a group that is already gone', async () => {
    const child = await launch('true', []);
    await child.exited;
    expect(await killTree(child.pid, 100)).toBe('gone');
  });
});

describe('superviseGroup', () => {
  it('stops processes the leader left behind once it exits', async () => {
    const child = await launch('sh', [join(fixtures, 'grandchildren.sh')]);
    started.push(child);
    let leftovers = 0;
    const exit = await superviseGroup(child, { graceMs: 5000, onLeftovers: () => (leftovers += 1) });
    expect(exit).toMatchObject({ code: 0, signal: null, aborted: false, stop: 'terminated' });
    expect(leftovers).toBe(1);
    expect(await isGroupAlive(child.pid)).toBe(false);
  });

  it('stops the group when the signal aborts, and says so', async () => {
    const child = await startFixture('hang.sh');
    const controller = new AbortController();
    const supervised = superviseGroup(child, { signal: controller.signal, graceMs: 5000 });
    controller.abort();
    expect(await supervised).toMatchObject({
      code: null,
      signal: 'SIGTERM',
      aborted: true,
      stop: 'terminated',
    });
    expect(await isGroupAlive(child.pid)).toBe(false);
  });

  it('stops at once when the signal was already aborted', async () => {
    const child = await startFixture('hang.sh');
    const supervised = await superviseGroup(child, { signal: AbortSignal.abort(), graceMs: 5000 });
    expect(supervised).toMatchObject({ aborted: true, stop: 'terminated' });
  });

  it('leaves a plain successful exit alone', async () => {
    const child = await launch('true', []);
    const exit = await superviseGroup(child, { signal: new AbortController().signal, graceMs: 5000 });
    expect(exit).toEqual({ code: 0, signal: null, aborted: false });
  });
});
