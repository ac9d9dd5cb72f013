import { test, expect, openChat, send, messageWithText } from './fixtures';
import { CHAT, connect } from '../support/sio.mjs';

test('the tutorial client and the Leptos UI talk to each other', async ({ browser, server }) => {
  const ann = await openChat(browser, server, 'ann');
  // Exactly the Socket.IO tutorial's client options.
  const { socket, received } = await connect(server.url, {
    auth: { serverOffset: 0 },
    ackTimeout: 10_000,
    retries: 3,
  });

  socket.emit(CHAT, 'hello from the tutorial', `${socket.id}-0`);
  const fromTutorial = messageWithText(ann, 'hello from the tutorial');
  await expect(fromTutorial).toHaveCount(1);
  await expect(fromTutorial.locator('.author')).toHaveText('anonymous');

  await send(ann, 'hello from the browser');
  const got = await received.next(2);
  socket.close();
  const [msg, serverOffset] = got[1];
  expect(msg).toBe('hello from the browser');
  expect(serverOffset).toBe(Number(await messageWithText(ann, 'hello from the browser').getAttribute('data-id')));
});
