// Shared fixtures of the test files (not a test file itself).

/**
 * A fixture built on first use and handed, the same one, to every later caller in the test file: for a synthesized
 * template, a construct tree or a replay that several tests read with the same props. Only for what the tests read:
 * a test that adds to its construct tree, or checks an error, builds its own. A build that throws is not kept (the
 * next caller builds again and sees the same error).
 */
export function lazy<T>(build: () => T): () => T {
  let built: { value: T } | undefined;
  return () => (built ??= { value: build() }).value;
}
