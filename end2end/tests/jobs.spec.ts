import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Page } from '@playwright/test';
import type { PalaverServer } from '../support/server.mjs';
import {
  test,
  expect,
  openChat,
  send,
  convo,
  openConvo,
  createRoom,
  joinRoom,
  moreRooms,
  messageWithText,
  openAdmin,
} from './fixtures';

// Jobs in the browser: the Jobs panel (exports, imports, live progress, the notice when a job
// ends) and /admin's table of every job.

const ROOM = 'moving-out';
const TEXTS = ['first of three', 'second, with <b>tags</b> kept as text', 'third & last'];

/** Opens the Jobs panel from the sidebar (unless it is open) and returns it. */
async function openJobs(page: Page) {
  const button = page.getByRole('button', { name: 'Jobs', exact: true });
  if ((await button.getAttribute('aria-expanded')) !== 'true') await button.click();
  await expect(button).toHaveAttribute('aria-expanded', 'true');
  const panel = page.getByRole('dialog', { name: 'Jobs' });
  await expect(panel).toBeVisible();
  return panel;
}

/**
 * Records every state and progress line the page shows for its jobs, as they change, so that a
 * test can tell what it saw live (a poll could miss a short-lived state).
 */
async function recordJobs(page: Page) {
  await page.evaluate(() => {
    const w = window as unknown as { jobsSeen: string[] };
    w.jobsSeen = [];
    const look = () => {
      for (const row of document.querySelectorAll('[data-testid="job"]')) {
        const progress = row.querySelector('[data-testid="job-progress"]')?.textContent ?? '';
        const seen = `${row.getAttribute('data-job')} ${row.getAttribute('data-state')} ${progress}`;
        if (w.jobsSeen.at(-1) !== seen && !w.jobsSeen.includes(seen)) w.jobsSeen.push(seen);
      }
    };
    new MutationObserver(look).observe(document.body, {
      subtree: true,
      childList: true,
      attributes: true,
      characterData: true,
    });
    look();
  });
}

/** What `recordJobs` saw of job `id`: `[state, progress line]`, in order. */
async function seenOf(page: Page, id: string): Promise<[string, string][]> {
  const seen = await page.evaluate(() => (window as unknown as { jobsSeen: string[] }).jobsSeen);
  return seen
    .filter((s) => s.startsWith(`${id} `))
    .map((s) => {
      const [, state, ...rest] = s.split(' ');
      return [state, rest.join(' ')];
    });
}

/** The names of the files in a ZIP archive, from its central directory. */
function zipEntries(zip: Buffer): string[] {
  // The end of central directory record: its signature, at most 64 KiB of comment from the end.
  let end = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      end = i;
      break;
    }
  }
  expect(end, 'the end of central directory record').toBeGreaterThanOrEqual(0);
  const count = zip.readUInt16LE(end + 10);
  let at = zip.readUInt32LE(end + 16);
  const names: string[] = [];
  for (let n = 0; n < count; n++) {
    expect(zip.readUInt32LE(at), `central directory entry ${n}`).toBe(0x02014b50);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    names.push(zip.toString('utf8', at + 46, at + 46 + nameLength));
    at += 46 + nameLength + extraLength + commentLength;
  }
  return names;
}

