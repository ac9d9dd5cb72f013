import {
  test,
  expect,
  openChat,
  send,
  messages,
  messageWithText,
  messageExactly,
  convo,
  unread,
  openConvo,
  createRoom,
  joinRoom,
  moreRooms,
  notices,
} from './fixtures';
import { connect, send as post } from '../support/sio.mjs';

test('a room reaches only its members, with its own presence and typing', async ({ browser, server }) => {
  const ann = await openChat(browser, server, 'ann');
  const bob = await openChat(browser, server, 'bob');
  const cy = await openChat(browser, server, 'cy');

  await createRoom(ann, 'rust');
  await joinRoom(bob, 'rust');
  // Cy sees the room offered, with its counts, but is not in it.
  await moreRooms(cy);
  const offered = cy.locator('[data-testid="other-room"][data-room="rust"]');
  await expect(offered.locator('.counts')).toHaveText('2 members, 2 online');
  await expect(convo(cy, 'rust')).toHaveCount(0);

  // Presence is per room: the lobby has everyone, rust its two members.
  for (const page of [ann, bob]) {
    await expect(page.getByTestId('presence')).toHaveText('Online: ann, bob');
    await expect(page.getByTestId('convo-counts')).toHaveText('2 members, 2 online');
  }
  await expect(cy.getByTestId('presence')).toHaveText('Online: ann, bob, cy');

  // Typing in rust shows in rust only.
  await ann.getByLabel('Message', { exact: true }).pressSequentially('rust only');
  await expect(bob.getByTestId('typing')).toHaveText('ann is typing…');
  await ann.getByLabel('Message', { exact: true }).press('Enter');
  await expect(messageWithText(bob, 'rust only')).toHaveCount(1);
  await expect(bob.getByTestId('typing')).toHaveText('');
  await expect(messageWithText(ann, 'rust only')).toHaveAttribute('data-state', 'sent');
  await expect(cy.getByTestId('typing')).toHaveText('');

  // Then the lobby: everyone gets it, and it stays out of rust's list. Typed slowly: typing
  // goes out at most every 2 s, so a quick burst right after rust's could pass unannounced.
  await openConvo(ann, 'lobby');
  await ann.getByLabel('Message', { exact: true }).pressSequentially('hi all', { delay: 500 });
  await expect(cy.getByTestId('typing')).toHaveText('ann is typing…');
  await expect(bob.getByTestId('typing')).toHaveText('');
  await ann.getByLabel('Message', { exact: true }).press('Enter');
  await expect(messageWithText(cy, 'hi all')).toHaveCount(1);
  // The server sends each socket its messages in order: had rust's reached cy, it would be here.
  await expect(messageWithText(cy, 'rust only')).toHaveCount(0);
  await expect(messages(cy)).toHaveCount(1);
  await openConvo(bob, 'rust');
  await expect(messageWithText(bob, 'hi all')).toHaveCount(0);
  await expect(messageWithText(bob, 'rust only')).toHaveCount(1);

  // After a reload, the rooms and their messages are still there, and still apart.
  await bob.reload();
  await expect(bob.getByTestId('status')).toHaveAttribute('data-state', 'connected');
  await openConvo(bob, 'rust');
  await expect(bob.getByTestId('messages').locator('.text')).toHaveText(['rust only']);
  await openConvo(bob, 'lobby');
  await expect(bob.getByTestId('messages').locator('.text')).toHaveText(['hi all']);

  // Cy joins: she gets rust's history, and her messages reach the others.
  await joinRoom(cy, 'rust');
  await expect(cy.getByTestId('messages').locator('.text')).toHaveText(['rust only']);
  await send(cy, 'cy in rust');
  await expect(messageWithText(ann, 'cy in rust')).toHaveCount(0); // ann views the lobby
  await expect(unread(ann, 'rust')).toHaveText('1');
  await expect(unread(bob, 'rust')).toHaveText('1');
  await openConvo(bob, 'rust');
  await expect(messageWithText(bob, 'cy in rust')).toHaveCount(1);
});

