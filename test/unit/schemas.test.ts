import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { encodeEvent, HEADER_RESERVE_BYTES } from '../../log/codec.ts';
import { sampleArticle, sampleByline, sampleEvent } from '../../log/sampleEvents.ts';
import { type ArticlePublishedV1, MAX_BODY_CHARS } from '../../schemas/articleEvents.ts';
import { CATALOG, checkEvent, EVENT_TYPES, jsonSchemas, validateEvent } from '../../schemas/catalog.ts';
import { InvalidEventError } from '../../schemas/errors.ts';
import {
  canonicalJson,
  deriveEventId,
  deriveEventIdFromPayload,
  type EventIdInput,
  eventIdHead,
} from '../../schemas/eventId.ts';
import { jsonSchemaFiles } from '../../schemas/jsonSchemaFiles.ts';
import { type ArticleState, applyEvent, foldEntity, type ImageState } from '../../schemas/state.ts';

const DIGEST_A = `sha256:${'a'.repeat(64)}`;
const DIGEST_B = `sha256:${'b'.repeat(64)}`;

function v1Article(overrides: Partial<ArticlePublishedV1['payload']> = {}): ArticlePublishedV1 {
  return {
    id: 'legacy-1',
    type: 'ArticlePublished',
    version: 1,
    entityType: 'article',
    entityId: 'a-1',
    occurredAt: '2015-05-05T10:00:00Z',
    recordedAt: '2015-05-05T10:00:01Z',
    source: 'legacy-cms',
    payload: {
      headline: 'Old story',
      body: 'Text.',
      publishedAt: '2015-05-05T10:00:00Z',
      bylineId: 'b-7',
      imageIds: [],
      tags: [],
      ...overrides,
    },
  };
}

function rejects(value: unknown, path: string, rule?: RegExp): InvalidEventError {
  try {
    validateEvent(value);
  } catch (err) {
    assert.ok(err instanceof InvalidEventError, `expected InvalidEventError, got ${err}`);
    assert.ok(
      err.problems.some((p) => p.path === path),
      `expected a problem at ${path}, got ${JSON.stringify(err.problems)}`,
    );
    assert.match(err.message, new RegExp(path.replaceAll('/', '\\/')));
    if (rule) assert.match(err.problems.find((p) => p.path === path)!.message, rule);
    return err;
  }
  assert.fail(`expected ${JSON.stringify(value).slice(0, 80)} to be rejected`);
}

describe('event validation', () => {
  test('valid samples of every kind pass', () => {
    assert.deepEqual(checkEvent(sampleArticle('a-1')), []);
    assert.deepEqual(checkEvent(sampleByline('b-1')), []);
    assert.deepEqual(
      checkEvent(
        sampleEvent('ImageSubmitted', 'img-1', {
          fileName: 'x.jpg',
          original: { digest: DIGEST_A, bytes: 10, mediaType: 'image/jpeg' },
        }),
      ),
      [],
    );
  });

  test('errors name the event, the field and the rule', () => {
    const article = sampleArticle('a-1');
    const err = rejects(
      { ...article, payload: { ...article.payload, headline: '' } },
      '/payload/headline',
      /length/,
    );
    assert.match(err.message, /^invalid ArticlePublished event /);
    assert.match(err.message, new RegExp(article.id));
    rejects({ ...article, occurredAt: '2024-13-40T00:00:00Z' }, '/occurredAt', /date-time/);
    rejects({ ...article, entityId: 'a.1' }, '/entityId', /Expected string to match/);
    rejects({ ...article, entityId: 'a 1' }, '/entityId');
    rejects({ ...article, entityId: 'a>' }, '/entityId');
    rejects({ ...article, id: 'x*' }, '/id');
    rejects({ ...article, payload: { ...article.payload, extra: 1 } }, '/payload/extra');
    rejects(
      { ...article, payload: { ...article.payload, body: 'x'.repeat(MAX_BODY_CHARS + 1) } },
      '/payload/body',
    );
    rejects({ ...article, entityType: 'image' }, '/entityType');
    rejects(
      sampleEvent('ImageProcessed', 'img-1', {
        original: DIGEST_A,
        width: 1,
        height: 1,
        format: 'jpeg',
        hasAlpha: false,
        dominantColor: 'red',
        placeholder: '',
        renditions: [],
      }),
      '/payload/dominantColor',
    );
  });

  test('unknown types and versions are named', () => {
    rejects({ type: 'ArticleDeleted', version: 1 }, '/type', /unknown event type/);
    rejects(
      { ...sampleArticle('a-1'), version: 9 },
      '/version',
      /unknown version 9 of ArticlePublished \(known: 1, 2\)/,
    );
    rejects(null, '/type');
  });

  test('append accepts only the current version', () => {
    assert.throws(() => validateEvent(v1Article(), { currentOnly: true }), /must be the current version 2/);
    assert.equal(validateEvent(sampleArticle('a-1'), { currentOnly: true }).version, 2);
  });
});

