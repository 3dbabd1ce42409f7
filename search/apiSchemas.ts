import { ID_PATTERN } from '../schemas/names.ts';
import { SEARCH_KINDS, SEARCH_LIMITS, SEARCH_SORTS } from './params.ts';

/**
 * JSON Schemas of the HTTP API: Fastify validates requests with them (a mismatch is a
 * 400 before any handler runs), serializes responses with them, and @fastify/swagger
 * turns them into the OpenAPI document at /openapi.json.
 */

const nullable = (schema: Record<string, unknown>) => ({ ...schema, type: [schema.type as string, 'null'] });

export const ErrorBody = {
  $id: 'Error',
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: {
          type: 'string',
          description: 'Stable machine-readable code, e.g. invalid_parameter, not_found.',
        },
        message: { type: 'string' },
        parameter: { type: 'string', description: 'The request parameter at fault, for invalid_parameter.' },
      },
    },
    lag: { type: 'integer', description: 'For projection_lagging: log sequences still to apply.' },
    erased: {
      type: 'object',
      description: 'For gone (410) on an erased article: when it was erased and the public note, if any.',
      properties: { at: { type: 'string' }, publicNote: { type: 'string' } },
    },
  },
} as const;

const afterSeq = {
  type: 'integer',
  minimum: 1,
  maximum: Number.MAX_SAFE_INTEGER,
  description:
    'Read your own writes: wait (at most a few seconds) until the projection has applied this log sequence; 503 projection_lagging otherwise.',
} as const;

export const SearchQuerystring = {
  type: 'object',
  additionalProperties: false,
  properties: {
    q: {
      type: 'string',
      maxLength: SEARCH_LIMITS.maxQueryChars,
      description:
        'Free text. Words must all match (in any field); "quoted phrases", -exclude, a | b, (groups), prefix*, word~1. Empty: everything passing the filters, newest first.',
    },
    byline: { type: 'string', maxLength: 128, pattern: ID_PATTERN.source, description: 'Byline id.' },
    section: { type: 'string', maxLength: SEARCH_LIMITS.maxValueChars },
    tag: { type: 'string', maxLength: SEARCH_LIMITS.maxValueChars },
    from: {
      type: 'string',
      maxLength: 40,
      description: 'Published on or after: YYYY, YYYY-MM, YYYY-MM-DD or an ISO 8601 date-time.',
    },
    to: {
      type: 'string',
      maxLength: 40,
      description: 'Published on or before (`to=1865` includes all of 1865).',
    },
    kind: { type: 'string', enum: [...SEARCH_KINDS], default: 'article' },
    sort: {
      type: 'string',
      enum: [...SEARCH_SORTS],
      description: 'Default: relevance, or date when q is empty.',
    },
    size: { type: 'integer', minimum: 1, maximum: SEARCH_LIMITS.maxSize, default: SEARCH_LIMITS.defaultSize },
    after: {
      type: 'string',
      maxLength: SEARCH_LIMITS.maxCursorChars,
      description: 'The `next` cursor of the previous page (send the same q and filters).',
    },
    asOf: {
      type: 'string',
      maxLength: 120,
      description:
        'Search an archive as it stood: the name of an --as-of index, as listed by GET /api/archives.',
    },
    afterSeq,
  },
} as const;

export const SuggestQuerystring = {
  type: 'object',
  additionalProperties: false,
  required: ['q'],
  properties: {
    q: { type: 'string', minLength: 1, maxLength: 100, description: 'The text typed so far.' },
    size: { type: 'integer', minimum: 1, maximum: 10, default: 6, description: 'Suggestions of each kind.' },
  },
} as const;

export const RelatedQuerystring = {
  type: 'object',
  additionalProperties: false,
  properties: { size: { type: 'integer', minimum: 1, maximum: 20, default: 5 } },
} as const;

export const ReadQuerystring = {
  type: 'object',
  additionalProperties: false,
  properties: { afterSeq },
} as const;

/** `GET /api/articles/:id`: the indexed document, or (`format=ninjs`) the article as a ninjs 2.x item. */
export const ArticleQuerystring = {
  type: 'object',
  additionalProperties: false,
  properties: {
    afterSeq,
    format: {
      type: 'string',
      enum: ['presslog', 'ninjs'],
      default: 'presslog',
      description: 'ninjs: a ninjs 2.x item',
    },
  },
} as const;

