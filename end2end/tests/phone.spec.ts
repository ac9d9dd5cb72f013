// The phone layout at 390×844: the sidebar as a drawer, the message list taking the screen,
// 44 px touch targets; the app's manifest and its service worker, which never serves a stale
// app after an upgrade.
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from '@playwright/test';
import { test, expect, convo, moreRooms } from './fixtures';
import { signUp } from './accounts.helpers';
import { ROOT } from '../support/server.mjs';
import type { PalaverServer } from '../support/server.mjs';

const PHONE = { viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true };
test.use(PHONE);

/** The chat on a phone, as `name` (a guest without one), once it is live. */
async function openPhone(browser: Browser, server: PalaverServer, name?: string): Promise<Page> {
  const page = await (await browser.newContext(PHONE)).newPage();
  if (name) {
    await page.addInitScript((n) => {
      if (localStorage.getItem('palaver.name') === null) localStorage.setItem('palaver.name', n);
    }, name);
  }
  await page.goto(server.url);
  await expect(page.locator('main[data-hydrated="true"]')).toBeVisible();
  await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'connected');
  return page;
}

/** Creates a room from the open drawer; the page then shows it, and the drawer closes. */
async function createRoom(page: Page, name: string) {
  await moreRooms(page);
  await page.getByLabel('New room name').fill(name);
  await page.getByRole('button', { name: 'Create', exact: true }).click();
  await expect(page.getByTestId('convo-title')).toHaveText(name);
  await expect(page.getByRole('navigation', { name: 'Conversations' })).toBeHidden();
}

/**
 * The visible controls smaller than 44×44 px: buttons, links, fields (a checkbox or radio
 * button by the label around it, the target a finger meets), each as "what (w×h)".
 */
async function smallTargets(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const controls = document.querySelectorAll(
      'button, a[href], input, select, textarea, summary, [role="button"], [tabindex]:not([tabindex="-1"])',
    );
    const small: string[] = [];
    for (const control of controls) {
      if (control.matches('input[type="hidden"], .skip-link:not(:focus)')) continue;
      const target = control.matches('input[type="checkbox"], input[type="radio"]')
        ? (control.closest('label') ?? control)
        : control;
      if (!target.checkVisibility({ visibilityProperty: true, opacityProperty: true })) continue;
      const box = target.getBoundingClientRect();
      // Scrolled out of the viewport (a long list in the drawer) is still a target.
      if (box.width < 43.5 || box.height < 43.5) {
        const what = control.getAttribute('aria-label') || control.textContent?.trim() || control.outerHTML.slice(0, 60);
        small.push(`${what} (${Math.round(box.width)}×${Math.round(box.height)})`);
      }
    }
    return small;
  });
}

test('the sidebar is a drawer: the menu button opens it, and Escape, a tap beside it or a choice close it', async ({ browser, server }) => {
  const page = await openPhone(browser, server, 'ann');
  const toggle = page.getByRole('button', { name: 'Conversations' });
  const drawer = page.getByRole('navigation', { name: 'Conversations' });
  await expect(toggle).toHaveAttribute('aria-controls', 'sidebar');
  await expect(toggle).toHaveAttribute('aria-expanded', 'false');
  await expect(drawer).toBeHidden();

  // Opened: focus goes in, at the conversation on screen.
  await toggle.click();
  await expect(toggle).toHaveAttribute('aria-expanded', 'true');
  await expect(drawer).toBeVisible();
  await expect(convo(page, 'lobby')).toBeFocused();
  // Escape closes it, and focus comes back to the button.
  await page.keyboard.press('Escape');
  await expect(toggle).toHaveAttribute('aria-expanded', 'false');
  await expect(drawer).toBeHidden();
  await expect(toggle).toBeFocused();

  // The Jobs panel, opened from it, goes over it and takes the first Escape for itself.
  await toggle.click();
  await page.getByRole('button', { name: 'Jobs' }).click();
  await expect(page.getByTestId('jobs-panel')).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(page.getByTestId('jobs-panel')).toBeHidden();
  await expect(drawer).toBeVisible();
  await expect(page.getByRole('button', { name: 'Jobs' })).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(drawer).toBeHidden();
  await expect(toggle).toBeFocused();

  // A tap beside it closes it.
  await toggle.click();
  await expect(drawer).toBeVisible();
  await page.touchscreen.tap(370, 420);
  await expect(drawer).toBeHidden();
  await expect(toggle).toHaveAttribute('aria-expanded', 'false');

  // Creating a room from it shows the room and closes it; so does choosing a conversation.
  await toggle.click();
  await createRoom(page, 'phones');
  await expect(drawer).toBeHidden();
  await page.getByRole('button', { name: 'Conversations' }).click();
  await expect(drawer).toBeVisible();
  await convo(page, 'lobby').tap();
  await expect(page.getByTestId('convo-title')).toHaveText('lobby');
  await expect(drawer).toBeHidden();
  await expect(page.getByRole('button', { name: 'Conversations' })).toBeFocused();

  // Tab past the drawer's last control closes it, at the menu button: the conversation
  // behind is not reached with the drawer over it.
  await page.getByRole('button', { name: 'Conversations' }).click();
  await expect(drawer).toBeVisible();
  // Opening puts focus in at the next frame: wait for it, or it lands after ours.
  await expect(convo(page, 'lobby')).toBeFocused();
  await drawer.locator('button:visible').last().focus();
  await expect(drawer.locator('button:visible').last()).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(drawer).toBeHidden();
  await expect(page.getByRole('button', { name: 'Conversations' })).toBeFocused();
});

