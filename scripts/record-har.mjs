// Records the HAR fixture that `loadcast plan import-har` is tested with: a real Chromium
// (Debian's, headless) opens the session app's page, whose script logs in and uses the API.
//
//   cargo run -p loadcast-testkit --example session_app &     # prints the app's URL
//   npm install playwright-core@1                              # in a scratch directory
//   node scripts/record-har.mjs URL crates/loadcast/tests/fixtures/shop.har
import { chromium } from 'playwright-core';

const [url, out] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const context = await browser.newContext({ recordHar: { path: out, content: 'embed' } });
const page = await context.newPage();
await page.goto(url);
await page.waitForFunction(() => document.title === 'done', null, { timeout: 10000 });
await page.waitForTimeout(1200);
// A second look at the orders, after a pause a user would take.
await page.reload();
await page.waitForFunction(() => document.title === 'done', null, { timeout: 10000 });
await context.close();
await browser.close();
