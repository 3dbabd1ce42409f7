import type { Client } from '@elastic/elasticsearch';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Redis } from 'ioredis';
import type { BlobStore } from '../log/blobStore.ts';
import type { ContentLog } from '../log/types.ts';
import { type AuditCheck, auditIndexes } from '../projectors/erasure/audit.ts';
import { createStateSnapshotStore } from '../projectors/state/stateSnapshots.ts';
import type { EntityType, Names } from '../schemas/names.ts';

/** What {@link auditErasure} reads. */
export interface AuditClients {
  log: ContentLog;
  nc: NatsConnection;
  es: Client;
  redis: Redis;
  blobs: BlobStore;
  names: Names;
}

/** The result of an erasure audit: every check, and whether all of them found nothing. */
export interface ErasureAudit {
  entityType: EntityType;
  id: string;
  erasedAt?: string;
  checks: AuditCheck[];
  clean: boolean;
}

/**
 * Check every store presslog keeps for an erased item: its keys entry (purged), every
 * message of its subject (only envelopes and erasure records readable), the indexes
 * (auditIndexes), the projection-state snapshots (none saved before the erasure), the
 * Redis keys of the namespace (none naming the item), and, when the caller still knows
 * them (right after the erasure), the blobs of an erased image.
 */
export async function auditErasure(
  clients: AuditClients,
  entityType: EntityType,
  id: string,
  blobDigests: readonly string[] = [],
): Promise<ErasureAudit> {
  const { log, nc, es, redis, blobs, names } = clients;
  const checks: AuditCheck[] = [];
  const kv = await new Kvm(nc).open(names.bucket('keys'));
  const entry = await kv.get(`${entityType}.${id}`);
  checks.push({
    store: 'nats kv',
    checked: `data keys of ${entityType} ${id} in ${names.bucket('keys')}`,
    found: entry?.operation === 'PUT' ? 1 : 0,
  });
  let erasedMessages = 0;
  let unreadable = 0;
  const events = await log.readEntity(entityType, id, {
    onErased: () => erasedMessages++,
    onUnreadable: () => unreadable++,
  });
  const readable = events.filter((s) => !s.event.type.endsWith('Erased'));
  const erasure = events.find(
    (s) => s.event.type.endsWith('Erased') && s.event.type !== 'ArticleHistoryErased',
  );
  checks.push({
    store: 'nats stream',
    checked: `${erasedMessages + events.length + unreadable} message(s) of ${names.subject(entityType, id)}: content readable by any key still held`,
    found: readable.length,
  });
  const erasedAt = erasure?.time;
  const snapshots = await createStateSnapshotStore({ nc, names }).list();
  checks.push({
    store: 'nats object store',
    checked: `projection-state snapshots from before the erasure (${snapshots.length} saved)`,
    found: erasure ? snapshots.filter((s) => s.position < erasure.seq).length : snapshots.length,
  });
  checks.push(...(await auditIndexes(es, names, entityType, id)));
  let redisFound = 0;
  let redisKeys = 0;
  for await (const keys of redis.scanStream({ match: `${names.namespace}:*`, count: 1000 })) {
    for (const key of keys as string[]) {
      redisKeys++;
      if (key.includes(id)) redisFound++;
      else if ((await redis.type(key)) === 'hash') {
        // Raw values (a BullMQ job's `data` is JSON inside a hash field): a substring match
        // errs on the side of reporting.
        if (Object.values(await redis.hgetall(key)).some((v) => v.includes(id))) redisFound++;
      }
    }
  }
  checks.push({
    store: 'redis',
    checked: `${redisKeys} key(s) ${names.namespace}:* naming ${id}`,
    found: redisFound,
  });
  if (blobDigests.length > 0) {
    let present = 0;
    for (const digest of blobDigests) if (await blobs.has(digest)) present++;
    checks.push({
      store: 'blob store',
      checked: `${blobDigests.length} blob(s) of the image`,
      found: present,
    });
  }
  return {
    entityType,
    id,
    ...(erasedAt ? { erasedAt: erasedAt.toISOString() } : {}),
    checks,
    clean: erasure !== undefined && checks.every((c) => c.found === 0),
  };
}

/** The audit as lines for the terminal. */
export function auditText(audit: ErasureAudit): string {
  const lines = audit.checks.map(
    (c) => `  ${c.found === 0 ? 'ok  ' : 'FOUND'} ${c.store}: ${c.checked}${c.found ? ` (${c.found})` : ''}`,
  );
  const verdict = audit.clean
    ? `${audit.entityType} ${audit.id}: erased${audit.erasedAt ? ` at ${audit.erasedAt}` : ''}; nothing of it found in any store checked`
    : `${audit.entityType} ${audit.id}: NOT fully erased`;
  return [verdict, ...lines].join('\n');
}
