import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { ID_PATTERN } from './names.ts';

/** Ids as they appear in subjects and index ids: 1-128 of [A-Za-z0-9_-]. */
export const Id = Type.String({ pattern: ID_PATTERN.source, minLength: 1, maxLength: 128 });
export const Timestamp = Type.String({ format: 'date-time', maxLength: 40 });
export const EntityTypeSchema = Type.Union([
  Type.Literal('article'),
  Type.Literal('image'),
  Type.Literal('byline'),
]);

/**
 * The envelope every event travels in. `occurredAt` is when it happened at the source
 * (a CMS edit, a publication date); `recordedAt` is when presslog appended it. The
 * stream's own sequence and timestamp are added on read, never stored in the event.
 */
export function envelope<T extends string, V extends number, E extends string, P extends TSchema>(
  type: T,
  version: V,
  entityType: E,
  payload: P,
) {
  return Type.Object(
    {
      id: Id,
      type: Type.Literal(type),
      version: Type.Literal(version),
      entityType: Type.Literal(entityType),
      entityId: Id,
      occurredAt: Timestamp,
      recordedAt: Timestamp,
      source: Type.String({ minLength: 1, maxLength: 200 }),
      correlationId: Type.Optional(Type.String({ maxLength: 200 })),
      payload,
    },
    { additionalProperties: false, $id: `${type}.v${version}` },
  );
}

/** The envelope with an unknown payload: what the log can parse before it knows the type. */
export const AnyEnvelope = Type.Object({
  id: Type.String(),
  type: Type.String(),
  version: Type.Integer({ minimum: 1 }),
  entityType: EntityTypeSchema,
  entityId: Type.String(),
  occurredAt: Type.String(),
  recordedAt: Type.String(),
  source: Type.String(),
  correlationId: Type.Optional(Type.String()),
  payload: Type.Unknown(),
});
export type AnyEnvelope = Static<typeof AnyEnvelope>;
