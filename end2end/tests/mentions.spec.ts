import type { Browser, Page } from '@playwright/test';
import {
  test,
  expect,
  openChat,
  send,
  messageWithText,
  convo,
  openConvo,
  createRoom,
  joinRoom,
} from './fixtures';
import type { PalaverServer } from '../support/server.mjs';

type Shown = { title: string; body: string };

/**
 * Opens the chat as `name` with notifications allowed, recording every `Notification` the page
 * makes (the real constructor still runs).
 */
async function openNotified(browser: Browser, server: PalaverServer, name: string): Promise<Page> {
  const context = await browser.newContext();
  await context.grantPermissions(['notifications'], { origin: server.url });
  const page = await context.newPage();
  await page.addInitScript((n) => {
    if (localStorage.getItem('palaver.name') === null) localStorage.setItem('palaver.name', n);
    const Real = window.Notification;
    const shown: { title: string; body: string }[] = [];
    (window as unknown as { shown: typeof shown }).shown = shown;
    class Recorded extends Real {
      constructor(title: string, options?: NotificationOptions) {
        shown.push({ title, body: options?.body ?? '' });
        super(title, options);
      }
      static get permission() {
        return Real.permission;
      }
      static requestPermission(...args: Parameters<typeof Real.requestPermission>) {
        return Real.requestPermission(...args);
      }
    }
    window.Notification = Recorded as typeof Notification;
  }, name);
  await page.goto(server.url);
  await expect(page.locator('main[data-hydrated="true"]')).toBeVisible();
  await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'connected');
  return page;
}

function shown(page: Page): Promise<Shown[]> {
  return page.evaluate(() => (window as unknown as { shown: Shown[] }).shown);
}

test('@name completes, and the mentioned person sees it highlighted, notified and listed', async ({
  browser,
  server,
}) => {
  const ann = await openChat(browser, server, 'ann');
  const bob = await openNotified(browser, server, 'bob');
  const cy = await openChat(browser, server, 'cy');
  await expect(bob.getByTestId('notify-bell')).toHaveAttribute('aria-pressed', 'true');
  // Bob reads another conversation meanwhile.
  await createRoom(bob, 'side');

  // Ann types `@bo`: the listbox offers bob (not herself), and Enter picks him.
  const input = ann.getByLabel('Message', { exact: true });
  await input.pressSequentially('hi @bo');
  const list = ann.getByRole('listbox', { name: 'People to mention' });
  await expect(list).toBeVisible();
  await expect(input).toHaveAttribute('aria-controls', (await list.getAttribute('id')) ?? '');
  await expect(list.getByRole('option').locator('.name')).toHaveText(['@bob']);
  await expect(list.getByRole('option', { selected: true }).locator('.name')).toHaveText('@bob');
  await input.press('Enter');
  await expect(list).toBeHidden();
  await expect(input).toHaveValue('hi @bob ');
  await input.pressSequentially('look at this');
  await input.press('Enter');
  await expect(messageWithText(ann, 'look at this')).toHaveAttribute('data-state', 'sent');

  // Escape closes the list without picking.
  await input.pressSequentially('@c');
  await expect(list.getByRole('option').locator('.name')).toHaveText(['@cy']);
  await input.press('Escape');
  await expect(list).toBeHidden();
  await expect(input).toHaveValue('@c');
  await input.fill('');

  // Bob: a notification, the title's count and marker, and the Mentions list.
  await expect.poll(() => shown(bob)).toEqual([{ title: 'ann in #lobby', body: 'hi @bob look at this' }]);
  await expect(bob).toHaveTitle('(1) @ Palaver');
  await bob.getByTestId('mentions-toggle').click();
  const item = bob.getByTestId('mention-item');
  await expect(item).toHaveCount(1);
  await expect(item).toContainText('ann in #lobby');
  await expect(item).toContainText('hi @bob look at this');
  // Clicking it opens the conversation, where the message stands out.
  await item.click();
  await expect(bob.getByTestId('convo-title')).toHaveText('lobby');
  const mine = messageWithText(bob, 'look at this');
  await expect(mine).toHaveClass(/mentions-me/);
  await expect(mine.locator('.mention.me')).toHaveText('@bob');
  await expect(bob).toHaveTitle('Palaver');

  // Cy sees the mention as a mention of someone else: not highlighted, not notified.
  const theirs = messageWithText(cy, 'look at this');
  await expect(theirs.locator('.mention')).toHaveText('@bob');
  await expect(theirs.locator('.mention.me')).toHaveCount(0);
  await expect(theirs).not.toHaveClass(/mentions-me/);
});

test('a direct message notifies; a room set to Nothing adds nothing', async ({ browser, server }) => {
  const ann = await openChat(browser, server, 'ann');
  const bob = await openNotified(browser, server, 'bob');
  await createRoom(bob, 'rust');
  await joinRoom(ann, 'rust');
  // Bob silences rust, from its header, then reads the lobby.
  await openConvo(bob, 'rust');
  await bob.getByTestId('notify-level').selectOption('none');
  await openConvo(bob, 'lobby');

  await openConvo(ann, 'rust');
  await send(ann, '@bob in a quiet room');
  await expect(messageWithText(ann, '@bob in a quiet room')).toHaveAttribute('data-state', 'sent');
  await ann.getByRole('button', { name: 'Message bob', exact: true }).click();
  await expect(ann.getByTestId('convo-title')).toHaveText('bob');
  await send(ann, 'psst');

  await expect.poll(() => shown(bob)).toEqual([{ title: 'ann in a direct message', body: 'psst' }]);
  // rust counts for nothing, the DM for its one message; no mention is unread where it counts.
  await expect(bob).toHaveTitle('(1) Palaver');
  // The level is kept with the person: another page of Bob's has it.
  await bob.reload();
  await expect(bob.getByTestId('status')).toHaveAttribute('data-state', 'connected');
  await openConvo(bob, 'rust');
  await expect(bob.getByTestId('notify-level')).toHaveValue('none');
  await expect(convo(bob, 'ann')).toBeVisible();
});
