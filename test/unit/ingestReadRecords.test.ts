import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  formatLocation,
  type InputFile,
  invalidUtf8Offset,
  listInputFiles,
  nestedDeeperThan,
  readRecords,
  type SourceItem,
} from '../../ingest/readRecords.ts';
import { ConfigError } from '../../schemas/errors.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'presslog-read-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, content: string | Buffer): Promise<InputFile> {
  const path = join(dir, name);
  await writeFile(path, content);
  const format = name.endsWith('.json') ? 'json' : 'ndjson';
  return { path, root: dir, format, bytes: Buffer.byteLength(content) };
}

async function read(input: InputFile, maxRecordBytes?: number): Promise<SourceItem[]> {
  const items: SourceItem[] = [];
  for await (const item of readRecords(input, { maxRecordBytes })) items.push(item);
  return items;
}

/** `line:ok` / `line:reason` per item, compact for assertions. */
function summary(items: SourceItem[]): string[] {
  return items.map((i) => `${i.location.line ?? `[${i.location.index}]`}:${i.ok ? 'ok' : i.reason}`);
}

describe('readRecords: NDJSON', () => {
  test('one value per line; blank lines skipped, CRLF and a missing final newline fine, lines numbered in the file', async () => {
    const items = await read(await file('a.ndjson', '{"a":1}\r\n\n   \n{"a":2}\n{"a":3}'));
    assert.deepEqual(summary(items), ['1:ok', '4:ok', '5:ok']);
    assert.deepEqual(
      items.map((i) => i.ok && i.value),
      [{ a: 1 }, { a: 2 }, { a: 3 }],
    );
    assert.equal(items[0]!.ok && items[0]!.raw, '{"a":1}');
  });

  test('CR-only line endings (classic Mac) are line breaks too, blank lines and numbering as with LF', async () => {
    const items = await read(await file('cr.ndjson', '{"a":1}\r{"a":2}\r\r{"a":3}\r'));
    assert.deepEqual(summary(items), ['1:ok', '2:ok', '4:ok']);
    assert.equal(items[1]!.ok && items[1]!.raw, '{"a":2}');
  });

  test('a CRLF split across two read chunks is one line break; a lone CR at a chunk end is one too', async () => {
    const MiB = 1024 * 1024;
    const padded = (length: number) => `{"pad":"${'x'.repeat(length - 10)}"}`;
    // The reader takes 1 MiB chunks: the CR of the CRLF ends the first, a lone CR the second.
    const text = `${padded(MiB - 1)}\r\n${padded(MiB - 2)}\r{"a":3}`;
    assert.equal(text.indexOf('\r'), MiB - 1);
    assert.equal(text.lastIndexOf('\r'), 2 * MiB - 1);
    const items = await read(await file('chunks.ndjson', text));
    assert.deepEqual(summary(items), ['1:ok', '2:ok', '3:ok']);
    assert.equal(items[1]!.ok && (items[1]!.value as { pad: string }).pad.length, MiB - 12);
  });

  test("a malformed line is rejected alone, with the parser's reason and its bytes", async () => {
    const items = await read(await file('b.ndjson', '{"a":1}\n{"a":\n{"a":3}\n'));
    assert.equal(summary(items)[0], '1:ok');
    assert.match(summary(items)[1]!, /^2:malformed JSON: /);
    assert.equal(summary(items)[2], '3:ok');
    const bad = items[1]!;
    assert.ok(!bad.ok && Buffer.isBuffer(bad.raw) && bad.raw.toString() === '{"a":');
  });

  test('invalid UTF-8 is rejected with its byte offset and the original bytes (not replaced by U+FFFD)', async () => {
    const line = Buffer.concat([Buffer.from('{"name":"caf'), Buffer.from([0xe9]), Buffer.from('"}')]);
    const items = await read(await file('c.ndjson', Buffer.concat([line, Buffer.from('\n{"ok":true}\n')])));
    assert.deepEqual(summary(items), ['1:not valid UTF-8 at byte 12 of the line', '2:ok']);
    assert.ok(!items[0]!.ok && items[0]!.raw?.equals(line));
  });

  test('valid multi-byte UTF-8 and a BOM are read as text', async () => {
    const items = await read(await file('d.ndjson', '\ufeff{"name":"Café Ñandú 東京 🗞"}\n'));
    assert.deepEqual(
      items.map((i) => i.ok && i.value),
      [{ name: 'Café Ñandú 東京 🗞' }],
    );
  });

  test('an over-long line is rejected unread and the lines after it keep their numbers', async () => {
    const long = `{"x":"${'y'.repeat(5000)}"}`;
    const items = await read(
      await file('e.ndjson', `{"a":1}\n${long}\n{"a":3}\n${long}\n${long}\n{"a":6}\n${long}`),
      1000,
    );
    assert.deepEqual(
      summary(items).map((s) => s.replace(/longer than .*/, 'too long')),
      [
        '1:ok',
        '2:line is too long',
        '3:ok',
        '4:line is too long',
        '5:line is too long',
        '6:ok',
        '7:line is too long',
      ],
    );
    assert.equal(items[1]!.ok ? 'ok' : items[1]!.raw, undefined, 'no bytes are kept for an oversized line');
  });

  test('a line just under the cap is read, one just over it is not', async () => {
    const at = (n: number) => `{"x":"${'y'.repeat(n - 8)}"}`;
    assert.equal(at(100).length, 100);
    const items = await read(await file('f.ndjson', `${at(100)}\n${at(101)}\n`), 100);
    assert.deepEqual(
      summary(items).map((s) => s.replace(/longer than .*/, 'too long')),
      ['1:ok', '2:line is too long'],
    );
  });

  test('an empty file has no records', async () => {
    assert.deepEqual(await read(await file('g.ndjson', '')), []);
  });

  test('a missing file is one reject, not an exception', async () => {
    const items = await read({ path: join(dir, 'gone.ndjson'), root: dir, format: 'ndjson', bytes: 0 });
    assert.equal(items.length, 1);
    assert.match(summary(items)[0]!, /cannot read the file: ENOENT/);
  });
});

