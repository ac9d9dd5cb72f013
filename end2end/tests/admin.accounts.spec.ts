// Accounts on /admin (issue 21): the first account administers the server without the admin
// token, makes moderators, join links and password reset links.
import { test, expect, openAdmin, messageWithText, send } from './fixtures';
import {
  PASSWORD,
  openGuest,
  openAdminAs,
  signUp,
  signIn,
  submitSignUp,
  submitSignIn,
  expectSignedIn,
} from './accounts.helpers';

test('the first account administers /admin without the token and makes a moderator', async ({ browser, server }) => {
  const root = await openGuest(browser, server);
  await signUp(root, 'boss');
  await expect(root.getByTestId('account-role')).toHaveAttribute('data-role', 'admin');
  const bob = await openGuest(browser, server);
  await signUp(bob, 'bob');
  await expect(bob.getByTestId('account-role')).toHaveAttribute('data-role', 'member');

  const admin = await openAdminAs(root, server);
  await expect(admin.getByTestId('admin-whoami')).toHaveText('Signed in as boss (admin)');
  await expect(admin.locator('#admin-token')).toBeHidden();
  await expect(admin.getByTestId('admin-stats')).toBeVisible();
  const people = admin.getByTestId('people');
  await people.getByLabel('Find people').fill('bo');
  await people.getByRole('button', { name: 'Search' }).click();
  const row = people.locator('[data-testid="person"][data-name="bob"]');
  await expect(row.getByTestId('person-account')).toHaveText('yes');
  await row.getByLabel('Role of bob').selectOption('moderator');
  await expect(admin.getByTestId('admin-feedback')).toHaveText('bob is now moderator');
  await expect(row).toHaveAttribute('data-role', 'moderator');

  // Bob's cookie opens /admin now, with the moderation panels only.
  const mod = await openAdminAs(bob, server);
  await expect(mod.getByTestId('admin-whoami')).toHaveText('Signed in as bob (moderator)');
  await expect(mod.getByTestId('admin-stats')).toBeVisible();
  await expect(mod.getByLabel('Name to kick')).toBeVisible();
  await expect(mod.getByTestId('people')).toHaveCount(0);
  await expect(mod.getByTestId('invites')).toHaveCount(0);
  await mod.getByLabel('Announcement').fill('moderated');
  await mod.getByRole('button', { name: 'Announce' }).click();
  await expect(mod.getByTestId('admin-feedback')).toHaveText('Announced in 1 room(s)');
  await expect(messageWithText(root, 'moderated')).toHaveClass(/announcement/);
});

test('a member without a role gets the token form on /admin', async ({ browser, server }) => {
  const root = await openGuest(browser, server);
  await signUp(root, 'boss');
  const bob = await openGuest(browser, server);
  await signUp(bob, 'bob');
  const page = await bob.context().newPage();
  await page.goto(`${server.url}/admin`);
  await expect(page.locator('main[data-hydrated="true"]')).toBeVisible();
  await expect(page.locator('#admin-token')).toBeVisible();
  await expect(page.getByTestId('admin-access')).toHaveText('Signed out');
  await expect(page.getByTestId('admin-stats')).toHaveCount(0);
});

