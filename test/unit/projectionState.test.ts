import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { createArticleLoader, createProjectionEngine } from '../../projectors/engine.ts';
import {
  createProjectionState,
  restoreProjectionState,
  type StateRecord,
  StateRecordError,
} from '../../projectors/state/projectionState.ts';
import { openStateFiles } from '../support/openFiles.ts';
import { articleFields, makeEvent } from '../support/projectorsEvents.ts';

describe('projection state lifecycle', () => {
  let dir: string;
  // A write buffer of 256 bytes: a few byline states and the state has files open.
  const options = () => ({ stateFiles: { dir, bufferBytes: 256 } });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'presslog-state-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('closes its files, twice without harm, and refuses use after close', () => {
    const before = openStateFiles();
    const state = createProjectionState(options());
    for (let i = 0; i < 20; i++)
      state.apply(i + 1, makeEvent('BylineRegistered', `b${i}`, { name: `Name ${i}` }));
    state.apply(21, makeEvent('ArticlePublished', 'a1', articleFields({ bylineIds: ['b1'] })));
    assert.ok(openStateFiles() > before, 'the byline states went to a file');
    state.close();
    assert.equal(openStateFiles(), before);
    state.close();
    assert.throws(
      () => state.apply(22, makeEvent('BylineUpdated', 'b1', { name: 'x' })),
      /projection state is closed/,
    );
    assert.throws(() => state.article('a1'), /projection state is closed/);
    assert.throws(() => state.renderByline('b1'), /projection state is closed/);
    assert.throws(() => state.records(), /projection state is closed/);
    assert.throws(() => state.stats(), /projection state is closed/);
  });

  it('restoring closes what it opened when a record is bad', async () => {
    const before = openStateFiles();
    const source = createProjectionState(options());
    for (let i = 0; i < 20; i++)
      source.apply(i + 1, makeEvent('BylineRegistered', `b${i}`, { name: `Name ${i}` }));
    const records: StateRecord[] = [...source.records(), ['x', 'bad'] as unknown as StateRecord];
    source.close();
    await assert.rejects(restoreProjectionState(20, records, options()), StateRecordError);
    assert.equal(openStateFiles(), before);
  });

  it('an engine closes the state it holds, also as a using declaration', () => {
    const loadArticle = createArticleLoader({
      lastEvent: async () => undefined,
      readEntity: async () => [],
    });
    const given = createProjectionState(options());
    const engine = createProjectionEngine({ projections: ['articles'], loadArticle, state: given });
    engine.close();
    engine.close();
    assert.throws(() => given.apply(1, makeEvent('BylineRegistered', 'b1', { name: 'x' })), /closed/);
    let held: ReturnType<typeof createProjectionEngine> | undefined;
    {
      using scoped = createProjectionEngine({ projections: ['articles'], loadArticle });
      held = scoped;
      scoped.apply(1, makeEvent('BylineRegistered', 'b1', { name: 'x' }));
    }
    assert.throws(() => held.state.stats(), /projection state is closed/);
  });
});