describe('readRecords: JSON arrays', () => {
  test('elements are located by index', async () => {
    const items = await read(await file('a.json', '[{"a":1}, {"a":2}, 3]'));
    assert.deepEqual(summary(items), ['[0]:ok', '[1]:ok', '[2]:ok']);
    assert.deepEqual(items[2]!.ok && items[2]!.value, 3);
  });

  test('a syntax error ends the file with one reject at its index; the elements before it are delivered', async () => {
    const items = await read(await file('b.json', '[{"a":1}, {"a":2}, {bad}, {"a":4}]'));
    assert.deepEqual(summary(items).slice(0, 2), ['[0]:ok', '[1]:ok']);
    assert.match(summary(items)[2]!, /^\[2\]:malformed JSON .*the rest of the file was not read/);
    assert.equal(items.length, 3);
  });

  test('a top-level value that is not an array is rejected', async () => {
    const items = await read(await file('c.json', '{"kind":"byline"}'));
    assert.deepEqual(summary(items), ['[0]:expected a JSON array of records']);
  });

  test('invalid UTF-8 ends the file with its byte offset', async () => {
    const items = await read(
      await file(
        'd.json',
        Buffer.concat([Buffer.from('[{"a":"x"},{"a":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}]')]),
      ),
    );
    assert.equal(summary(items)[0], '[0]:ok');
    assert.match(summary(items)[1]!, /not valid UTF-8 at byte 17 of the file/);
  });

  test('an oversized element ends the file instead of being assembled in memory', async () => {
    const big = `{"x":"${'y'.repeat(300_000)}"}`;
    const items = await read(await file('e.json', `[{"a":1}, ${big}, {"a":3}]`), 1000);
    assert.deepEqual(summary(items)[0], '[0]:ok');
    assert.match(summary(items)[1]!, /^\[1\]:element at index 1 is longer than/);
  });

  test('an empty array and an empty file have no records', async () => {
    assert.deepEqual(await read(await file('f.json', '[]')), []);
    assert.deepEqual(await read(await file('g.json', '')), []);
  });
});

