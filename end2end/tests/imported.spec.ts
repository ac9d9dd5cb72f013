import { storedZip } from '../support/zip.mjs';
import { test, expect, openChat, openAdmin, adminToken, joinRoom, messages } from './fixtures';

// A Slack export's authors on /admin: listed until claimed, then their messages are the
// person's, under the person's name.

function slackExport(): Buffer {
  const messages = [
    { type: 'message', user: 'U1', text: 'first from Slack', ts: '1704067200.000100' },
    { type: 'message', user: 'U2', text: 'second from Slack', ts: '1704067201.000100' },
    { type: 'message', user: 'U1', text: 'third from Slack', ts: '1704067202.000100' },
  ];
  return storedZip({
    'channels.json': JSON.stringify([{ id: 'C1', name: 'general' }]),
    'users.json': JSON.stringify([
      { id: 'U1', name: 'ann', real_name: 'Ann Smith', profile: { display_name: 'Ann Smith' } },
      { id: 'U2', name: 'bob.k', profile: { display_name: '' } },
    ]),
    'general/2024-01-01.json': JSON.stringify(messages),
  });
}

test('a moderator gives an imported author their messages from /admin', async ({ browser, server }) => {
  const ann = await openChat(browser, server, 'ann');
  const admin = await openAdmin(browser, server);
  const uploaded = await fetch(`${server.url}/imports?format=slack`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${adminToken(server)}` },
    body: slackExport(),
  });
  expect(uploaded.status).toBe(202);
  const { job } = await uploaded.json();
  const row = admin.locator(`[data-testid="admin-job"][data-job="${job}"]`);
  await expect(row.getByTestId('admin-job-state')).toHaveText('Done', { timeout: 30_000 });

  const panel = admin.locator('form', { has: admin.getByRole('heading', { name: 'Imported authors' }) });
  await panel.getByRole('button', { name: 'Show unclaimed' }).click();
  const authors = panel.getByTestId('imported-author');
  await expect(authors).toHaveText(['Ann Smith2 message(s)Pick', 'bob.k1 message(s)Pick']);
  await authors.first().getByRole('button', { name: 'Pick' }).click();
  await expect(panel.getByLabel('Imported author')).toHaveValue('Ann Smith');
  await panel.getByLabel('Their name here').fill('nobody');
  await panel.getByRole('button', { name: 'Give them their messages' }).click();
  await expect(admin.getByTestId('admin-feedback')).toHaveText(/^Not claimed: /);
  await panel.getByLabel('Their name here').fill('ann');
  await panel.getByRole('button', { name: 'Give them their messages' }).click();
  await expect(admin.getByTestId('admin-feedback')).toHaveText("2 message(s) of Ann Smith are now ann's");
  await expect(authors).toHaveText(['bob.k1 message(s)Pick']);

  // In ann's page, once it has loaded them: hers, under her name.
  await ann.reload();
  await expect(ann.locator('main[data-hydrated="true"]')).toBeVisible();
  await joinRoom(ann, 'general');
  const shown = messages(ann);
  await expect(shown.locator('.author')).toHaveText(['ann', 'bob.k', 'ann']);
  await expect(shown.filter({ hasText: 'first from Slack' })).toHaveClass(/\bmine\b/);
  await expect(shown.filter({ hasText: 'second from Slack' })).not.toHaveClass(/\bmine\b/);
});
