// Starts a real HAProxy for a test, from the shipped deploy/haproxy.cfg with only its
// addresses and paths replaced, so that the file users copy is the one tested; stops it on
// demand or when the test process exits.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT } from './server.mjs';

export const SHIPPED = path.join(ROOT, 'deploy', 'haproxy.cfg');
// Debian's, which a user's PATH may lack (/usr/sbin).
const BINARY = process.env.HAPROXY_BIN ?? (existsSync('/usr/sbin/haproxy') ? '/usr/sbin/haproxy' : 'haproxy');
const START_TIMEOUT_MS = 15_000;
const LOG_TIMEOUT_MS = 10_000;

/**
 * Replaces every line of `text` that `pattern` (anchored, multiline) matches with `replace`,
 * and throws unless it matched `count` lines: a change in the shipped file's shape must fail
 * loudly rather than leave a line untested.
 */
function substitute(text, pattern, replace, count, what) {
  const found = text.match(new RegExp(pattern.source, 'gm'))?.length ?? 0;
  if (found !== count) {
    throw new Error(`${SHIPPED}: expected ${count} ${what} line(s) matching ${pattern}, found ${found}`);
  }
  return text.replace(new RegExp(pattern.source, 'gm'), replace);
}

/**
 * The shipped configuration, listening on 127.0.0.1:`port`, with its nodes at the `nodes`
 * addresses (`host:port`, as many as it has `server` lines) and its runtime API on `socket`.
 * `sticky: false` takes the stickiness out: round robin, no cookie.
 */
export function configFor({ port, nodes, socket, sticky = true }) {
  let text = readFileSync(SHIPPED, 'utf8');
  text = substitute(text, /^(\s*)bind \S+$/, `$1bind 127.0.0.1:${port}`, 1, 'bind');
  text = substitute(text, /^(\s*)stats socket \S+/, `$1stats socket ${socket}`, 1, 'stats socket');
  let next = 0;
  text = substitute(
    text,
    /^(\s*)server (\S+) \S+(.*)$/,
    (_, indent, name, rest) => `${indent}server ${name} ${nodes[next++]}${rest}`,
    nodes.length,
    'server',
  );
  if (!sticky) {
    text = substitute(text, /^(\s*)balance \S+$/, '$1balance roundrobin', 1, 'balance');
    text = substitute(text, /^\s*cookie .*$/, '', 1, 'cookie');
    text = text.replace(/^(\s*server .*?) cookie \S+/gm, '$1');
  }
  return text;
}

export class HAProxy {
  /**
   * Runs the shipped configuration in front of `nodes` (`host:port` each) on 127.0.0.1:`port`,
   * in the foreground, once it listens; `sticky` as for `configFor`.
   */
  static async shipped({ port, nodes, sticky = true }) {
    const proxy = new HAProxy(port);
    writeFileSync(proxy.file, configFor({ port, nodes, socket: proxy.socket, sticky }));
    await proxy.#spawn();
    return proxy;
  }

  constructor(port) {
    this.dir = mkdtempSync(path.join(tmpdir(), 'palaver-haproxy-'));
    this.file = path.join(this.dir, 'haproxy.cfg');
    this.socket = path.join(this.dir, 'admin.sock');
    this.port = port;
    this.logs = [];
    this.proc = null;
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  async #spawn() {
    const proc = spawn(BINARY, ['-f', this.file, '-db'], { stdio: ['ignore', 'pipe', 'pipe'] });
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
    this.onExit = () => proc.kill('SIGKILL');
    process.once('exit', this.onExit);
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!(await listening(this.port))) {
      if (exited) throw new Error(`haproxy exited during start (${JSON.stringify(exited)}; scripts/setup.sh --with-services installs it):\n${this.logs.join('')}`);
      if (Date.now() > deadline) throw new Error(`haproxy did not listen in ${START_TIMEOUT_MS} ms:\n${this.logs.join('')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Sends one command to the runtime API and resolves with its answer. */
  command(line) {
    return new Promise((resolve, reject) => {
      const conn = net.createConnection(this.socket);
      let out = '';
      conn.setEncoding('utf8');
      conn.on('data', (d) => (out += d));
      conn.on('end', () => resolve(out));
      conn.on('error', reject);
      conn.write(`${line}\n`);
    });
  }

  /** Each server of backend `backend` and its status (`UP`, `DOWN`, `MAINT`, `DRAIN`, …). */
  async states(backend = 'palaver') {
    const csv = await this.command('show stat');
    const [header, ...rows] = csv.replace(/^# /, '').trim().split('\n');
    const at = Object.fromEntries(header.split(',').map((name, i) => [name, i]));
    const states = {};
    for (const row of rows.map((r) => r.split(','))) {
      const server = row[at.svname];
      if (row[at.pxname] === backend && server !== 'BACKEND' && server !== 'FRONTEND') states[server] = row[at.status];
    }
    return states;
  }

  /** Waits until every server of `backend` is `status` by its health checks. */
  async waitUntil(status, backend = 'palaver') {
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const states = await this.states(backend);
      if (Object.keys(states).length && Object.values(states).every((s) => s === status)) return;
      if (Date.now() > deadline) throw new Error(`haproxy's servers are not all ${status}: ${JSON.stringify(states)}\n${this.logs.join('')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * Waits until the requests logged satisfy `done` (HAProxy logs a request once answered, a
   * WebSocket once closed) and resolves with them.
   */
  async logged(done, what) {
    const deadline = Date.now() + LOG_TIMEOUT_MS;
    for (;;) {
      const requests = this.requests();
      if (done(requests)) return requests;
      if (Date.now() > deadline) throw new Error(`haproxy did not log ${what} in ${LOG_TIMEOUT_MS} ms:\n${this.logs.join('')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** The requests logged so far (one line each, `option httplog`), oldest answer first. */
  requests() {
    const line = /\] \S+ (\S+)\/(\S+) \S+ (-?\d+) .*"(\w+) (\S+) HTTP\/[\d.]+"$/;
    return this.logs
      .join('')
      .split('\n')
      .map((l) => l.match(line))
      .filter(Boolean)
      .map(([, backend, server, status, method, path]) => {
        const query = new URL(path, 'http://x').searchParams;
        return { backend, server, status: Number(status), method, path, transport: query.get('transport'), sid: query.get('sid') };
      });
  }

  /** Stops HAProxy at once and deletes its directory. */
  async dispose() {
    if (this.proc) {
      this.proc.kill('SIGKILL');
      await this.exited;
      process.removeListener('exit', this.onExit);
      this.proc = null;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
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