/** Imports `file` from the Jobs panel as `format`; the new job's row, listed at once. */
async function importArchive(page: Page, file: string, format: 'Palaver export' | 'Slack export') {
  const panel = await openJobs(page);
  await panel.getByLabel('Archive (.zip)').setInputFiles(file);
  await panel.getByRole('radio', { name: format }).check();
  await panel.getByRole('button', { name: 'Import', exact: true }).click();
  const queued = panel.getByTestId('import-queued');
  await expect(queued).toHaveText(/^Uploaded: import #\d+ is queued$/);
  const id = (await queued.textContent())!.match(/#(\d+)/)![1];
  const row = panel.locator(`[data-testid="job"][data-job="${id}"]`);
  await expect(row).toHaveAttribute('data-kind', 'import');
  return { panel, id, row };
}

test.describe.serial('export a room, then import it into a fresh server', () => {
  // Made by the first test, read by the second.
  const archive = path.join(mkdtempSync(path.join(tmpdir(), 'palaver-export-')), 'export.zip');

  test('a person exports a room, watches it run, and downloads a ZIP with a manifest', async ({
    browser,
    server,
  }) => {
    const ann = await openChat(browser, server, 'ann');
    await createRoom(ann, ROOM);
    for (const text of TEXTS) await send(ann, text);
    for (const text of TEXTS) await expect(messageWithText(ann, text)).toHaveAttribute('data-state', 'sent');

    const panel = await openJobs(ann);
    await recordJobs(ann);
    await expect(panel.getByRole('button', { name: 'Export this room' })).toHaveAccessibleDescription(`#${ROOM}`);
    await panel.getByRole('button', { name: 'Export this room' }).click();
    // Listed at once, before any worker has it.
    const row = panel.getByTestId('job').first();
    await expect(row).toHaveAttribute('data-kind', 'export');
    const id = (await row.getAttribute('data-job'))!;
    await expect(panel.getByTestId('jobs-alert')).toBeEmpty();

    // Its end: the notice, wherever the person is; the panel can be closed meanwhile.
    await panel.getByRole('button', { name: 'Close' }).click();
    await expect(panel).toBeHidden();
    const notice = ann.getByTestId('job-notice').filter({ hasText: 'Export ready' });
    await expect(notice, 'the export ended (a worker must run export jobs)').toBeVisible({ timeout: 30_000 });
    await expect(ann.getByTestId('job-notices')).toHaveAttribute('role', 'status');

    // What the list showed meanwhile: not finished, then done with its count.
    const reopened = await openJobs(ann);
    const done = reopened.locator(`[data-testid="job"][data-job="${id}"]`);
    await expect(done).toHaveAttribute('data-state', 'done');
    await expect(done.getByTestId('job-progress')).toHaveText(/^\d+ (of \d+|done)$/);
    const seen = await seenOf(ann, id);
    const firstDone = seen.findIndex(([state]) => state === 'done');
    expect(firstDone, JSON.stringify(seen)).toBeGreaterThan(0);
    expect(['queued', 'running']).toContain(seen[0][0]);

    const [download] = await Promise.all([
      ann.waitForEvent('download'),
      notice.getByRole('link', { name: 'Download' }).click(),
    ]);
    expect(download.suggestedFilename()).toMatch(/\.zip$/);
    const saved = await download.path();
    const zip = readFileSync(saved);
    expect(zip.subarray(0, 4).toString('hex'), 'a ZIP local file header').toBe('504b0304');
    const names = zipEntries(zip);
    expect(names.some((n) => /manifest/i.test(n)), `a manifest among ${names.join(', ')}`).toBe(true);
    copyFileSync(saved, archive);

    // The notice goes when dismissed.
    await notice.getByRole('button', { name: 'Dismiss' }).click();
    await expect(notice).toHaveCount(0);
  });

  test('the export, imported into a fresh server, shows the same messages; its progress live, then a notice', async ({
    browser,
    server,
  }) => {
    // `server` is this test's own: a fresh database that has never seen the room.
    const ann = await openChat(browser, server, 'ann');
    await expect(convo(ann, ROOM)).toHaveCount(0);
    await openJobs(ann);
    await recordJobs(ann);
    const { panel, id, row } = await importArchive(ann, archive, 'Palaver export');
    await expect(panel.getByTestId('import-error')).toBeEmpty();

    const notice = ann.getByTestId('job-notice').filter({ hasText: /^Import finished/ });
    await expect(notice, 'the import ended (a worker must run import jobs)').toBeVisible({ timeout: 30_000 });
    await expect(row).toHaveAttribute('data-state', 'done');
    await expect(row.getByTestId('job-progress')).toHaveText(/^\d+ (of \d+|done)$/);
    // Seen live: listed unfinished first, then done, without a reload.
    const seen = await seenOf(ann, id);
    expect(['queued', 'running'], JSON.stringify(seen)).toContain(seen[0][0]);
    expect(seen.at(-1)![0], JSON.stringify(seen)).toBe('done');
    test.info().annotations.push({ type: 'import states seen', description: JSON.stringify(seen) });

    // The room, whether the import made ann a member or left it to be joined.
    await ann.reload();
    await expect(ann.getByTestId('status')).toHaveAttribute('data-state', 'connected');
    await moreRooms(ann);
    await ann.getByLabel('Find a room').fill(ROOM);
    const join = ann.getByRole('button', { name: `Join ${ROOM}`, exact: true });
    await expect(convo(ann, ROOM).or(join)).toBeVisible();
    if (await join.isVisible()) await joinRoom(ann, ROOM);
    else await openConvo(ann, ROOM);
    for (const text of TEXTS) await expect(messageWithText(ann, text)).toHaveCount(1);
    // Text stays text.
    await expect(ann.getByTestId('messages').locator('b')).toHaveCount(0);
  });
});

test.describe(() => {
  test.use({ serverEnv: { PALAVER_MAX_IMPORT_BYTES: '1000' } });

  test("an upload's refusal says the server's reason; a queued import is listed at once, and /admin lists it with its owner", async ({
    browser,
    server,
  }) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'palaver-upload-'));
    const big = path.join(dir, 'big.zip');
    writeFileSync(big, Buffer.alloc(2000, 1));
    const empty = path.join(dir, 'empty.zip');
    writeFileSync(empty, '');
    const small = path.join(dir, 'small.zip');
    writeFileSync(small, Buffer.from('PK\u0005\u0006' + '\u0000'.repeat(18), 'latin1'));

    const ann = await openChat(browser, server, 'ann');
    const panel = await openJobs(ann);
    await expect(panel.getByText('No jobs yet.')).toBeVisible();
    const upload = async (file: string) => {
      await panel.getByLabel('Archive (.zip)').setInputFiles(file);
      await panel.getByRole('button', { name: 'Import', exact: true }).click();
    };

    // Without a file: said, nothing sent.
    await panel.getByRole('button', { name: 'Import', exact: true }).click();
    await expect(panel.getByRole('alert').filter({ hasText: 'Choose a .zip file' })).toBeVisible();

    await upload(big);
    await expect(panel.getByTestId('import-error')).toHaveText(
      'The archive is too large (HTTP 413): an archive may be at most 1000 bytes',
    );
    await upload(empty);
    await expect(panel.getByTestId('import-error')).toHaveText(/^The server refused the archive \(HTTP 400\): the upload is empty/);
    await expect(panel.getByTestId('job')).toHaveCount(0);

    // A token the server does not know: the 401's reason.
    const real = await ann.evaluate(() => localStorage.getItem('palaver.session'));
    expect(real).toBeTruthy();
    await ann.evaluate(() => localStorage.setItem('palaver.session', 'forged'));
    await upload(small);
    await expect(panel.getByTestId('import-error')).toHaveText(/^Not signed in \(HTTP 401\): sign in, or send your session token/);
    await ann.evaluate((t) => localStorage.setItem('palaver.session', t!), real);

    const { id, row } = await importArchive(ann, small, 'Slack export');
    await expect(row.getByTestId('job-state')).toHaveText(/^(Queued|Running|Done|Failed|Waiting to retry)$/);
    await expect(ann.getByRole('button', { name: 'Jobs', exact: true })).toHaveAttribute('aria-expanded', 'true');

    // An export of everything, listed too, newest first.
    await ann.getByRole('dialog', { name: 'Jobs' }).getByRole('button', { name: 'Export everything' }).click();
    await expect(ann.getByTestId('job').first()).toHaveAttribute('data-kind', 'export');
    await expect(ann.getByTestId('job')).toHaveCount(2);

    // /admin: every job, with its owner; a moderator's own upload has none.
    const admin = await openAdmin(browser, server);
    const jobs = admin.getByRole('table', { name: 'Jobs' });
    const imported = jobs.locator(`[data-testid="admin-job"][data-job="${id}"]`);
    await expect(imported.getByRole('cell').first()).toHaveText('ann');
    await expect(imported.getByRole('cell').nth(1)).toHaveText('Import');
    await expect(jobs.getByTestId('admin-job')).toHaveCount(2);

    await admin.getByLabel('Archive (.zip)').setInputFiles(small);
    await admin.getByRole('button', { name: 'Import', exact: true }).click();
    await expect(admin.getByTestId('import-queued')).toHaveText(/^Uploaded: import #\d+ is queued$/);
    const moderators = (await admin.getByTestId('import-queued').textContent())!.match(/#(\d+)/)![1];
    const theirs = jobs.locator(`[data-testid="admin-job"][data-job="${moderators}"]`);
    await expect(theirs.getByRole('cell').first()).toHaveText('(server)');
    await expect(jobs.getByTestId('admin-job')).toHaveCount(3);
    // Ann's list is hers alone.
    await expect(ann.getByTestId('job')).toHaveCount(2);
  });
});

test('an archive that is not one fails with a notice, and /admin marks it a dead letter', async ({
  browser,
  server,
}) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'palaver-upload-'));
  const corrupt = path.join(dir, 'corrupt.zip');
  writeFileSync(corrupt, 'this is not a zip archive at all');

  const ann = await openChat(browser, server, 'ann');
  const { id, row } = await importArchive(ann, corrupt, 'Palaver export');
  const notice = ann.getByTestId('job-notice').filter({ hasText: /^Import failed: / });
  await expect(notice, 'the import failed (a worker must run import jobs)').toBeVisible({ timeout: 30_000 });
  await expect(row).toHaveAttribute('data-state', 'dead');
  await expect(row.getByTestId('job-state')).toHaveText('Failed');
  await expect(row.getByTestId('job-summary')).not.toBeEmpty();

  const admin = await openAdmin(browser, server);
  const dead = admin.locator(`[data-testid="admin-job"][data-job="${id}"]`);
  await expect(dead).toHaveAttribute('data-state', 'dead');
  await expect(dead.getByTestId('admin-job-state')).toHaveText('Dead letter');
  await expect(admin.getByTestId('job-counts')).toContainText('1 dead letter');
});

