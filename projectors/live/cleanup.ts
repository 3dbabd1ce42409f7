/**
 * Run every step in order, each even when an earlier one failed, and return the
 * failures: a shutdown must not stop halfway (a failed health write must not leave the
 * leases held). graphile/worker's releasers, BullMQ's `close()`.
 */
export async function runEvery(steps: readonly (() => unknown)[]): Promise<unknown[]> {
  const failures: unknown[] = [];
  for (const step of steps) {
    try {
      await step();
    } catch (err) {
      failures.push(err);
    }
  }
  return failures;
}

/** Throw the one failure as it is, several as an `AggregateError`; nothing when there are none. */
export function throwFailures(failures: readonly unknown[], message: string): void {
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) throw new AggregateError(failures, message);
}
