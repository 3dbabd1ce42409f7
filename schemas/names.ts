/**
 * Every server-side name derives from one namespace, so several archives and every
 * test run can share one set of servers without touching each other.
 */
export const ENTITY_TYPES = ['article', 'image', 'byline'] as const;
export type EntityType = (typeof ENTITY_TYPES)[number];

export const PROJECTION_NAMES = ['articles', 'images', 'bylines'] as const;
export type ProjectionName = (typeof PROJECTION_NAMES)[number];

/** Entity and event ids: safe inside a NATS subject token and an Elasticsearch id. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
export const NAMESPACE_PATTERN = /^[a-z0-9][a-z0-9-]{0,39}$/;

export function isEntityType(value: string): value is EntityType {
  return (ENTITY_TYPES as readonly string[]).includes(value);
}

export function isValidId(value: string): boolean {
  return ID_PATTERN.test(value);
}

/** Names of everything presslog creates on the servers, for one namespace. */
export interface Names {
  readonly namespace: string;
  /** JetStream stream holding the content log, e.g. `PRESSLOG_CONTENT`. */
  readonly stream: string;
  /** Subject filter matching every content event, e.g. `presslog.content.>`. */
  readonly allSubjects: string;
  /** Subject of one entity, e.g. `presslog.content.article.a-1`. */
  subject(entity: EntityType, id: string): string;
  /** Subject filter of one entity type, e.g. `presslog.content.article.*`. */
  entitySubjects(entity: EntityType): string;
  /** Elasticsearch alias of a projection, e.g. `presslog-articles`. */
  alias(projection: ProjectionName): string;
  /** Prefix of the versioned indexes behind an alias, e.g. `presslog-articles-`. */
  indexPrefix(projection: ProjectionName): string;
  /** JetStream KV bucket name for a purpose (checkpoints, leases), e.g. `presslog_checkpoints`. */
  bucket(purpose: string): string;
  /** BullMQ queue name, e.g. `presslog-images`. */
  queue(purpose: string): string;
  /** BullMQ key prefix in Redis (keeps namespaces apart), e.g. `presslog`. */
  readonly redisPrefix: string;
  /**
   * Every JetStream stream of the namespace starts with one of these: its own (the
   * content log), `KV_` (buckets) and `OBJ_` (object stores), e.g. `PRESSLOG_`,
   * `KV_PRESSLOG_`, `OBJ_PRESSLOG_`. For deleting a namespace.
   */
  readonly streamPrefixes: readonly string[];
}

export function createNames(namespace: string): Names {
  if (!NAMESPACE_PATTERN.test(namespace)) {
    throw new Error(`namespace must match ${NAMESPACE_PATTERN}, got ${JSON.stringify(namespace)}`);
  }
  const upper = namespace.toUpperCase().replaceAll('-', '_');
  const lower = namespace;
  return Object.freeze({
    namespace,
    stream: `${upper}_CONTENT`,
    allSubjects: `${lower}.content.>`,
    subject: (entity: EntityType, id: string) => `${lower}.content.${entity}.${id}`,
    entitySubjects: (entity: EntityType) => `${lower}.content.${entity}.*`,
    alias: (projection: ProjectionName) => `${lower}-${projection}`,
    indexPrefix: (projection: ProjectionName) => `${lower}-${projection}-`,
    bucket: (purpose: string) => `${upper}_${purpose.toUpperCase()}`,
    queue: (purpose: string) => `${lower}-${purpose}`,
    redisPrefix: lower,
    streamPrefixes: Object.freeze(['', 'KV_', 'OBJ_'].map((kind) => `${kind}${upper}_`)),
  });
}

/** Parse a content subject back into its entity type and id, or null when it is not one of ours. */
export function parseSubject(names: Names, subject: string): { entity: EntityType; id: string } | null {
  const prefix = `${names.namespace}.content.`;
  if (!subject.startsWith(prefix)) return null;
  const rest = subject.slice(prefix.length);
  const dot = rest.indexOf('.');
  if (dot < 0) return null;
  const entity = rest.slice(0, dot);
  const id = rest.slice(dot + 1);
  if (!isEntityType(entity) || !isValidId(id)) return null;
  return { entity, id };
}
