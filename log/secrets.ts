import { randomBytes } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Names } from '../schemas/names.ts';
import { openKv } from './stores.ts';

/** Options of {@link deploymentSecret}. */
export interface DeploymentSecretOptions {
  nc: NatsConnection;
  names: Names;
  /** Replicas of the secrets bucket when it is created (default 1). */
  replicas?: number;
}

/**
 * A random 32-byte secret shared by every process of one deployment (namespace), kept in
 * the KV bucket `names.bucket('secrets')`: the first process to ask creates it (with
 * `create`, so two processes starting together still agree), every later one reads it.
 * For signing what the API hands out (cursors) without a setting an operator must
 * remember to give every host.
 */
export async function deploymentSecret(name: string, options: DeploymentSecretOptions): Promise<Uint8Array> {
  const kv = await openKv(options.nc, options.names, 'secrets', options.replicas);
  const read = async () => {
    const entry = await kv.get(name);
    return entry?.operation === 'PUT' && entry.length > 0 ? entry.value : undefined;
  };
  const existing = await read();
  if (existing) return existing;
  try {
    await kv.create(name, randomBytes(32));
  } catch {
    // Another process created it first (or the create failed): read what is there.
  }
  const secret = await read();
  if (!secret) throw new Error(`the deployment secret ${name} could not be created or read`);
  return secret;
}
