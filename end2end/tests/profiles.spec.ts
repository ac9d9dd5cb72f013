import { test, expect, openChat, send, messageWithText } from './fixtures';

// Profiles: a display name and status shown on one's messages to everyone, live, beside the
// unique name; a picture of initials; a rename that carries one's old messages along.

test('a display name and status show on messages, for everyone, at once', async ({ browser, server }) => {
  const ann = await openChat(browser, server, 'ann');
  const bob = await openChat(browser, server, 'bob');
  await send(ann, 'hello before the profile');
  const seen = messageWithText(bob, 'hello before the profile');
  await expect(seen.locator('.author')).toHaveText('ann');
  await expect(seen.locator('.avatar')).toHaveText('A');

  await ann.getByTestId('profile').locator('summary').click();
  await ann.getByTestId('profile-display-name').fill('Ann Smith');
  await ann.getByTestId('profile-status').fill('on holiday');
  await ann.getByTestId('profile-save').click();

  // Bob's view changes without a reload: the same message, under her display name.
  await expect(seen.locator('.author')).toHaveText('Ann Smith');
  await expect(seen.locator('.handle')).toHaveText('@ann');
  await expect(seen.locator('.avatar')).toHaveText('AS');
  await expect(seen.locator('.author')).toHaveAttribute('title', 'ann — on holiday');
  // A page opened later learns it too.
  const cy = await openChat(browser, server, 'cy');
  await expect(messageWithText(cy, 'hello before the profile').locator('.author')).toHaveText('Ann Smith');
});

test('a rename carries the old messages to the new name, for everyone', async ({ browser, server }) => {
  const ann = await openChat(browser, server, 'ann');
  const bob = await openChat(browser, server, 'bob');
  await send(ann, 'written as ann');
  await expect(messageWithText(bob, 'written as ann').locator('.author')).toHaveText('ann');
  const name = ann.getByLabel('Display name', { exact: true });
  await name.fill('annie');
  await name.press('Enter');
  await expect(messageWithText(bob, 'written as ann').locator('.author')).toHaveText('annie');
  await bob.reload();
  await expect(messageWithText(bob, 'written as ann').locator('.author')).toHaveText('annie');
});
