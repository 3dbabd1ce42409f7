import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from '../support/cli.ts';

// Configuration and usage errors are found before any server is contacted, so these
// run without services.

test('a malformed NATS_URL exits 2 and names the variable', async () => {
  const run = await runCli(['services', 'status'], { NATS_URL: '::not a url::' });
  assert.equal(run.code, 2, run.stderr);
  assert.match(run.stderr, /NATS_URL/);
  assert.equal(run.stdout, '');
});

test('a bad PRESSLOG_NAMESPACE exits 2 and names the variable', async () => {
  const run = await runCli(['services', 'status'], { PRESSLOG_NAMESPACE: 'Not_Valid' });
  assert.equal(run.code, 2, run.stderr);
  assert.match(run.stderr, /PRESSLOG_NAMESPACE/);
});

test('an unknown command or option exits 2', async () => {
  for (const args of [['no-such-command'], ['services', 'up', '--no-such-option'], ['services']]) {
    const run = await runCli(args);
    assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
  }
});

test('--help exits 0 and lists the commands', async () => {
  const run = await runCli(['--help']);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /services/);
});

test('secrets never reach the output of a configuration error', async () => {
  const badUrl = await runCli(['services', 'status'], { NATS_URL: 'nats//reader:hunter2@nats.example' });
  assert.equal(badUrl.code, 2);
  assert.match(badUrl.stderr, /NATS_URL/);
  assert.doesNotMatch(badUrl.stderr + badUrl.stdout, /hunter2/);

  const halfCredentials = await runCli(['services', 'status'], {
    ELASTICSEARCH_USERNAME: undefined,
    ELASTICSEARCH_PASSWORD: 'hunter2',
  });
  assert.equal(halfCredentials.code, 2);
  assert.match(halfCredentials.stderr, /ELASTICSEARCH_USERNAME/);
  assert.doesNotMatch(halfCredentials.stderr + halfCredentials.stdout, /hunter2/);
});

test('with --json a configuration error is one JSON object on stderr', async () => {
  const run = await runCli(['--json', 'services', 'status'], { REDIS_URL: 'http://127.0.0.1:6379' });
  assert.equal(run.code, 2);
  const { error } = JSON.parse(run.stderr) as { error: { name: string; variable: string } };
  assert.equal(error.name, 'ConfigError');
  assert.equal(error.variable, 'REDIS_URL');
});
