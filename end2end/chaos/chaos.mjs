// The chaos test: many official socket.io-clients send numbered streams into the lobby while
// they disconnect at random and the server is SIGKILLed and restarted. At the end every client
// and the database must agree: every acknowledged message present exactly once, in the same
// order everywhere, nothing stored twice, and every message written while offline delivered.
//
//   node chaos/chaos.mjs [--clients 50] [--messages 40] [--kills 2] [--seed 1] [--pace-ms 400]
//
// The defaults fit CI; `--clients 200 --messages 100` is the larger run. Exits 1 on a failure.
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { PalaverServer } from '../support/server.mjs';
import { Client, ROOM, metric, ms, pause, percentile, printTable, seeded, until, verify } from './common.mjs';

const { values: opts } = parseArgs({
  options: {
    clients: { type: 'string', default: '50' },
    messages: { type: 'string', default: '40' },
    kills: { type: 'string', default: '2' },
    seed: { type: 'string', default: String(Date.now() % 100000) },
    'pace-ms': { type: 'string', default: '400' },
  },
});
const CLIENTS = Number(opts.clients);
const MESSAGES = Number(opts.messages);
const KILLS = Number(opts.kills);
const SEED = Number(opts.seed);
const PACE_MS = Number(opts['pace-ms']);
const SETTLE_TIMEOUT_MS = 120_000;
const { random, between } = seeded(SEED);

function readDatabase(file) {
  const out = execFileSync('sqlite3', ['-json', file, `SELECT id, seq, client_offset AS offset, text FROM messages WHERE room = '${ROOM}' ORDER BY seq`], {
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  });
  return out.trim() ? JSON.parse(out) : [];
}

async function main() {
  const started = performance.now();
  const server = await PalaverServer.start();
  const runId = `run${SEED}`;
  const clients = Array.from({ length: CLIENTS }, (_, i) => new Client(i, server.url, runId, { random }));
  const failures = [];
  let kills = 0;
  let dropped = 0;
  try {
    await until(() => clients.every((c) => c.socket.connected), 30_000, 'every client to connect');

    // Each client writes its stream at its own jittered pace and flaps now and then.
    const writing = clients.map(async (c) => {
      for (let n = 1; n <= MESSAGES; n++) {
        await pause(between(0.5, 1.5) * PACE_MS);
        c.write(n);
        if (random() < 0.04) c.flap(between);
      }
    });
    // The server dies at random moments while they write.
    const span = MESSAGES * PACE_MS;
    const killing = (async () => {
      for (let k = 0; k < KILLS; k++) {
        await pause(between(0.5, 1.5) * (span / (KILLS + 1)));
        dropped += (await metric(server.url, 'palaver_emits_dropped_total')) || 0;
        await server.kill();
        kills += 1;
        await pause(between(200, 1000));
        await server.resume();
      }
    })();
    await Promise.all([...writing, killing]);

    await until(() => clients.every((c) => c.outbox.length === 0), SETTLE_TIMEOUT_MS, 'every message to be acknowledged');
    const db = readDatabase(server.database);
    const headSeq = db.length;
    await until(() => clients.every((c) => c.cursor.seq >= headSeq || (c.sync(), false)), SETTLE_TIMEOUT_MS, 'every client to catch up').catch((e) => {
      const behind = clients.filter((c) => c.cursor.seq < headSeq);
      const sample = behind.slice(0, 5).map((c) => `${c.name}: cursor ${c.cursor.seq}, newest ${c.newestSeq()}, connected ${c.socket.connected}`);
      throw new Error(`${e.message}: ${behind.length} behind ${headSeq} (${sample.join('; ')})`);
    });
    dropped += (await metric(server.url, 'palaver_emits_dropped_total')) || 0;

    // The database and every client's list; on one node, moreover, nothing is delivered
    // twice or out of order at all.
    const { failures: found, figures: f } = verify(clients, db);
    failures.push(...found);
    const sent = CLIENTS * MESSAGES;
    if (f.acked !== sent) failures.push(`${sent - f.acked} messages never acknowledged`);
    if (f.duplicates) failures.push(`${f.duplicates} duplicate deliveries`);
    if (f.disorder) failures.push(`${f.disorder} out-of-order deliveries`);
    if (kills < KILLS) failures.push(`only ${kills} kills`);

    const reconnects = clients.flatMap((c) => c.reconnects);
    const catchups = clients.flatMap((c) => c.catchups);
    const rows = [
      ['seed', SEED],
      ['clients', CLIENTS],
      ['sent', sent],
      ['acknowledged', f.acked],
      ['sent while offline', f.offline],
      ['stored', f.stored],
      ['duplicates (must be 0)', f.duplicates + f.doubled],
      ['lost (must be 0)', f.lost],
      ['out of order (must be 0)', f.disorder + f.reordered],
      ['clients with the full, same-order list', `${f.whole}/${CLIENTS}`],
      ['server SIGKILLs', kills],
      ['reconnects', reconnects.length],
      ['reconnect p50 / p99', `${ms(percentile(reconnects, 50))} / ${ms(percentile(reconnects, 99))}`],
      ['catch-ups', catchups.length],
      ['catch-up p50 / p99', `${ms(percentile(catchups, 50))} / ${ms(percentile(catchups, 99))}`],
      ['catch-ups beyond the window (paged back)', f.gaps],
      ['deliveries dropped (server count)', dropped],
      ['sends throttled, then retried', f.throttled],
      ['connections refused (must be 0)', f.refusals],
      ['run time', `${((performance.now() - started) / 1000).toFixed(1)} s`],
    ];
    printTable('chaos test', rows);
  } catch (e) {
    failures.push(e.message);
  } finally {
    clients.forEach((c) => c.close());
    await server.dispose().catch((e) => failures.push(`server stop: ${e.message}`));
  }
  const log = server.logs.join('');
  if (log.includes('panicked')) failures.push('the server panicked');
  if (failures.length) {
    console.error(`\nFAILED:\n  ${failures.join('\n  ')}`);
    if (process.env.CHAOS_LOG) console.error(log);
    process.exit(1);
  }
  console.log('\nchaos test passed');
}

await main();
