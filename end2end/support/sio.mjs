// Small helpers around the official socket.io-client, for tests: promises instead of
// callbacks, and a collector that waits for events instead of sleeping.
import { io } from 'socket.io-client';

// The event of the Socket.IO tutorial; Palaver uses the same name both ways.
export const CHAT = 'chat message';

/** Connects and resolves once connected, or rejects with the connect_error. */
export function connect(url, options = {}) {
  const socket = io(url, { reconnection: false, forceNew: true, ...options });
  const received = new Collector();
  socket.on(CHAT, (...args) => received.push(args));
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve({ socket, received }));
    socket.once('connect_error', (err) => {
      socket.close();
      reject(err);
    });
  });
}

/**
 * Emits `chat message` with an ack and resolves with the ack's argument. Like a well-behaved
 * client, it waits as told and sends again when the server says `rate_limited`.
 */
export async function send(socket, ...args) {
  for (;;) {
    const ack = await socket.timeout(10_000).emitWithAck(CHAT, ...args);
    if (ack?.error?.code !== 'rate_limited') return ack;
    await new Promise((resolve) => setTimeout(resolve, ack.error.retry_after_ms));
  }
}

/** Collects event argument lists; `next(n)` waits until n more have arrived. */
export class Collector {
  constructor() {
    this.items = [];
    this.waiters = [];
    this.read = 0;
  }
  push(item) {
    this.items.push(item);
    this.waiters = this.waiters.filter((w) => !w());
  }
  /** Resolves with the next `n` unread items, waiting at most `ms`. */
  next(n = 1, ms = 10_000) {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.items.length - this.read < n) return false;
        clearTimeout(timer);
        const out = this.items.slice(this.read, this.read + n);
        this.read += n;
        resolve(out);
        return true;
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`timed out waiting for ${n} events; have ${JSON.stringify(this.items.slice(this.read))}`));
      }, ms);
      if (!check()) this.waiters.push(check);
    });
  }
}
