import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createShutdownSignal, maskCredentials } from '../../scripts/runtime.ts';

test('maskCredentials hides passwords in URLs and leaves the rest', () => {
  assert.equal(maskCredentials('redis://:s3cret@127.0.0.1:6379'), 'redis://:***@127.0.0.1:6379');
  assert.equal(
    maskCredentials('not a URL: "nats//reader:hunter2@x" and https://u:p@es:9200/'),
    'not a URL: "nats//reader:***@x" and https://u:***@es:9200/',
  );
  assert.equal(maskCredentials('http://user@es:9200 http://es:9200'), 'http://user@es:9200 http://es:9200');
});

test('the shutdown signal aborts on SIGTERM, and dispose removes its handlers', () => {
  const before = process.listenerCount('SIGTERM');
  const shutdown = createShutdownSignal();
  assert.equal(process.listenerCount('SIGTERM'), before + 1);
  process.emit('SIGTERM', 'SIGTERM');
  assert.equal(shutdown.signal.aborted, true);
  shutdown.dispose();
  shutdown.dispose();
  assert.equal(process.listenerCount('SIGTERM'), before);
});
