// axe-core on the main pages finds nothing to fix, and the keyboard reaches the composer first.
import AxeBuilder from '@axe-core/playwright';
import type { Page } from '@playwright/test';
import { test, expect, openChat, openAdmin, createRoom, send, messageWithText } from './fixtures';
import { openGuest, signUp } from './accounts.helpers';

/** axe-core's violations on `page` as it is now, one line each: the rule, and where. */
async function violations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations.flatMap((v) =>
    v.nodes.map((n) => `${v.id} (${v.impact}): ${n.target.join(' ')}: ${n.failureSummary?.replace(/\s+/g, ' ')}`),
  );
}

test('the chat as a guest, and its sign-in and sign-up forms', async ({ browser, server }) => {
  const page = await openGuest(browser, server);
  await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'connected');
  expect(await violations(page), 'the chat as a guest').toEqual([]);

  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('auth-form')).toHaveAttribute('data-form', 'sign-in');
  expect(await violations(page), 'the sign-in form').toEqual([]);

  await page.getByRole('button', { name: 'New here? Sign up' }).click();
  await expect(page.getByTestId('auth-form')).toHaveAttribute('data-form', 'sign-up');
  expect(await violations(page), 'the sign-up form').toEqual([]);
});

test.describe('in dark mode', () => {
  test.use({ colorScheme: 'dark' });

  test('the chat, a room open, and the sign-in form', async ({ browser, server }) => {
    const page = await (await browser.newContext({ colorScheme: 'dark' })).newPage();
    await page.goto(server.url);
    await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'connected');
    await page.getByLabel('Display name').fill('ann');
    await page.getByLabel('Display name').press('Enter');
    await createRoom(page, 'night');
    await send(page, 'hello in the dark');
    await expect(messageWithText(page, 'hello in the dark')).toHaveAttribute('data-state', 'sent');
    expect(await violations(page), 'a room open').toEqual([]);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByTestId('auth-form')).toBeVisible();
    expect(await violations(page), 'the sign-in form').toEqual([]);
  });
});

test('the chat signed in, with a room open, its messages and members panel', async ({ browser, server }) => {
  const ann = await openGuest(browser, server);
  await signUp(ann, 'ann');
  const bob = await openChat(browser, server, 'bob');
  await createRoom(ann, 'design');
  await send(ann, 'hello from ann');
  await send(bob, 'hello in the lobby');
  await expect(messageWithText(ann, 'hello from ann')).toHaveAttribute('data-state', 'sent');
  expect(await violations(ann), 'a room open').toEqual([]);

  await ann.getByTestId('members-toggle').click();
  await expect(ann.locator('#members-panel')).toBeVisible();
  expect(await violations(ann), 'the members panel').toEqual([]);

  await ann.getByRole('button', { name: 'Jobs' }).click();
  await expect(ann.getByTestId('jobs-panel')).toBeVisible();
  expect(await violations(ann), 'the jobs panel').toEqual([]);

  // Someone else's view: the lobby with another's message, and a name held by token.
  await expect(messageWithText(bob, 'hello in the lobby')).toHaveAttribute('data-state', 'sent');
  expect(await violations(bob), 'the lobby, a name without a password').toEqual([]);
});

test('/admin, before and after signing in', async ({ browser, server }) => {
  const guest = await (await browser.newContext()).newPage();
  await guest.goto(`${server.url}/admin`);
  await expect(guest.locator('main[data-hydrated="true"]')).toBeVisible();
  expect(await violations(guest), '/admin signed out').toEqual([]);

  await openChat(browser, server, 'ann');
  const admin = await openAdmin(browser, server);
  await expect(admin.getByTestId('admin-access')).toHaveText('Connected');
  expect(await violations(admin), '/admin signed in').toEqual([]);
});

test.describe('on a phone', () => {
  test.use({ viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true });

  test('with the drawer closed and open', async ({ browser, server }) => {
    const page = await (await browser.newContext({ viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true })).newPage();
    await page.goto(server.url);
    await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'connected');
    expect(await violations(page), 'the drawer closed').toEqual([]);
    await page.getByRole('button', { name: 'Conversations' }).click();
    await expect(page.getByRole('navigation', { name: 'Conversations' })).toBeVisible();
    expect(await violations(page), 'the drawer open').toEqual([]);
  });
});

test('the first Tab reaches "Skip to message", which leads to the composer', async ({ browser, server }) => {
  const page = await openChat(browser, server, 'ann');
  await page.keyboard.press('Tab');
  const skip = page.getByRole('link', { name: 'Skip to message' });
  await expect(skip).toBeFocused();
  await expect(skip).toBeInViewport();
  await page.keyboard.press('Enter');
  const composer = page.getByLabel('Message', { exact: true });
  await expect(composer).toBeFocused();
  // And typing there is writing a message.
  await page.keyboard.type('typed by keyboard');
  await page.keyboard.press('Enter');
  await expect(messageWithText(page, 'typed by keyboard')).toHaveAttribute('data-state', 'sent');
});
