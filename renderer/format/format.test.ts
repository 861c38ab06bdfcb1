import { describe, expect, it } from 'vitest';
import { formatDuration, formatRelative, toMillis } from './format-time';
import { formatBytes, logSegments } from './log-segments';

describe('formatDuration', () => {
  it.each([
    [0, '0 ms'],
    [850, '850 ms'],
    [4250, '4.3 s'],
    [2580, '2.6 s'],
    [9960, '10 s'],
    [59_400, '59 s'],
    [59_600, '1 m 00 s'],
    [42_000, '42 s'],
    [187_000, '3 m 07 s'],
    [2 * 3600_000 + 5 * 60_000, '2 h 05 m'],
    [3 * 86_400_000 + 3600_000, '3 d 1 h'],
    [-1, '—'],
    [Number.NaN, '—'],
  ])('%d ms is %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe('formatRelative', () => {
  const now = Date.parse('2025-06-01T12:00:00Z');
  it('says past and future plainly', () => {
    expect(formatRelative(now - 5_000, now)).toBe('just now');
    expect(formatRelative(now - 5 * 60_000, now)).toBe('5 min ago');
    expect(formatRelative(now + 3 * 3600_000, now)).toBe('in 3 h');
    expect(formatRelative(now - 2 * 86_400_000, now)).toBe('2 d ago');
  });

  it('gives the date beyond a week', () => {
    expect(formatRelative(now - 30 * 86_400_000, now)).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
  });
});

describe('toMillis', () => {
  it('reads ISO text and numbers, and nothing else', () => {
    expect(toMillis('2025-06-01T12:00:00Z')).toBe(Date.parse('2025-06-01T12:00:00Z'));
    expect(toMillis(5)).toBe(5);
    expect(toMillis('soon')).toBeUndefined();
    expect(toMillis(undefined)).toBeUndefined();
  });
});

describe('logSegments', () => {
  it('groups consecutive output lines and sets engine notes apart', () => {
    const text = '» $ echo hi\nhi\nthere\n» exited with code 0\n';
    expect(logSegments(text)).toEqual([
      { kind: 'note', text: '» $ echo hi\n' },
      { kind: 'output', text: 'hi\nthere\n' },
      { kind: 'note', text: '» exited with code 0\n' },
    ]);
  });

  it('keeps a last line without a newline, and nothing for empty text', () => {
    expect(logSegments('a\nb')).toEqual([{ kind: 'output', text: 'a\nb' }]);
    expect(logSegments('')).toEqual([]);
  });

  it('loses no text', () => {
    const text = 'x\n» y\n» z\nw\n\n» v';
    expect(
      logSegments(text)
        .map((s) => s.text)
        .join(''),
    ).toBe(text);
  });
});

describe('formatBytes', () => {
  it.each([
    [812, '812 B'],
    [4200, '4.1 KiB'],
    [2.5 * 1024 * 1024, '2.5 MiB'],
    [300 * 1024 * 1024, '300 MiB'],
  ])('%d bytes is %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});
