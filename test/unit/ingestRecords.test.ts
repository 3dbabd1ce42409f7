import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { normalizeDate, parseRecord, type RecordProblem } from '../../ingest/records.ts';

const article = {
  kind: 'article',
  id: 'sotu-1862',
  headline: 'Annual Message to Congress',
  body: 'Fellow-citizens of the Senate ...',
  section: 'politics',
  publishedAt: '1862-12-01T12:00:00Z',
  bylines: ['b-lincoln'],
  images: ['img-boats'],
  tags: ['state-of-the-union'],
};

function problems(value: unknown): RecordProblem[] {
  const result = parseRecord(value);
  assert.equal(result.ok, false, `expected ${JSON.stringify(value)} to be rejected`);
  return result.ok ? [] : result.problems;
}

function fieldsOf(value: unknown): string[] {
  return problems(value).map((p) => p.field);
}

describe('parseRecord', () => {
  test('accepts the four record shapes of the issue', () => {
    const records = [
      {
        kind: 'byline',
        id: 'b-lincoln',
        name: 'Abraham Lincoln',
        bio: '16th President of the United States',
      },
      {
        kind: 'image',
        id: 'img-boats',
        file: 'images/boats.jpg',
        caption: 'Boats',
        credit: 'Photographer name',
      },
      article,
      { kind: 'article', id: 'sotu-1862', retracted: true, reason: 'duplicate of sotu-1862b' },
    ];
    for (const record of records) {
      const result = parseRecord(record);
      assert.ok(result.ok, JSON.stringify(result));
    }
  });

  test('defaults the optional lists of an article', () => {
    const { bylines: _b, images: _i, tags: _t, ...minimal } = article;
    const result = parseRecord(minimal);
    assert.ok(result.ok);
    assert.deepEqual(
      result.record.kind === 'article' && 'bylines' in result.record && result.record.bylines,
      [],
    );
  });

  test('names a missing field', () => {
    const { headline: _h, ...rest } = article;
    assert.deepEqual(problems(rest), [{ field: 'headline', message: 'is required' }]);
  });

  test('names a wrongly typed field and says what it got', () => {
    const [problem] = problems({ ...article, bylines: 'b-lincoln' });
    assert.equal(problem?.field, 'bylines');
    assert.match(problem!.message, /array .*got the string "b-lincoln"/);
    assert.deepEqual(fieldsOf({ ...article, headline: 42 }), ['headline']);
    assert.deepEqual(fieldsOf({ ...article, tags: ['ok', 7] }), ['tags[1]']);
  });

  test('rejects an unknown kind, a missing kind and a non-object', () => {
    assert.match(
      problems({ ...article, kind: 'video' })[0]!.message,
      /unknown kind "video" \(expected one of byline, image, article\)/,
    );
    assert.deepEqual(fieldsOf({ id: 'x' }), ['kind']);
    assert.match(problems([1, 2])[0]!.message, /must be a JSON object, got an array/);
    assert.match(problems(null)[0]!.message, /got null/);
  });

  test('rejects bad id characters, in the id and in references', () => {
    const [problem] = problems({ ...article, id: 'sotu 1862/a' });
    assert.equal(problem?.field, 'id');
    assert.match(problem!.message, /1-128 characters of A-Z, a-z, 0-9, _ and -/);
    assert.deepEqual(fieldsOf({ ...article, bylines: ['ok', 'b.lincoln'] }), ['bylines[1]']);
    assert.deepEqual(fieldsOf({ ...article, id: 'x'.repeat(129) }), ['id']);
  });

  test('rejects bad dates: impossible, rolled over, without a zone, not a date', () => {
    for (const publishedAt of [
      '2024-13-40',
      '2024-02-30',
      '2024-02-30T10:00:00Z',
      '1862-12-01T12:00:00',
      'yesterday',
      '',
    ]) {
      const [problem] = problems({ ...article, publishedAt });
      assert.equal(problem?.field, 'publishedAt', publishedAt);
      assert.match(problem!.message, /ISO 8601/);
    }
    assert.deepEqual(fieldsOf({ ...article, publishedAt: 1862 }), ['publishedAt']);
  });

  test('normalizes a bare date to midnight UTC and keeps zoned date-times', () => {
    const result = parseRecord({ ...article, publishedAt: '1862-12-01' });
    assert.ok(result.ok && result.record.kind === 'article' && 'publishedAt' in result.record);
    assert.equal((result.record as { publishedAt: string }).publishedAt, '1862-12-01T00:00:00Z');
    assert.equal(normalizeDate('2024-05-01T12:00:00+02:00'), '2024-05-01T12:00:00+02:00');
    assert.equal(normalizeDate('2024-02-29'), '2024-02-29T00:00:00Z');
    assert.equal(normalizeDate('2023-02-29'), undefined);
  });

  test('rejects unknown fields (a misspelled optional field must not vanish)', () => {
    assert.deepEqual(problems({ ...article, sectoin: 'x' }), [
      { field: 'sectoin', message: 'unknown field' },
    ]);
  });

  test('a retraction is told apart by retracted: true, and takes only a reason', () => {
    assert.deepEqual(fieldsOf({ kind: 'article', id: 'a', retracted: true, headline: 'x' }), ['headline']);
    assert.ok(parseRecord({ ...article, retracted: false }).ok);
  });

  test('image records need a file', () => {
    assert.deepEqual(fieldsOf({ kind: 'image', id: 'img-1' }), ['file']);
    assert.deepEqual(fieldsOf({ kind: 'image', id: 'img-1', file: '' }), ['file']);
  });

  test('limits mirror the event schemas', () => {
    assert.deepEqual(fieldsOf({ ...article, body: 'x'.repeat(512 * 1024 + 1) }), ['body']);
    assert.deepEqual(fieldsOf({ ...article, headline: '' }), ['headline']);
  });
});