export const HistoryQuerystring = {
  type: 'object',
  additionalProperties: false,
  properties: {
    full: { type: 'boolean', default: false, description: 'Include article bodies (large).' },
  },
} as const;

export const IdParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: ID_PATTERN.source, maxLength: 128 } },
} as const;

export const DigestParams = {
  type: 'object',
  required: ['digest'],
  properties: { digest: { type: 'string', pattern: '^sha256:[0-9a-f]{64}$' } },
} as const;

const stringListOf = { type: 'array', items: { type: 'string' } } as const;

const HitImage = {
  type: 'object',
  required: ['id', 'caption', 'thumbnail', 'placeholder'],
  properties: {
    id: { type: 'string' },
    caption: nullable({ type: 'string' }),
    thumbnail: nullable({ type: 'string', description: 'Path of the thumbnail rendition.' }),
    placeholder: nullable({ type: 'string', description: 'Tiny data: URI to show while loading.' }),
    credit: { type: 'string' },
    creator: { type: 'string', description: "The photographer, from the file's metadata." },
    keywords: { ...stringListOf, description: "From the file's metadata (IPTC/XMP)." },
  },
} as const;

const stringList = { type: 'array', items: { type: 'string' } } as const;

const SearchHit = {
  type: 'object',
  required: [
    'id',
    'kind',
    'headline',
    'publishedAt',
    'bylines',
    'score',
    'highlights',
    'section',
    'tags',
    'images',
  ],
  properties: {
    id: { type: 'string' },
    kind: { type: 'string', enum: [...SEARCH_KINDS] },
    headline: { type: 'string' },
    publishedAt: nullable({ type: 'string' }),
    bylines: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'name'],
        properties: { id: { type: 'string' }, name: nullable({ type: 'string' }) },
      },
    },
    score: nullable({ type: 'number' }),
    highlights: {
      type: 'object',
      description: 'HTML: the text escaped by Elasticsearch, matches in <mark>.',
      properties: {
        headline: stringList,
        body: stringList,
        captions: stringList,
        credit: stringList,
        creator: stringList,
      },
    },
    section: nullable({ type: 'string' }),
    tags: stringList,
    images: { type: 'array', items: HitImage },
    articleIds: stringList,
  },
} as const;

const countOf = (key: Record<string, unknown>) => ({
  type: 'array',
  items: { type: 'object', properties: { ...key, count: { type: 'integer' } } },
});

export const SearchResponse = {
  type: 'object',
  required: ['total', 'hits', 'facets', 'next'],
  properties: {
    total: { type: 'integer' },
    hits: { type: 'array', items: SearchHit },
    facets: {
      type: ['object', 'null'],
      description: 'On the first page only (null on later pages).',
      properties: {
        sections: countOf({ value: { type: 'string' } }),
        bylines: countOf({ id: { type: 'string' }, name: nullable({ type: 'string' }) }),
        years: countOf({ value: { type: 'integer' } }),
      },
    },
    next: nullable({ type: 'string', description: 'Cursor of the next page; null on the last page.' }),
    timeline: {
      type: ['object', 'null'],
      description:
        'Hits per year (per decade when they span more than 60 years); first page of an article search only.',
      properties: {
        interval: { type: 'string', enum: ['year', 'decade'] },
        buckets: {
          type: 'array',
          items: {
            type: 'object',
            properties: { from: { type: 'integer' }, to: { type: 'integer' }, count: { type: 'integer' } },
          },
        },
      },
    },
  },
} as const;

export const AnyObject = { type: 'object', additionalProperties: true } as const;

export const LiveResponse = {
  type: 'object',
  properties: { status: { type: 'string', enum: ['ok'] } },
} as const;

export const ReadyResponse = {
  type: 'object',
  properties: {
    status: { type: 'string', enum: ['ok', 'unavailable'] },
    /** Each check's answer: `ok`, `reason` when not, and details. */
    checks: { type: 'object', additionalProperties: AnyObject },
    error: ErrorBody.properties.error,
  },
} as const;
