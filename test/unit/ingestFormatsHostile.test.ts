/**
 * Hostile XML, derived at run time from the real samples: external entities (XXE),
 * "billion laughs", a 100 MB text node, invalid UTF-8, a truncated file, an undefined
 * entity. Each is one precise reject naming the file and line; memory stays bounded;
 * the items before the problem and the files beside it are still read.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { describe, test } from 'node:test';
import { listInputFiles } from '../../ingest/listInputFiles.ts';
import { readRecords } from '../../ingest/readRecords.ts';
import { REPO_ROOT } from '../support/cli.ts';

const FIXTURES = join(REPO_ROOT, 'test/fixtures/formats');

async function writeHugeTextNode(path: string, wxr: string, megabytes: number): Promise<void> {
  const firstItemEnd = wxr.indexOf('</item>') + '</item>'.length;
  const out = createWriteStream(path);
  out.write(`${wxr.slice(0, firstItemEnd)}\n<item><title>huge</title><content:encoded>`);
  const block = 'a'.repeat(1024 * 1024);
  for (let i = 0; i < megabytes; i++) if (!out.write(block)) await once(out, 'drain');
  out.end('</content:encoded></item></channel></rss>\n');
  await once(out, 'finish');
}

describe('hostile XML', () => {
  test('XXE, billion laughs, 100 MB text node, invalid UTF-8, truncated: precise rejects, bounded memory, neighbours kept', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'presslog-hostile-'));
    try {
      const fishing = await readFile(join(FIXTURES, 'nitf/nitf-fishing.xml'), 'utf8');
      const efe = await readFile(join(FIXTURES, 'nitf/efe_nitf.xml'));
      const wxr = await readFile(join(FIXTURES, 'wxr/wordpress_wxr.xml'), 'utf8');
      const nitfHead = fishing.indexOf('<nitf>');
      // a-xxe: an external entity pointing at /etc/passwd, used in the headline.
      await writeFile(
        join(dir, 'a-xxe.xml'),
        `<?xml version="1.0"?>\n<!DOCTYPE nitf [\n  <!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>\n${fishing
          .slice(nitfHead)
          .replace('Weather and Tide Updates for Norfolk</hl1>', '&xxe;</hl1>')}`,
      );
      // b-laughs: ten levels of ten-fold expansion.
      const lols = Array.from({ length: 9 }, (_, i) => `  <!ENTITY lol${i + 1} "${`&lol${i};`.repeat(10)}">`);
      await writeFile(
        join(dir, 'b-laughs.xml'),
        `<?xml version="1.0"?>\n<!DOCTYPE nitf [\n  <!ENTITY lol0 "lol">\n${lols.join('\n')}\n]>\n${fishing
          .slice(nitfHead)
          .replace('Happy fishing everybody!', '&lol9;')}`,
      );
      // c-efe: a good neighbour.
      await writeFile(join(dir, 'c-efe.xml'), efe);
      // d-huge: a WordPress export whose second item holds a 100 MB text node.
      await writeHugeTextNode(join(dir, 'd-huge.xml'), wxr, 100);
      // e-utf8: an invalid byte in the EFE item's body.
      const at = efe.indexOf('Test body');
      await writeFile(
        join(dir, 'e-utf8.xml'),
        Buffer.concat([efe.subarray(0, at), Buffer.from([0xff]), efe.subarray(at)]),
      );
      // f-truncated: the IPTC sample cut in the middle.
      await writeFile(join(dir, 'f-truncated.xml'), fishing.slice(0, Math.floor(fishing.length / 2)));
      // g-undefined: an entity no DTD declares.
      await writeFile(
        join(dir, 'g-undefined.xml'),
        fishing.replace('Happy fishing everybody!', '&nbsp;Happy'),
      );

      const { files } = await listInputFiles([dir]);
      const rejects: string[] = [];
      const articles: string[] = [];
      const before = process.memoryUsage().rss;
      let peak = before;
      const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().rss);
      }, 2);
      try {
        for (const file of files) {
          for await (const item of readRecords(file)) {
            peak = Math.max(peak, process.memoryUsage().rss);
            const name = basename(file.path);
            if (!item.ok) rejects.push(`${name}:${item.location.line} ${item.reason}`);
            else if ((item.value as { kind: string }).kind === 'article')
              articles.push(`${name} ${(item.value as { headline: string }).headline}`);
          }
        }
      } finally {
        clearInterval(sampler);
      }
      const entities =
        'the DOCTYPE declares entities; presslog never expands DTD entities (external entities, entity expansion) and does not read this file';
      assert.deepEqual(rejects.slice(0, 2), [`a-xxe.xml:4 ${entities}`, `b-laughs.xml:13 ${entities}`]);
      assert.match(
        rejects[2]!,
        /^d-huge\.xml:61 a text node at line 61 is longer than 8388608 characters; the rest of the file was not read$/,
      );
      assert.match(rejects[3]!, new RegExp(`^e-utf8\\.xml:50 not valid UTF-8 at byte ${at} of the file$`));
      assert.match(
        rejects[4]!,
        /^f-truncated\.xml:130 malformed XML \(unclosed tag: head\) \(a truncated file\?\)$/,
      );
      assert.match(rejects[5]!, /^g-undefined\.xml:210 malformed XML \(undefined entity\)$/);
      assert.equal(rejects.length, 6, JSON.stringify(rejects));
      assert.ok(!JSON.stringify(rejects).includes('root:'), 'nothing of /etc/passwd was read');
      // The good neighbour and the huge export's first item are ingested.
      assert.deepEqual(articles, [
        'c-efe.xml Honduran president announces Cabinet changes',
        'd-huge.xml Starafrica to dispose assets for $6 million to clear debt',
      ]);
      const grewMb = (peak - before) / (1024 * 1024);
      assert.ok(grewMb < 80, `memory grew by ${grewMb.toFixed(0)} MB reading a 100 MB text node`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
