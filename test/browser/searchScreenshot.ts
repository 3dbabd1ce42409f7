import type { Page } from 'playwright-core';

/** The README's picture of the search page: a query whose results have thumbnails, facets and highlights. */
export const SCREENSHOT_QUERY = '"silver print"';
/** The window the page is laid out in, for every page the browser test opens. */
export const VIEWPORT = { width: 1280, height: 900 };

/**
 * Show the search page for {@link SCREENSHOT_QUERY} once every thumbnail has loaded
 * (none is left showing its placeholder), and save a screenshot of it at `path`. The
 * browser test and `npm run screenshot` both take it this way.
 */
export async function screenshotSearch(page: Page, base: string, path: string): Promise<void> {
  await page.goto(`${base}/?q=${encodeURIComponent(SCREENSHOT_QUERY)}`);
  await page.locator('#results .result').first().waitFor();
  const thumbs = page.locator('#results img.thumb');
  for (let i = 0; i < (await thumbs.count()); i++)
    await thumbs.nth(i).and(page.locator('[data-loaded="1"]')).waitFor();
  await page.screenshot({ path, fullPage: false });
}
