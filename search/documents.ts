import { errors } from '@elastic/elasticsearch';
import type { ProjectionName } from '../schemas/names.ts';
import { errorType, translate } from './esErrors.ts';
import { type RawSearchResponse, totalOf } from './results.ts';
import type { CallOptions, SearcherContext } from './searcherContext.ts';

/** A document of a projection by id, or undefined when there is none (the index missing is an error). */
export async function getDoc<T>(
  ctx: Pick<SearcherContext, 'es' | 'names'>,
  projection: ProjectionName,
  id: string,
  call: CallOptions,
): Promise<T | undefined> {
  const { es, names } = ctx;
  const index = names.alias(projection);
  try {
    // `suggest` is the completion field's inputs, an index detail, not part of the document's answer.
    const doc = await es.get<T>(
      { index, id, _source_excludes: ['suggest'] },
      call.signal ? { signal: call.signal } : undefined,
    );
    return doc.found ? doc._source : undefined;
  } catch (err) {
    if (
      err instanceof errors.ResponseError &&
      err.statusCode === 404 &&
      errorType(err) !== 'index_not_found_exception'
    ) {
      return undefined;
    }
    throw translate(err, { index, cursor: false });
  }
}

/**
 * True when `digest` is listed as a rendition of some image. Renditions are immutable and
 * named by their bytes: once seen listed, a digest stays a rendition, so positive answers
 * are remembered in `known` (bounded, so a flood of random digests cannot grow it).
 */
export async function isRendition(
  ctx: Pick<SearcherContext, 'es' | 'names'>,
  known: Set<string>,
  digest: string,
  call: CallOptions = {},
): Promise<boolean> {
  if (known.has(digest)) return true;
  const { es, names } = ctx;
  const index = names.alias('images');
  let found: boolean;
  try {
    const response = await es.search(
      { index, size: 0, track_total_hits: 1, query: { term: { 'renditions.digest': digest } } },
      call.signal ? { signal: call.signal } : undefined,
    );
    found = totalOf(response as RawSearchResponse) > 0;
  } catch (err) {
    throw translate(err, { index, cursor: false });
  }
  if (found) {
    if (known.size >= 10_000) known.clear();
    known.add(digest);
  }
  return found;
}
