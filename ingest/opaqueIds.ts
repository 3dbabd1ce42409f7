import { createHmac } from 'node:crypto';
import type { EntityType } from '../schemas/names.ts';
import { type InputRecord, isRetraction } from './records.ts';

/**
 * Opaque ids (`PRESSLOG_OPAQUE_IDS=true`): identifiers are never erased (subjects and
 * document ids stay), so an archive whose ids carry names (`b-abraham-lincoln`) stores
 * instead `o-` + 22 characters of `HMAC-SHA256(idKey, "opaque\n<type>\n<id>")`, base64url
 * (132 bits). The key is the deployment's event-id key (kept wrapped in the keys bucket):
 * the mapping is deterministic, so re-ingesting an export maps to the same ids and a
 * command given the readable id finds the item, but without the key a guessed name cannot
 * be confirmed. The readable id is stored nowhere: content fields (a byline's name) say
 * who it is, and they are erased with the item.
 */
export const OPAQUE_ID = /^o-[A-Za-z0-9_-]{22}$/;

/** Maps an item's id as given to the id it is stored under. */
export type IdMapper = (entityType: EntityType, id: string) => string;

/** The mapper of a deployment's id key; an id that is already opaque passes unchanged (an export re-ingested). */
export function opaqueIdMapper(idKey: Uint8Array): IdMapper {
  return (entityType, id) =>
    OPAQUE_ID.test(id)
      ? id
      : `o-${createHmac('sha256', idKey).update(`opaque\n${entityType}\n${id}`).digest('base64url').slice(0, 22)}`;
}

/** A validated record with its id and every reference (an article's bylines and images) mapped. */
export function withMappedIds(record: InputRecord, map: IdMapper): InputRecord {
  const id = map(record.kind, record.id);
  if (record.kind !== 'article' || isRetraction(record)) return { ...record, id };
  return {
    ...record,
    id,
    ...(record.bylines ? { bylines: record.bylines.map((b) => map('byline', b)) } : {}),
    ...(record.images ? { images: record.images.map((i) => map('image', i)) } : {}),
  };
}