test('a direct conversation is seen by its two people only', async ({ browser, server }) => {
  const ann = await openChat(browser, server, 'ann');
  const bob = await openChat(browser, server, 'bob');
  const cy = await openChat(browser, server, 'cy');
  await expect(ann.getByTestId('presence')).toHaveText('Online: ann, bob, cy');

  // A name in the presence line opens a conversation with that person.
  await ann.getByRole('button', { name: 'Message bob', exact: true }).click();
  await expect(ann.getByTestId('convo-title')).toHaveText('bob');
  await expect(ann.getByTestId('convo-title')).toHaveAttribute('data-kind', 'dm');
  await expect(ann.getByTestId('presence')).toHaveText('Online: ann, bob');
  await expect(ann.getByRole('button', { name: 'Leave' })).toHaveCount(0);
  await send(ann, 'psst, bob');
  await expect(messageWithText(ann, 'psst, bob')).toHaveAttribute('data-state', 'sent');

  // Bob gets it in a conversation titled with ann's name, unread until he opens it.
  await expect(unread(bob, 'ann')).toHaveText('1');
  await expect(messageWithText(bob, 'psst, bob')).toHaveCount(0);
  await openConvo(bob, 'ann');
  await expect(messageWithText(bob, 'psst, bob')).toHaveCount(1);
  await expect(unread(bob, 'ann')).toHaveCount(0);
  await send(bob, 'hi ann');
  await expect(messageWithText(ann, 'hi ann')).toHaveCount(1);

  // Bob can also start from the form: the same conversation, not a second one.
  await openConvo(bob, 'lobby');
  await bob.getByLabel('Name to message').fill('ann');
  await bob.getByRole('button', { name: 'Open', exact: true }).click();
  await expect(bob.getByTestId('convo-title')).toHaveText('ann');
  await expect(bob.getByTestId('messages').locator('.text')).toHaveText(['psst, bob', 'hi ann']);
  await expect(bob.getByTestId('dms').getByTestId('convo')).toHaveCount(1);

  // Cy sees none of it, now or after a reload.
  await send(ann, 'done');
  await expect(messageWithText(bob, 'done')).toHaveCount(1);
  await expect(cy.getByTestId('dms').getByTestId('convo')).toHaveCount(0);
  await expect(messages(cy)).toHaveCount(0);
  await cy.reload();
  await expect(cy.getByTestId('status')).toHaveAttribute('data-state', 'connected');
  await expect(messages(cy)).toHaveCount(0);
  await expect(cy.getByTestId('dms').getByTestId('convo')).toHaveCount(0);

  // Nor can she open it herself, whatever she sends: a second connection of cy's, with her token.
  const dm = await convo(ann, 'bob').getAttribute('data-room');
  expect(dm).toMatch(/^dm:/);
  const token = await cy.evaluate(() => localStorage.getItem('palaver.session'));
  const { socket, received } = await connect(server.url, { auth: { token } });
  const history = await socket.timeout(10_000).emitWithAck('history', { room: dm });
  expect(history.error?.code).toBe('unknown_room');
  const sync = await socket.timeout(10_000).emitWithAck('sync', { since: { [dm!]: 0 } });
  expect(JSON.stringify(sync)).not.toContain('psst');
  const write = await post(socket, 'let me in', 'cy-1', dm);
  expect(write.error).toBeDefined();
  const join = await socket.timeout(10_000).emitWithAck('join room', { room: dm });
  expect(join.error).toBeDefined();
  socket.close();
  expect(received.items.map((args) => args[0])).not.toContain('psst, bob');
  await expect(messageWithText(bob, 'let me in')).toHaveCount(0);
  await expect(messageWithText(ann, 'let me in')).toHaveCount(0);
});

test('unread counts rise away from a room and clear when it is opened', async ({ browser, server }) => {
  const ann = await openChat(browser, server, 'ann');
  const bob = await openChat(browser, server, 'bob');
  await createRoom(ann, 'rust');
  await joinRoom(bob, 'rust');
  await openConvo(bob, 'lobby');

  await send(ann, 'one');
  await send(ann, 'two');
  await expect(unread(bob, 'rust')).toHaveText('2');
  await expect(unread(bob, 'lobby')).toHaveCount(0);
  // Own messages and the room one is reading never count.
  await expect(unread(ann, 'rust')).toHaveCount(0);

  // A notice is not worth a badge: cy joining leaves it at 2, the next message makes it 3.
  const cy = await openChat(browser, server, 'cy');
  await joinRoom(cy, 'rust');
  await expect(notices(ann).filter({ hasText: 'cy joined' })).toHaveCount(1);
  await send(ann, 'three');
  await expect(unread(bob, 'rust')).toHaveText('3');

  // Opening the room clears it; new messages while it is open do not raise it.
  await openConvo(bob, 'rust');
  await expect(unread(bob, 'rust')).toHaveCount(0);
  await expect(bob.getByTestId('messages').locator('.text')).toHaveText(['one', 'two', 'three']);
  await send(ann, 'four');
  await expect(messageWithText(bob, 'four')).toHaveCount(1);
  await expect(unread(bob, 'rust')).toHaveCount(0);

  // The server keeps what bob has read: nothing unread after a reload…
  await bob.reload();
  await expect(bob.getByTestId('status')).toHaveAttribute('data-state', 'connected');
  await expect(convo(bob, 'rust')).toBeVisible();
  await expect(unread(bob, 'rust')).toHaveCount(0);
  // (The reload lands where he was: rust.)
  await expect(bob.getByTestId('convo-title')).toHaveText('rust');
  // …and what he has not: a message while he is in the lobby is still unread after another.
  await openConvo(bob, 'lobby');
  await send(ann, 'five');
  await expect(unread(bob, 'rust')).toHaveText('1');
  await bob.reload();
  await expect(bob.getByTestId('status')).toHaveAttribute('data-state', 'connected');
  await expect(unread(bob, 'rust')).toHaveText('1');

  // The lobby counts too, for whoever is elsewhere.
  await send(bob, 'lobby news');
  await expect(unread(ann, 'lobby')).toHaveText('1');
  await openConvo(ann, 'lobby');
  await expect(unread(ann, 'lobby')).toHaveCount(0);
  await expect(messageWithText(ann, 'lobby news')).toHaveCount(1);
});

