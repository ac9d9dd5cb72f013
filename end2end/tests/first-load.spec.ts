import { test, expect, messageWithText, send } from './fixtures';
import { signUp } from './accounts.helpers';

// What a first visit loads. The release build (`--split --lib-features split`, as
// `scripts/test.sh` and the README build it) cuts the wasm into the page's own and chunks that
// load when a part of the page is first shown (`app/src/ui/lazy.rs`).

/** Whether the server serves a split build; the tests are about one. */
async function expectSplit(page: import('@playwright/test').Page, url: string) {
  const manifest = await page.request.get(`${url}/pkg/__wasm_split_manifest.json`);
  expect(manifest.ok(), 'a build with chunks: cargo leptos build --split --lib-features split').toBe(true);
}

test('a first visit loads the page’s wasm alone, and the Jobs panel loads its chunk when it opens', async ({
  browser,
  server,
}) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const wasm: { path: string; encoding: string }[] = [];
  page.on('response', async (response) => {
    const path = new URL(response.url()).pathname;
    if (path.endsWith('.wasm')) {
      wasm.push({ path, encoding: (await response.headerValue('content-encoding')) ?? 'identity' });
    }
  });
  await page.goto(server.url);
  await expect(page.locator('main[data-hydrated="true"]')).toBeVisible();
  await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'connected');
  // Under the build's own address (`server/src/http/build_files.rs`).
  expect(wasm.map((w) => w.path)).toEqual([expect.stringMatching(/^\/b\/[^/]+\/pkg\/palaver\.wasm$/)]);

  await expectSplit(page, server.url);
  await page.getByRole('button', { name: 'Jobs', exact: true }).click();
  await expect(page.getByRole('dialog', { name: 'Jobs' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Export everything' })).toBeEnabled();
  const chunk = wasm.find((w) => w.path.endsWith('/pkg/split_palaver_jobs_panel.wasm'));
  expect(chunk, JSON.stringify(wasm)).toBeDefined();
  // The build's brotli copies serve the chunks too.
  expect(chunk!.encoding).toBe('br');

  // Closed and opened again, the panel comes back from the chunk already loaded.
  await page.getByRole('dialog', { name: 'Jobs' }).getByRole('button', { name: 'Close' }).click();
  await expect(page.getByRole('dialog', { name: 'Jobs' })).toHaveCount(0);
  const loaded = wasm.length;
  await page.getByRole('button', { name: 'Jobs', exact: true }).click();
  await expect(page.getByRole('dialog', { name: 'Jobs' })).toBeVisible();
  expect(wasm.length).toBe(loaded);
});

test('a chunk that does not arrive says so in place of its part, and is asked for again', async ({
  browser,
  server,
}) => {
  // Without the service worker: Playwright's routes do not see what a worker fetches, and a
  // worker that cannot reach the chunk fails the same way.
  const context = await browser.newContext({ serviceWorkers: 'block' });
  const page = await context.newPage();
  await page.addInitScript(() => localStorage.setItem('palaver.name', 'ann'));
  await page.goto(server.url);
  await expect(page.locator('main[data-hydrated="true"]')).toBeVisible();
  await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'connected');
  await expectSplit(page, server.url);

  await page.route('**/pkg/split_palaver_jobs_panel.wasm', (route) => route.abort());
  const jobs = page.getByRole('button', { name: 'Jobs', exact: true });
  await jobs.click();
  await expect(page.getByRole('alert').filter({ hasText: 'could not be loaded' })).toBeVisible();
  // The page's wasm lives on: it still sends.
  await send(page, 'still here');
  await expect(messageWithText(page, 'still here')).toHaveAttribute('data-state', 'sent');

  await page.unroute('**/pkg/split_palaver_jobs_panel.wasm');
  await jobs.click();
  await jobs.click();
  await expect(page.getByRole('dialog', { name: 'Jobs' })).toBeVisible();
  await expect(page.getByRole('alert').filter({ hasText: 'could not be loaded' })).toHaveCount(0);
});

test('files picked while the code that sends them cannot arrive are shown as not sent, and sent once it can', async ({
  browser,
  server,
}) => {
  const context = await browser.newContext({ serviceWorkers: 'block' });
  const page = await context.newPage();
  await page.goto(server.url);
  await expect(page.locator('main[data-hydrated="true"]')).toBeVisible();
  await expectSplit(page, server.url);
  await signUp(page, 'ann');

  const upload = '**/pkg/split_palaver_upload.wasm';
  await page.route(upload, (route) => route.abort());
  const pick = async (name: string) => {
    const chooser = page.waitForEvent('filechooser');
    await page.getByTestId('attach').click();
    await (await chooser).setFiles({ name, mimeType: 'text/plain', buffer: Buffer.from(`${name}\n`) });
  };
  await pick('first.txt');
  const chip = page.getByTestId('upload-chip').filter({ hasText: 'first.txt' });
  await expect(chip).toHaveAttribute('data-state', 'failed');
  await expect(chip).toContainText('Could not be sent');

  await page.unroute(upload);
  await pick('second.txt');
  const sent = page.getByTestId('upload-chip').filter({ hasText: 'second.txt' });
  await expect(sent).toHaveAttribute('data-state', 'done');
});
