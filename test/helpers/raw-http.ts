/**
 * HTTP/1.1 over raw node:net sockets, for tests about the connection itself: whether the
 * server accepted it, when it closed it, what arrived first, and whether it was reset. A
 * fetch or http.Agent would hide all of that (pools, retries, "socket hang up").
 */
import { connect, type Socket } from 'node:net';

export interface RawResponse {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: string;
}

export interface RawConnection {
  socket: Socket;
  /** Every byte received so far (latin1). */
  readonly received: string;
  /** True once the server's end of the stream arrived, or the socket closed or failed. */
  readonly ended: boolean;
  /** The socket's error code, if it failed (ECONNRESET, EPIPE, ...). */
  readonly error: string | undefined;
  /** Resolves when the socket has closed, however it closed. */
  closed: Promise<void>;
  /** Writes `text` (as it is: a partial request is fine). */
  write(text: string): void;
  /** The next complete response (Content-Length bodies), or undefined if the connection ended first. */
  response(): Promise<RawResponse | undefined>;
}

/** A connected socket to 127.0.0.1:port, recording everything that happens to it. */
export function openConnection(port: number): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    let parsed = 0;
    let ended = false;
    let error: string | undefined;
    const waiters = new Set<() => void>();
    const wake = () => {
      for (const w of waiters) w();
    };
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      received += d;
      wake();
    });
    socket.on('end', () => {
      ended = true;
      wake();
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      error ??= e.code ?? e.message;
      ended = true;
      wake();
    });
    const closed = new Promise<void>((done) =>
      socket.on('close', () => {
        ended = true;
        wake();
        done();
      }),
    );
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve({
        socket,
        closed,
        get received() {
          return received;
        },
        get ended() {
          return ended;
        },
        get error() {
          return error;
        },
        write(text) {
          socket.write(text, 'latin1');
        },
        response() {
          return new Promise((done) => {
            const check = () => {
              const r = parseResponse(received.slice(parsed));
              if (r !== undefined) {
                parsed += r.length;
                waiters.delete(check);
                done(r.response);
              } else if (ended) {
                waiters.delete(check);
                done(undefined);
              }
            };
            waiters.add(check);
            check();
          });
        },
      });
    });
    socket.once('error', reject);
  });
}

/** The first complete response in `text` and how many characters it took, or undefined while incomplete. */
function parseResponse(text: string): { response: RawResponse; length: number } | undefined {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine = '', ...lines] = text.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const length = Number(headers['content-length'] ?? 0);
  if (text.length < end + 4 + length) return undefined;
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
  return { response: { status, headers, body: text.slice(end + 4, end + 4 + length) }, length: end + 4 + length };
}

/** A POST /graphql request as text, with the API key and a Content-Length. */
export function graphqlRequest(key: string, query: string): string {
  const body = JSON.stringify({ query });
  return `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nx-api-key: ${key}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/** Resolves with 'closed' once the connection has closed, or 'still open' after `ms` (a generous bound, not a measurement). */
export function closedWithin(c: RawConnection, ms: number): Promise<'closed' | 'still open'> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    c.closed.then(() => 'closed' as const),
    new Promise<'still open'>((resolve) => (timer = setTimeout(() => resolve('still open'), ms))),
  ]).finally(() => clearTimeout(timer));
}
