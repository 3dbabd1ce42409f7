import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { ValueErrorType } from '@sinclair/typebox/errors';
import { MAX_BODY_CHARS } from '../schemas/articleEvents.ts';
import { ID_PATTERN } from '../schemas/names.ts';
import { sanitizeBodyHtml } from './bodyHtml.ts';

/**
 * The input records of `presslog ingest`: one JSON object per record, told apart by
 * `kind`. Limits mirror the event schemas, so a record that validates here always maps
 * to an event that validates at append. Unknown fields are rejected: a misspelled
 * optional field (`sectoin`) would otherwise be dropped without a word.
 */

const ID_MESSAGE = 'must be 1-128 characters of A-Z, a-z, 0-9, _ and -';
const Id = Type.String({ pattern: ID_PATTERN.source, errorMessage: ID_MESSAGE });
const DATE_MESSAGE = 'must be an ISO 8601 date (2024-05-01) or date-time with a zone (2024-05-01T12:00:00Z)';
/** Checked by {@link normalizeDate}; the schema only requires a string. */
const DateString = Type.String({ maxLength: 40, errorMessage: DATE_MESSAGE });

function text(min: number, max: number) {
  const what =
    min > 0 ? `a non-empty string of at most ${max} characters` : `a string of at most ${max} characters`;
  return Type.String({ minLength: min, maxLength: max, errorMessage: `must be ${what}` });
}

/** When the record last changed at the source; becomes the event's `occurredAt`. Optional on every kind. */
const UpdatedAt = Type.Optional(DateString);

export const BylineRecord = Type.Object(
  {
    kind: Type.Literal('byline'),
    id: Id,
    name: text(1, 300),
    bio: Type.Optional(text(0, 10_000)),
    updatedAt: UpdatedAt,
  },
  { additionalProperties: false },
);
export type BylineRecord = Static<typeof BylineRecord>;

export const ImageRecord = Type.Object(
  {
    kind: Type.Literal('image'),
    id: Id,
    /** Path of the image file, relative to the directory of the file holding this record. */
    file: text(1, 1_000),
    caption: Type.Optional(text(0, 5_000)),
    credit: Type.Optional(text(0, 500)),
    updatedAt: UpdatedAt,
  },
  { additionalProperties: false },
);
export type ImageRecord = Static<typeof ImageRecord>;

/** Markup before sanitizing may be larger than what is kept (attributes, comments, scripts go). */
const MAX_RAW_HTML_CHARS = 4 * MAX_BODY_CHARS;

const IdList = (max: number) =>
  Type.Optional(Type.Array(Id, { maxItems: max, errorMessage: `must be an array of at most ${max} ids` }));

export const ArticleRecord = Type.Object(
  {
    kind: Type.Literal('article'),
    id: Id,
    headline: text(1, 1_000),
    body: text(0, MAX_BODY_CHARS),
    /**
     * The body's markup for display, sanitized when the record is read (see
     * bodyHtml.ts); what is left must fit in MAX_BODY_CHARS. Never searched: `body` is.
     */
    bodyHtml: Type.Optional(text(0, MAX_RAW_HTML_CHARS)),
    section: Type.Optional(text(1, 100)),
    publishedAt: DateString,
    bylines: IdList(100),
    images: IdList(200),
    tags: Type.Optional(
      Type.Array(text(1, 100), { maxItems: 100, errorMessage: 'must be an array of at most 100 strings' }),
    ),
    /** Allowed so an export can carry the flag on every article; `true` makes it a retraction. */
    retracted: Type.Optional(Type.Literal(false)),
    /**
     * `true` publishes a retracted article again (as `ArticleRevised`), even with the
     * content it had when retracted. Without it (or `--allow-unretract`), a record that
     * would change a retracted article is rejected: a later export must not silently
     * undo a retraction. Ignored for an article that is not retracted.
     */
    unretract: Type.Optional(Type.Boolean({ errorMessage: 'must be true or false' })),
    updatedAt: UpdatedAt,
  },
  { additionalProperties: false },
);
export type ArticleRecord = Static<typeof ArticleRecord>;

export const ArticleRetractionRecord = Type.Object(
  {
    kind: Type.Literal('article'),
    id: Id,
    retracted: Type.Literal(true),
    reason: Type.Optional(text(0, 2_000)),
    updatedAt: UpdatedAt,
  },
  { additionalProperties: false },
);
export type ArticleRetractionRecord = Static<typeof ArticleRetractionRecord>;

export type InputRecord = BylineRecord | ImageRecord | ArticleRecord | ArticleRetractionRecord;
export const RECORD_KINDS = ['byline', 'image', 'article'] as const;
export type RecordKind = (typeof RECORD_KINDS)[number];

/** True for `{"kind":"article","retracted":true}` records. */
export function isRetraction(record: InputRecord): record is ArticleRetractionRecord {
  return record.kind === 'article' && record.retracted === true;
}

/** One thing wrong with a record: the field (`bylines[2]`, empty for the whole record) and why. */
export interface RecordProblem {
  field: string;
  message: string;
}

export type RecordResult = { ok: true; record: InputRecord } | { ok: false; problems: RecordProblem[] };

const checks = {
  byline: TypeCompiler.Compile(BylineRecord),
  image: TypeCompiler.Compile(ImageRecord),
  article: TypeCompiler.Compile(ArticleRecord),
  retraction: TypeCompiler.Compile(ArticleRetractionRecord),
};

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * An ISO 8601 date or zoned date-time as the event schemas take it, or undefined when
 * it is not one. A bare date means midnight UTC; a date-time without a zone is refused
 * because it would silently mean the ingesting machine's local time.
 */
