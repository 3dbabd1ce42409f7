import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { generateArchive } from '../../ingest/generate.ts';
import { blobPath, createBlobStore, createNatsBlobStore, digestOf } from '../../log/blobStore.ts';
import { startServer } from '../../scripts/commands/serve.ts';
import { createLogger } from '../../scripts/runtime.ts';
import { runCli } from '../support/cli.ts';
import { withNamespace } from '../support/env.ts';
import { freePort } from '../support/privateNats.ts';

const sha256 = (bytes: Uint8Array) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

describe('the NATS object store blob store (PRESSLOG_BLOB_STORE=nats)', () => {
  test('put, read, stream, head, size, list; the same bytes twice are stored once', async () => {
    await withNamespace(async (ns) => {
      const blobs = createNatsBlobStore({ nc: await ns.nats(), names: ns.config.names });
      // Larger than one object store chunk (128 KiB), so reads reassemble chunks.
      const big = Buffer.alloc(300_000, 7);
      big.write('presslog', 1000);
      const first = await blobs.put(big);
      assert.deepEqual(first, { digest: digestOf(big), bytes: big.length, existed: false });
      assert.equal((await blobs.put(big)).existed, true);
      assert.equal(await blobs.size(first.digest), big.length);
      assert.deepEqual(await blobs.read(first.digest), big);
      const chunks: Buffer[] = [];
      for await (const chunk of (await blobs.stream(first.digest))!) chunks.push(chunk as Buffer);
      assert.deepEqual(Buffer.concat(chunks), big);
      assert.deepEqual(Buffer.from((await blobs.head(first.digest, 16))!), big.subarray(0, 16));
      const small = await blobs.put(Buffer.from('a rendition'));
      const listed = [];
      for await (const digest of blobs.list()) listed.push(digest);
      assert.deepEqual(listed.sort(), [first.digest, small.digest].sort());
      const missing = `sha256:${'0'.repeat(64)}`;
      assert.equal(await blobs.size(missing), undefined);
      assert.equal(await blobs.stream(missing), undefined);
      assert.equal(await blobs.has(missing), false);
      await assert.rejects(blobs.size('md5:abc'), /not a blob digest/);
    });
  });

  test('ingest, image workers and the HTTP server through the object store; blobs copy to a directory and back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'presslog-nats-blobs-'));
    try {
      await withNamespace(
        async (ns) => {
          const env = {
            PRESSLOG_NAMESPACE: ns.config.namespace,
            PRESSLOG_BLOB_STORE: 'nats',
            PRESSLOG_BLOB_DIR: join(dir, 'unused'),
            PRESSLOG_LOG_LEVEL: 'warn',
          };
          const archive = await generateArchive({ dir: join(dir, 'in'), records: 40, images: 3, seed: 5 });
          const ingest = await runCli(['ingest', ...archive.files], env);
          assert.equal(ingest.code, 0, ingest.stderr);
          const processed = await runCli(['images', 'process'], env);
          assert.equal(processed.code, 0, processed.stderr);
          const reindex = await runCli(['reindex', 'all', '--no-progress'], env);
          assert.equal(reindex.code, 0, reindex.stderr);
          // Nothing went to the directory: every original and rendition is in the bucket.
          const stored = [];
          const nats = createNatsBlobStore({ nc: await ns.nats(), names: ns.config.names });
          for await (const digest of nats.list()) stored.push(digest);
          assert.ok(stored.length >= 3 * 3, `originals and renditions stored, got ${stored.length}`);
          assert.deepEqual([...(await collect(createBlobStore(join(dir, 'unused')).list()))], []);

          const port = await freePort();
          const server = await startServer(ns.config, {
            port,
            host: '127.0.0.1',
            logger: createLogger(ns.config, { pretty: false, level: 'warn' }),
          });
          try {
            const image = await (await fetch(`${server.url}/api/images/img-000000`)).json();
            const renditions = (image as { renditions: { digest: string; mediaType: string }[] }).renditions;
            assert.ok(renditions.length >= 2);
            for (const rendition of renditions) {
              const response = await fetch(`${server.url}/renditions/${rendition.digest}`);
              assert.equal(response.status, 200);
              const bytes = Buffer.from(await response.arrayBuffer());
              assert.equal(sha256(bytes), rendition.digest);
              assert.equal(Number(response.headers.get('content-length')), bytes.length);
              assert.equal(response.headers.get('content-type'), rendition.mediaType);
              assert.equal(response.headers.get('etag'), `"${rendition.digest}"`);
              const again = await fetch(`${server.url}/renditions/${rendition.digest}`, {
                headers: { 'if-none-match': `"${rendition.digest}"` },
              });
              assert.equal(again.status, 304);
            }
          } finally {
            await server.close();
          }

          // To a directory, verified; a second run copies nothing; a corrupt copy is refused on the way back.
          const back = join(dir, 'back');
          const toDir = await runCli(['--json', 'blobs', 'copy', '--to', 'dir'], {
            ...env,
            PRESSLOG_BLOB_DIR: back,
          });
          assert.equal(toDir.code, 0, toDir.stderr);
          assert.equal(JSON.parse(toDir.stdout).copied, stored.length);
          const files = await collect(createBlobStore(back).list());
          assert.deepEqual(files.sort(), [...stored].sort());
          for (const digest of files) assert.equal(sha256(await readFile(blobPath(back, digest))), digest);
          const resumed = await runCli(['--json', 'blobs', 'copy', '--to', 'dir'], {
            ...env,
            PRESSLOG_BLOB_DIR: back,
          });
          assert.deepEqual(
            [JSON.parse(resumed.stdout).copied, JSON.parse(resumed.stdout).skipped],
            [0, stored.length],
          );
          const other = join(dir, 'other');
          const bad = Buffer.from('not what the digest says');
          const fake = `sha256:${'a'.repeat(64)}`;
          const store = createBlobStore(other);
          await store.put(Buffer.from('fine'));
          await (await import('node:fs/promises')).mkdir(join(other, 'sha256', 'aa', 'aa'), {
            recursive: true,
          });
          await writeFile(blobPath(other, fake), bad);
          const upload = await runCli(['--json', 'blobs', 'copy', '--to', 'nats'], {
            ...env,
            PRESSLOG_BLOB_DIR: other,
          });
          assert.equal(upload.code, 1);
          const result = JSON.parse(upload.stdout);
          assert.deepEqual(result.corrupt, [fake]);
          assert.equal(result.copied, 1);
          assert.equal(await nats.has(fake), false);
        },
        { PRESSLOG_BLOB_STORE: 'nats' },
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

async function collect(iterable: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}
