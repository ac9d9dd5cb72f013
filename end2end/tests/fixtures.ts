import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test as base, expect, type Browser, type Page } from '@playwright/test';
import { PalaverServer } from '../support/server.mjs';

/**
 * Every test gets its own server and database, started from the release binary, with the
 * default configuration unless the test sets `serverEnv` (`test.use({ serverEnv: {…} })`).
 */
export const test = base.extend<{
  server: PalaverServer;
  serverEnv: Record<string, string>;
  closeContexts: void;
}>({
  serverEnv: [{}, { option: true }],
  // Tests open their own contexts (one per person). Closed after each test, so that their pages
  // do not keep reconnecting to a stopped server while later tests run.
  closeContexts: [
    async ({ browser }, use) => {
      await use();
      await Promise.all(browser.contexts().map((c) => c.close()));
    },
    { auto: true },
  ],
  server: async ({ serverEnv }, use, testInfo) => {
    const server = await PalaverServer.start(serverEnv);
    await use(server);
    await server.dispose();
    // The server's own log explains most failures; keep it with the report.
    const log = server.logs.join('');
    if (testInfo.status !== testInfo.expectedStatus || log.includes('panicked')) {
      await testInfo.attach('palaver.log', { body: log, contentType: 'text/plain' });
      console.log(log);
    }
    // Whatever a test does, the server must not panic.
    expect(log).not.toContain('panicked');
  },
});

export { expect };

/** Opens the chat as `name` in a fresh browser context and waits until it is live. */
export async function openChat(browser: Browser, server: PalaverServer, name: string): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  // Only on first load, so a test can see what the page itself kept across a reload.
  await page.addInitScript((n) => {
    if (localStorage.getItem('palaver.name') === null) localStorage.setItem('palaver.name', n);
  }, name);
  await page.goto(server.url);
  await expect(page.locator('main[data-hydrated="true"]')).toBeVisible();
  await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'connected');
  return page;
}

/** Types `text` into the composer and presses Enter. */
export async function send(page: Page, text: string) {
  const input = page.getByLabel('Message', { exact: true });
  await input.fill(text);
  await input.press('Enter');
}

export function messages(page: Page) {
  return page.getByTestId('messages').getByTestId('message');
}

export function messageWithText(page: Page, text: string) {
  return messages(page).filter({ has: page.locator('.text', { hasText: text }) });
}

/** A conversation the page lists as ours (a joined room or a direct one), by its title. */
export function convo(page: Page, title: string) {
  return page.locator(`[data-testid="convo"][data-title="${title}"]`);
}

/** The unread badge of a conversation in the sidebar (absent when nothing is unread). */
export function unread(page: Page, title: string) {
  return convo(page, title).getByTestId('unread');
}

/** Opens a conversation from the sidebar and waits until it is on screen. */
export async function openConvo(page: Page, title: string) {
  await convo(page, title).click();
  await expect(page.getByTestId('convo-title')).toHaveText(title);
  await expect(convo(page, title)).toHaveAttribute('aria-current', 'true');
}

/** Opens the sidebar's "More rooms" (rooms to join, the form to create one) if it is closed. */
export async function moreRooms(page: Page) {
  const toggle = page.getByTestId('more-rooms-toggle');
  if ((await toggle.getAttribute('aria-expanded')) !== 'true') await toggle.click();
  await expect(toggle).toHaveAttribute('aria-expanded', 'true');
  await expect(page.getByLabel('New room name')).toBeVisible();
}

/** Creates a room from the sidebar; the page then shows it. */
export async function createRoom(page: Page, name: string) {
  await moreRooms(page);
  await page.getByLabel('New room name').fill(name);
  await page.getByRole('button', { name: 'Create', exact: true }).click();
  await expect(page.getByTestId('convo-title')).toHaveText(name);
  await expect(convo(page, name)).toBeVisible();
}

/** Joins a room listed under "More rooms"; the page then shows it. */
export async function joinRoom(page: Page, name: string) {
  await moreRooms(page);
  await page.getByRole('button', { name: `Join ${name}`, exact: true }).click();
  await expect(page.getByTestId('convo-title')).toHaveText(name);
  await expect(page.getByTestId('history-loading')).toHaveCount(0);
}

/** The notices ("ann joined") of the conversation on screen. */
export function notices(page: Page) {
  return page.getByTestId('messages').getByTestId('notice');
}

/** A message whose text is exactly `text`. */
export function messageExactly(page: Page, text: string) {
  const exact = new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
  return messages(page).filter({ has: page.locator('.text', { hasText: exact }) });
}

/** The admin token the server generated on its first start, kept beside its database. */
export function adminToken(server: PalaverServer): string {
  return readFileSync(path.join(path.dirname(server.database), 'admin-token'), 'utf8');
}

/** The /admin page, signed in with the token the server generated. */
export async function openAdmin(browser: Browser, server: PalaverServer): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${server.url}/admin`);
  await expect(page.locator('main[data-hydrated="true"]')).toBeVisible();
  await page.locator('#admin-token').fill(adminToken(server));
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('admin-access')).toHaveText('Connected');
  return page;
}