test('the message list takes most of the screen and the composer stays at the bottom', async ({ browser, server }) => {
  const guest = await openPhone(browser, server);
  const named = await openPhone(browser, server, 'ann');
  // The banner offering a password to a name is put away ("Not now") as it would be.
  await named.getByRole('button', { name: 'Not now' }).click();
  const account = await openPhone(browser, server);
  await signUp(account, 'bob');
  for (const [who, page] of [['a guest', guest], ['a name', named], ['an account', account]] as const) {
    const list = await page.locator('.scroller').boundingBox();
    const composer = await page.getByTestId('composer').boundingBox();
    expect(list!.height, `the list's height for ${who}`).toBeGreaterThan(0.65 * 844);
    expect(Math.round(composer!.y + composer!.height), who).toBe(844);
    // The page itself does not scroll: the list does.
    expect(await page.evaluate(() => document.scrollingElement!.scrollHeight), who).toBe(844);
  }
});

test('on a touch screen Enter makes a new line, and the Send button sends', async ({ browser, server }) => {
  const page = await openPhone(browser, server, 'ann');
  const input = page.getByLabel('Message', { exact: true });
  await input.click();
  await page.keyboard.type('first line');
  await page.keyboard.press('Enter');
  await page.keyboard.type('second line');
  await expect(input).toHaveValue('first line\nsecond line');
  await expect(page.getByTestId('message').filter({ hasText: 'first line' })).toHaveCount(0);
  await page.getByTestId('composer').getByRole('button', { name: 'Send' }).click();
  const sent = page.getByTestId('message').filter({ hasText: 'second line' });
  await expect(sent).toHaveAttribute('data-state', 'sent');
  await expect(sent).toContainText('first line');
  await expect(input).toHaveValue('');
});

test('every control on a phone is at least 44 px each way', async ({ browser, server }) => {
  const page = await openPhone(browser, server, 'ann');
  expect(await smallTargets(page), 'the conversation').toEqual([]);

  await page.getByRole('button', { name: 'Conversations' }).click();
  await expect(page.getByRole('navigation', { name: 'Conversations' })).toBeVisible();
  expect(await smallTargets(page), 'the drawer open').toEqual([]);

  await createRoom(page, 'fingers');
  await page.getByTestId('members-toggle').click();
  await expect(page.locator('#members-panel')).toBeVisible();
  expect(await smallTargets(page), 'a room with its members panel').toEqual([]);

  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('auth-form')).toBeVisible();
  expect(await smallTargets(page), 'the sign-in form').toEqual([]);

  // The skip link, once the keyboard reaches it.
  await page.reload();
  await expect(page.locator('main[data-hydrated="true"]')).toBeVisible();
  await page.keyboard.press('Tab');
  await expect(page.getByRole('link', { name: 'Skip to message' })).toBeFocused();
  expect(await smallTargets(page), 'the skip link').toEqual([]);
});

