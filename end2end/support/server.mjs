// Starts the real Palaver binary for a test, on a free port, with its own SQLite file, and
// stops or restarts it on demand. Shared by the Playwright and the node interop tests.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '..', '..');
const BINARY = process.env.PALAVER_BIN ?? path.join(ROOT, 'target', 'release', 'palaver');
// The site the binary serves (its wasm, script and style); beside a build in another target
// directory (`CARGO_TARGET_DIR`), set it to that directory's `site`.
const SITE_ROOT = process.env.PALAVER_SITE_ROOT ?? path.join(ROOT, 'target', 'site');
const START_TIMEOUT_MS = 30_000;

/** A TCP port nobody listens on now, on 127.0.0.1. */
export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export class PalaverServer {
  /** Starts a server with a fresh database; `env` adds to or overrides its environment. */
  static async start(env = {}) {
    const server = new PalaverServer();
    server.env = env;
    await server.#spawn();
    return server;
  }

  constructor() {
    this.dir = mkdtempSync(path.join(tmpdir(), 'palaver-e2e-'));
    this.port = 0;
    this.logs = [];
    this.proc = null;
    this.env = {};
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  async #spawn() {
    if (!this.port) this.port = await freePort();
    const proc = spawn(BINARY, [], {
      cwd: ROOT,
      env: {
        ...process.env,
        LEPTOS_SITE_ADDR: `127.0.0.1:${this.port}`,
        DATABASE_URL: `sqlite://${this.database}`,
        LEPTOS_SITE_ROOT: SITE_ROOT,
        LEPTOS_SITE_PKG_DIR: 'pkg',
        LEPTOS_OUTPUT_NAME: 'palaver',
        LEPTOS_ENV: 'PROD',
        RUST_LOG: process.env.RUST_LOG ?? 'info',
        // Every client here comes from 127.0.0.1: the limits per address would make the tests'
        // many people one. Per-person limits stay as shipped. Notices are posted at once, as
        // the tests of joining and leaving expect; holding them back is the server tests' part.
        PALAVER_NAME_LIMIT: 'off',
        PALAVER_ADDRESS_SEND_LIMIT: 'off',
        PALAVER_NOTICE_WINDOW: '0s',
        ...this.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk) => this.logs.push(chunk.toString());
    proc.stdout.on('data', keep);
    proc.stderr.on('data', keep);
    this.exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
    this.proc = proc;
    await this.#waitHealthy();
  }

  async #waitHealthy() {
    const deadline = Date.now() + START_TIMEOUT_MS;
    let exited = null;
    this.exited.then((e) => (exited = e));
    while (Date.now() < deadline) {
      if (exited) throw new Error(`palaver exited during start (${JSON.stringify(exited)}):\n${this.logs.join('')}`);
      try {
        const res = await fetch(`${this.url}/healthz`);
        if (res.ok) return;
      } catch {
        // Not listening yet.
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`palaver did not become healthy in ${START_TIMEOUT_MS} ms:\n${this.logs.join('')}`);
  }

  /** Graceful stop (SIGTERM), waiting for the process to exit. */
  async stop() {
    if (!this.proc) return;
    this.proc.kill('SIGTERM');
    const { code, signal } = await this.exited;
    this.proc = null;
    if (code !== 0) throw new Error(`palaver exited with ${code ?? signal}:\n${this.logs.join('')}`);
  }

  /** Starts again on the same port and database. */
  async restart() {
    await this.stop();
    await this.#spawn();
  }

  /** Kills the process with SIGKILL, like a crash: no shutdown, no flushing. */
  async kill() {
    if (!this.proc) return;
    this.proc.kill('SIGKILL');
    await this.exited;
    this.proc = null;
  }

  /** Starts a stopped or killed server again on the same port and database. */
  async resume() {
    if (!this.proc) await this.#spawn();
  }

  /** The SQLite file. */
  get database() {
    return path.join(this.dir, 'palaver.db');
  }

  /** Stops the server and deletes its database. */
  async dispose() {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
