// Regenerates docs/screenshot.png: `node end2end/screenshot.mjs` after a release build.
import { chromium } from '@playwright/test';
import path from 'node:path';
import { PalaverServer, ROOT } from './support/server.mjs';
import { connect, send } from './support/sio.mjs';

const server = await PalaverServer.start();
try {
  const lines = [
    ['ann', 'Morning! Is the release still on for today?'],
    ['bob', 'Yes, after the last test run. Everything is green so far.'],
    ['ann', 'Great. I restarted the server twice and nothing was lost.'],
    ['carol', 'Reconnects feel instant now.'],
  ];
  for (const [name, text] of lines) {
    const { socket } = await connect(server.url, { auth: { name, serverOffset: 1e9 } });
    await send(socket, text);
    socket.close();
  }
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const page = await browser.newPage({ viewport: { width: 720, height: 480 } });
  await page.addInitScript(() => localStorage.setItem('palaver.name', 'bob'));
  await page.goto(server.url);
  await page.locator('[data-testid=status][data-state=connected]').waitFor();
  await page.getByLabel('Message', { exact: true }).fill('Shipping it.');
  await page.screenshot({ path: path.join(ROOT, 'docs', 'screenshot.png') });
  await browser.close();
} finally {
  await server.dispose();
}