test('the manifest is linked and valid, and its icons load', async ({ browser, server }) => {
  const page = await openPhone(browser, server);
  const href = await page.locator('link[rel="manifest"]').getAttribute('href');
  expect(href).toBe('/manifest.webmanifest');
  await expect(page.locator('meta[name="theme-color"]').first()).toHaveAttribute('content', /^#[0-9a-f]{6}$/);

  const response = await page.request.get(`${server.url}${href}`);
  expect(response.ok()).toBe(true);
  expect(response.headers()['content-type']).toContain('application/manifest+json');
  const manifest = await response.json();
  expect(manifest).toMatchObject({
    name: 'Palaver',
    short_name: 'Palaver',
    start_url: '/',
    scope: '/',
    display: 'standalone',
  });
  expect(manifest.theme_color).toMatch(/^#[0-9a-f]{6}$/);
  expect(manifest.background_color).toMatch(/^#[0-9a-f]{6}$/);
  const icons: { src: string; sizes: string; type: string; purpose?: string }[] = manifest.icons;
  const sizes = icons.filter((i) => i.type === 'image/png').map((i) => `${i.sizes} ${i.purpose ?? 'any'}`);
  expect(sizes).toEqual(expect.arrayContaining(['192x192 any', '512x512 any', '512x512 maskable']));

  // Each loads as an image of the size it claims, in the page (under its content policy).
  for (const icon of icons) {
    const [width, height] = await page.evaluate(async (src) => {
      const img = new Image();
      img.src = src;
      await img.decode();
      return [img.naturalWidth, img.naturalHeight];
    }, icon.src);
    if (icon.sizes === 'any') {
      expect(width, icon.src).toBeGreaterThan(0);
    } else {
      expect(`${width}x${height}`, icon.src).toBe(icon.sizes);
    }
  }
});

/** Waits until a service worker controls `page`; the build it belongs to, as it says. */
async function controlled(page: Page): Promise<string> {
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
  return page.evaluate(
    () =>
      new Promise<string>((resolve) => {
        const channel = new MessageChannel();
        channel.port1.onmessage = (e) => resolve(e.data);
        navigator.serviceWorker.controller!.postMessage('build', [channel.port2]);
      }),
  );
}

/** The names of the page's caches. */
function cacheNames(page: Page): Promise<string[]> {
  return page.evaluate(() => caches.keys());
}

test('the service worker registers, controls the page and leaves the server its own paths', async ({ browser, server }) => {
  const page = await openPhone(browser, server);
  const sw = await page.request.get(`${server.url}/sw.js`);
  expect(sw.headers()['cache-control']).toBe('no-cache');
  expect(sw.headers()['content-type']).toMatch(/^text\/javascript/);
  const build = await controlled(page);
  expect(await sw.text()).toContain(`const BUILD = "${build}";`);
  // The site's files are revalidated at each use: their names are the same in every build.
  const css = await page.request.get(`${server.url}/pkg/palaver.css`);
  expect(css.headers()['cache-control']).toBe('no-cache');
  // Its cache holds what went through it, under this build's name.
  await page.reload();
  await expect.poll(() => cacheNames(page)).toEqual([`palaver-${build}`]);

  // The page and the site's files go through it; the server's other paths do not.
  const answeredByWorker = async (path: string) => {
    const [response] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === path),
      page.evaluate((p) => fetch(p).then(() => undefined), path),
    ]);
    return response.fromServiceWorker();
  };
  expect(await answeredByWorker('/pkg/palaver.css')).toBe(true);
  expect(await answeredByWorker('/healthz')).toBe(false);
  expect(await answeredByWorker('/auth/session')).toBe(false);
});

