/** Fails loudly when a switch over a union meets a member it does not handle (the compiler should have caught it). */
export function assertNever(value: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(value)}`);
}
