import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createNodeLlm } from '../engine/ai/node-llm.js';
import { llmSettingsSchema } from '../engine/ai/llm-settings.js';
import { tempDataDir } from './api-test-support.js';
import { settingsPatchSchema, settingsSchema } from './contract.js';
import { SettingsStore } from './settings-store.js';

const contractLlm = settingsSchema.shape.llm.unwrap();

describe("the contract's llm settings", () => {
  it('names exactly the fields the engine reads', () => {
    expect(Object.keys(contractLlm.shape).sort()).toEqual(Object.keys(llmSettingsSchema.shape).sort());
  });

  it.each([
    ['timeout', 500],
    ['timeout', '30s'],
    ['timeout', '1h30m'],
    ['timeout', '1.5s'],
    ['timeout', ' 250ms '],
    ['timeout', 'soon'],
    ['timeout', '10'],
    ['timeout', -1],
    ['timeout', 1.5],
    ['concurrency', 64],
    ['concurrency', 0],
    ['concurrency', 65],
    ['maxQueue', 10_000],
    ['maxQueue', 0],
    ['contextTokens', 256],
    ['contextTokens', 100],
    ['apiKey', ''],
    ['provider', 'openai'],
    ['provider', 'claude'],
  ])('accepts %s: %j exactly when the engine does', (field, value) => {
    const section = { [field]: value };
    expect(contractLlm.safeParse(section).success).toBe(llmSettingsSchema.safeParse(section).success);
  });
});

describe('settings.set of the llm section', () => {
  let dir: string;
  let remove: () => Promise<void>;

  beforeEach(async () => {
    ({ dir, remove } = await tempDataDir('uv-settings-'));
  });
  afterEach(async () => {
    await remove();
  });

  it('round-trips every field and the engine honours them', async () => {
    const store = new SettingsStore(dir);
    const llm = {
      provider: 'openai' as const,
      baseUrl: 'http://127.0.0.1:9/v1',
      apiKey: 'sk-test',
      model: 'tiny',
      timeout: '1m30s',
      concurrency: 3,
      maxQueue: 5,
      contextTokens: 4096,
    };
    const written = await store.update(settingsPatchSchema.parse({ llm }));
    expect(written.llm).toEqual(llm);
    expect((await store.read()).llm).toEqual(llm);

    const engineLlm = createNodeLlm(dir, { env: {} });
    try {
      const { settings, configured } = engineLlm.snapshot();
      expect(configured).toBe(true);
      expect(settings).toEqual({ ...llm, timeout: 90_000 });
      const { provider, queue } = engineLlm.pool.handle(settings);
      expect(provider).toMatchObject({ name: 'openai', endpoint: 'http://127.0.0.1:9/v1' });
      expect(queue).toMatchObject({ concurrency: 3, maxPending: 5 });
    } finally {
      engineLlm.pool.close();
    }
  });

  it('leaves the engine its defaults for fields not set', async () => {
    await new SettingsStore(dir).update({ llm: { model: 'tiny' } });
    const engineLlm = createNodeLlm(dir, { env: {} });
    try {
      expect(engineLlm.snapshot().settings).toMatchObject({ timeout: 60_000, concurrency: 1, maxQueue: 16 });
    } finally {
      engineLlm.pool.close();
    }
  });
});

describe('settings.set', () => {
  it('keeps the fields a patch does not name (no defaults creep into the patch)', async () => {
    const { dir, remove } = await tempDataDir('uv-settings-');
    try {
      const store = new SettingsStore(dir);
      await store.update({ ui: { pageSize: 100 }, llm: { model: 'tiny', timeout: '5s' } });
      const next = await store.update(
        settingsPatchSchema.parse({ ui: { theme: 'dark' }, llm: { apiKey: 'k' } }),
      );
      expect(next.ui).toEqual({ theme: 'dark', pageSize: 100 });
      expect(next.llm).toEqual({ provider: 'ollama', model: 'tiny', timeout: '5s', apiKey: 'k' });
    } finally {
      await remove();
    }
  });
});
