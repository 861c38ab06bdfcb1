/**
 * How many bytes at the end of `data` begin a UTF-8 character that is not complete yet.
 *
 * Lets log text be cut at character boundaries, so a chunk or a byte range never ends in half a
 * character (which would decode to U+FFFD on both sides of the cut).
 */
export function incompleteUtf8Tail(data: Uint8Array): number {
  const end = data.length;
  let back = 0;
  // Walk back over continuation bytes (10xxxxxx) to the lead byte of the last character.
  while (back < 3 && end - back - 1 >= 0 && ((data[end - back - 1] ?? 0) & 0xc0) === 0x80) back++;
  const leadAt = end - back - 1;
  if (leadAt < 0) return 0;
  const lead = data[leadAt] ?? 0;
  if (lead < 0xc0 || lead >= 0xf8) return 0; // ASCII, a stray continuation byte or no lead at all
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
  return end - leadAt < need ? end - leadAt : 0;
}
