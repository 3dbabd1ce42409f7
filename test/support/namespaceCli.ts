import assert from 'node:assert/strict';
import { jetstreamManager } from '@nats-io/jetstream';
import { runCli } from './cli.ts';
import type { TestNamespace } from './env.ts';

/** The environment a CLI run in the test's namespace needs (quiet unless it fails). */
export function namespaceEnv(ns: TestNamespace, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PRESSLOG_NAMESPACE: ns.config.namespace,
    PRESSLOG_BLOB_DIR: ns.config.blobDir,
    PRESSLOG_LOG_LEVEL: 'error',
    ...extra,
  };
}

/** `presslog <args>` in the namespace, asserted to exit with `expected` (its output in the message). */
export function namespaceCli(ns: TestNamespace, extra: Record<string, string> = {}) {
  const env = namespaceEnv(ns, extra);
  return async (args: string[], expected = 0) => {
    const run = await runCli(args, env);
    assert.equal(run.code, expected, `presslog ${args.join(' ')}: ${run.stderr}${run.stdout}`);
    return run;
  };
}

/** Every message of the content stream as stored, read raw, and how many there are. */
export async function rawStream(ns: TestNamespace): Promise<{ text: string; count: number }> {
  const jsm = await jetstreamManager(await ns.nats());
  const info = await jsm.streams.info(ns.names.stream);
  let text = '';
  let count = 0;
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(ns.names.stream, { seq }).catch(() => null);
    if (!m) continue;
    count++;
    text += `${Buffer.from(m.data).toString('utf8')}\n`;
  }
  return { text, count };
}

/** Every document of every index the namespace made (live, kept, as-of, dead letters), as text. */
export async function allIndexed(ns: TestNamespace): Promise<string> {
  const es = ns.es();
  await es.indices.refresh({ index: `${ns.config.namespace}-*` });
  const found = await es.search({
    index: `${ns.config.namespace}-*`,
    size: 10_000,
    query: { match_all: {} },
  });
  return JSON.stringify(found.hits.hits);
}
