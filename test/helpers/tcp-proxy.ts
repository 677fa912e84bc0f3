/**
 * A small TCP proxy a test controls, to put a source database behind faults that a real
 * network and a real server produce: refused connections, a peer that accepts and never
 * answers, every packet late, connections cut mid-query, a server that stops and comes back.
 * It listens on 127.0.0.1 (port 0 unless told) and forwards to 127.0.0.1:3306 by default;
 * it never talks to anything but loopback.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export type ProxyMode = 'pass' | 'blackhole' | 'delay';

export interface TcpProxy {
  /** The port the proxy listens on (kept across stop/start). */
  readonly port: number;
  /** The current mode, and whether the listener is open. */
  readonly mode: ProxyMode;
  readonly listening: boolean;
  /** Open client connections right now. */
  readonly connections: number;
  /** Client connections accepted since the proxy started. */
  readonly accepted: number;
  /** `mysql://root@127.0.0.1:<port>/<database>`. */
  url(database: string): string;
  /** Forward everything at once (the normal state). Does not reopen a closed listener: see `start`. */
  pass(): void;
  /**
   * Accept connections and never answer: new connections never reach the server, open ones stop
   * carrying data either way (held, as a stalled network holds it; `pass` lets it flow again).
   * With `lose`, what the open connections carry into the hole is lost instead, as when a proxy
   * or load balancer on the path stalls and drops what it had buffered: a statement sent then
   * never reaches the server, so its client waits for an answer that never comes. Either way a
   * close (FIN or RST) of either side gets through once the hole ends, and then so does new data.
   */
  blackHole(o?: { lose?: boolean }): void;
  /** Forward every chunk, both ways, `ms` late (order kept). */
  delay(ms: number): void;
  /**
   * Resets (TCP RST) each of the next `count` connections right after it carries a query
   * (a MySQL COM_QUERY packet, optionally only one whose text contains `match`): the query
   * reaches the server and the client loses the connection mid-query.
   */
  cutQueries(count: number, match?: string): void;
  /** Resets every open connection now, both sides; the listener stays open. */
  cutAll(): void;
  /** Closes the listener (new connections are refused) and resets every open connection, as a stopped server would. */
  stop(): Promise<void>;
  /** Listens again on the same port, in `pass` mode. */
  start(): Promise<void>;
  close(): Promise<void>;
}

interface Direction {
  to: Socket;
  /** When the last chunk scheduled this way is due: a later chunk never overtakes it. */
  lastDue: number;
}

interface Pair {
  client: Socket;
  upstream: Socket | undefined;
  up: Direction | undefined;
  down: Direction | undefined;
  /** Being cut: the server's answer is no longer passed on. */
  cutting: boolean;
  /** Dropping what it carries (what a losing black hole held). */
  dropping: boolean;
}

const COM_QUERY = 0x03;

