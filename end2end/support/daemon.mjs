// A load balancer a test runs (HAProxy, nginx), in the foreground, in a directory of its own,
// from a shipped configuration with only its addresses and paths replaced, so that the file
// users copy is the one tested. Stopped at the end, or when the test process exits.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT } from './server.mjs';

const START_TIMEOUT_MS = 15_000;
const LOG_TIMEOUT_MS = 10_000;

/** Debian's binary under /usr/sbin (which a user's PATH may lack), or `name` on PATH. */
export function sbin(name) {
  return existsSync(`/usr/sbin/${name}`) ? `/usr/sbin/${name}` : name;
}

/**
 * Replaces every line of `file`'s `text` that `pattern` (anchored, multiline) matches with
 * `replace`, and throws unless it matched `count` lines: a change in the shipped file's shape
 * must fail loudly rather than leave a line untested.
 */
export function substitute(file, text, pattern, replace, count) {
  const all = new RegExp(pattern.source, 'gm');
  const found = text.match(all)?.length ?? 0;
  if (found !== count) throw new Error(`${file}: expected ${count} line(s) matching ${pattern}, found ${found}`);
  return text.replace(all, replace);
}

/** The shipped file `deploy/<name>`: its path and text. */
export function shipped(name) {
  const file = path.join(ROOT, 'deploy', name);
  return { file, text: readFileSync(file, 'utf8') };
}

export class Daemon {
  /** `stop`: the signal that ends it with its children (nginx's workers outlive a SIGKILL). */
  constructor(name, stop = 'SIGKILL') {
    this.name = name;
    this.stop = stop;
    this.dir = mkdtempSync(path.join(tmpdir(), `palaver-${name}-`));
    this.logs = [];
    this.proc = null;
  }

  /** Runs `binary args` and resolves once something accepts connections on `port`. */
  async spawn(binary, args, port) {
    const proc = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk) => this.logs.push(chunk.toString());
    proc.stdout.on('data', keep);
    proc.stderr.on('data', keep);
    let exited = null;
    this.exited = new Promise((resolve) => {
      proc.once('error', (error) => resolve((exited = { error: error.message })));
      // 'close': after the exit and the last of its output.
      proc.once('close', (code, signal) => resolve((exited = { code, signal })));
    });
    this.proc = proc;
    // Not outlive the test process, even when a test fails before its cleanup.
    this.onExit = () => proc.kill(this.stop);
    process.once('exit', this.onExit);
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!(await listening(port))) {
      if (exited) {
        const hint = 'scripts/setup.sh --with-services installs it';
        throw new Error(`${this.name} exited during start (${JSON.stringify(exited)}; ${hint}):\n${this.logs.join('')}`);
      }
      if (Date.now() > deadline) throw new Error(`${this.name} did not listen in ${START_TIMEOUT_MS} ms:\n${this.logs.join('')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The requests logged so far, oldest answer first: each subclass reads its own log. */
  requests() {
    throw new Error('requests() is the subclass’s');
  }

  /**
   * Waits until the requests logged satisfy `done` (a request is logged once answered, a
   * WebSocket once closed) and resolves with them.
   */
  async logged(done, what) {
    const deadline = Date.now() + LOG_TIMEOUT_MS;
    for (;;) {
      const requests = this.requests();
      if (done(requests)) return requests;
      if (Date.now() > deadline) {
        throw new Error(`${this.name} did not log ${what} in ${LOG_TIMEOUT_MS} ms:\n${JSON.stringify(requests)}\n${this.logs.join('')}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Stops the process and deletes its directory. */
  async dispose() {
    if (this.proc) {
      this.proc.kill(this.stop);
      await this.exited;
      process.removeListener('exit', this.onExit);
      this.proc = null;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A logged request's Engine.IO fields, from its path. */
export function engineFields(path) {
  const query = new URL(path, 'http://x').searchParams;
  return { transport: query.get('transport'), sid: query.get('sid') };
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
function listening(port) {
  return new Promise((resolve) => {
    const conn = net.createConnection({ host: '127.0.0.1', port });
    conn.once('connect', () => {
      conn.destroy();
      resolve(true);
    });
    conn.once('error', () => resolve(false));
  });
}
