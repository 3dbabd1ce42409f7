import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { ArticleDoc } from '../../schemas/documents.ts';
import { type SearchFixture, setUpSearchFixture } from '../support/search.ts';
import { launchChromium } from './chromium.ts';
import { screenshotSearch, VIEWPORT } from './searchScreenshot.ts';

/** Test artifacts: ignored by git, so a test run leaves the working tree as it was. */
const ARTIFACTS = new URL('../artifacts/', import.meta.url);

/** Wait until the results summary line matches. */
async function summaryMatches(page: Page, pattern: RegExp): Promise<void> {
  await page.locator('#summary', { hasText: pattern }).waitFor();
}

/**
 * The search page in a real headless Chromium, against the real API (Elasticsearch,
 * NATS, blob store): search, see results with thumbnails, open an article, see its
 * history. Saves screenshots as test artifacts (`npm run screenshot` refreshes the
 * README's from the same page flow).
 */
describe('search page in headless Chromium', () => {
  let fixture: SearchFixture;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  before(async () => {
    // The browser first: when it is missing, say so before building the archive.
    browser = await launchChromium();
    fixture = await setUpSearchFixture();
    page = await browser.newPage({ viewport: VIEWPORT });
    // Anything the page logs as an error, or a Content-Security-Policy violation, fails the test.
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    await mkdir(ARTIFACTS, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    await fixture?.close();
  });

  test('search, see thumbnails and highlights, filter by a facet, page on', async () => {
    await page.goto(`${fixture.base}/`);
    // The landing page browses the archive, newest first.
    await page.locator('#results .result').first().waitFor();
    await summaryMatches(page, new RegExp(`^${fixture.articles.length} articles`));

    await page.fill('#q', 'fiery trial');
    await page.press('#q', 'Enter');
    await summaryMatches(page, /fiery trial/);
    const first = page.locator('#results .result').first();
    assert.equal(await first.getAttribute('data-id'), fixture.revisedId);
    assert.deepEqual(await first.locator('.snippet mark').allTextContents(), ['fiery', 'trial']);

    // A caption match: the photograph's thumbnail, the placeholder first, then the rendition.
    await page.fill('#q', 'nagasaki boats');
    await page.press('#q', 'Enter');
    await summaryMatches(page, /nagasaki boats/);
    const pictured = page.locator('#results .result').first();
    assert.equal(await pictured.getAttribute('data-id'), 'sotu-1865-andrew-johnson');
    assert.deepEqual(await pictured.locator('.caption mark').allTextContents(), ['Boats', 'Nagasaki']);
    const thumb = pictured.locator('img.thumb');
    await thumb.and(page.locator('[data-loaded="1"]')).waitFor();
    const src = await thumb.getAttribute('src');
    assert.match(src ?? '', /^\/renditions\/sha256:[0-9a-f]{64}$/);
    const loaded = await thumb.evaluate(
      (img: { complete: boolean; naturalWidth: number }) => img.complete && img.naturalWidth > 0,
    );
    assert.ok(loaded, 'the thumbnail decoded');

    // A facet click filters (the byline facet lists Lincoln for this query).
    await page.fill('#q', 'union');
    await page.press('#q', 'Enter');
    await summaryMatches(page, /“union”/);
    await page.locator('[data-facet="byline"] button', { hasText: 'Abraham Lincoln' }).click();
    await page.waitForURL(/[?&]byline=b-abraham-lincoln/);
    const lincoln = fixture.articles.filter((a) => a.bylines?.includes('b-abraham-lincoln')).length;
    await summaryMatches(page, new RegExp(`^${lincoln} articles`));
    assert.equal(await page.locator('#results .result').count(), lincoln);
    assert.equal(await page.locator('#byline').inputValue(), 'b-abraham-lincoln');

    // "More results" appends the next page (no duplicates).
    await page.goto(`${fixture.base}/?q=congress`);
    await page.locator('#results .result').nth(9).waitFor();
    await page.click('#more');
    await page.locator('#results .result').nth(19).waitFor();
    const ids = await page
      .locator('#results .result')
      .evaluateAll((items) => items.map((i) => i.getAttribute('data-id')));
    assert.equal(new Set(ids).size, ids.length);

    // Bad input shows the API's message, not a broken page.
    await page.goto(`${fixture.base}/?q=union&from=1861-02-30`);
    await page.locator('#error').waitFor({ state: 'visible' });
    assert.match((await page.locator('#error').textContent()) ?? '', /from: not an ISO 8601 date/);
    problems.length = 0; // the 400 above is logged by Chromium as a failed resource load
  });

  test('an image search for a photographer marks the credit that matched', async () => {
    await page.goto(`${fixture.base}/?kind=image&q=Blossfeldt`);
    const first = page.locator('#results .result').first();
    await first.waitFor();
    assert.equal(await first.getAttribute('data-kind'), 'image');
    assert.deepEqual(await first.locator('.meta mark').allTextContents(), ['Blossfeldt']);
    assert.match(
      (await first.locator('.meta').first().textContent()) ?? '',
      /Karl Blossfeldt \/ .* · Photo: /,
    );
  });

  test('open an article and see its revision history', async () => {
    await page.goto(`${fixture.base}/?q=${encodeURIComponent('"fiery trial"')}`);
    const link = page.locator('#results .result h2 a').first();
    await link.waitFor();
    await link.click();
    await page.waitForURL(/[?&]article=/);
    await page.locator('#history li').nth(1).waitFor();
    assert.equal(await page.locator('#article-headline').textContent(), fixture.revisedHeadlines.after);
    assert.match((await page.locator('#article-meta').textContent()) ?? '', /Abraham Lincoln · politics/);
    assert.match(
      (await page.locator('#article-body').textContent()) ?? '',
      /fiery trial through which we pass/,
    );
    const history = await page.locator('#history li').allTextContents();
    assert.equal(history.length, 2);
    assert.match(history[0] ?? '', /ArticlePublished — published “State of the Union Address, 1862/);
    assert.match(history[1] ?? '', /ArticleRevised — revised: headline changed/);

    // Back to the results.
    await page.click('#back');
    await page.locator('#results .result').first().waitFor();
    assert.equal(await page.locator('#q').inputValue(), '"fiery trial"');

    // An article with photographs shows them, placeholders first.
    await page.goto(`${fixture.base}/?q=Blossfeldt`);
    await page.locator('#results .result h2 a').first().click();
    await page.waitForURL(/[?&]article=/);
    const figures = page.locator('.article-images figure');
    await figures.first().waitFor();
    assert.equal(await figures.count(), 2);
    await page.locator('.article-images img[data-loaded="1"]').nth(1).waitFor();
    assert.match(
      (await page.locator('.article-images figcaption').first().textContent()) ?? '',
      /Blossfeldt/,
    );
    await page.screenshot({ path: new URL('search-article.png', ARTIFACTS).pathname, fullPage: false });
  });

  test('document text is shown as text, never run as markup', async () => {
    // An article whose text is markup, indexed next to the speeches.
    const index = fixture.config.names.alias('articles');
    const base = (await fixture.es.get<ArticleDoc>({ index, id: fixture.revisedId }))._source!;
    const evil: ArticleDoc = {
      ...base,
      id: 'evil-markup',
      headline: '<img src=x onerror="document.title=\'pwned\'"> quixotic',
      body: 'quixotic <script>document.title="pwned"</script> <b>bold</b>',
    };
    await fixture.es.index({ index, id: evil.id, document: evil, refresh: true });
    await page.goto(`${fixture.base}/?q=quixotic`);
    const result = page.locator('#results .result[data-id="evil-markup"]');
    await result.waitFor();
    assert.match((await result.locator('h2').textContent()) ?? '', /<img src=x onerror=/);
    assert.match(
      (await result.locator('.snippet').first().textContent()) ?? '',
      /<script>document.title="pwned"<\/script>/,
    );
    assert.equal(await result.locator('img:not(.thumb), script, b').count(), 0);
    assert.notEqual(await page.title(), 'pwned');
    await fixture.es.delete({ index, id: evil.id, refresh: true });
  });

  test("an article's markup is shown as structure, rebuilt from an allow-list (never run)", async () => {
    // Sanitized at ingest; this document skips ingest to show the page is a second line of defence.
    const index = fixture.config.names.alias('articles');
    const base = (await fixture.es.get<ArticleDoc>({ index, id: fixture.revisedId }))._source!;
    const marked: ArticleDoc = {
      ...base,
      id: 'marked-up',
      headline: 'Markup for display',
      body: 'Results Turnout was high. the vote bad',
      bodyHtml:
        '<h2>Results</h2><p onclick="document.title=\'pwned\'">Turnout was <em>high</em>. ' +
        '<a href="https://example.org/vote" target="_blank">the vote</a> ' +
        '<a href="javascript:document.title=\'pwned\'">bad</a></p>' +
        '<img src="x" onerror="document.title=\'pwned\'"><script>document.title="pwned"</script>',
    };
    await fixture.es.index({ index, id: marked.id, document: marked, refresh: true });
    const problemsBefore = problems.length;
    try {
      await page.goto(`${fixture.base}/?article=marked-up`);
      const body = page.locator('#article-body');
      await body.locator('h2').waitFor();
      assert.equal(await body.locator('h2').textContent(), 'Results');
      assert.equal(await body.locator('p em').textContent(), 'high');
      const links = body.locator('a');
      assert.equal(await links.count(), 1, 'the javascript: link is its text alone');
      assert.equal(await links.first().getAttribute('href'), 'https://example.org/vote');
      assert.equal(await links.first().getAttribute('target'), null);
      assert.match((await body.textContent()) ?? '', /the vote bad$/);
      assert.equal(await body.locator('img, script, [onclick]').count(), 0);
      assert.notEqual(await page.title(), 'pwned');
      // What this hostile document made the browser say: Chrome's CSP refusing its inline
      // handlers as the markup was parsed (nothing ran), and the 404 of the history of an
      // article that is not in the log. Nothing else.
      const said = problems.splice(problemsBefore);
      assert.ok(
        said.every((p) => /Content Security Policy directive 'script-src 'self''|status of 404/.test(p)),
        said.join('\n'),
      );
    } finally {
      await fixture.es.delete({ index, id: marked.id, refresh: true });
    }
  });

  test('a search with thumbnails, facets and highlights, as the README shows it', async () => {
    await screenshotSearch(page, fixture.base, new URL('search-page.png', ARTIFACTS).pathname);
    assert.deepEqual(problems, []);
  });
});