describe('listInputFiles', () => {
  test('walks directories recursively in name order, skipping hidden entries and other extensions', async () => {
    const root = join(dir, 'walk');
    await mkdir(join(root, 'sub', 'deeper'), { recursive: true });
    await mkdir(join(root, '.hidden'), { recursive: true });
    await mkdir(join(root, 'images'), { recursive: true });
    for (const name of [
      'b.ndjson',
      'a.json',
      'sub/c.jsonl',
      'sub/deeper/d.NDJSON',
      '.hidden/x.ndjson',
      'notes.txt',
      'images/p.jpg',
    ]) {
      await writeFile(join(root, name), '');
    }
    const { files, warnings } = await listInputFiles([root]);
    assert.deepEqual(
      files.map((f) => f.path.slice(root.length + 1)),
      ['a.json', 'b.ndjson', 'sub/c.jsonl', 'sub/deeper/d.NDJSON'],
    );
    assert.deepEqual(
      files.map((f) => f.format),
      ['json', 'ndjson', 'ndjson', 'ndjson'],
    );
    assert.deepEqual(warnings, []);
  });

  test('a file given twice (directly and through its directory) is read once; its root is its directory', async () => {
    const root = join(dir, 'twice');
    await mkdir(root, { recursive: true });
    await writeFile(join(root, 'a.ndjson'), '');
    await symlink(join(root, 'a.ndjson'), join(root, 'link.ndjson'));
    const { files } = await listInputFiles([join(root, 'a.ndjson'), root]);
    assert.equal(files.length, 1);
    assert.equal(files[0]!.root, root);
  });

  test('a missing path or a file that is not a record file is a usage error; an empty directory a warning', async () => {
    await assert.rejects(
      listInputFiles([join(dir, 'nope')]),
      (err: unknown) => err instanceof ConfigError && /no such file or directory/.test(err.message),
    );
    await writeFile(join(dir, 'x.csv'), '');
    await assert.rejects(listInputFiles([join(dir, 'x.csv')]), ConfigError);
    await mkdir(join(dir, 'empty'), { recursive: true });
    const { files, warnings } = await listInputFiles([join(dir, 'empty')]);
    assert.deepEqual(files, []);
    assert.match(warnings[0]!, /no \.ndjson, \.jsonl, \.json or \.xml files/);
  });
});

test('formatLocation and invalidUtf8Offset', () => {
  assert.equal(formatLocation({ file: 'a.ndjson', line: 3 }), 'a.ndjson:3');
  assert.equal(formatLocation({ file: 'a.json', index: 0 }), 'a.json[0]');
  assert.equal(formatLocation({ file: 'a.json' }), 'a.json');
  assert.equal(invalidUtf8Offset(Buffer.from('abc')), 3);
  assert.equal(invalidUtf8Offset(Buffer.from([0x61, 0xe2, 0x82])), 1, 'truncated sequence');
  assert.equal(invalidUtf8Offset(Buffer.from([0xc3, 0xa9, 0xff])), 2);
});

describe('nestedDeeperThan', () => {
  test('counts the record as level 1, arrays and objects alike, and measures 100,000 levels without recursing', () => {
    assert.equal(nestedDeeperThan('x', 0), false);
    assert.equal(nestedDeeperThan({ a: [1] }, 2), false);
    assert.equal(nestedDeeperThan({ a: [{}] }, 2), true);
    assert.equal(nestedDeeperThan(JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`), 64), true);
  });
});
