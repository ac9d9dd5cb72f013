import { test, expect, openChat, send, messages, messageWithText } from './fixtures';
import { connect, send as post } from '../support/sio.mjs';

test('a send that gets no answer shows an error, and Retry delivers it once', async ({ browser, server }) => {
  const bob = await openChat(browser, server, 'bob');
  const context = await browser.newContext();
  const ann = await context.newPage();
  // Stand between ann's page and the server and swallow her messages while `swallow` is set.
  let swallow = true;
  await ann.routeWebSocket(/\/socket\.io\//, (ws) => {
    const upstream = ws.connectToServer();
    ws.onMessage((frame) => {
      const isSend = typeof frame === 'string' && frame.startsWith('42') && frame.includes('"chat message"');
      if (!(swallow && isSend)) upstream.send(frame);
    });
    upstream.onMessage((frame) => ws.send(frame));
  });
  await ann.addInitScript(() => localStorage.setItem('palaver.name', 'ann'));
  await ann.goto(server.url);
  await expect(ann.getByTestId('status')).toHaveAttribute('data-state', 'connected');

  await send(ann, 'lost in transit');
  const row = messageWithText(ann, 'lost in transit');
  await expect(row).toHaveAttribute('data-state', 'pending');
  // Three attempts of 5 s each, with 1 s and 2 s pauses between them.
  await expect(row).toHaveAttribute('data-state', 'failed', { timeout: 30_000 });
  await expect(row.locator('.error')).toHaveText('No answer from the server');
  await expect(messageWithText(bob, 'lost in transit')).toHaveCount(0);

  swallow = false;
  await row.getByRole('button', { name: 'Retry' }).click();
  await expect(messageWithText(ann, 'lost in transit')).toHaveAttribute('data-state', 'sent');
  await expect(messageWithText(ann, 'lost in transit')).toHaveCount(1);
  await expect(messageWithText(bob, 'lost in transit')).toHaveCount(1);
});

test('the list follows new messages unless the reader has scrolled up', async ({ browser, server }) => {
  const { socket } = await connect(server.url, { auth: { name: 'bot' } });
  for (let i = 0; i < 40; i++) await post(socket, `line ${i}`);

  const ann = await openChat(browser, server, 'ann');
  await expect(messages(ann)).toHaveCount(40);
  // The page opens at the newest message.
  await expect(messageWithText(ann, 'line 39')).toBeInViewport();
  await post(socket, 'line 40');
  await expect(messageWithText(ann, 'line 40')).toBeInViewport();

  // Scrolled up to read history: new messages do not move the view, a button offers them.
  await ann.locator('.scroller').evaluate((el) => el.scrollTo({ top: -el.scrollHeight }));
  await expect(messageWithText(ann, 'line 0')).toBeInViewport();
  await post(socket, 'line 41');
  await expect(ann.getByRole('button', { name: '1 new message ↓' })).toBeVisible();
  await expect(messageWithText(ann, 'line 0')).toBeInViewport();
  await expect(messageWithText(ann, 'line 41')).not.toBeInViewport();

  await ann.getByRole('button', { name: '1 new message ↓' }).click();
  await expect(messageWithText(ann, 'line 41')).toBeInViewport();
  socket.close();
});

test.describe(() => {
  // A tight limit, so the burst is over it however fast the machine stores messages.
  test.use({ serverEnv: { PALAVER_RATE_LIMIT: '2', PALAVER_RATE_BURST: '3' } });

  test('a burst faster than the rate limit is slowed down, not lost or reordered', async ({ browser, server }) => {
    const ann = await openChat(browser, server, 'ann');
    const bob = await openChat(browser, server, 'bob');
    // 3 at once, then 2 per second: the other 12 wait for the server's go-ahead.
    const texts = Array.from({ length: 15 }, (_, i) => `burst ${i}`);
    // Written in one go, as fast as the page takes them (typing would stay under the limit).
    await ann.evaluate((texts) => {
      const input = document.querySelector<HTMLInputElement>('#message-input')!;
      for (const text of texts) {
        input.value = text;
        input.dispatchEvent(new Event('input', { bubbles: true }));
        input.form!.requestSubmit();
      }
    }, texts);
    await expect(bob.getByTestId('messages').locator('.text')).toHaveText(texts);
    await expect(ann.locator('[data-state="sent"]')).toHaveCount(15);
    await expect(ann.locator('[data-state="failed"]')).toHaveCount(0);
    // The limit really was hit: the server refused some sends and the page sent them again.
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(Number(metrics.match(/^palaver_messages_throttled_total (\d+)$/m)?.[1])).toBeGreaterThan(0);
  });
});
