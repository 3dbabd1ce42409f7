import { PresslogError } from '../../schemas/errors.ts';
import type { RebuildContext } from './rebuildContext.ts';
import { type Verification, verifyIndex } from './verify.ts';

/** A reindex failed verification: the alias was not moved. */
export class VerificationError extends PresslogError {
  override name = 'VerificationError';
  constructor(readonly verifications: Verification[]) {
    const bad = verifications.filter((v) => !v.ok);
    super(
      `verification failed, aliases left unchanged: ${bad
        .map(
          (v) =>
            `${v.index} has ${v.actualDocs} documents (checksum ${v.actualChecksum}), expected ${v.expectedDocs} (${v.expectedChecksum})`,
        )
        .join('; ')}`,
    );
  }
}

/**
 * Verify phase: every new index against the state at Hf, by document count and a checksum
 * of (id, lineage.asOfSeq, lineage.ownSeq). Throws {@link VerificationError} on a mismatch.
 */
export async function verifyBuilt(ctx: RebuildContext): Promise<Verification[]> {
  const { state } = ctx.engine;
  const verifications = await Promise.all(
    [...ctx.created].map(([projection, { index }]) =>
      verifyIndex(ctx.options.client, index, () => state.expectedDocs(projection), ctx.signal),
    ),
  );
  if (verifications.some((v) => !v.ok)) {
    ctx.logger?.error({ verifications }, 'verification failed; aliases unchanged');
    throw new VerificationError(verifications);
  }
  return verifications;
}
