import { test, expect, openChat, send, messageWithText } from './fixtures';
import { connect } from '../support/sio.mjs';

test('the badge follows the server, and a message sent while it is down is delivered once', async ({ browser, server }) => {
  const ann = await openChat(browser, server, 'ann');
  const bob = await openChat(browser, server, 'bob');
  await send(ann, 'before the outage');
  await expect(messageWithText(bob, 'before the outage')).toHaveCount(1);

  await server.stop();
  for (const page of [ann, bob]) {
    await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'reconnecting');
  }
  await send(ann, 'typed while offline');
  const pending = messageWithText(ann, 'typed while offline');
  await expect(pending).toHaveAttribute('data-state', 'pending');

  await server.restart();
  for (const page of [ann, bob]) {
    await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'connected');
    const delivered = messageWithText(page, 'typed while offline');
    await expect(delivered).toHaveAttribute('data-state', 'sent');
    await expect(delivered).toHaveCount(1);
    await expect(messageWithText(page, 'before the outage')).toHaveCount(1);
  }

  // The server stored it exactly once: a fresh client replays everything.
  const { socket, received } = await connect(server.url, { auth: { serverOffset: 0 } });
  const all = await received.next(2);
  socket.close();
  expect(all.map((args) => args[0])).toEqual(['before the outage', 'typed while offline']);
});

test('a tab that was offline catches up without gaps or duplicates', async ({ browser, server }) => {
  const ann = await openChat(browser, server, 'ann');
  const bob = await openChat(browser, server, 'bob');
  await send(ann, 'm1');
  await expect(messageWithText(bob, 'm1')).toHaveCount(1);

  await bob.context().setOffline(true);
  // Chromium closes the WebSocket when going offline.
  await expect(bob.getByTestId('status')).toHaveAttribute('data-state', 'reconnecting');
  for (const text of ['m2', 'm3', 'm4']) await send(ann, text);
  await expect(messageWithText(ann, 'm4')).toHaveAttribute('data-state', 'sent');

  await bob.context().setOffline(false);
  await expect(bob.getByTestId('status')).toHaveAttribute('data-state', 'connected');
  await expect(bob.getByTestId('messages').locator('.text')).toHaveText(['m1', 'm2', 'm3', 'm4']);
});
