import { describe, expect, it } from 'vitest';
import { expectedContractDocs, renderContractDocs } from './api-docs.js';
import { eventNames, methodNames } from './contract.js';

describe('docs/api.md', () => {
  it('holds the current rendering of the contract (regenerate: npx tsx main/api/api-docs.ts --write)', async () => {
    const { current, expected } = await expectedContractDocs();
    expect(current).toBe(expected);
  });

  it('documents every method and event', () => {
    const rendered = renderContractDocs();
    for (const name of methodNames) expect(rendered).toContain(`#### \`${name}\``);
    for (const name of eventNames) expect(rendered).toContain(`- \`${name}\`: `);
  });
});
