import { describe, expect, it } from 'vitest';
import { incompleteUtf8Tail } from './utf8-tail.js';

describe('incompleteUtf8Tail', () => {
  it('counts the bytes of a character cut short at the end', () => {
    const euro = Buffer.from('€'); // 3 bytes
    const smile = Buffer.from('😀'); // 4 bytes
    expect(incompleteUtf8Tail(Buffer.from('abc'))).toBe(0);
    expect(incompleteUtf8Tail(Buffer.from(''))).toBe(0);
    expect(incompleteUtf8Tail(euro)).toBe(0);
    expect(incompleteUtf8Tail(euro.subarray(0, 1))).toBe(1);
    expect(incompleteUtf8Tail(euro.subarray(0, 2))).toBe(2);
    expect(incompleteUtf8Tail(Buffer.concat([Buffer.from('a'), smile.subarray(0, 3)]))).toBe(3);
    expect(incompleteUtf8Tail(smile)).toBe(0);
    expect(incompleteUtf8Tail(Buffer.from([0x80, 0x80]))).toBe(0);
    expect(incompleteUtf8Tail(Buffer.from([0xff]))).toBe(0);
  });
});
