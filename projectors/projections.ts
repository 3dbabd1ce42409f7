import { createHash } from 'node:crypto';
import { canonicalJson } from '../schemas/eventId.ts';
import { PROJECTION_NAMES, type ProjectionName } from '../schemas/names.ts';
import { ANALYSIS } from './analysis.ts';
import { ARTICLES_MAPPING } from './articles/mapping.ts';
import { BYLINES_MAPPING } from './bylines/mapping.ts';
import { IMAGES_MAPPING } from './images/mapping.ts';

/** A projection's index definition: what `reindex` and the live projector create. */
export interface ProjectionDefinition {
  readonly name: ProjectionName;
  /**
   * Version of the projection logic (the pure project function). Bump it when the same
   * log must produce different documents; together with the mapping it forms
   * {@link ProjectionDefinition.fingerprint}, which `status` compares with the live index.
   */
  readonly logicVersion: number;
  readonly mappings: Record<string, unknown>;
  readonly analysis: typeof ANALYSIS;
  /** Short hash of logic version, mappings and analysis: a change means "reindex to apply". */
  readonly fingerprint: string;
}

function define(
  name: ProjectionName,
  logicVersion: number,
  mappings: Record<string, unknown>,
): ProjectionDefinition {
  const fingerprint = createHash('sha256')
    .update(canonicalJson({ logicVersion, mappings, analysis: ANALYSIS }))
    .digest('hex')
    .slice(0, 16);
  return Object.freeze({ name, logicVersion, mappings, analysis: ANALYSIS, fingerprint });
}

/**
 * The three projections, by name. Logic version 2: `lineage.check` is computed with
 * MurmurHash3 instead of SHA-256 (an index written by version 1 would not verify).
 * Articles and bylines 3: their documents carry `suggest` (word-suffix completions), which
 * an index of version 2's strict mapping refuses.
 */
export const PROJECTIONS: Readonly<Record<ProjectionName, ProjectionDefinition>> = Object.freeze({
  articles: define('articles', 3, ARTICLES_MAPPING),
  images: define('images', 2, IMAGES_MAPPING),
  bylines: define('bylines', 3, BYLINES_MAPPING),
});

export { PROJECTION_NAMES };

/** Parse a projection selector (`articles`, `images`, `bylines` or `all`); throws on anything else. */
export function parseProjections(selector: string | undefined): ProjectionName[] {
  if (selector === undefined || selector === 'all') return [...PROJECTION_NAMES];
  const names = selector.split(',').map((s) => s.trim());
  for (const name of names) {
    if (!(PROJECTION_NAMES as readonly string[]).includes(name)) {
      throw new RangeError(
        `unknown projection ${JSON.stringify(name)} (use ${PROJECTION_NAMES.join(', ')} or all)`,
      );
    }
  }
  return [...new Set(names)] as ProjectionName[];
}
