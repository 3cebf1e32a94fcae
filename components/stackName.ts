/**
 * What a stack's name says about it: whether it is a throwaway test stack or a real environment.
 * One home for both sides that ask: the AWS backend (a test stack keeps nothing when destroyed)
 * and the teardown tool (which stacks it may create or destroy). Pure.
 */

/** The prefix of a test stack's name, unless the teardown is told another. */
export const TEST_STACK_PREFIX = "test-";

/**
 * Words that mark a stack as a real environment. A name containing one is refused even with the
 * test prefix (`test-prod`, `test-staging-copy`): such a name is far more likely a mistake or a
 * copy that holds real data than a throwaway, and destroying it is not undoable.
 */
export const PROTECTED_WORDS: readonly string[] = ["prod", "production", "prd", "staging", "stage", "stg", "live"];

/** The stack's own name, without `organization/project/`. */
export function shortName(name: string): string {
  return name.slice(name.lastIndexOf("/") + 1);
}

/** The protected word in a name, if any (words split at separators and letter/digit boundaries). */
export function protectedWord(name: string): string | undefined {
  const words = shortName(name).toLowerCase().match(/[a-z]+|[0-9]+/g) ?? [];
  return words.find((w) => PROTECTED_WORDS.includes(w));
}

/**
 * A prefix must end with a separator and carry no protected word: an empty prefix or "t" would
 * match every stack, and `prod-` would aim the teardown at exactly what it must never touch.
 */
export function checkPrefix(prefix: string): string | undefined {
  if (!/^[a-z0-9][a-z0-9_.-]*[-_.]$/i.test(prefix)) {
    return `prefix "${prefix}" must be letters/digits ending in "-", "_" or "." (like "${TEST_STACK_PREFIX}")`;
  }
  const word = protectedWord(prefix);
  if (word) return `prefix "${prefix}" names a real environment ("${word}")`;
  return undefined;
}

/** Why a stack is not a test stack under the prefix (one the teardown may create or destroy); undefined if it is. */
export function testStackRefusal(name: string, prefix: string): string | undefined {
  const word = protectedWord(name);
  if (word) return `the name contains "${word}", which marks a real environment; remove it by hand if it really is a test stack`;
  if (!shortName(name).startsWith(prefix)) return `does not start with the test prefix "${prefix}"`;
  return undefined;
}

/**
 * A test stack: one the teardown may destroy under the default prefix. Such a stack keeps nothing
 * when destroyed (its mail volumes and backup bucket go too, components/compute/awsStorage.ts).
 */
export function isTestStack(name: string): boolean {
  return testStackRefusal(name, TEST_STACK_PREFIX) === undefined;
}