describe('upcasting', () => {
  test('ArticlePublished v1 → v2: the single byline becomes a list', () => {
    const upcast = validateEvent(v1Article());
    assert.equal(upcast.version, 2);
    assert.equal(upcast.type, 'ArticlePublished');
    assert.deepEqual((upcast.payload as { bylineIds: string[] }).bylineIds, ['b-7']);
    assert.equal('bylineId' in upcast.payload, false);
    assert.deepEqual(checkEvent(upcast), [], 'the upcast event is a valid v2 event');
  });

  test('v1 without a byline → empty list; ArticleRevised v1 too', () => {
    const { bylineId: _, ...payload } = v1Article().payload;
    const none = validateEvent({ ...v1Article(), payload });
    assert.deepEqual((none.payload as { bylineIds: string[] }).bylineIds, []);
    const revised = validateEvent({ ...v1Article(), type: 'ArticleRevised' });
    assert.equal(revised.type, 'ArticleRevised');
    assert.equal(revised.version, 2);
  });

  test('the upcaster does not mutate the stored value', () => {
    const stored = v1Article();
    const copy = structuredClone(stored);
    validateEvent(stored);
    assert.deepEqual(stored, copy);
  });

  test('every old version of every type has an upcaster', () => {
    for (const [type, entry] of Object.entries(CATALOG)) {
      for (const [version, v] of entry.versions) {
        if (version < entry.current) assert.ok(v.upcast, `${type} v${version} has no upcaster`);
      }
    }
  });
});

describe('event ids', () => {
  const input = {
    type: 'BylineRegistered',
    entityType: 'byline',
    entityId: 'b-1',
    payload: { name: 'Ann', bio: 'x' },
    basisSeq: 0,
  };

  test('deterministic, key order irrelevant, subject-safe', () => {
    const a = deriveEventId(input);
    const b = deriveEventId({ ...input, payload: { bio: 'x', name: 'Ann' } });
    assert.equal(a, b);
    assert.match(a, /^[A-Za-z0-9_-]{43}$/);
  });

  test('content, entity and basis all change the id', () => {
    const base = deriveEventId(input);
    assert.notEqual(deriveEventId({ ...input, payload: { name: 'Ann', bio: 'y' } }), base);
    assert.notEqual(deriveEventId({ ...input, entityId: 'b-2' }), base);
    assert.notEqual(deriveEventId({ ...input, type: 'BylineUpdated' }), base);
    // A → B → A: the return to A is a new decision, hence a new event.
    assert.notEqual(deriveEventId({ ...input, basisSeq: 7 }), base);
  });

  test('an id from the payload bytes already made is the id of the whole material: ids in existing logs stay valid', () => {
    const expectedOf = (i: EventIdInput) =>
      createHash('sha256')
        .update(canonicalJson([i.type, i.entityType, i.entityId, i.basisSeq, i.payload]))
        .digest('base64url');
    const utf8 = (i: EventIdInput) => Buffer.from(canonicalJson(i.payload));
    assert.equal(deriveEventId(input), expectedOf(input));
    assert.equal(deriveEventIdFromPayload(input, utf8(input)), expectedOf(input));
    const tricky = {
      ...input,
      entityId: 'a"\\u2028',
      basisSeq: 12,
      payload: { b: ['x', { d: 1, c: 2 }], a: 'é\n😀' },
    };
    assert.equal(deriveEventIdFromPayload(tricky, utf8(tricky)), expectedOf(tricky));
    assert.equal(
      eventIdHead(tricky),
      canonicalJson([tricky.type, tricky.entityType, tricky.entityId, 12, 0]).slice(0, -2),
    );
  });

  test('canonicalJson sorts keys at every level, keeps array order', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [3, 1], c: null } }), '{"a":{"c":null,"d":[3,1]},"b":1}');
  });
});

