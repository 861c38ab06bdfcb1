/** Marks a switch as exhaustive: adding a member to a union makes every unhandled switch a type error. */
export function assertNever(value: never, what = 'value'): never {
  throw new Error(`Unexpected ${what}: ${JSON.stringify(value)}`);
}
