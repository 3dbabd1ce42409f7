import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../../schemas/config.ts';

describe('config: the Elasticsearch client traces only where OpenTelemetry is configured', () => {
  const traced = (env: Record<string, string>) => loadConfig(env).elasticsearch.openTelemetry;

  test('off by default, on with an OTLP endpoint or a traces exporter', () => {
    assert.equal(traced({}), false);
    assert.equal(traced({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }), true);
    assert.equal(traced({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318/v1/traces' }), true);
    assert.equal(traced({ OTEL_TRACES_EXPORTER: 'otlp' }), true);
    assert.equal(traced({ OTEL_TRACES_EXPORTER: 'none' }), false);
  });

  test("the client's own switch wins either way", () => {
    assert.equal(traced({ OTEL_ELASTICSEARCH_ENABLED: 'true' }), true);
    assert.equal(
      traced({ OTEL_ELASTICSEARCH_ENABLED: 'false', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }),
      false,
    );
  });
});
