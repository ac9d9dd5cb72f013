// Accounts in the chat page (issue 21): guests, signing up and in on several devices, sessions,
// being signed out elsewhere, rate-limited sign-ins, and keeping a token's name with a password.
import {
  test,
  expect,
  openChat,
  send,
  createRoom,
  joinRoom,
  openConvo,
  convo,
  unread,
  messageWithText,
} from './fixtures';
import {
  PASSWORD,
  openGuest,
  signUp,
  signIn,
  submitSignIn,
  expectSignedIn,
} from './accounts.helpers';

test('a first visit is a guest with no made-up name, offered sign-in and sign-up', async ({ browser, server }) => {
  const page = await openGuest(browser, server);
  await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'connected');
  await expect(page.getByLabel('Display name')).toHaveValue('');
  const account = page.getByTestId('account');
  await expect(account.getByRole('button', { name: 'Sign in', exact: true })).toBeVisible();
  await expect(account.getByRole('button', { name: 'Sign up', exact: true })).toBeVisible();
  expect(await page.evaluate(() => localStorage.getItem('palaver.name'))).toBeNull();
  await expect(page.getByTestId('upgrade')).toHaveCount(0);
});

test('an account signs in on a second device with its rooms, unread counts and direct messages', async ({ browser, server }) => {
  const a = await openGuest(browser, server);
  await signUp(a, 'ann');
  await expect(a.getByTestId('account-role')).toHaveAttribute('data-role', 'admin');
  await createRoom(a, 'plans');
  await openConvo(a, 'lobby');

  // Someone else writes in her room and to her directly while she reads the lobby.
  const bob = await openChat(browser, server, 'bob');
  await joinRoom(bob, 'plans');
  await send(bob, 'plans for friday');
  await expect(messageWithText(bob, 'plans for friday')).toHaveAttribute('data-state', 'sent');
  await bob.getByLabel('Name to message').fill('ann');
  await bob.getByRole('button', { name: 'Open', exact: true }).click();
  await expect(bob.getByTestId('convo-title')).toHaveText('ann');
  await send(bob, 'psst, ann');
  await expect(messageWithText(bob, 'psst, ann')).toHaveAttribute('data-state', 'sent');
  await expect(unread(a, 'plans')).toHaveText('1');
  await expect(unread(a, 'bob')).toHaveText('1');

  // Another device: same person, same conversations, same counts.
  const b = await openGuest(browser, server);
  await signIn(b, 'ann');
  await expect(b.getByLabel('Display name')).toHaveValue('ann');
  await expect(convo(b, 'plans')).toBeVisible();
  await expect(unread(b, 'plans')).toHaveText('1');
  await expect(unread(b, 'bob')).toHaveText('1');
  await openConvo(b, 'bob');
  await expect(messageWithText(b, 'psst, ann')).toHaveCount(1);
  // What she writes on one device is hers on the other.
  await send(b, 'from my phone');
  await expect(messageWithText(bob, 'from my phone').locator('.author')).toHaveText('ann');
  await openConvo(a, 'bob');
  await expect(messageWithText(a, 'from my phone').locator('.author')).toHaveText('ann');
});

test("ending a device's session from another signs it out at once", async ({ browser, server }) => {
  const a = await openGuest(browser, server);
  await signUp(a, 'ann');
  const b = await openGuest(browser, server);
  await signIn(b, 'ann');

  await b.getByTestId('account').getByRole('button', { name: 'Sessions' }).click();
  const sessions = b.getByTestId('sessions').getByTestId('session');
  await expect(sessions).toHaveCount(2);
  await expect(b.getByTestId('sessions').locator('[data-current="true"]').getByTestId('this-device')).toHaveText('this device');
  await b.getByTestId('sessions').locator('[data-current="false"]').getByRole('button', { name: 'End' }).click();
  await expect(sessions).toHaveCount(1);

  // A is told, drops its cookie and shows the sign-in form with the reason.
  await expect(a.getByTestId('auth-note')).toContainText('You were signed out');
  await expect(a.getByTestId('auth-form')).toHaveAttribute('data-form', 'sign-in');
  await expect(a.locator('#auth-name')).toHaveValue('ann');
  await expect(a.getByTestId('account-name')).toHaveCount(0);
  // Its cookie is gone: a reload is a guest's page, not a refused one.
  await a.reload();
  await expect(a.getByTestId('status')).toHaveAttribute('data-state', 'connected');
  await expect(a.getByTestId('account-name')).toHaveCount(0);
  // B is untouched, and A can sign in again.
  await expectSignedIn(b, 'ann');
  await signIn(a, 'ann');
});

