import { test as base, expect, type Browser, type Page } from '@playwright/test';
import { PalaverServer } from '../support/server.mjs';

/**
 * Every test gets its own server and database, started from the release binary, with the
 * default configuration unless the test sets `serverEnv` (`test.use({ serverEnv: {…} })`).
 */
export const test = base.extend<{ server: PalaverServer; serverEnv: Record<string, string> }>({
  serverEnv: [{}, { option: true }],
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
