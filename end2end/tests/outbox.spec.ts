import { test, expect, openChat, send, messageWithText } from './fixtures';
import type { Page } from '@playwright/test';
import { connect, send as post } from '../support/sio.mjs';

/**
 * Puts a filter between `page` and the server. While `block.up` is set, the page's
 * `chat message` sends never reach the server; while `block.down` matches a frame from the
 * server, that frame never reaches the page.
 */
async function interpose(page: Page) {
  const block: { up: boolean; down: ((frame: string) => boolean) | null } = { up: false, down: null };
  await page.routeWebSocket(/\/socket\.io\//, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((frame) => {
      const isSend = typeof frame === 'string' && frame.startsWith('42') && frame.includes('"chat message"');
      if (!(block.up && isSend)) server.send(frame);
    });
    server.onMessage((frame) => {
      if (!(typeof frame === 'string' && block.down?.(frame))) ws.send(frame);
    });
  });
  return block;
}

async function openInterposed(browser, server, name: string) {
  const page = await (await browser.newContext()).newPage();
  const block = await interpose(page);
  await page.addInitScript((n) => {
    if (localStorage.getItem('palaver.name') === null) localStorage.setItem('palaver.name', n);
  }, name);
  await page.goto(server.url);
  await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'connected');
  return { page, block };
}

/** Every lobby message in the database, read by a fresh client through `history`. */
async function stored(server) {
  const { socket } = await connect(server.url);
  const ack = await socket.timeout(10_000).emitWithAck('history', { room: 'lobby', limit: 100 });
  socket.close();
  return ack.data.messages.map((m) => m[0]);
}

test('a message that never reached the server is sent after a reload, once', async ({ browser, server }) => {
  const bob = await openChat(browser, server, 'bob');
  const { page: ann, block } = await openInterposed(browser, server, 'ann');

  block.up = true;
  await send(ann, 'written before the reload');
  await expect(messageWithText(ann, 'written before the reload')).toHaveAttribute('data-state', 'pending');
  const kept = await ann.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('palaver.outbox.')).length);
  expect(kept).toBe(1);

  block.up = false;
  await ann.reload();
  const row = messageWithText(ann, 'written before the reload');
  await expect(row).toHaveAttribute('data-state', 'sent');
  await expect(row).toHaveCount(1);
  await expect(messageWithText(bob, 'written before the reload')).toHaveCount(1);
  await expect.poll(() => ann.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('palaver.outbox.')).length)).toBe(0);
  expect(await stored(server)).toEqual(['written before the reload']);
});

test('a message stored but not acknowledged before a reload is not stored twice', async ({ browser, server }) => {
  const bob = await openChat(browser, server, 'bob');
  const { page: ann, block } = await openInterposed(browser, server, 'ann');

  // The server stores it, but ann hears neither the ack nor the broadcast.
  block.down = (frame) => frame.startsWith('43') || frame.includes('stored, unheard');
  await send(ann, 'stored, unheard');
  await expect(messageWithText(bob, 'stored, unheard')).toHaveCount(1);
  await expect(messageWithText(ann, 'stored, unheard')).toHaveAttribute('data-state', 'pending');

  block.down = null;
  await ann.reload();
  await expect(messageWithText(ann, 'stored, unheard')).toHaveAttribute('data-state', 'sent');
  await send(ann, 'after');
  await expect(messageWithText(bob, 'after')).toHaveCount(1);
  await expect(messageWithText(ann, 'stored, unheard')).toHaveCount(1);
  await expect(messageWithText(bob, 'stored, unheard')).toHaveCount(1);
  expect(await stored(server)).toEqual(['stored, unheard', 'after']);
});

test('messages written while the server is down go out in order when it is back', async ({ browser, server }) => {
  const ann = await openChat(browser, server, 'ann');
  const bob = await openChat(browser, server, 'bob');
  await server.stop();
  await expect(ann.getByTestId('status')).toHaveAttribute('data-state', 'reconnecting');
  for (const text of ['one', 'two', 'three']) await send(ann, text);
  await expect(ann.locator('[data-testid="message"][data-state="pending"]')).toHaveCount(3);

  await server.restart();
  for (const page of [ann, bob]) {
    await expect(page.getByTestId('messages').locator('.text')).toHaveText(['one', 'two', 'three']);
    await expect(page.locator('[data-testid="message"][data-state="sent"]')).toHaveCount(3);
  }
  expect(await stored(server)).toEqual(['one', 'two', 'three']);
});

test('a delivery lost on the way is fetched when the next message shows the hole', async ({ browser, server }) => {
  const ann = await openChat(browser, server, 'ann');
  const { page: bob, block } = await openInterposed(browser, server, 'bob');
  await send(ann, 'm1');
  await expect(messageWithText(bob, 'm1')).toHaveCount(1);

  // Like a full buffer on the server: bob never gets m2's broadcast.
  block.down = (frame) => frame.startsWith('42') && frame.includes('"m2"');
  await send(ann, 'm2');
  await expect(messageWithText(ann, 'm2')).toHaveAttribute('data-state', 'sent');
  block.down = null;
  await send(ann, 'm3');
  await expect(bob.getByTestId('messages').locator('.text')).toHaveText(['m1', 'm2', 'm3']);
});

test.describe(() => {
  // 1,001 messages from one bot: lift the rate limit rather than wait 100 s.
  test.use({ serverEnv: { PALAVER_RATE_LIMIT: '0' } });

  test('a tab away for longer than the catch-up window reloads recent history', async ({ browser, server }) => {
    const bob = await openChat(browser, server, 'bob');
    await bob.context().setOffline(true);
    await expect(bob.getByTestId('status')).toHaveAttribute('data-state', 'reconnecting');

    const { socket } = await connect(server.url, { auth: { name: 'bot' } });
    // One more than the 1,000-message window.
    for (let i = 1; i <= 1001; i++) await post(socket, `n${i}`);
    socket.close();

    await bob.context().setOffline(false);
    await expect(bob.getByTestId('status')).toHaveAttribute('data-state', 'connected');
    // The newest page, contiguous and without repeats.
    const expected = Array.from({ length: 50 }, (_, i) => `n${952 + i}`);
    await expect(bob.getByTestId('messages').locator('.text')).toHaveText(expected);
  });
});
