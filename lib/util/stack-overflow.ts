/** Whether `error` is V8's "Maximum call stack size exceeded" (a value nested too deep for a recursive walk). */
export function isStackOverflow(error: unknown): boolean {
  return error instanceof RangeError && /call stack/i.test(error.message);
}
