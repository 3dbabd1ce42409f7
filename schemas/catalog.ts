import type { TSchema } from '@sinclair/typebox';
import { type TypeCheck, TypeCompiler } from '@sinclair/typebox/compiler';
import { FormatRegistry } from '@sinclair/typebox/type';
import {
  ArticlePublished,
  ArticlePublishedV1,
  ArticleRetracted,
  ArticleRevised,
  ArticleRevisedV1,
  upcastArticleFieldsV1,
} from './articleEvents.ts';
import { BylineRegistered, BylineUpdated } from './bylineEvents.ts';
import { isDateTime } from './dateTime.ts';
import type { AnyEnvelope } from './envelope.ts';
import { ArticleErased, ArticleHistoryErased, BylineErased, ImageErased } from './erasureEvents.ts';
import { type FieldProblem, InvalidEventError } from './errors.ts';
import {
  ImageProcessed,
  ImageProcessingFailed,
  ImageRemoved,
  ImageSubmitted,
  ImageUpdated,
} from './imageEvents.ts';
import type { EntityType } from './names.ts';

// ISO 8601 date-time with a zone, rejecting impossible fields such as 2024-13-40.
if (!FormatRegistry.Has('date-time')) FormatRegistry.Set('date-time', isDateTime);

/** Every event presslog writes, in its current version. */
export type ContentEvent =
  | import('./bylineEvents.ts').BylineRegistered
  | import('./bylineEvents.ts').BylineUpdated
  | import('./articleEvents.ts').ArticlePublished
  | import('./articleEvents.ts').ArticleRevised
  | import('./articleEvents.ts').ArticleRetracted
  | import('./imageEvents.ts').ImageSubmitted
  | import('./imageEvents.ts').ImageUpdated
  | import('./imageEvents.ts').ImageProcessed
  | import('./imageEvents.ts').ImageProcessingFailed
  | import('./imageEvents.ts').ImageRemoved
  | import('./erasureEvents.ts').ArticleErased
  | import('./erasureEvents.ts').ImageErased
  | import('./erasureEvents.ts').BylineErased
  | import('./erasureEvents.ts').ArticleHistoryErased;

export type EventType = ContentEvent['type'];
export type EventOf<T extends EventType> = Extract<ContentEvent, { type: T }>;

interface VersionEntry {
  schema: TSchema;
  check: TypeCheck<TSchema>;
  /** Turns this version into the next one; absent on the current version. */
  upcast?: (event: AnyEnvelope) => AnyEnvelope;
}

interface TypeEntry {
  entityType: EntityType;
  current: number;
  versions: Map<number, VersionEntry>;
}

function entry(schema: TSchema, upcast?: VersionEntry['upcast']): [number, VersionEntry] {
  const version = (schema.properties as { version: { const: number } }).version.const;
  return [version, { schema, check: TypeCompiler.Compile(schema), upcast }];
}

const articleV1toV2 = (event: AnyEnvelope): AnyEnvelope => ({
  ...event,
  version: 2,
  payload: upcastArticleFieldsV1(event.payload as Parameters<typeof upcastArticleFieldsV1>[0]),
});

function register(entityType: EntityType, ...versions: [number, VersionEntry][]): TypeEntry {
  return { entityType, current: Math.max(...versions.map(([v]) => v)), versions: new Map(versions) };
}

