/**
 * `npm run screenshot`: refresh the README's screenshot (docs/screenshot.png) from the
 * search page as the browser test sees it: the same sample archive, browser and page
 * flow. The test itself writes only to test/artifacts/, so running it changes no
 * tracked file.
 */
import { fileURLToPath } from 'node:url';
import { setUpSearchFixture } from '../support/search.ts';
import { launchChromium } from './chromium.ts';
import { screenshotSearch, VIEWPORT } from './searchScreenshot.ts';

const README_SCREENSHOT = fileURLToPath(new URL('../../docs/screenshot.png', import.meta.url));

const fixture = await setUpSearchFixture();
try {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: VIEWPORT });
    await screenshotSearch(page, fixture.base, README_SCREENSHOT);
  } finally {
    await browser.close();
  }
} finally {
  await fixture.close();
}
process.stdout.write(`wrote ${README_SCREENSHOT}\n`);
