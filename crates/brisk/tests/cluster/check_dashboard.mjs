// Loads a real cluster's dashboard in headless Chromium while a computation runs and checks
// that it is alive: pushed updates arrive, the task stream draws, progress changes, the worker
// table lists every worker; then the task page explains a task and the graph page draws.
// Writes a screenshot of each page.
//   node check_dashboard.mjs <status url> <screenshot dir> <expected workers> <task key>
// Needs playwright-core (NODE_PATH) and Debian's chromium (BRISK_CHROMIUM).
import { createRequire } from 'module';
import path from 'path';
const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');

const [url, dir, expectedWorkers, taskKey] = process.argv.slice(2);
const base = new URL(url).origin;
const browser = await chromium.launch({
  executablePath: process.env.BRISK_CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const fail = async (msg) => { console.error('FAIL: ' + msg); await browser.close(); process.exit(1); };
const timeout = 30000;
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url);
  // Pushed updates arrive and the worker table fills in.
  await page.waitForFunction(() => Number(document.body.dataset.updates || 0) >= 3, null, { timeout });
  await page.waitForFunction((n) => document.querySelectorAll('#workers tbody tr').length === n,
    Number(expectedWorkers), { timeout });
  // Progress moves while the computation runs.
  const first = await page.evaluate(() => document.querySelector('#progress tbody').innerText);
  await page.waitForFunction((f) => document.querySelector('#progress tbody').innerText !== f, first, { timeout });
  // The task stream has drawn rows for the workers' threads and rectangles of tasks.
  await page.waitForFunction(() => Number(document.getElementById('stream').dataset.spans || 0) > 20, null, { timeout });
  const completed1 = await page.$eval('#total-completed', (e) => Number(e.textContent.replace(/\D/g, '')));
  await page.waitForTimeout(1500);
  const completed2 = await page.$eval('#total-completed', (e) => Number(e.textContent.replace(/\D/g, '')));
  if (!(completed2 > completed1)) await fail(`completed did not grow: ${completed1} -> ${completed2}`);
  const stream = await page.evaluate(() => {
    const c = document.getElementById('stream');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let inked = 0, coloured = 0;
    for (let i = 0; i < d.length; i += 4) {
      if (d[i + 3] > 0) inked++;
      // Task colours are saturated; labels and axes are grey.
      const mx = Math.max(d[i], d[i + 1], d[i + 2]), mn = Math.min(d[i], d[i + 1], d[i + 2]);
      if (d[i + 3] > 0 && mx - mn > 60) coloured++;
    }
    return { inked, coloured, rows: c.dataset.rows };
  });
  if (stream.coloured < 300) await fail(`the task stream drew only ${stream.coloured} coloured pixels`);
  const rows = await page.$$eval('#workers tbody tr', (trs) => trs.map((tr) => [...tr.children].map((td) => td.innerText)));
  const names = rows.map((r) => r[0].split('\n')[0]).sort();
  const conn = await page.$eval('#conn', (e) => e.textContent);
  if (!conn.startsWith('live')) await fail(`connection status is "${conn}"`);
  await page.screenshot({ path: path.join(dir, 'dashboard-status-cluster.png'), fullPage: true });

  // The task page explains a task.
  const tp = await browser.newPage({ viewport: { width: 1400, height: 700 } });
  tp.on('pageerror', (e) => errors.push(String(e)));
  await tp.goto(`${base}/task?key=${encodeURIComponent(taskKey)}`);
  await tp.waitForFunction(() => document.querySelector('.explain') !== null, null, { timeout });
  const explanation = await tp.$eval('.explain', (e) => e.textContent);
  if (explanation.length < 10) await fail(`the task page explains nothing: "${explanation}"`);
  await tp.screenshot({ path: path.join(dir, 'dashboard-task-cluster.png'), fullPage: true });

  // The graph page draws the current tasks.
  const gp = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  gp.on('pageerror', (e) => errors.push(String(e)));
  await gp.goto(`${base}/graph`);
  await gp.waitForFunction(() => document.querySelectorAll('#graph circle').length > 0, null, { timeout });
  const nodes = await gp.$$eval('#graph circle', (c) => c.length);
  await gp.screenshot({ path: path.join(dir, 'dashboard-graph-cluster.png') });

  if (errors.length) await fail('page errors: ' + errors.join('; '));
  console.log(`OK workers=${rows.length} names=${names.join(',')} stream_rows=${stream.rows} ` +
    `stream_coloured=${stream.coloured} completed=${completed1}->${completed2} graph_nodes=${nodes}`);
  console.log(`WORKERS ${JSON.stringify(rows)}`);
  console.log(`EXPLAIN ${explanation}`);
} catch (e) {
  await fail(String(e));
}
await browser.close();