/** The registry: each event type, its entity, its versions and the upcaster from each old version. */
export const CATALOG: Readonly<Record<EventType, TypeEntry>> = {
  BylineRegistered: register('byline', entry(BylineRegistered)),
  BylineUpdated: register('byline', entry(BylineUpdated)),
  ArticlePublished: register('article', entry(ArticlePublishedV1, articleV1toV2), entry(ArticlePublished)),
  ArticleRevised: register('article', entry(ArticleRevisedV1, articleV1toV2), entry(ArticleRevised)),
  ArticleRetracted: register('article', entry(ArticleRetracted)),
  ImageSubmitted: register('image', entry(ImageSubmitted)),
  ImageUpdated: register('image', entry(ImageUpdated)),
  ImageProcessed: register('image', entry(ImageProcessed)),
  ImageProcessingFailed: register('image', entry(ImageProcessingFailed)),
  ImageRemoved: register('image', entry(ImageRemoved)),
  ArticleErased: register('article', entry(ArticleErased)),
  ImageErased: register('image', entry(ImageErased)),
  BylineErased: register('byline', entry(BylineErased)),
  ArticleHistoryErased: register('article', entry(ArticleHistoryErased)),
};

export const EVENT_TYPES = Object.keys(CATALOG) as EventType[];

export function isEventType(value: unknown): value is EventType {
  return typeof value === 'string' && Object.hasOwn(CATALOG, value);
}

function describe(value: unknown): { type: string; version: unknown; id?: string } {
  const v = (value ?? {}) as Record<string, unknown>;
  return {
    type: typeof v.type === 'string' ? v.type : 'unknown',
    version: v.version,
    id: typeof v.id === 'string' ? v.id : undefined,
  };
}

/** The problems of a value (described as `described`) against its event schema; empty when valid. */
function problemsOf(value: unknown, { type, version }: ReturnType<typeof describe>): FieldProblem[] {
  if (!isEventType(type)) return [{ path: '/type', message: `unknown event type ${JSON.stringify(type)}` }];
  const entry = CATALOG[type].versions.get(version as number);
  if (!entry) {
    const known = [...CATALOG[type].versions.keys()].join(', ');
    return [
      {
        path: '/version',
        message: `unknown version ${JSON.stringify(version)} of ${type} (known: ${known})`,
      },
    ];
  }
  if (entry.check.Check(value)) return [];
  const problems: FieldProblem[] = [];
  for (const error of entry.check.Errors(value)) {
    problems.push({ path: error.path, message: error.message });
    if (problems.length >= 10) break;
  }
  return problems;
}

/** The problems of a value against its event schema (empty when valid). Does not upcast. */
export function checkEvent(value: unknown): FieldProblem[] {
  return problemsOf(value, describe(value));
}

/**
 * Validate any stored version of an event and return it in the current version.
 * Throws InvalidEventError naming the field and rule. Used at append (where only
 * current versions are accepted) and at replay (where old versions are upcast).
 * The checks are TypeBox's compiled ones (`TypeCompiler.Compile`, once per version at
 * load); a valid current event is returned as it came, without copying.
 */
export function validateEvent(value: unknown, options: { currentOnly?: boolean } = {}): ContentEvent {
  const described = describe(value);
  const { type, version, id } = described;
  const problems = problemsOf(value, described);
  if (problems.length > 0) throw new InvalidEventError(type, problems, { eventId: id });
  const typeEntry = CATALOG[type as EventType];
  if (version === typeEntry.current) return value as ContentEvent;
  if (options.currentOnly) {
    throw new InvalidEventError(
      type,
      [{ path: '/version', message: `must be the current version ${typeEntry.current}` }],
      { eventId: id },
    );
  }
  let event = value as AnyEnvelope;
  for (let v = event.version; v < typeEntry.current; v++) {
    const upcast = typeEntry.versions.get(v)?.upcast;
    if (!upcast)
      throw new InvalidEventError(type, [{ path: '/version', message: `no upcaster from version ${v}` }], {
        eventId: id,
      });
    event = upcast(event);
  }
  return event as unknown as ContentEvent;
}

/** The JSON Schema of every event type and version, keyed `<Type>.v<version>`, for export. */
export function jsonSchemas(): Record<string, TSchema> {
  const out: Record<string, TSchema> = {};
  for (const [type, typeEntry] of Object.entries(CATALOG)) {
    for (const [version, versionEntry] of typeEntry.versions)
      out[`${type}.v${version}`] = versionEntry.schema;
  }
  return out;
}