export async function startTcpProxy(o: { targetPort?: number; targetHost?: string; port?: number } = {}): Promise<TcpProxy> {
  const targetPort = o.targetPort ?? 3306;
  const targetHost = o.targetHost ?? '127.0.0.1';
  if (targetHost !== '127.0.0.1' && targetHost !== 'localhost' && targetHost !== '::1') throw new Error('the test proxy forwards to loopback only');
  let mode: ProxyMode = 'pass';
  let losing = false;
  let delayMs = 0;
  let cutsLeft = 0;
  let cutMatch: string | undefined;
  let accepted = 0;
  const pairs = new Set<Pair>();
  let server: Server | undefined;
  let port = o.port ?? 0;

  function destroy(p: Pair): void {
    pairs.delete(p);
    if (!p.client.destroyed) p.client.resetAndDestroy();
    if (p.upstream !== undefined && !p.upstream.destroyed) p.upstream.resetAndDestroy();
  }

  /**
   * Sends a chunk on, `delayMs` late in delay mode, never ahead of an earlier chunk. (A black
   * hole pauses the sockets instead: nothing is read, so nothing arrives here.)
   */
  function forward(d: Direction, chunk: Buffer): void {
    const now = Date.now();
    const due = Math.max(now + (mode === 'delay' ? delayMs : 0), d.lastDue);
    d.lastDue = due;
    if (due <= now) {
      if (!d.to.destroyed) d.to.write(chunk);
      return;
    }
    // equal due times fire in the order they were set, so the stream stays in order
    setTimeout(() => {
      if (!d.to.destroyed) d.to.write(chunk);
    }, due - now);
  }

  /** Like a network that stopped carrying packets: both sides are left unread, nothing is lost. */
  function hold(p: Pair): void {
    p.client.pause();
    p.upstream?.pause();
  }

  function release(p: Pair): void {
    // a connection born in the black hole never reached the server: its client has given up on it
    if (p.upstream === undefined) return destroy(p);
    if (losing) drop(p, [p.client, p.upstream]);
    p.client.resume();
    p.upstream.resume();
  }

  /** Reads and discards what a held pair took in; a close stays queued behind it and goes through on resume. */
  function drop(p: Pair, sockets: Socket[]): void {
    p.dropping = true;
    for (const s of sockets) while (s.read() !== null);
    p.dropping = false;
  }

  function setMode(m: ProxyMode): void {
    const was = mode;
    mode = m;
    if (m === 'blackhole' && was !== 'blackhole') for (const p of pairs) hold(p);
    if (m !== 'blackhole' && was === 'blackhole') for (const p of [...pairs]) release(p);
  }

  function isQuery(chunk: Buffer): boolean {
    // a client packet: 3-byte length, sequence 0, then the command byte
    if (chunk.length < 5 || chunk[3] !== 0 || chunk[4] !== COM_QUERY) return false;
    return cutMatch === undefined || chunk.subarray(5).toString('utf8').includes(cutMatch);
  }

  function onConnection(client: Socket): void {
    accepted++;
    const p: Pair = { client, upstream: undefined, up: undefined, down: undefined, cutting: false, dropping: false };
    pairs.add(p);
    client.on('error', () => destroy(p));
    client.on('close', () => destroy(p));
    // a black hole accepts and never even opens the way to the server
    if (mode === 'blackhole') {
      client.pause();
      return;
    }
    const upstream = connect(targetPort, targetHost);
    p.upstream = upstream;
    const up: Direction = { to: upstream, lastDue: 0 };
    const down: Direction = { to: client, lastDue: 0 };
    p.up = up;
    p.down = down;
    upstream.on('error', () => destroy(p));
    upstream.on('close', () => destroy(p));
    upstream.on('data', (chunk: Buffer) => {
      if (!p.cutting && !p.dropping) forward(down, chunk);
    });
    client.on('data', (chunk: Buffer) => {
      if (p.dropping) return;
      forward(up, chunk);
      if (cutsLeft > 0 && isQuery(chunk)) {
        cutsLeft--;
        // the query reaches the server and runs, its answer never reaches the client, and the
        // connection is reset under the waiting client
        p.cutting = true;
        setTimeout(() => destroy(p), 30);
      }
    });
  }

  function listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const s = createServer(onConnection);
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        s.off('error', reject);
        port = (s.address() as { port: number }).port;
        server = s;
        resolve();
      });
    });
  }

  async function closeListener(): Promise<void> {
    const s = server;
    server = undefined;
    if (s === undefined) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      for (const p of [...pairs]) destroy(p);
    });
  }

  await listen();

  return {
    get port() {
      return port;
    },
    get mode() {
      return mode;
    },
    get listening() {
      return server !== undefined;
    },
    get connections() {
      return pairs.size;
    },
    get accepted() {
      return accepted;
    },
    url: (database) => `mysql://root@127.0.0.1:${port}/${database}`,
    pass() {
      setMode('pass');
      delayMs = 0;
      cutsLeft = 0;
    },
    blackHole(o) {
      if (mode !== 'blackhole') losing = o?.lose === true;
      setMode('blackhole');
    },
    delay(ms) {
      setMode('delay');
      delayMs = ms;
    },
    cutQueries(count, match) {
      cutsLeft = count;
      cutMatch = match;
    },
    cutAll() {
      for (const p of [...pairs]) destroy(p);
    },
    stop: closeListener,
    async start() {
      setMode('pass');
      delayMs = 0;
      cutsLeft = 0;
      if (server === undefined) await listen();
    },
    close: closeListener,
  };
}