test('a join link made in /admin signs a new person up into the lobby', async ({ browser, server }) => {
  const root = await openGuest(browser, server);
  await signUp(root, 'boss');
  const admin = await openAdminAs(root, server);
  const invites = admin.getByTestId('invites');
  await invites.getByLabel('Most sign-ups').fill('1');
  await invites.getByRole('button', { name: 'Create invite' }).click();
  const link = await expect(invites.getByTestId('invite-link')).toHaveValue(/\/#invite=.+/).then(() =>
    invites.getByTestId('invite-link').inputValue(),
  );
  expect(link.startsWith(server.url)).toBe(true);
  await expect(invites.getByTestId('invite')).toHaveCount(1);

  const newbie = await (await browser.newContext()).newPage();
  await newbie.goto(link);
  await expect(newbie.locator('main[data-hydrated="true"]')).toBeVisible();
  await expect(newbie.getByTestId('auth-form')).toHaveAttribute('data-form', 'sign-up');
  await expect(newbie.locator('#auth-invite')).toHaveValue(link.split('#invite=')[1]);
  await submitSignUp(newbie, 'newbie');
  await expectSignedIn(newbie, 'newbie');
  expect(new URL(newbie.url()).hash).toBe('');
  await expect(newbie.getByTestId('convo-title')).toHaveText('lobby');
  await send(newbie, 'hello, I was invited');
  await expect(messageWithText(root, 'hello, I was invited').locator('.author')).toHaveText('newbie');

  // The invite counts its use; revoked, it is marked so.
  await admin.reload();
  const row = admin.getByTestId('invites').getByTestId('invite');
  await expect(row.getByTestId('invite-uses')).toHaveText('1 of 1');
  await row.getByRole('button', { name: 'Revoke' }).click();
  await expect(row.getByTestId('invite-state')).toHaveText('revoked');
});

test.describe('on an invite-only server', () => {
  test.use({ serverEnv: { PALAVER_SIGN_UP: 'invite' } });

  test('sign-up needs a join link', async ({ browser, server }) => {
    const guest = await openGuest(browser, server);
    await submitSignUp(guest, 'walkin');
    await expect(guest.getByTestId('auth-error')).toHaveText('this server is invite-only: ask for a join link');
    await expect(guest.getByTestId('account-name')).toHaveCount(0);

    const admin = await openAdmin(browser, server);
    await expect(admin.getByTestId('admin-whoami')).toHaveText('With the admin token (admin)');
    await admin.getByTestId('invites').getByRole('button', { name: 'Create invite' }).click();
    const link = admin.getByTestId('invites').getByTestId('invite-link');
    await expect(link).toHaveValue(/#invite=/);
    await guest.goto(await link.inputValue());
    await expect(guest.getByTestId('auth-form')).toHaveAttribute('data-form', 'sign-up');
    await submitSignUp(guest, 'walkin');
    await expectSignedIn(guest, 'walkin');
  });

  test('a name claimed without an account is refused, and the page says why', async ({ browser, server }) => {
    const page = await (await browser.newContext()).newPage();
    await page.addInitScript(() => localStorage.setItem('palaver.name', 'drifter'));
    await page.goto(server.url);
    await expect(page.locator('#name-error')).toHaveText('This server is invite-only: sign up with a join link, or sign in');
    await expect(page.getByTestId('auth-note')).toHaveText('This server is invite-only: a new name needs a join link');
    // Read as a guest meanwhile.
    await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'connected');
  });
});

test('a reset link made in /admin sets a new password', async ({ browser, server }) => {
  const root = await openGuest(browser, server);
  await signUp(root, 'boss');
  const dee = await openGuest(browser, server);
  await signUp(dee, 'dee');

  const admin = await openAdminAs(root, server);
  const people = admin.getByTestId('people');
  await people.getByRole('button', { name: 'Search' }).click();
  await people.getByRole('button', { name: 'Reset link for dee' }).click();
  const field = people.getByTestId('reset-link');
  await expect(field).toHaveValue(/\/#reset=.+/);
  const link = await field.inputValue();

  const NEW = 'a brand new password';
  const page = await (await browser.newContext()).newPage();
  await page.goto(link);
  await expect(page.locator('main[data-hydrated="true"]')).toBeVisible();
  await expect(page.getByTestId('auth-form')).toHaveAttribute('data-form', 'reset');
  await expect(page.locator('#auth-heading')).toHaveText('Choose a new password');
  await page.locator('#auth-password').fill(NEW);
  await page.getByRole('button', { name: 'Save the new password' }).click();
  await expectSignedIn(page, 'dee');
  expect(new URL(page.url()).hash).toBe('');

  // Every other device of hers is signed out; the old password no longer works, the new one does.
  await expect(dee.getByTestId('auth-note')).toContainText('You were signed out');
  await submitSignIn(dee, 'dee', PASSWORD);
  await expect(dee.getByTestId('auth-error')).toHaveText('wrong name or password');
  await signIn(dee, 'dee', NEW);
});