/** Runs `statement` on the server's SQLite database, as another process would. */
function sql(server: PalaverServer, statement: string): string {
  return execFileSync('sqlite3', ['-cmd', '.timeout 10000', server.database, statement], { encoding: 'utf8' }).trim();
}

test.describe(() => {
  // No worker in the server: the test is the worker, writing each job's row as a `palaver
  // worker` in another process would, and the page must follow it through the server.
  test.use({ serverEnv: { PALAVER_WORKERS: '0' } });

  test('the panel follows a job its worker writes: progress, a retry, the ready notice and the download; a dead import', async ({
    browser,
    server,
  }) => {
    const ann = await openChat(browser, server, 'ann');
    const panel = await openJobs(ann);
    await panel.getByRole('button', { name: 'Export this room' }).click();
    const row = panel.getByTestId('job').first();
    await expect(row).toHaveAttribute('data-kind', 'export');
    await expect(row.getByTestId('job-state')).toHaveText('Queued');
    await expect(ann.getByTestId('jobs-unfinished')).toHaveText('1');
    const id = Number(await row.getAttribute('data-job'));
    const write = (set: string) => sql(server, `UPDATE jobs SET ${set}, updated_at = ${Date.now()} WHERE id = ${id}`);

    write(`state = 'running', attempts = 1, progress_done = 0, progress_total = 3`);
    await expect(row).toHaveAttribute('data-state', 'running');
    await expect(row.getByTestId('job-progress')).toHaveText('0 of 3');
    write(`progress_done = 2`);
    await expect(row.getByTestId('job-progress')).toHaveText('2 of 3');
    await expect(row.getByRole('progressbar', { name: `Export #${id} progress` })).toHaveAttribute('value', '2');

    // A failed attempt waits for its retry, saying why; the next attempt says which it is.
    write(`state = 'queued', error = 'the database went away <for a moment>'`);
    await expect(row.getByTestId('job-state')).toHaveText('Waiting to retry');
    await expect(row.getByTestId('job-summary')).toHaveText('the database went away <for a moment>');
    write(`state = 'running', attempts = 2, error = NULL, progress_done = 3`);
    await expect(row).toContainText('attempt 2');
    await expect(row.getByTestId('job-progress')).toHaveText('3 of 3');

    // It made a file: the notice offers it, and so does the list.
    const zip = Buffer.from('504b0506000000000000000000000000000000000000', 'hex');
    const now = Date.now();
    const blob = sql(
      server,
      `INSERT INTO blobs (owner, name, bytes, complete, created_at, expires_at)
         SELECT owner, 'palaver-export.zip', ${zip.length}, 1, ${now}, ${now + 3_600_000} FROM jobs WHERE id = ${id};
       INSERT INTO blob_chunks (blob, n, data) VALUES (last_insert_rowid(), 0, X'${zip.toString('hex')}');
       SELECT max(id) FROM blobs;`,
    );
    write(`state = 'done', result = '{"blob": ${blob}, "summary": "1 conversation, 0 messages"}', finished_at = ${Date.now()}`);
    const notice = ann.getByTestId('job-notice').filter({ hasText: 'Export ready' });
    await expect(notice).toBeVisible();
    await expect(row.getByTestId('job-state')).toHaveText('Done');
    await expect(row.getByRole('link', { name: 'Download' })).toBeVisible();
    await expect(ann.getByTestId('jobs-unfinished')).toHaveCount(0);
    const [download] = await Promise.all([
      ann.waitForEvent('download'),
      notice.getByRole('link', { name: 'Download' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe('palaver-export.zip');
    expect(readFileSync(await download.path())).toEqual(zip);

    // /admin lists every job, live.
    const admin = await openAdmin(browser, server);
    await expect(admin.getByTestId('job-counts')).toHaveText('1 job: 0 not finished, 0 dead letters');

    // A job that ended while the page was away is noticed from the list on reconnect; a dead
    // one says why, and /admin marks it a dead letter.
    const dir = mkdtempSync(path.join(tmpdir(), 'palaver-upload-'));
    const archive = path.join(dir, 'slack.zip');
    writeFileSync(archive, zip);
    const imported = await importArchive(ann, archive, 'Slack export');
    const adminRow = admin.locator(`[data-testid="admin-job"][data-job="${imported.id}"]`);
    await expect(adminRow.getByTestId('admin-job-state')).toHaveText('Queued');
    await expect(adminRow.getByRole('cell').first()).toHaveText('ann');
    await ann.context().setOffline(true);
    await expect(ann.getByTestId('status')).toHaveAttribute('data-state', 'reconnecting');
    sql(
      server,
      `UPDATE jobs SET state = 'dead', attempts = 1, error = 'channels.json is missing: not a Slack export',
         updated_at = ${Date.now()}, finished_at = ${Date.now()} WHERE id = ${imported.id}`,
    );
    // /admin told: so was ann's old socket, which is gone; only the next list can tell her.
    await expect(adminRow).toHaveAttribute('data-state', 'dead');
    await expect(adminRow.getByTestId('admin-job-state')).toHaveText('Dead letter');
    await expect(adminRow).toHaveClass(/dead/);
    await expect(admin.getByTestId('job-counts')).toHaveText('2 jobs: 0 not finished, 1 dead letter');
    await expect(imported.row).toHaveAttribute('data-state', 'queued');
    await ann.context().setOffline(false);
    await expect(ann.getByTestId('status')).toHaveAttribute('data-state', 'connected');
    const failed = ann
      .getByTestId('job-notice')
      .filter({ hasText: 'Import failed: channels.json is missing: not a Slack export' });
    await expect(failed).toBeVisible();
    await expect(imported.row).toHaveAttribute('data-state', 'dead');
    await expect(imported.row.getByTestId('job-state')).toHaveText('Failed');

    // A new job reaches /admin live.
    await panel.getByRole('button', { name: 'Export everything' }).click();
    await expect(admin.getByTestId('job-counts')).toHaveText('3 jobs: 1 not finished, 1 dead letter');
  });
});
