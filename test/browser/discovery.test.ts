import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { type SearchFixture, setUpSearchFixture } from '../support/search.ts';
import { launchChromium } from './chromium.ts';
import { VIEWPORT } from './searchScreenshot.ts';

/**
 * Suggestions as you type, the timeline and related stories in a real headless Chromium
 * against the real API over the sample archive.
 */
describe('search page: suggestions, timeline, related stories (headless Chromium)', () => {
  let fixture: SearchFixture;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  before(async () => {
    browser = await launchChromium();
    fixture = await setUpSearchFixture();
    page = await browser.newPage({ viewport: VIEWPORT });
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  });

  after(async () => {
    await browser?.close();
    await fixture?.close();
  });

  test('suggestions: debounced, keyboard-navigable, Enter opens the choice', async () => {
    await page.goto(`${fixture.base}/`);
    await page.locator('#results .result').first().waitFor();
    const asked: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/api/suggest')) asked.push(new URL(r.url()).searchParams.get('q') ?? '');
    });
    // Typed quickly: one request for the whole word, not one per key.
    await page.locator('#q').pressSequentially('abra', { delay: 20 });
    const options = page.locator('#suggestions [role="option"]');
    await options.first().waitFor();
    assert.deepEqual(asked, ['abra']);
    assert.equal(await page.locator('#q').getAttribute('aria-expanded'), 'true');
    assert.match((await options.first().textContent()) ?? '', /Byline\s*Abraham Lincoln/);

    await page.press('#q', 'ArrowDown');
    assert.equal(await options.first().getAttribute('aria-selected'), 'true');
    assert.equal(await page.locator('#q').getAttribute('aria-activedescendant'), 'suggestion-0');
    await page.press('#q', 'Enter');
    await page.waitForURL(/[?&]byline=b-abraham-lincoln/);
    assert.equal(await page.locator('#suggestions').isHidden(), true);
    const lincoln = fixture.articles.filter((a) => a.bylines?.includes('b-abraham-lincoln')).length;
    await page.locator('#summary', { hasText: new RegExp(`^${lincoln} articles`) }).waitFor();

    // A headline suggestion opens the article; Escape closes the list without choosing.
    await page.fill('#q', '');
    await page.locator('#q').pressSequentially('State of the Union Address, 1862', { delay: 5 });
    const headline = page.locator('#suggestions [data-kind="headline"]');
    await headline.first().waitFor();
    await page.press('#q', 'Escape');
    assert.equal(await page.locator('#suggestions').isHidden(), true);
    await page.press('#q', 'Space');
    await headline.first().waitFor();
    await page.press('#q', 'ArrowDown');
    await page.press('#q', 'Enter');
    await page.waitForURL(/[?&]article=sotu-1862-abraham-lincoln/);
    await page.locator('#article-headline', { hasText: fixture.revisedHeadlines.after }).waitFor();
  });

  test('timeline: bars over the hits; clicking one filters to that period', async () => {
    await page.goto(`${fixture.base}/?q=war`);
    const bars = page.locator('#timeline-bars button');
    await bars.first().waitFor();
    assert.ok((await bars.count()) > 10, 'one bar per decade of a 230-year archive');
    assert.match((await page.locator('#timeline-caption').textContent()) ?? '', /by decade/);
    const bar = page.locator('#timeline-bars button[data-from="1860"]');
    const count = Number(await bar.getAttribute('data-count'));
    assert.ok(count > 0);
    await bar.click();
    await page.waitForURL(/from=1860&to=1869/);
    await page.locator('#summary', { hasText: new RegExp(`^${count} articles? for “war”`) }).waitFor();
    assert.equal(await page.locator('#from').inputValue(), '1860');
    assert.equal(await page.locator('#to').inputValue(), '1869');
    // Within one decade the timeline has one bar per year.
    await page.locator('#timeline-caption', { hasText: /by year/ }).waitFor();
  });

  test('related stories on an article page lead to other articles', async () => {
    await page.goto(`${fixture.base}/?article=sotu-1862-abraham-lincoln`);
    const related = page.locator('#related li a');
    await related.first().waitFor();
    assert.equal(await related.count(), 5);
    const ids = await page
      .locator('#related li')
      .evaluateAll((items) => items.map((i) => i.getAttribute('data-id')));
    assert.ok(!ids.includes('sotu-1862-abraham-lincoln'));
    const target = ids[0]!;
    const headline = fixture.articles.find((a) => a.id === target)!.headline;
    await related.first().click();
    await page.waitForURL(new RegExp(`article=${target}`));
    await page.locator('#article-headline', { hasText: headline }).waitFor();
    assert.deepEqual(problems, []);
  });
});
