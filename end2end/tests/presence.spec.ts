import { test, expect, openChat, send } from './fixtures';

test('three people see who is online and who is typing', async ({ browser, server }) => {
  const ann = await openChat(browser, server, 'ann');
  const bob = await openChat(browser, server, 'bob');
  const cy = await openChat(browser, server, 'cy');
  for (const page of [ann, bob, cy]) {
    await expect(page.getByTestId('presence')).toHaveText('Online: ann, bob, cy');
  }

  // Ann types: the others see it, she does not see herself.
  await ann.getByLabel('Message', { exact: true }).pressSequentially('hel');
  await expect(bob.getByTestId('typing')).toHaveText('ann is typing…');
  await expect(cy.getByTestId('typing')).toHaveText('ann is typing…');
  await expect(ann.getByTestId('typing')).toHaveText('');
  await bob.getByLabel('Message', { exact: true }).pressSequentially('yo');
  await expect(cy.getByTestId('typing')).toHaveText('ann and bob are typing…');

  // Sending clears it at once; bob's own indicator expires after 5 s without typing.
  await send(ann, 'hello');
  await expect(cy.getByTestId('typing')).toHaveText('bob is typing…');
  await expect(cy.getByTestId('typing')).toHaveText('', { timeout: 8_000 });

  // Closing a page takes its person off the list.
  await cy.context().close();
  await expect(ann.getByTestId('presence')).toHaveText('Online: ann, bob');
  await expect(bob.getByTestId('presence')).toHaveText('Online: ann, bob');
});
