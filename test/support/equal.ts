// Shared assertions of the test files (not a test file itself).
import { isDeepStrictEqual } from 'node:util';

/**
 * `expect(actual).toEqual(expected)` with a fast path for large or many comparisons (a replay's every run, traces of
 * thousands of samples), where toEqual is most of a test's time: what is strictly deep-equal is toEqual-equal too;
 * anything else (a difference, or undefined properties only on one side) goes to toEqual, which gives the verdict
 * and the failure message as before.
 */
export function expectEqual(actual: unknown, expected: unknown): void {
  if (!isDeepStrictEqual(actual, expected)) expect(actual).toEqual(expected);
}
