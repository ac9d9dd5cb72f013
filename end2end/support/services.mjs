// Real Postgres and Redis for the tests that run several nodes, from Debian's packages, each on
// its own port and in its own directory, started by the test itself and stopped at its end (or
// when the test process exits). The Rust tests have the same in server/tests/services/mod.rs.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './server.mjs';

const run = promisify(execFile);

const START_TIMEOUT_MS = 60_000;
const asRoot = process.getuid?.() === 0;

function portOpen(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function until(what, check) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} did not start within ${START_TIMEOUT_MS} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A service process: stopped by `stop()` (or `kill()`), and when the test process exits. */
class Service {
  constructor(name, dir, port) {
    this.name = name;
    this.dir = dir;
    this.port = port;
    this.proc = null;
    this.logs = [];
  }

  /** Starts `command` and waits until `ready()` holds. */
  async run(command, args, ready) {
    const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout.on('data', (c) => this.logs.push(c.toString()));
    proc.stderr.on('data', (c) => this.logs.push(c.toString()));
    this.exited = new Promise((resolve) => proc.once('close', resolve));
    this.proc = proc;
    const onExit = () => proc.kill('SIGKILL');
    process.once('exit', onExit);
    this.exited.then(() => process.off('exit', onExit));
    await until(this.name, async () => {
      if (proc.exitCode !== null) throw new Error(`${this.name} exited: ${this.logs.join('')}`);
      return ready();
    });
  }

  /** Stops it with `signal` and waits until it has gone. */
  async stop(signal = 'SIGINT') {
    if (!this.proc || this.proc.exitCode !== null) return;
    this.proc.kill(signal);
    await this.exited;
  }

  async remove() {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export class Redis extends Service {
  static async start(port) {
    const redis = new Redis('redis', mkdtempSync(path.join(tmpdir(), 'palaver-redis-')), port ?? (await freePort()));
    await redis.restart();
    return redis;
  }

  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts it (again) on its port. */
  async restart() {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir];
    await this.run('redis-server', args, () => portOpen(this.port));
  }
}

/** Debian's newest installed Postgres binaries. */
function postgresBin() {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).filter((v) => existsSync(path.join(base, v, 'bin', 'postgres'))) : [];
  if (versions.length === 0) throw new Error('no PostgreSQL server under /usr/lib/postgresql (scripts/setup.sh --with-services installs it)');
  versions.sort((a, b) => Number(a) - Number(b));
  return path.join(base, versions.at(-1), 'bin');
}

/** Runs `command args` as the postgres user when this is root (Postgres refuses root). */
function asPostgres(command, args) {
  return asRoot ? ['setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', command, ...args]] : [command, args];
}

export class Postgres extends Service {
  static async start() {
    const dir = mkdtempSync(path.join(tmpdir(), 'palaver-pg-'));
    if (asRoot) execFileSync('chown', ['-R', 'postgres:postgres', dir]);
    const bin = postgresBin();
    const [initdb, initArgs] = asPostgres(path.join(bin, 'initdb'), ['--auth=trust', '--username=palaver', '--encoding=UTF8', '--no-sync', '-D', path.join(dir, 'data')]);
    execFileSync(initdb, initArgs, { stdio: 'ignore' });
    const pg = new Postgres('postgres', dir, await freePort());
    pg.bin = bin;
    await pg.restart();
    return pg;
  }

  /** The URL of a new, empty database of this cluster. */
  database() {
    const name = `t_${Date.now()}_${Math.floor(Math.random() * 1e9)}`;
    execFileSync('psql', ['-h', '127.0.0.1', '-p', String(this.port), '-U', 'palaver', '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-c', `CREATE DATABASE ${name}`], { stdio: 'ignore' });
    return `postgres://palaver@127.0.0.1:${this.port}/${name}`;
  }

  /** The rows `sql` selects in database `url` (one of `database()`'s), as objects. */
  static async rows(url, sql) {
    const { stdout } = await run('psql', [url, '-v', 'ON_ERROR_STOP=1', '-tAc', `SELECT COALESCE(json_agg(t), '[]') FROM (${sql}) t`], {
      encoding: 'utf8',
      maxBuffer: 1 << 30,
    });
    return JSON.parse(stdout);
  }

  /** Starts it (again) on its port and data directory. */
  async restart() {
    const [cmd, args] = asPostgres(path.join(this.bin, 'postgres'), [
      '-D', path.join(this.dir, 'data'), '-p', String(this.port), '-k', this.dir,
      '-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=400',
    ]);
    await this.run(cmd, args, () => {
      try {
        execFileSync('psql', ['-h', '127.0.0.1', '-p', String(this.port), '-U', 'palaver', '-d', 'postgres', '-tAc', 'SELECT 1'], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    });
  }
}
