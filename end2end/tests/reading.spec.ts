import { storedZip } from '../support/zip.mjs';
import {
  test,
  expect,
  openChat,
  adminToken,
  send,
  messages,
  messageWithText,
  convo,
  unread,
  openConvo,
  createRoom,
  moreRooms,
  messageExactly,
} from './fixtures';
import { connect, send as post } from '../support/sio.mjs';

// Reading: day separators and times in the reader's zone, grouped messages, the "new
// messages" divider, and a conversation's own address.

const DAY = 24 * 60 * 60 * 1000;
const ZONE = 'Asia/Tokyo';

/** A Slack export of channel `general` holding one message for each of `times`. */
function slackExport(times: number[]): Buffer {
  const records = times.map((t, i) => ({
    type: 'message',
    user: 'U1',
    text: `message ${i}`,
    ts: `${Math.floor(t / 1000)}.000100`,
  }));
  return storedZip({
    'channels.json': JSON.stringify([{ id: 'C1', name: 'general' }]),
    'users.json': JSON.stringify([{ id: 'U1', name: 'old.timer', profile: { display_name: '' } }]),
    'general/2024-01-01.json': JSON.stringify(records),
  });
}

/** What the separator of the day of `t` says, read `now`, in `ZONE`. */
function expectedLabel(t: number, now: number): string {
  const day = (ms: number) => new Date(ms).toLocaleDateString('en-CA', { timeZone: ZONE });
  const daysBack = Math.round((Date.parse(day(now)) - Date.parse(day(t))) / DAY);
  const weekday = new Date(t).toLocaleDateString('en-GB', { timeZone: ZONE, weekday: 'long' });
  if (daysBack === 0) return 'Today';
  if (daysBack === 1) return 'Yesterday';
  if (daysBack < 7) return weekday;
  const date = new Date(t).toLocaleDateString('en-GB', { timeZone: ZONE, day: 'numeric', month: 'long', year: 'numeric' });
  return `${weekday}, ${date}`;
}