test('signing out drops the session and leaves a guest', async ({ browser, server }) => {
  const a = await openGuest(browser, server);
  await signUp(a, 'ann');
  await a.getByTestId('account').getByRole('button', { name: 'Sign out' }).click();
  await expect(a.getByTestId('account').getByRole('button', { name: 'Sign in', exact: true })).toBeVisible();
  await expect(a.getByTestId('status')).toHaveAttribute('data-state', 'connected');
  await expect(a.getByTestId('account-name')).toHaveCount(0);
  await expect(a.getByLabel('Display name')).toHaveValue('');
});

test('the sixth wrong password in a row is told to wait', async ({ browser, server }) => {
  const a = await openGuest(browser, server);
  await signUp(a, 'ann');
  const b = await openGuest(browser, server);
  for (let attempt = 1; attempt <= 6; attempt++) {
    const answered = b.waitForResponse((r) => r.url().endsWith('/auth/sign-in'));
    await submitSignIn(b, 'ann', `wrong password ${attempt}`);
    const answer = await answered;
    expect(answer.status(), `attempt ${attempt}`).toBe(attempt <= 5 ? 401 : 429);
    // The refusal stays beside the form: it does not flash and vanish.
    await expect(b.getByTestId('auth-error')).toHaveText(
      attempt <= 5 ? 'wrong name or password' : /^too many attempts; try again in \d+ s$/,
    );
  }
  await expect(b.getByTestId('auth-error')).toContainText('too many attempts');
  await expect(b.getByTestId('account-name')).toHaveCount(0);
});

test('a name held by a token is kept with a password, which then signs in elsewhere', async ({ browser, server }) => {
  const cy = await openChat(browser, server, 'cy');
  const banner = cy.getByTestId('upgrade');
  await expect(banner).toContainText('Set a password to keep “cy” and sign in on other devices');
  // It covers nothing: the composer still takes a message.
  await send(cy, 'before the password');
  await expect(messageWithText(cy, 'before the password')).toHaveAttribute('data-state', 'sent');

  await cy.getByLabel('Password to keep your name').fill('short');
  await banner.getByRole('button', { name: 'Set password' }).click();
  await expect(cy.getByTestId('upgrade-error')).toContainText('8 characters');

  // Another browser holding the same token (copied before the password is set).
  const token = await cy.evaluate(() => localStorage.getItem('palaver.session'));
  const stale = await (await browser.newContext()).newPage();
  await stale.addInitScript((t) => {
    if (localStorage.getItem('palaver.name') === null) {
      localStorage.setItem('palaver.name', 'cy');
      localStorage.setItem('palaver.session', t!);
    }
  }, token);

  await cy.getByLabel('Password to keep your name').fill(PASSWORD);
  await banner.getByRole('button', { name: 'Set password' }).click();
  await expectSignedIn(cy, 'cy');
  await expect(cy.getByTestId('upgrade')).toHaveCount(0);
  expect(await cy.evaluate(() => localStorage.getItem('palaver.session'))).toBeNull();
  await expect(messageWithText(cy, 'before the password')).toHaveCount(1);

  // The old token no longer holds the name: that browser is asked to sign in, as cy.
  await stale.goto(server.url);
  await expect(stale.getByTestId('auth-form')).toHaveAttribute('data-form', 'sign-in');
  await expect(stale.getByTestId('auth-note')).toHaveText('“cy” has a password now: sign in with it');
  await expect(stale.locator('#auth-name')).toHaveValue('cy');
  expect(await stale.evaluate(() => localStorage.getItem('palaver.session'))).toBeNull();
  await signIn(stale, 'cy');

  const other = await openGuest(browser, server);
  await signIn(other, 'cy');
  await send(other, 'from elsewhere');
  await expect(messageWithText(cy, 'from elsewhere').locator('.author')).toHaveText('cy');
});

test.describe('with no guests', () => {
  test.use({ serverEnv: { PALAVER_GUESTS: 'off' } });

  test('a visitor is asked to sign in', async ({ browser, server }) => {
    const page = await openGuest(browser, server);
    await expect(page.getByTestId('auth-form')).toHaveAttribute('data-form', 'sign-in');
    await expect(page.getByTestId('auth-note')).toHaveText('Sign in to chat on this server');
  });
});
