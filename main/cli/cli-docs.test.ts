import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { cliDocPath, renderCommandReference, renderedCliDoc } from './cli-docs.js';

describe('docs/cli.md', () => {
  it('documents every command as the CLI defines it (regenerate: npx tsx main/cli/cli-docs.ts --write)', async () => {
    expect(await readFile(cliDocPath, 'utf8')).toBe(await renderedCliDoc());
  });

  it('has a heading for every leaf command', () => {
    const reference = renderCommandReference();
    for (const command of [
      'ultravisor run',
      'ultravisor runs list',
      'ultravisor serve',
      'ultravisor ops add',
    ]) {
      expect(reference).toContain(`### \`${command}`);
    }
  });
});