test('joining and leaving show as notices, not messages', async ({ browser, server }) => {
  const ann = await openChat(browser, server, 'ann');
  const bob = await openChat(browser, server, 'bob');
  await createRoom(ann, 'rust');
  await joinRoom(bob, 'rust');

  await expect(notices(ann).filter({ hasText: 'bob joined' })).toHaveCount(1);
  await expect(messages(ann)).toHaveCount(0);
  await expect(ann.getByTestId('convo-counts')).toHaveText('2 members, 2 online');

  // The lobby cannot be left; rust can.
  await openConvo(bob, 'lobby');
  await expect(bob.getByRole('button', { name: 'Leave', exact: true })).toHaveCount(0);
  await openConvo(bob, 'rust');
  await bob.getByRole('button', { name: 'Leave', exact: true }).click();
  await expect(bob.getByTestId('convo-title')).toHaveText('lobby');
  await expect(convo(bob, 'rust')).toHaveCount(0);
  await expect(bob.getByRole('button', { name: 'Join rust', exact: true })).toBeVisible();

  await expect(notices(ann).filter({ hasText: 'bob left' })).toHaveCount(1);
  await expect(ann.getByTestId('presence')).toHaveText('Online: ann');
  await expect(ann.getByTestId('convo-counts')).toHaveText('1 member, 1 online');
  // Leaving is not a message either, and nothing unread for ann, who is reading it.
  await expect(messages(ann)).toHaveCount(0);
  await expect(unread(ann, 'rust')).toHaveCount(0);

  // He is out: rust's messages no longer reach him.
  await send(ann, 'after bob left');
  await send(bob, 'bob in the lobby');
  await expect(messageWithText(ann, 'bob in the lobby')).toHaveCount(0);
  await expect(unread(ann, 'lobby')).toHaveText('1');
  await expect(messageWithText(bob, 'after bob left')).toHaveCount(0);

  // Back in, he reads the room's history, notices included, in order.
  await joinRoom(bob, 'rust');
  await expect(bob.getByTestId('messages').locator('.text')).toHaveText(['after bob left']);
  await expect
    .poll(async () => (await notices(bob).locator('.notice-text').allTextContents()).slice(-3))
    .toEqual(['bob joined', 'bob left', 'bob joined']);
});

