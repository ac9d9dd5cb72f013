import { test, expect, openChat, send, messages, messageWithText } from './fixtures';

test('a message sent in one browser appears in another without reload', async ({ browser, server }) => {
  const ann = await openChat(browser, server, 'ann');
  const bob = await openChat(browser, server, 'bob');

  await send(ann, 'hello from ann');
  const seenByBob = messageWithText(bob, 'hello from ann');
  await expect(seenByBob).toHaveCount(1);
  await expect(seenByBob.locator('.author')).toHaveText('ann');
  await expect(seenByBob).toHaveAttribute('data-state', 'sent');

  // The sender's copy turns from pending to sent, with a server id, and the field clears.
  const own = messageWithText(ann, 'hello from ann');
  await expect(own).toHaveAttribute('data-state', 'sent');
  await expect(own).toHaveAttribute('data-id', /^\d+$/);
  await expect(own).toHaveCount(1);
  await expect(ann.getByLabel('Message', { exact: true })).toHaveValue('');

  await send(bob, 'hi ann');
  await expect(messageWithText(ann, 'hi ann')).toHaveCount(1);
});

test('history survives a reload and is in the server-rendered page', async ({ browser, server, request }) => {
  const ann = await openChat(browser, server, 'ann');
  for (const text of ['first', 'second', 'third']) await send(ann, text);
  await expect(messageWithText(ann, 'third')).toHaveAttribute('data-state', 'sent');

  await ann.reload();
  await expect(ann.locator('main[data-hydrated="true"]')).toBeVisible();
  await expect(messages(ann).locator('.text')).toHaveText(['first', 'second', 'third']);

  // Before any script runs: the HTML itself carries the history.
  const html = await (await request.get(server.url)).text();
  for (const text of ['first', 'second', 'third']) expect(html).toContain(`>${text}<`);
});

test('the page opens its one socket while it loads, and uses it', async ({ browser, server }) => {
  const page = await (await browser.newContext()).newPage();
  // The page itself records each socket it opens and whether the document was still being
  // parsed then. Only the head's script can open one that early: the wasm runs after parsing.
  // (Playwright's own `websocket` and `requestfinished` events come over separate channels,
  // so their order says nothing about the browser's.)
  await page.addInitScript(() => {
    const Native = window.WebSocket;
    const opened: { path: string; readyState: string }[] = [];
    (window as unknown as { __opened: typeof opened }).__opened = opened;
    window.WebSocket = class extends Native {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols);
        opened.push({ path: new URL(url).pathname, readyState: document.readyState });
      }
    };
    localStorage.setItem('palaver.name', 'ann');
  });
  const opened = () => page.evaluate(() => (window as unknown as { __opened: unknown[] }).__opened);
  const early = [{ path: '/socket.io/', readyState: 'loading' }];

  await page.goto(server.url);
  await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'connected');
  await send(page, 'over the early socket');
  await expect(messageWithText(page, 'over the early socket')).toHaveAttribute('data-state', 'sent');
  // Exactly one socket, opened during parsing, and the message went over it.
  expect(await opened()).toEqual(early);

  await page.reload();
  await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'connected');
  await expect(messageWithText(page, 'over the early socket')).toHaveAttribute('data-state', 'sent');
  expect(await opened()).toEqual(early);
});

test('markup in a message is shown as text', async ({ browser, server }) => {
  const probe = '<img src=x onerror=alert(1)>';
  const ann = await openChat(browser, server, 'ann');
  const bob = await openChat(browser, server, 'bob');
  const dialogs: string[] = [];
  for (const page of [ann, bob]) page.on('dialog', (d) => { dialogs.push(d.message()); void d.dismiss(); });

  await send(ann, probe);
  for (const page of [ann, bob]) {
    await expect(messageWithText(page, probe).locator('.text')).toHaveText(probe);
    await expect(page.getByTestId('messages').locator('img')).toHaveCount(0);
  }
  // And on the server-rendered page after a reload.
  await bob.reload();
  await expect(bob.locator('main[data-hydrated="true"]')).toBeVisible();
  await expect(messageWithText(bob, probe).locator('.text')).toHaveText(probe);
  await expect(bob.getByTestId('messages').locator('img')).toHaveCount(0);
  expect(dialogs).toEqual([]);
});

test('the composer sends on Enter, skips blank input and explains an over-long one', async ({ browser, server }) => {
  const ann = await openChat(browser, server, 'ann');
  await send(ann, '   ');
  await send(ann, 'real one');
  await expect(messageWithText(ann, 'real one')).toHaveAttribute('data-state', 'sent');
  await expect(messages(ann)).toHaveCount(1);

  await send(ann, 'x'.repeat(4001));
  await expect(ann.locator('#composer-error')).toContainText('4000');
  await expect(messages(ann)).toHaveCount(1);
  await expect(ann.getByLabel('Message', { exact: true })).toHaveValue('x'.repeat(4001));
});

test('a changed display name is used for the next messages and kept', async ({ browser, server }) => {
  const ann = await openChat(browser, server, 'ann');
  const bob = await openChat(browser, server, 'bob');
  const name = ann.getByLabel('Display name');
  await expect(name).toHaveValue('ann');
  await name.fill('annie');
  await name.press('Enter');
  await expect(ann.getByTestId('status')).toHaveAttribute('data-state', 'connected');
  await send(ann, 'new name');
  await expect(messageWithText(bob, 'new name').locator('.author')).toHaveText('annie');
  await ann.reload();
  await expect(ann.getByLabel('Display name')).toHaveValue('annie');
});

test('a name someone else holds is refused, and the holder keeps it across a reload', async ({ browser, server }) => {
  const ann = await openChat(browser, server, 'ann');
  const bob = await openChat(browser, server, 'bob');
  const name = bob.getByLabel('Display name');
  await name.fill('ANN');
  await name.press('Enter');
  await expect(bob.locator('#name-error')).toHaveText('“ANN” is taken; pick another name');
  await expect(name).toHaveAttribute('aria-invalid', 'true');
  // Bob is still Bob, connected, and his messages say so; the refusal and what he typed stay
  // until he edits the name (issue 21: they used to flash and vanish).
  await expect(bob.getByTestId('status')).toHaveAttribute('data-state', 'connected');
  await send(bob, 'still bob');
  await expect(messageWithText(ann, 'still bob').locator('.author')).toHaveText('bob');
  await expect(name).toHaveValue('ANN');
  await expect(bob.locator('#name-error')).toHaveText('“ANN” is taken; pick another name');

  await name.fill('no spaces allowed');
  await name.press('Enter');
  await expect(bob.locator('#name-error')).toContainText('1 to 32 letters');

  // Ann's session token keeps her name: a reload is still Ann, nobody else can be.
  await ann.reload();
  await expect(ann.getByTestId('status')).toHaveAttribute('data-state', 'connected');
  await expect(ann.getByLabel('Display name')).toHaveValue('ann');
  expect(await ann.evaluate(() => localStorage.getItem('palaver.session'))).toMatch(/^v1\./);
});
