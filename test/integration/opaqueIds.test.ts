import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { OPAQUE_ID } from '../../ingest/opaqueIds.ts';
import { withNamespace } from '../support/env.ts';
import { allIndexed, namespaceCli, rawStream } from '../support/namespaceCli.ts';

const RECORDS = [
  { kind: 'byline', id: 'b-jane-doe', name: 'Jane Doe' },
  {
    kind: 'article',
    id: 'jane-doe-interview',
    headline: 'An interview',
    body: 'Questions and answers.',
    publishedAt: '2026-01-01',
    bylines: ['b-jane-doe'],
  },
];

test('PRESSLOG_OPAQUE_IDS: ids that carry a name are stored opaque; commands take the readable id; erasure leaves no name', async () => {
  await withNamespace(async (ns) => {
    const dir = await mkdtemp(join(tmpdir(), 'presslog-opaque-'));
    try {
      const file = join(dir, 'records.ndjson');
      await writeFile(file, RECORDS.map((r) => JSON.stringify(r)).join('\n'));
      const cli = namespaceCli(ns, { PRESSLOG_OPAQUE_IDS: 'true' });
      await cli(['ingest', file, '--no-progress']);
      const raw = await rawStream(ns);
      assert.equal(raw.count, 2);
      assert.ok(!raw.text.includes('jane'), 'no subject, id or envelope names her');

      const shown = JSON.parse((await cli(['--json', 'show', 'article', 'jane-doe-interview'])).stdout);
      const [byline] = shown.state.fields.bylineIds as string[];
      assert.match(byline!, OPAQUE_ID);
      const person = JSON.parse((await cli(['--json', 'show', 'byline', 'b-jane-doe'])).stdout);
      assert.equal(person.state.fields.name, 'Jane Doe');
      // The opaque id works too (what search results show).
      const same = JSON.parse((await cli(['--json', 'show', 'byline', byline!])).stdout);
      assert.equal(same.state.fields.name, 'Jane Doe');

      const again = JSON.parse((await cli(['--json', 'ingest', file, '--no-progress'])).stdout);
      assert.equal(again.appended, 0, 'a re-ingest maps to the same ids');

      await cli(['reindex', 'all', '--no-progress']);
      assert.ok((await allIndexed(ns)).includes('Jane Doe'));
      assert.ok(!(await allIndexed(ns)).includes('jane-doe'), 'no document id names her');

      await cli(['erase', 'byline', 'b-jane-doe', '--reason', 'right to be forgotten']);
      await cli(['project', '--once']);
      const history = JSON.parse((await cli(['--json', 'history', 'byline', 'b-jane-doe'])).stdout);
      assert.equal(history.erased.length, 1);
      assert.ok(!(await rawStream(ns)).text.includes('Jane'), 'the raw log holds no name');
      assert.ok(!(await allIndexed(ns)).includes('Jane'), 'no index holds her name');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