export function normalizeDate(value: string): string | undefined {
  const date = DATE_ONLY.exec(value);
  if (date) {
    const iso = `${value}T00:00:00Z`;
    const parsed = new Date(iso);
    // Date.parse rolls 2024-02-30 over to March; comparing the parts catches it.
    if (Number.isNaN(parsed.getTime()) || parsed.toISOString().slice(0, 10) !== value) return undefined;
    return iso;
  }
  if (!DATE_TIME.test(value)) return undefined;
  const parsed = new Date(value);
  if (Number.isNaN(parsed.getTime())) return undefined;
  // Same roll-over check on the calendar date as written (the zone does not change it).
  const [y, m, d] = value.slice(0, 10).split('-').map(Number) as [number, number, number];
  const calendar = new Date(Date.UTC(y, m - 1, d));
  if (calendar.getUTCMonth() !== m - 1 || calendar.getUTCDate() !== d) return undefined;
  return value;
}

function fieldOf(path: string): string {
  // TypeBox paths are JSON pointers: /bylines/2 → bylines[2]
  return path
    .split('/')
    .slice(1)
    .map((part, i) => (/^\d+$/.test(part) ? `[${part}]` : i === 0 ? part : `.${part}`))
    .join('');
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? `the string ${JSON.stringify(value.slice(0, 40))}` : `a ${typeof value}`;
}

function problemsOf(
  schema: ReturnType<typeof TypeCompiler.Compile<TSchema>>,
  value: unknown,
): RecordProblem[] {
  const problems: RecordProblem[] = [];
  const seen = new Set<string>();
  for (const error of schema.Errors(value)) {
    const field = fieldOf(error.path);
    // One problem per field: a missing string also fails minLength, which says nothing new.
    if (seen.has(field)) continue;
    seen.add(field);
    let message: string;
    if (error.type === ValueErrorType.ObjectAdditionalProperties) message = 'unknown field';
    else if (error.type === ValueErrorType.ObjectRequiredProperty) message = 'is required';
    else if (error.value === undefined) message = 'is required';
    else {
      const custom = (error.schema as { errorMessage?: string }).errorMessage;
      message = `${custom ?? error.message.toLowerCase()}, got ${describe(error.value)}`;
    }
    problems.push({ field, message });
    if (problems.length >= 10) break;
  }
  return problems;
}

/**
 * Validate one parsed input value as a record (pure). Problems name the field, e.g.
 * `{ field: 'publishedAt', message: 'must be an ISO 8601 date ...' }`. A valid record
 * comes back with its dates normalized and its optional lists defaulted.
 */
export function parseRecord(value: unknown): RecordResult {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return {
      ok: false,
      problems: [{ field: '', message: `a record must be a JSON object, got ${describe(value)}` }],
    };
  }
  const kind = (value as { kind?: unknown }).kind;
  if (kind === undefined) {
    return {
      ok: false,
      problems: [{ field: 'kind', message: `is required (one of ${RECORD_KINDS.join(', ')})` }],
    };
  }
  if (typeof kind !== 'string' || !(RECORD_KINDS as readonly string[]).includes(kind)) {
    return {
      ok: false,
      problems: [
        {
          field: 'kind',
          message: `unknown kind ${JSON.stringify(kind)} (expected one of ${RECORD_KINDS.join(', ')})`,
        },
      ],
    };
  }
  const check =
    kind === 'article'
      ? (value as { retracted?: unknown }).retracted === true
        ? checks.retraction
        : checks.article
      : checks[kind as 'byline' | 'image'];
  const problems = check.Check(value) ? [] : problemsOf(check, value);
  const record = value as InputRecord & { publishedAt?: string; updatedAt?: string };
  const dates: Array<['publishedAt' | 'updatedAt', string | undefined]> = [
    ['publishedAt', 'publishedAt' in record ? record.publishedAt : undefined],
    ['updatedAt', record.updatedAt],
  ];
  const normalized: Partial<Record<'publishedAt' | 'updatedAt', string>> = {};
  for (const [field, raw] of dates) {
    if (typeof raw !== 'string' || problems.some((p) => p.field === field)) continue;
    const iso = normalizeDate(raw);
    if (iso === undefined) problems.push({ field, message: `${DATE_MESSAGE}, got ${describe(raw)}` });
    else normalized[field] = iso;
  }
  let bodyHtml: { bodyHtml?: string } = {};
  if (record.kind === 'article' && !isRetraction(record) && typeof record.bodyHtml === 'string') {
    const clean = problems.some((p) => p.field === 'bodyHtml')
      ? undefined
      : sanitizeBodyHtml(record.bodyHtml);
    if (clean !== undefined && clean.length > MAX_BODY_CHARS) {
      problems.push({
        field: 'bodyHtml',
        message: `is ${clean.length} characters after sanitizing, over the ${MAX_BODY_CHARS}-character cap`,
      });
    }
    bodyHtml = { bodyHtml: clean };
  }
  if (problems.length > 0) return { ok: false, problems };
  if (record.kind === 'article' && !isRetraction(record)) {
    return {
      ok: true,
      record: {
        ...record,
        ...normalized,
        ...bodyHtml,
        bylines: record.bylines ?? [],
        images: record.images ?? [],
        tags: record.tags ?? [],
      },
    };
  }
  return { ok: true, record: { ...record, ...normalized } };
}

/** The entity an input record describes. */
export function entityOf(record: InputRecord): { entityType: RecordKind; id: string } {
  return { entityType: record.kind, id: record.id };
}