describe('state fold', () => {
  test('article: published → revised → retracted → republished', () => {
    const published = sampleArticle('a-1', { headline: 'First' });
    const revised = sampleEvent(
      'ArticleRevised',
      'a-1',
      { ...published.payload, headline: 'Second' },
      { basisSeq: 1 },
    );
    const retracted = sampleEvent('ArticleRetracted', 'a-1', { reason: 'legal' }, { basisSeq: 2 });
    const again = sampleEvent(
      'ArticleRevised',
      'a-1',
      { ...published.payload, headline: 'Third' },
      { basisSeq: 3 },
    );
    const state = foldEntity([
      { event: published, seq: 10 },
      { event: revised, seq: 12 },
      { event: retracted, seq: 15 },
    ]) as ArticleState;
    assert.equal(state.fields.headline, 'Second');
    assert.equal(state.retracted, true);
    assert.equal(state.retractReason, 'legal');
    assert.deepEqual([state.firstSeq, state.lastSeq, state.events], [10, 15, 3]);
    const back = applyEvent(state, again, 20) as ArticleState;
    assert.equal(back.retracted, false);
    assert.equal(back.fields.headline, 'Third');
  });

  test('image: processing results belong to the original they were made from', () => {
    const original = { digest: DIGEST_A, bytes: 10, mediaType: 'image/jpeg' };
    const processed = {
      original: DIGEST_A,
      width: 10,
      height: 5,
      format: 'jpeg',
      hasAlpha: false,
      dominantColor: '#000000',
      placeholder: 'data:image/webp;base64,AA',
      renditions: [],
    };
    let state = foldEntity([
      {
        event: sampleEvent('ImageSubmitted', 'img-1', { fileName: 'a.jpg', caption: 'Harbour', original }),
        seq: 1,
      },
      { event: sampleEvent('ImageProcessed', 'img-1', processed), seq: 2 },
    ]) as ImageState;
    assert.equal(state.processed?.width, 10);
    assert.equal(state.processed?.seq, 2);
    // Caption-only update keeps the results; a new original drops them.
    state = applyEvent(state, sampleEvent('ImageUpdated', 'img-1', { caption: 'Dawn' }), 3) as ImageState;
    assert.equal(state.caption, 'Dawn');
    assert.ok(state.processed);
    const replaced = { digest: DIGEST_B, bytes: 20, mediaType: 'image/png' };
    state = applyEvent(
      state,
      sampleEvent('ImageUpdated', 'img-1', { caption: 'Dawn', original: replaced }),
      4,
    ) as ImageState;
    assert.equal(state.processed, undefined);
    // A late result for the old original is history, not state.
    state = applyEvent(
      state,
      sampleEvent('ImageProcessed', 'img-1', processed, { basisSeq: 4 }),
      5,
    ) as ImageState;
    assert.equal(state.processed, undefined);
    assert.equal(state.lastSeq, 5);
    const failed = sampleEvent('ImageProcessingFailed', 'img-1', {
      original: DIGEST_B,
      reason: 'corrupt',
      attempts: 3,
    });
    state = applyEvent(state, failed, 6) as ImageState;
    assert.equal(state.failed?.reason, 'corrupt');
    state = applyEvent(state, sampleEvent('ImageRemoved', 'img-1', {}), 7) as ImageState;
    assert.equal(state.removed, true);
  });

  test('byline: last full state wins; no events → undefined', () => {
    const state = foldEntity([
      { event: sampleByline('b-1', 'Ann'), seq: 1 },
      { event: sampleEvent('BylineUpdated', 'b-1', { name: 'Ann B.', bio: 'Reporter' }), seq: 4 },
    ]);
    assert.deepEqual(state?.entityType === 'byline' && state.fields, { name: 'Ann B.', bio: 'Reporter' });
    assert.equal(foldEntity([]), undefined);
  });
});

describe('payload size', () => {
  test('an ASCII body at MAX_BODY_CHARS fits in one message; multibyte text may not (append checks bytes)', () => {
    const limit = 1024 * 1024 - HEADER_RESERVE_BYTES;
    const ascii = sampleArticle('a-1', { bodyChars: MAX_BODY_CHARS });
    assert.ok(encodeEvent(ascii).byteLength < limit);
    // 3 UTF-8 bytes per character: the character cap alone cannot guarantee the byte limit.
    const cjk = { ...ascii, payload: { ...ascii.payload, body: '記'.repeat(MAX_BODY_CHARS) } };
    assert.deepEqual(checkEvent(cjk), []);
    assert.ok(encodeEvent(cjk).byteLength > limit);
    // JSON escaping: a control character costs six bytes.
    const escaped = { ...ascii, payload: { ...ascii.payload, body: '\u0001'.repeat(200_000) } };
    assert.ok(encodeEvent(escaped).byteLength > limit);
  });
});

describe('JSON Schema export', () => {
  test('one schema per type and version, draft-07, $id matching the file', () => {
    const files = jsonSchemaFiles();
    assert.equal(files.size, Object.keys(jsonSchemas()).length + 1);
    for (const type of EVENT_TYPES) {
      for (const version of CATALOG[type].versions.keys()) {
        const text = files.get(`${type}.v${version}.json`);
        assert.ok(text, `${type}.v${version}.json`);
        const schema = JSON.parse(text) as Record<string, unknown>;
        assert.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#');
        assert.equal(schema.$id, `${type}.v${version}.json`);
        assert.equal(schema.additionalProperties, false);
      }
    }
  });

  test('the committed files in schemas/json are up to date (run `presslog schemas export`)', async () => {
    const dir = join(import.meta.dirname, '../../schemas/json');
    const files = jsonSchemaFiles();
    const onDisk = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
    assert.deepEqual(onDisk, [...files.keys()].sort());
    for (const [name, content] of files) {
      assert.equal(await readFile(join(dir, name), 'utf8'), content, `${name} is stale`);
    }
  });
});

describe('validation cost', () => {
  test('a compiled check of a 1.5 KB event takes microseconds (sanity bound, not a benchmark)', () => {
    const events = Array.from({ length: 2_000 }, (_, i) =>
      JSON.stringify(sampleArticle(`a-${i}`, { seed: i + 1 })),
    );
    const started = performance.now();
    for (const text of events) validateEvent(JSON.parse(text));
    const perEvent = ((performance.now() - started) * 1000) / events.length;
    assert.ok(perEvent < 200, `${perEvent.toFixed(1)} µs per event`);
  });
});