test.describe(() => {
  // Hundreds of messages from one bot: lift the rate limit rather than wait.
  test.use({ serverEnv: { PALAVER_RATE_LIMIT: '0' } });

  test('scrolling up loads older messages, 50 at a time, to the beginning', async ({ browser, server }) => {
    const { socket } = await connect(server.url, { auth: { name: 'bot' } });
    const created = await socket.timeout(10_000).emitWithAck('create room', { name: 'big' });
    expect(created.data?.room).toBe('big');
    for (let i = 1; i <= 120; i++) await post(socket, `big ${i}`, `big-${i}`, 'big');
    for (let i = 1; i <= 70; i++) await post(socket, `lobby ${i}`, `lobby-${i}`);
    socket.close();

    const ann = await openChat(browser, server, 'ann');
    // The lobby: the server-rendered page has the newest 50.
    const lobbyTexts = ann.getByTestId('messages').locator('.text');
    await expect(lobbyTexts).toHaveCount(50);
    await expect(ann.getByTestId('history-start')).toHaveCount(0);
    await expect(async () => {
      await ann.locator('.scroller').evaluate((el) => el.scrollTo({ top: -el.scrollHeight }));
      await expect(ann.getByTestId('history-start')).toBeVisible({ timeout: 1_000 });
    }).toPass();
    await expect(lobbyTexts).toHaveText(Array.from({ length: 70 }, (_, i) => `lobby ${i + 1}`));

    // A room opened later: its newest page from `history`, then older pages as ann scrolls.
    await joinRoom(ann, 'big');
    const texts = ann.getByTestId('messages').locator('.text');
    await expect(messageExactly(ann, 'big 120')).toHaveCount(1);
    await expect(messageExactly(ann, 'big 120')).toBeInViewport();
    const first = await texts.count();
    expect(first).toBeLessThanOrEqual(50);
    expect(first).toBeGreaterThanOrEqual(45);
    await expect(ann.getByTestId('load-older')).toBeAttached();

    // One scroll to the top brings one more page, and keeps the reader where they were.
    const oldest = (await texts.first().textContent())!;
    await ann.locator('.scroller').evaluate((el) => el.scrollTo({ top: -el.scrollHeight }));
    await expect.poll(() => texts.count()).toBeGreaterThan(first);
    expect(await texts.count()).toBeLessThanOrEqual(first + 50);
    await expect(texts.first()).not.toHaveText(oldest);
    await expect(messageExactly(ann, oldest)).toBeInViewport();

    await expect(async () => {
      await ann.locator('.scroller').evaluate((el) => el.scrollTo({ top: -el.scrollHeight }));
      await expect(ann.getByTestId('history-start')).toBeVisible({ timeout: 1_000 });
    }).toPass();
    await expect(texts).toHaveText(Array.from({ length: 120 }, (_, i) => `big ${i + 1}`));
    await expect(ann.getByTestId('load-older')).toHaveCount(0);
    // Older pages never moved the catch-up cursor: live messages still follow on.
    const { socket: again } = await connect(server.url, { auth: { name: 'bot2' } });
    await again.timeout(10_000).emitWithAck('join room', { room: 'big' });
    await post(again, 'big 121', 'big2-1', 'big');
    again.close();
    await expect(messageExactly(ann, 'big 121')).toHaveCount(1);
    await expect(texts).toHaveCount(121);
  });
});

test.describe('a bot that makes more rooms than a page holds', () => {
  // A person may create 5 rooms a minute; the bot makes 55 at once.
  test.use({ serverEnv: { PALAVER_CREATE_LIMIT: 'off' } });

  test('rooms to join come a page at a time, and can be found by name', async ({ browser, server }) => {
    // More rooms than one page holds, created by a bot over Socket.IO.
    const { socket } = await connect(server.url, { auth: { name: 'bot' } });
    for (let i = 0; i < 55; i++) {
      const name = `room-${String(i).padStart(2, '0')}`;
      const ack = await socket.timeout(10_000).emitWithAck('create room', { name });
      expect(ack.error).toBeUndefined();
    }
    socket.close();

    const ann = await openChat(browser, server, 'ann');
    // Closed at first: the list is asked for when it opens.
    await expect(ann.getByTestId('more-rooms-toggle')).toHaveAttribute('aria-expanded', 'false');
    await expect(ann.getByTestId('other-room')).toHaveCount(0);
    await moreRooms(ann);
    const offered = ann.getByTestId('other-room');
    await expect(offered).toHaveCount(50);
    await expect(offered.first()).toHaveAttribute('data-room', 'room-00');
    await expect(offered.first().locator('.counts')).toHaveText('1 member, 0 online');
    await ann.getByTestId('more-rooms').click();
    await expect(offered).toHaveCount(55);
    await expect(offered.last()).toHaveAttribute('data-room', 'room-54');
    await expect(ann.getByTestId('more-rooms')).toHaveCount(0);

    // Bob has the first page only, and finds one beyond it by part of its name.
    const bob = await openChat(browser, server, 'bob');
    await moreRooms(bob);
    const find = bob.getByLabel('Find a room');
    await expect(bob.getByTestId('other-room')).toHaveCount(50);
    await find.fill('M-54');
    await expect(bob.getByTestId('other-room')).toHaveCount(1);
    await joinRoom(bob, 'room-54');
    await expect(convo(bob, 'room-54')).toBeVisible();
    await expect(bob.getByTestId('other-room')).toHaveCount(0);
    await expect(bob.getByTestId('no-other-rooms')).toHaveText('No room matches');
    // Without the filter: the first page again, less what he joined.
    await find.fill('');
    await expect(bob.getByTestId('other-room')).toHaveCount(50);
    await expect(bob.getByTestId('more-rooms')).toBeVisible();
    await expect(bob.locator('[data-testid="other-room"][data-room="room-54"]')).toHaveCount(0);
  });
});
