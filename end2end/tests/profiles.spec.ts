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

// A 1×1 PNG.
const PIXEL = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);

test('an uploaded picture replaces the initials for everyone, and can be removed', async ({ browser, server }) => {
  const ann = await openChat(browser, server, 'ann');
  const bob = await openChat(browser, server, 'bob');
  await send(ann, 'with a picture');
  const seen = messageWithText(bob, 'with a picture');
  await expect(seen.locator('span.avatar')).toHaveText('A');

  await ann.getByTestId('profile').locator('summary').click();
  await ann.getByTestId('profile-picture').setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: PIXEL });
  await expect(seen.locator('img.avatar')).toHaveAttribute('src', /^\/avatars\/ann\?v=\d+$/);
  const src = await seen.locator('img.avatar').getAttribute('src');
  const served = await bob.request.get(`${server.url}${src}`);
  expect(served.status()).toBe(200);
  expect(served.headers()['content-type']).toBe('image/png');

  // Not an image: refused, with the server's reason, and nothing changes.
  await ann.getByTestId('profile-picture').setInputFiles({ name: 'x.svg', mimeType: 'image/svg+xml', buffer: Buffer.from('<svg/>') });
  await expect(ann.getByTestId('profile').getByRole('alert')).toHaveText('send a PNG, JPEG, GIF or WebP picture');

  await ann.getByTestId('profile-picture-remove').click();
  await expect(seen.locator('span.avatar')).toHaveText('A');
});
