/*
 * A small HTTP/1.1 client for tests over node:http, plus port helpers.
 * `agent: false` by default: a fresh connection per request, and the Host
 * header the caller sets is sent as given.
 */
import http from 'node:http';
import net from 'node:net';

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** the header lines as received, names in their original case */
  rawHeaders: string[];
  /** the body decoded as UTF-8 */
  body: string;
  /** the body's bytes, for compressed or binary answers */
  bytes: Buffer;
  trailers: NodeJS.Dict<string>;
}

export interface RequestOptions {
  method?: string;
  headers?: http.OutgoingHttpHeaders;
  /** a string or Buffer is sent with Content-Length; an array part by part (chunked) */
  body?: string | Buffer | (string | Buffer)[];
  agent?: http.Agent | false;
}

export function request(url: string, opts: RequestOptions = {}): Promise<Reply> {
  const { method = 'GET', headers = {}, body, agent = false } = opts;
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const bytes = Buffer.concat(chunks);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          rawHeaders: res.rawHeaders,
          body: bytes.toString(),
          bytes,
          trailers: res.trailers,
        });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (Array.isArray(body)) {
      for (const part of body) req.write(part);
      req.end();
    } else req.end(body);
  });
}

/** a port that was free a moment ago: bind 127.0.0.1:0, note the port, close */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** a port with nothing listening on it (the same recipe as freePort, named for intent) */
export const closedPort = freePort;
