import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { healthKey, pointerKey, pointerKeyFilter } from '../../log/checkpoints.ts';
import {
  isJetStreamApiError,
  isStreamNotFound,
  MoreJetStreamApiCodes,
} from '../../log/contentLog/natsErrors.ts';
import { asOfIndexName, versionedIndexName } from '../../projectors/indexes.ts';
import { createNames } from '../../schemas/names.ts';

describe('checkpoint bucket keys', () => {
  test('pointers and health under their prefixes; the filter matches every pointer and nothing else', () => {
    assert.equal(pointerKey('articles'), 'alias.articles');
    assert.equal(healthKey('articles'), 'health.articles');
    const filter = new RegExp(`^${pointerKeyFilter().replace('.', '\\.').replace('*', '[^.]+')}$`);
    assert.ok(filter.test(pointerKey('bylines')));
    assert.ok(!filter.test(healthKey('bylines')));
  });

  test('index names (the checkpoints’ keys) never collide with the prefixed keys', () => {
    const names = createNames('presslog-test');
    for (const index of [
      versionedIndexName(names, 'articles'),
      asOfIndexName(names, 'images', new Date(0)),
    ]) {
      assert.ok(!index.includes('.'), index);
    }
  });
});

describe('JetStream API errors', () => {
  const apiError = (code: number) => new JetStreamApiError({ code: 400, err_code: code, description: 'x' });

  test('compared by code, through JetStreamApiCodes or the codes it lacks', () => {
    assert.ok(isStreamNotFound(apiError(JetStreamApiCodes.StreamNotFound)));
    assert.ok(!isStreamNotFound(apiError(JetStreamApiCodes.NoMessageFound)));
    assert.ok(isJetStreamApiError(apiError(10058), MoreJetStreamApiCodes.StreamNameInUse));
    assert.ok(!isJetStreamApiError(new Error('x'), MoreJetStreamApiCodes.MessageTooLarge));
  });
});