test.describe('an upgrade', () => {
  // A copy of the site, which the test changes as a new build would.
  const site = mkdtempSync(path.join(tmpdir(), 'palaver-site-'));
  cpSync(process.env.PALAVER_SITE_ROOT ?? path.join(ROOT, 'target', 'site'), site, { recursive: true });
  test.use({ serverEnv: { LEPTOS_SITE_ROOT: site } });
  test.afterAll(() => rmSync(site, { recursive: true, force: true }));

  test('reaches a page the service worker controls at its next load, never the cached app', async ({ browser, server }) => {
    const page = await openPhone(browser, server, 'ann');
    const first = await controlled(page);
    // Loaded once under the worker, so that its cache holds the page and its files.
    await page.reload();
    await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'connected');
    await expect
      .poll(async () => (await page.evaluate(async (name) => (await (await caches.open(name)).keys()).map((r) => new URL(r.url).pathname), `palaver-${first}`)).sort())
      .toEqual(expect.arrayContaining(['/', '/pkg/palaver.css', `/b/${first}/pkg/palaver.js`, `/b/${first}/pkg/palaver.wasm`]));
    const title = page.getByTestId('convo-title');
    const before = await title.evaluate((el) => getComputedStyle(el).color);

    // The new build: its stylesheet differs (its precompressed copies go, as a build
    // replaces them).
    await server.stop();
    const css = path.join(site, 'pkg', 'palaver.css');
    writeFileSync(css, `${readFileSync(css, 'utf8')}\n.convo-title { color: rgb(1, 2, 3); }\n`);
    for (const file of readdirSync(path.join(site, 'pkg'))) {
      if (/^palaver\.css\.(br|gz)$/.test(file)) rmSync(path.join(site, 'pkg', file));
    }
    await server.resume();

    await page.reload();
    await expect(page.locator('main[data-hydrated="true"]')).toBeVisible();
    expect(before).not.toBe('rgb(1, 2, 3)');
    await expect(title).toHaveCSS('color', 'rgb(1, 2, 3)');
    // The new worker takes over and the old build's cache is gone.
    await expect.poll(() => controlled(page)).not.toBe(first);
    const second = await controlled(page);
    await expect.poll(() => cacheNames(page)).not.toContain(`palaver-${first}`);
    await page.reload();
    await expect(title).toHaveCSS('color', 'rgb(1, 2, 3)');
    await expect.poll(() => cacheNames(page)).toEqual([`palaver-${second}`]);
  });

  test('a page left open across an upgrade is told that a part could not be loaded, and never runs the new build’s chunk', async ({
    browser,
    server,
  }) => {
    // A desktop's window: the Jobs button is in view.
    const desktop = { viewport: { width: 1280, height: 800 }, isMobile: false, hasTouch: false };
    const page = await (await browser.newContext(desktop)).newPage();
    await page.addInitScript(() => localStorage.setItem('palaver.name', 'ann'));
    await page.goto(server.url);
    await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'connected');
    // The parts a named page shows at once have their chunks before the upgrade.
    await page.waitForLoadState('networkidle');
    const alerts = page.getByRole('alert').filter({ hasText: 'could not be loaded' });
    await expect(alerts).toHaveCount(0);

    // A new build: one of its files changes, and its id with it.
    await server.stop();
    const css = path.join(site, 'pkg', 'palaver.css');
    writeFileSync(css, `${readFileSync(css, 'utf8')}\n/* the next build */\n`);
    for (const file of readdirSync(path.join(site, 'pkg'))) {
      if (/^palaver\.css\.(br|gz)$/.test(file)) rmSync(path.join(site, 'pkg', file));
    }
    await server.resume();
    await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'connected');

    // Parts first drawn after the reconnect may fail the same way (the named page's jobs
    // follower, at its connect, may add its alert at any moment): the Jobs panel's chunk is
    // refused, and an alert shows.
    const before = await alerts.count();
    const jobs = page.getByRole('button', { name: 'Jobs', exact: true });
    const panelChunk = page.waitForResponse((r) =>
      new URL(r.url()).pathname.endsWith('/split_palaver_jobs_panel.wasm'),
    );
    await jobs.click();
    expect((await panelChunk).status()).toBe(404);
    await expect.poll(() => alerts.count()).toBeGreaterThan(before);

    // Reloaded, the page is the new build's, and the part loads.
    await page.reload();
    await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'connected');
    await jobs.click();
    await expect(page.getByRole('dialog', { name: 'Jobs' })).toBeVisible();
  });

  test('without the server, the last page seen opens from the cache and reconnects when it is back', async ({ browser, server }) => {
    const page = await openPhone(browser, server, 'ann');
    const build = await controlled(page);
    await page.reload();
    await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'connected');
    await expect
      .poll(async () => (await page.evaluate(async (name) => (await (await caches.open(name)).keys()).map((r) => new URL(r.url).pathname), `palaver-${build}`)))
      .toEqual(expect.arrayContaining(['/', `/b/${build}/pkg/palaver.wasm`]));

    await server.stop();
    await page.reload();
    await expect(page.locator('main[data-hydrated="true"]')).toBeVisible();
    await expect(page.getByTestId('status')).not.toHaveAttribute('data-state', 'connected');
    await server.resume();
    await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'connected');
  });
});
