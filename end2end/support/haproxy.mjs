// A real HAProxy for a test, run from the shipped deploy/haproxy.cfg with only its addresses
// and paths replaced (see daemon.mjs), and its runtime API.
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Daemon, engineFields, sbin, shipped, substitute } from './daemon.mjs';

const BINARY = process.env.HAPROXY_BIN ?? sbin('haproxy');
const UP_TIMEOUT_MS = 15_000;

/**
 * The shipped configuration, listening on 127.0.0.1:`port`, with its nodes at the `nodes`
 * addresses (`host:port`, as many as it has `server` lines) and its runtime API on `socket`.
 * `sticky: false` takes the stickiness out: round robin, no cookie.
 */
export function configFor({ port, nodes, socket, sticky = true }) {
  let { file, text } = shipped('haproxy.cfg');
  const sub = (pattern, replace, count) => (text = substitute(file, text, pattern, replace, count));
  sub(/^(\s*)bind \S+$/, `$1bind 127.0.0.1:${port}`, 1);
  sub(/^(\s*)stats socket \S+/, `$1stats socket ${socket}`, 1);
  let next = 0;
  sub(/^(\s*)server (\S+) \S+(.*)$/, (_, indent, name, rest) => `${indent}server ${name} ${nodes[next++]}${rest}`, nodes.length);
  if (!sticky) {
    sub(/^(\s*)balance \S+$/, '$1balance roundrobin', 1);
    sub(/^\s*cookie .*$/, '', 1);
    sub(/^(\s*server .*?) cookie \S+/, '$1', nodes.length);
  }
  return text;
}

export class HAProxy extends Daemon {
  /**
   * Runs the shipped configuration in front of `nodes` (`host:port` each) on 127.0.0.1:`port`,
   * once it listens; `sticky` as for `configFor`.
   */
  static async shipped({ port, nodes, sticky = true }) {
    const proxy = new HAProxy(port);
    const file = path.join(proxy.dir, 'haproxy.cfg');
    writeFileSync(file, configFor({ port, nodes, socket: proxy.socket, sticky }));
    await proxy.spawn(BINARY, ['-f', file, '-db'], port);
    return proxy;
  }

  constructor(port) {
    super('haproxy');
    this.socket = path.join(this.dir, 'admin.sock');
    this.port = port;
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
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
    const deadline = Date.now() + UP_TIMEOUT_MS;
    for (;;) {
      // The runtime API's socket may appear a moment after the frontend listens.
      const states = await this.states(backend).catch((e) => ({ error: e.message }));
      if (Object.keys(states).length && Object.values(states).every((s) => s === status)) return;
      if (Date.now() > deadline) throw new Error(`haproxy's servers are not all ${status}: ${JSON.stringify(states)}\n${this.logs.join('')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The requests logged so far (one line each on standard output, `option httplog`). */
  requests() {
    const line = /\] \S+ (\S+)\/(\S+) \S+ (-?\d+) .*"(\w+) (\S+) HTTP\/[\d.]+"$/;
    return this.logs
      .join('')
      .split('\n')
      .map((l) => l.match(line))
      .filter(Boolean)
      .map(([, backend, server, status, method, path]) => ({ backend, server, status: Number(status), method, path, ...engineFields(path) }));
  }
}
