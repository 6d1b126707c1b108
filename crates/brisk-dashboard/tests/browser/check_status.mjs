// Loads the dashboard's status page in headless Chromium and checks that it is alive:
// the page receives pushed updates, the task stream draws, progress and workers fill in.
//   node check_status.mjs <status url> <screenshot path> <expected workers>
// Needs playwright-core (NODE_PATH or a node_modules next to it) and Debian's chromium.
import { createRequire } from 'module';
const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');

const [url, shot, expectedWorkers] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.BRISK_CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const fail = async (msg) => { console.error('FAIL: ' + msg); await browser.close(); process.exit(1); };
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url);
  await page.waitForFunction(() => Number(document.body.dataset.updates || 0) >= 3, null, { timeout: 20000 });
  const first = await page.evaluate(() => document.querySelector('#progress tbody').innerText);
  await page.waitForFunction((f) => document.querySelector('#progress tbody').innerText !== f, first, { timeout: 20000 });
  const workers = await page.$$eval('#workers tbody tr', (rows) => rows.length);
  if (workers !== Number(expectedWorkers)) await fail(`worker table has ${workers} rows, expected ${expectedWorkers}`);
  const inked = await page.evaluate(() => {
    const c = document.getElementById('stream');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
    return n;
  });
  if (inked < 500) await fail(`the task stream drew only ${inked} pixels`);
  const conn = await page.$eval('#conn', (e) => e.textContent);
  if (conn !== 'live') await fail(`connection status is "${conn}"`);
  if (errors.length) await fail('page errors: ' + errors.join('; '));
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`OK workers=${workers} stream_pixels=${inked} screenshot=${shot}`);
} catch (e) {
  await fail(String(e));
}
await browser.close();