test('each day has its separator, and times are the reader\'s own, to the tooltip', async ({ browser, server }) => {
  const now = Date.now();
  const times = [now - 40 * DAY, now - 3 * DAY, now - DAY, now - 60_000];
  const uploaded = await fetch(`${server.url}/imports?format=slack`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${adminToken(server)}` },
    body: slackExport(times),
  });
  expect(uploaded.status).toBe(202);

  const context = await browser.newContext({ timezoneId: ZONE });
  const ann = await context.newPage();
  await ann.addInitScript(() => {
    if (localStorage.getItem('palaver.name') === null) localStorage.setItem('palaver.name', 'ann');
  });
  // A shared link to a room she is not in: she joins it (once the import has made it).
  await expect(async () => {
    await ann.goto(`${server.url}/r/general`);
    // Its title shows while it opens; the conversation itself only once joined.
    await expect(ann.locator('section.conversation[data-room="general"]')).toBeVisible({ timeout: 3_000 });
  }).toPass({ timeout: 30_000 });
  await expect(messages(ann)).toHaveCount(4);

  const expected = times.map((t) => expectedLabel(t, now));
  await expect(ann.getByTestId('day-separator')).toHaveText([...new Set(expected)]);
  // Each separator comes just before its day's first message.
  for (const [i, label] of expected.entries()) {
    const before = messageWithText(ann, `message ${i}`).locator('xpath=preceding-sibling::li[1]');
    if (i === 0 || expected[i - 1] !== label) await expect(before).toHaveText(label);
  }
  // Times in Tokyo, the tooltip too (the server's page said UTC until the browser took over).
  const last = messageWithText(ann, 'message 3').locator('time');
  const hm = new Date(times[3]).toLocaleTimeString('en-GB', { timeZone: ZONE, hour: '2-digit', minute: '2-digit' });
  await expect(last).toHaveText(hm);
  await expect(last).toHaveAttribute('title', new RegExp(`^${expectedFull(times[3])} at ${hm}$`));
  await expect(last).toHaveAttribute('datetime', new Date(Math.floor(times[3] / 1000) * 1000).toISOString().replace('.000', ''));

  // The server renders UTC, the browser switches to Tokyo after hydrating, without a
  // mismatch: the page reports no error, and the lobby's times read in Tokyo.
  const problems: string[] = [];
  ann.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
  ann.on('pageerror', (e) => problems.push(e.message));
  await ann.goto(server.url);
  await send(ann, 'in the lobby');
  await ann.reload();
  await expect(ann.locator('main[data-hydrated="true"]')).toBeVisible();
  const sent = messageWithText(ann, 'in the lobby').locator('time');
  await expect(sent).toHaveAttribute('title', /^[A-Z][a-z]+day, \d+ [A-Z][a-z]+ \d{4} at \d\d:\d\d$/);
  const at = Date.parse((await sent.getAttribute('datetime'))!);
  await expect(sent).toHaveText(new Date(at).toLocaleTimeString('en-GB', { timeZone: ZONE, hour: '2-digit', minute: '2-digit' }));
  await expect(ann.getByTestId('day-separator')).toHaveText([expectedLabel(at, Date.now())]);
  expect(problems).toEqual([]);
});

function expectedFull(t: number): string {
  const weekday = new Date(t).toLocaleDateString('en-GB', { timeZone: ZONE, weekday: 'long' });
  const date = new Date(t).toLocaleDateString('en-GB', { timeZone: ZONE, day: 'numeric', month: 'long', year: 'numeric' });
  return `${weekday}, ${date}`;
}

test('a person\'s consecutive messages share a header, and a divider shows where unread began', async ({ browser, server }) => {
  const ann = await openChat(browser, server, 'ann');
  const bob = await openChat(browser, server, 'bob');
  await send(ann, 'hello bob');
  await expect(messageWithText(bob, 'hello bob')).toHaveCount(1);
  await send(bob, 'hi ann');
  await expect(messageWithText(ann, 'hi ann')).toHaveCount(1);

  // Bob reads the lobby to its end, then looks at another room while ann goes on.
  await createRoom(bob, 'elsewhere');
  for (const text of ['new one', 'new two', 'new three']) await send(ann, text);
  await expect(unread(bob, 'lobby')).toHaveText('3');
  await openConvo(bob, 'lobby');

  // "New messages" just before the first he had not read.
  const divider = bob.getByTestId('new-messages');
  await expect(divider).toHaveCount(1);
  await expect(divider).toHaveText('New messages');
  await expect(messageWithText(bob, 'new one').locator('xpath=preceding-sibling::li[1]')).toHaveText('New messages');

  // Ann's three under one header: the first shows it, the others keep it for screen readers.
  const shown = messages(bob);
  await expect(shown.filter({ hasText: 'new one' })).not.toHaveClass(/\bgrouped\b/);
  await expect(shown.filter({ hasText: 'new two' })).toHaveClass(/\bgrouped\b/);
  await expect(shown.filter({ hasText: 'new three' })).toHaveClass(/\bgrouped\b/);
  await expect(shown.filter({ hasText: 'new three' }).locator('.author')).toHaveText('ann');
  const header = async (text: string) => (await shown.filter({ hasText: text }).locator('.meta').boundingBox())!.height;
  expect(await header('new three')).toBeLessThanOrEqual(1);
  expect(await header('new one')).toBeGreaterThan(10);
  // Bob's reply between them starts a new group, and ann's next one too.
  await expect(shown.filter({ hasText: 'hi ann' })).not.toHaveClass(/\bgrouped\b/);

  // It stays while he reads on, and is gone once he has read everything and comes back.
  await send(ann, 'new four');
  await expect(shown.filter({ hasText: 'new four' })).toHaveClass(/\bgrouped\b/);
  await expect(divider).toHaveCount(1);
  await expect(messageWithText(bob, 'new one').locator('xpath=preceding-sibling::li[1]')).toHaveText('New messages');
  await openConvo(bob, 'elsewhere');
  await openConvo(bob, 'lobby');
  await expect(messageWithText(bob, 'new four')).toHaveCount(1);
  await expect(divider).toHaveCount(0);
  // Today's separator heads the list, before any message.
  await expect(bob.getByTestId('day-separator')).toHaveText(['Today']);
});

test.describe(() => {
  // Sixty messages from one bot: lift the rate limit rather than wait.
  test.use({ serverEnv: { PALAVER_RATE_LIMIT: '0' } });

  test('with more unread than a page holds, the divider heads the page, then goes before the first unread as older pages come', async ({
    browser,
    server,
  }) => {
    const bob = await openChat(browser, server, 'bob');
    await send(bob, 'read up to here');
    await createRoom(bob, 'elsewhere');
    const { socket } = await connect(server.url, { auth: { name: 'bot' } });
    for (let i = 1; i <= 60; i++) await post(socket, `unread ${i}`, `unread-${i}`);
    socket.close();
    // A fresh page in the other room: the lobby's newest 50 are all it holds of it.
    await bob.reload();
    await expect(bob.getByTestId('status')).toHaveAttribute('data-state', 'connected');
    await expect(unread(bob, 'lobby')).toBeVisible();
    await openConvo(bob, 'lobby');

    const divider = bob.getByTestId('new-messages');
    await expect(divider).toHaveCount(1);
    await expect(messageExactly(bob, 'unread 11').locator('xpath=preceding-sibling::li[1]')).toHaveText('New messages');

    await expect(async () => {
      await bob.locator('.scroller').evaluate((el) => el.scrollTo({ top: -el.scrollHeight }));
      await expect(messageExactly(bob, 'read up to here')).toHaveCount(1, { timeout: 1_000 });
    }).toPass();
    await expect(messageExactly(bob, 'unread 1').locator('xpath=preceding-sibling::li[1]')).toHaveText('New messages');
    await expect(divider).toHaveCount(1);
  });
});

test('a conversation has its own address: a reload, the back button and a shared link land in it', async ({ browser, server }) => {
  const ann = await openChat(browser, server, 'ann');
  const bob = await openChat(browser, server, 'bob');
  const cy = await openChat(browser, server, 'cy');
  const base = server.url.replace(/\/$/, '');

  await createRoom(ann, 'rust');
  await expect(ann).toHaveURL(`${base}/r/rust`);
  await send(ann, 'in rust');
  await ann.getByLabel('Name to message').fill('bob');
  await ann.getByRole('button', { name: 'Open', exact: true }).click();
  await expect(ann.getByTestId('convo-title')).toHaveText('bob');
  await expect(ann).toHaveURL(`${base}/dm/bob`);
  await send(ann, 'psst');

  // A reload lands where it was.
  await ann.reload();
  await expect(ann.getByTestId('status')).toHaveAttribute('data-state', 'connected');
  await expect(ann.getByTestId('convo-title')).toHaveText('bob');
  await expect(messageWithText(ann, 'psst')).toHaveCount(1);

  // Back and forward walk through the conversations.
  await ann.goBack();
  await expect(ann).toHaveURL(`${base}/r/rust`);
  await expect(ann.getByTestId('convo-title')).toHaveText('rust');
  await expect(messageWithText(ann, 'in rust')).toHaveCount(1);
  await ann.goBack();
  await expect(ann).toHaveURL(`${base}/`);
  await expect(ann.getByTestId('convo-title')).toHaveText('lobby');
  await ann.goForward();
  await expect(ann.getByTestId('convo-title')).toHaveText('rust');
  await openConvo(ann, 'lobby');
  await expect(ann).toHaveURL(`${base}/`);

  // Shared links: bob lands in the room (and joins it), then in his conversation with ann.
  // The page the server sends for a room's address draws that room opening, not the lobby.
  await send(cy, 'in the lobby');
  const landing = await (await fetch(`${base}/r/rust`)).text();
  expect(landing).toContain('data-testid="opening"');
  expect(landing).not.toContain('data-testid="messages"');
  expect(await (await fetch(`${base}/`)).text()).toContain('data-testid="messages"');
  await bob.goto(`${base}/r/rust`);
  await expect(bob.getByTestId('opening')).toHaveCount(0);
  await expect(bob.getByTestId('convo-title')).toHaveText('rust');
  await expect(messageWithText(bob, 'in rust')).toHaveCount(1);
  await expect(convo(bob, 'rust')).toBeVisible();
  await bob.goto(`${base}/dm/ann`);
  await expect(bob.getByTestId('convo-title')).toHaveText('ann');
  await expect(messageWithText(bob, 'psst')).toHaveCount(1);

  // A private room's link is refused to others, as a room that does not exist: the lobby,
  // with a note, and the address says so.
  await openConvo(ann, 'rust');
  await moreRooms(ann);
  await ann.getByTestId('create-private').check();
  await createRoom(ann, 'secret');
  await expect(ann).toHaveURL(`${base}/r/secret`);
  await cy.goto(`${base}/r/secret`);
  await expect(cy.getByTestId('status')).toHaveAttribute('data-state', 'connected');
  await expect(cy.getByTestId('sidebar-alert')).toHaveText('No room named `secret`');
  await expect(cy.getByTestId('convo-title')).toHaveText('lobby');
  await expect(cy).toHaveURL(`${base}/`);
  await expect(convo(cy, 'secret')).toHaveCount(0);
});
