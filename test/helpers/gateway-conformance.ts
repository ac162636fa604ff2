/*
 * The upstream Gateway API conformance suite (kubernetes-sigs/gateway-api
 * v1.5.1, conformance/tests) as table tests without a cluster (issue 15 item
 * 3). Each case file in test/fixtures/gateway-conformance/cases/ is one
 * upstream ConformanceTest: its manifests, the status assertions its Go code
 * makes (conformance/utils/kubernetes/helpers.go) and the requests it sends
 * with their expected outcome (conformance/utils/http/http.go
 * ExpectedResponse, compared as CompareRoundTrip does).
 *
 * What stands in for the cluster:
 * - the objects: the suite's base manifests plus the case's, read into a
 *   ClusterView; `{GATEWAY_CLASS_NAME}` becomes a GatewayClass of ours; the
 *   Secrets the suite creates at start (suite.go) are made here with the same
 *   names and SANs;
 * - the pods: one echo server per Deployment (namespace + `app` label) on
 *   127.0.0.1 port 0, answering like conformance/echo-basic (JSON with path =
 *   request URI, host, method, headers, namespace, pod; X-Echo-Set-Header;
 *   ?delay; h2c; a /ws WebSocket echo; HTTPS with the Deployment's Secret),
 *   or echo-basic's TCP echo (TCP_ECHO_SERVER) or GrpcEcho service
 *   (GRPC_ECHO_SERVER); the pod name is `<deployment>-pod`, so the suite's
 *   prefix test on pod names holds;
 * - the endpoints: an EndpointSlice per selector Service pointing at its
 *   Deployment's echo server (every named port), as the endpoints controller
 *   would; the selector-less slices of a case are filled the way the Go test
 *   patches them (HTTPRouteServiceTypes);
 * - the Gateway address: every listener port maps to a Portico entrypoint by
 *   NUMBER (80 → web, 443 → websecure, 8080, 8090, 8443, 8883, 7443, 6443), while the entrypoints really listen on
 *   free loopback ports; requests go there with the Host header (and SNI) the
 *   upstream test would send.
 *
 * The translator is providers/kubernetes/gateway/translate.ts
 * (translateGateway); its config is applied as provider `kubernetesgateway`.
 */
import { readFileSync, readdirSync } from 'node:fs';
import crypto from 'node:crypto';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import tls from 'node:tls';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import selfsigned from 'selfsigned';
import { parse, parseAllDocuments } from 'yaml';
import type { DynamicConfig, ElementError } from '../../src/config/dynamic.js';
import { loadStaticConfig } from '../../src/config/static.js';
import { mergeSnapshots } from '../../src/config/aggregate.js';
import { createRouterServer, type RouterServer } from '../../src/routing/router-server.js';
import {
  GATEWAY_PROVIDER,
  viewOf,
  type ClusterView,
  type KubeObject,
  type ResourceKind,
} from '../../providers/kubernetes/objects.js';
import type {
  Condition,
  GatewayProviderOptions,
  GatewayStatusReport,
  GatewayTranslation,
  RouteStatus,
} from '../../providers/kubernetes/gateway/model.js';

export const UPSTREAM = {
  repo: 'kubernetes-sigs/gateway-api',
  tag: 'v1.5.1',
  commit: 'e7677b70ae75d14a4448fba94870e7deea6cf0ad',
};
export const FIXTURES = resolve('test/fixtures/gateway-conformance');
export const GATEWAY_CLASS = 'portico-conformance';
export const CONTROLLER_NAME = 'portico.io/gateway-controller';
export const GATEWAY_GROUP = 'gateway.networking.k8s.io';

/* ---------------------------------------------------------------- case files */

export interface ExpectedCondition {
  type: string;
  /** '' or absent: any status (findConditionInList) */
  status?: 'True' | 'False' | 'Unknown' | '';
  /** '' or absent: any reason */
  reason?: string;
}

export interface ExpectedParent {
  gateway: string; // ns/name
  sectionName?: string;
  conditions: ExpectedCondition[];
}

export interface ExpectedListener {
  name: string;
  supportedKinds?: { group?: string; kind: string }[];
  attachedRoutes: number;
  conditions: ExpectedCondition[];
}

/** One status assertion, named after the upstream helper it stands for. */
export type StatusCheck =
  | {
      /** GatewayAndHTTPRoutesMustBeAccepted / GatewayAnd{GRPC,TLS}RoutesMustBeAccepted */
      routesAccepted: { gateway: string; kind?: string; routes: string[]; listeners?: string[] };
    }
  | {
      /** {HTTP,TLS}RouteMustHaveCondition; resolvedRefs true is this with ResolvedRefs/True */
      routeCondition: {
        route: string;
        kind?: string;
        gateway: string;
        condition: ExpectedCondition;
      };
    }
  | { routeParents: { route: string; kind?: string; parents: ExpectedParent[] } }
  | { noAcceptedParents: { route: string; kind?: string } }
  | { zeroRoutes: { gateway: string } }
  | { gatewayListeners: { gateway: string; listeners: ExpectedListener[] } }
  | {
      /** GatewayListenersMustHaveConditions (listener absent: every listener) */
      listenerConditions: { gateway: string; listener?: string; conditions: ExpectedCondition[] };
    }
  | { gatewayCondition: { gateway: string; condition: ExpectedCondition } }
  | {
      /** GWCMustHaveAcceptedCondition{True,Any} */
      gatewayClassCondition: { gatewayClass: string; condition: ExpectedCondition };
    }
  | {
      /** {HTTP,Gateway,GatewayClass}MustHaveLatestConditions: every condition's observedGeneration is the object's generation */
      latestGeneration: { kind: string; ref: string };
    };

/** A later step of a test that changes objects (delete, patch) and checks again. */
export interface CasePhase {
  delete?: { kind: string; namespace?: string; name: string }[];
  /** more manifests applied (kubectl apply) */
  addManifests?: string[];
  /** set one field (path of keys/indexes) and bump metadata.generation, as a spec patch does */
  set?: {
    kind: string;
    namespace?: string;
    name: string;
    path: (string | number)[];
    value: unknown;
  }[];
  status?: StatusCheck[];
  requests?: RequestCase[];
}

export interface ExpectedRequestSpec {
  host?: string;
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  absentHeaders?: string[];
}

export interface RequestCase {
  name?: string;
  /** which entrypoint: the listener port the upstream test's address has (default 80) */
  port?: number;
  /** https: TLS to the 443 entrypoint with SNI = sni ?? host */
  scheme?: 'http' | 'https';
  sni?: string;
  /** the client certificate (Secret ns/name) presented in the TLS handshake */
  clientCert?: string;
  /**
   * tls.MakeTLSRequestAndExpectFailureResponse: the HTTPS request must fail (handshake
   * refused or connection cut); any HTTP answer is a failure of the expectation
   */
  expectRequestError?: boolean;
  /** roundtripper.H2CPriorKnowledgeProtocol / H2Protocol (default HTTP/1.1) */
  protocol?: 'h2c' | 'h2';
  /** the Secret (ns/name) whose certificate the client trusts (default: tls-validity-checks-certificate) */
  serverCert?: string;
  request: {
    host?: string;
    method?: string;
    path: string;
    headers?: Record<string, string>;
    body?: string;
  };
  expectedRequest?: ExpectedRequestSpec;
  backendSetResponseHeaders?: Record<string, string>;
  response?: {
    status?: number;
    statuses?: number[];
    headers?: Record<string, string>;
    /** the header must have one of these values */
    validHeaderValues?: Record<string, string[]>;
    /** spaces are ignored when comparing response header values */
    ignoreWhitespace?: boolean;
    absentHeaders?: string[];
  };
  backend?: string;
  namespace?: string;
  redirect?: { scheme?: string; host?: string; port?: string; path?: string };
  /** percent: the share of requests the mirror must see (HTTPRouteRequestPercentageMirror) */
  mirroredTo?: { name: string; namespace: string; percent?: number }[];
  /** MakeRequestAndExpectFailure: anything but 200 */
  expectFailure?: boolean;
  /**
   * tcp.MakeTCPRequestAndExpectEventuallyValidResponse: a TCP (or TLS, SNI = sni) connection
   * to the echo TCP server through the gateway: welcome, PING/PONG, IS_TLS, TEST
   */
  tcp?: { tls: boolean; backendIsTLS: boolean; hostname?: string };
  /**
   * grpc.MakeRequestAndExpectEventuallyConsistentResponse: a GrpcEcho call (Echo, EchoTwo,
   * EchoThree) over h2c with :authority and metadata; code is the expected gRPC status
   * (0 OK, 12 Unimplemented), backend/namespace as for HTTP
   */
  grpc?: { method: string; authority?: string; metadata?: Record<string, string>; code?: number };
  /** a WebSocket echo exchange on /ws (HTTPRouteBackendProtocolWebSocket) */
  websocket?: boolean;
  /** tls.MakeTLSConnectionAndExpectEventuallyConnectionRejection: the handshake is cut (EOF/RST) */
  expectConnectionRejected?: boolean;
  /** send it this many times (each must match) */
  repeat?: number;
  /** the backend is the one named by this request header as the echo saw it (exactly one value) */
  backendFromRequestHeader?: string;
}

export interface WeightCheck {
  request: RequestCase;
  /** backend (pod prefix) → share */
  weights: Record<string, number>;
  total?: number;
  tolerance?: number;
}

export interface ConformanceCase {
  /** the upstream ShortName */
  name: string;
  source: string;
  description: string;
  features: string[];
  provisional?: boolean;
  manifests: string[];
  /** selector-less EndpointSlices filled with a Deployment's endpoint, as the Go test patches them */
  fillEndpointSlices?: { slices: string[]; deployment: string };
  status?: StatusCheck[];
  requests?: RequestCase[];
  weights?: WeightCheck[];
  then?: CasePhase;
  /** upstream returns early (passes vacuously) when the implementation claims this feature */
  skipIfSupported?: string;
  /** what of the upstream test is not translated, and why */
  notTranslated?: string;
}

export function loadCases(): ConformanceCase[] {
  const dir = join(FIXTURES, 'cases');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => parse(readFileSync(join(dir, f), 'utf8')) as ConformanceCase);
}

/*
 * The conformance profiles (conformance/utils/suite/profiles.go and the feature sets of
 * pkg/features, v1.5.1): a test is in a profile when every feature it needs is one of the
 * profile's core or extended features, and counts as core when every one is core.
 */
const GATEWAY_EXTENDED = [
  'SupportGatewayPort8080',
  'SupportGatewayStaticAddresses',
  'SupportGatewayHTTPListenerIsolation',
  'SupportGatewayHTTPSListenerDetectMisdirectedRequests',
  'SupportGatewayInfrastructurePropagation',
  'SupportGatewayAddressEmpty',
  'SupportGatewayBackendClientCertificate',
  'SupportGatewayFrontendClientCertificateValidation',
  'SupportGatewayFrontendClientCertificateValidationInsecureFallback',
  'SupportListenerSet',
];
const HTTPROUTE_EXTENDED = [
  'DestinationPortMatching',
  'BackendRequestHeaderModification',
  'QueryParamMatching',
  'MethodMatching',
  'ResponseHeaderModification',
  'PortRedirect',
  'SchemeRedirect',
  'PathRedirect',
  'HostRewrite',
  'PathRewrite',
  'RequestMirror',
  'RequestMultipleMirrors',
  'RequestPercentageMirror',
  'RequestTimeout',
  'BackendTimeout',
  'ParentRefPort',
  'BackendProtocolH2C',
  'BackendProtocolWebSocket',
  'NamedRouteRule',
  'CORS',
  '303RedirectStatusCode',
  '307RedirectStatusCode',
  '308RedirectStatusCode',
].map((f) => `SupportHTTPRoute${f}`);

export const PROFILES: Record<string, { core: string[]; extended: string[] }> = {
  'GATEWAY-HTTP': {
    core: ['SupportGateway', 'SupportReferenceGrant', 'SupportHTTPRoute'],
    extended: [
      ...GATEWAY_EXTENDED,
      ...HTTPROUTE_EXTENDED,
      'SupportBackendTLSPolicy',
      'SupportBackendTLSPolicySANValidation',
    ],
  },
  'GATEWAY-TLS': {
    core: ['SupportGateway', 'SupportReferenceGrant', 'SupportTLSRoute'],
    extended: [...GATEWAY_EXTENDED, 'SupportTLSRouteModeTerminate', 'SupportTLSRouteModeMixed'],
  },
  'GATEWAY-GRPC': {
    core: ['SupportGateway', 'SupportReferenceGrant', 'SupportGRPCRoute'],
    extended: GATEWAY_EXTENDED,
  },
};

/** profile → 'core' | 'extended' for each profile the case belongs to */
export function profilesOf(c: ConformanceCase): Record<string, 'core' | 'extended'> {
  const out: Record<string, 'core' | 'extended'> = {};
  for (const [name, p] of Object.entries(PROFILES)) {
    if (c.features.every((f) => p.core.includes(f))) out[name] = 'core';
    else if (c.features.every((f) => p.core.includes(f) || p.extended.includes(f)))
      out[name] = 'extended';
  }
  return out;
}

/* ------------------------------------------------------------ echo backends */

export interface SeenByBackend {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

export interface EchoBackend {
  namespace: string;
  deployment: string;
  port: number;
  tlsPort?: number;
  h2cPort?: number;
  seen: SeenByBackend[];
  close(): Promise<void>;
}

/** Go's http.CanonicalHeaderKey: the echo server reports header names that way */
function canonical(name: string): string {
  return name
    .split('-')
    .map((p) => (p.length === 0 ? p : p[0]!.toUpperCase() + p.slice(1).toLowerCase()))
    .join('-');
}

/** echo-basic delayResponse: `?delay=<Go duration>` (ms, s only here), at most 10 s */
function delayOf(url: string | undefined): number {
  const m = /[?&]delay=(\d+(?:\.\d+)?)(ms|s)(?:&|$)/.exec(url ?? '');
  if (m === null) return 0;
  return Math.min(10_000, Number(m[1]) * (m[2] === 's' ? 1000 : 1));
}

function echoHandler(backend: { namespace: string; deployment: string; seen: SeenByBackend[] }) {
  return (
    req: http.IncomingMessage | http2.Http2ServerRequest,
    res: http.ServerResponse | http2.Http2ServerResponse,
  ): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const delay = delayOf(req.url);
      if (delay > 0) setTimeout(answer, delay);
      else answer();
    });
    const answer = (): void => {
      if (res.destroyed) return;
      backend.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
      const headers: Record<string, string[]> = {};
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const name = canonical(req.rawHeaders[i]!);
        // Go moves Host (HTTP/2: :authority) out of r.Header; pseudo-headers are not headers
        if (name === 'Host' || name.startsWith(':')) continue;
        (headers[name] ??= []).push(req.rawHeaders[i + 1]!);
      }
      // echo-basic writeEchoResponseHeaders: "name:value,name:value"
      const out: Record<string, string> = {};
      for (const list of headers['X-Echo-Set-Header'] ?? []) {
        for (const kv of list.split(',')) {
          const t = kv.trim();
          if (t === '') continue;
          const i = t.indexOf(':');
          const name = i < 0 ? t : t.slice(0, i);
          const value = i < 0 ? '' : t.slice(i + 1);
          out[name] = out[name] === undefined ? value : `${out[name]},${value.trim()}`;
        }
      }
      const body = JSON.stringify({
        path: req.url,
        host: req.headers[':authority'] ?? req.headers.host ?? '',
        method: req.method,
        proto: `HTTP/${req.httpVersion}`,
        headers,
        namespace: backend.namespace,
        ingress: '',
        service: '',
        pod: `${backend.deployment}-pod`,
      });
      (res as http.ServerResponse).writeHead(200, {
        ...out,
        'content-type': 'application/json',
        'x-content-type-options': 'nosniff',
      });
      res.end(body);
    };
  };
}

/* ---------------------------------------------------------- WebSocket (RFC 6455) */

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

function wsFrame(opcode: number, payload: Buffer, mask: boolean): Buffer {
  const len = payload.length;
  const head: number[] = [0x80 | opcode];
  if (len < 126) head.push((mask ? 0x80 : 0) | len);
  else head.push((mask ? 0x80 : 0) | 126, len >> 8, len & 0xff); // frames here are small
  if (!mask) return Buffer.concat([Buffer.from(head), payload]);
  const key = crypto.randomBytes(4);
  const masked = Buffer.from(payload.map((b, i) => b ^ key[i % 4]!));
  return Buffer.concat([Buffer.from(head), key, masked]);
}

/** whole frames at the start of buf: [opcode, payload][], and the rest */
function wsFrames(buf: Buffer): { frames: [number, Buffer][]; rest: Buffer } {
  const frames: [number, Buffer][] = [];
  for (;;) {
    if (buf.length < 2) break;
    const opcode = buf[0]! & 0x0f;
    const masked = (buf[1]! & 0x80) !== 0;
    let len = buf[1]! & 0x7f;
    let off = 2;
    if (len === 126) {
      if (buf.length < 4) break;
      len = buf.readUInt16BE(2);
      off = 4;
    } else if (len === 127) break; // never sent here
    const keyLen = masked ? 4 : 0;
    if (buf.length < off + keyLen + len) break;
    const key = buf.subarray(off, off + keyLen);
    const data = Buffer.from(buf.subarray(off + keyLen, off + keyLen + len));
    if (masked) for (let i = 0; i < data.length; i++) data[i] = data[i]! ^ key[i % 4]!;
    frames.push([opcode, data]);
    buf = buf.subarray(off + keyLen + len);
  }
  return { frames, rest: buf };
}

/** upgraded connections: server.close() and closeAllConnections() do not end them */
const upgradedSockets = new Set<import('node:stream').Duplex>();

/** echo-basic's /ws: a WebSocket echo of text and binary messages */
function wsEcho(req: http.IncomingMessage, socket: import('node:stream').Duplex): void {
  const key = req.headers['sec-websocket-key'];
  if (req.url?.split('?')[0] !== '/ws' || typeof key !== 'string') {
    socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n');
    return;
  }
  const accept = crypto
    .createHash('sha1')
    .update(key + WS_GUID)
    .digest('base64');
  socket.write(
    `HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept}\r\n\r\n`,
  );
  let buf: Buffer = Buffer.alloc(0);
  upgradedSockets.add(socket);
  socket.on('close', () => upgradedSockets.delete(socket));
  socket.on('data', (d: Buffer) => {
    const { frames, rest } = wsFrames(Buffer.concat([buf, d]));
    buf = rest;
    for (const [opcode, payload] of frames) {
      if (opcode === 8) socket.end(wsFrame(8, Buffer.alloc(0), false));
      else if (opcode === 1 || opcode === 2) socket.write(wsFrame(opcode, payload, false));
    }
  });
  socket.on('error', () => undefined);
}

/** HTTPRouteBackendProtocolWebSocket: dial ws://<gateway>/ws, echo a text then a binary message */
export function websocketRoundTrip(port: number, host: string): Promise<string | undefined> {
  return new Promise((resolvePromise) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const key = crypto.randomBytes(16).toString('base64');
    const text = Buffer.from('Websocket Support!');
    const binary = Buffer.from([1, 2, 3, 4, 5, 6, 7]);
    let buf: Buffer = Buffer.alloc(0);
    let upgraded = false;
    const got: [number, Buffer][] = [];
    const done = (f: string | undefined): void => {
      sock.destroy();
      resolvePromise(f);
    };
    sock.setTimeout(5000, () =>
      done(`no complete WebSocket exchange in 5 s (got ${got.length} frames)`),
    );
    sock.on('error', (err) => done(`connection failed: ${err.message}`));
    sock.write(
      `GET /ws HTTP/1.1\r\nhost: ${host}\r\nupgrade: websocket\r\nconnection: Upgrade\r\n` +
        `sec-websocket-key: ${key}\r\nsec-websocket-version: 13\r\norigin: ws://gateway/ws\r\n\r\n`,
    );
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!upgraded) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        if (!/^HTTP\/1\.1 101/.test(head))
          return done(`the upgrade was answered ${head.split('\r\n')[0]}`);
        upgraded = true;
        buf = buf.subarray(end + 4);
        sock.write(wsFrame(1, text, true));
      }
      const { frames, rest } = wsFrames(buf);
      buf = rest;
      for (const f of frames) {
        got.push(f);
        if (got.length === 1) {
          if (f[0] !== 1 || !f[1].equals(text))
            return done(`text reply ${f[0]}: ${f[1].toString()}`);
          sock.write(wsFrame(2, binary, true));
        } else if (got.length === 2) {
          if (f[0] !== 2 || !f[1].equals(binary))
            return done(`binary reply ${f[0]}: ${f[1].toString('hex')}`);
          return done(undefined);
        }
      }
    });
  });
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

/** How a Deployment's echo-basic container runs (its env and secret volume). */
export interface EchoMode {
  /** TLS_SERVER_CERT set: also HTTPS (or TLS for the TCP echo) with this Secret's certificate */
  tls?: Pem;
  /** TCP_ECHO_SERVER set: the line-based TCP echo (tcpserver.go) instead of HTTP */
  tcp?: boolean;
  /** GRPC_ECHO_SERVER set: the gRPC echo service over h2c (grpc/grpc.go) instead of HTTP */
  grpc?: boolean;
}

/* ------------------------------------------------------------- gRPC by hand */

/*
 * The GrpcEcho service of conformance/echo-basic/grpcecho.proto, spoken over
 * node:http2 with the few protobuf fields it needs encoded by hand (no gRPC
 * library in the dependencies): length-prefixed messages, grpc-status in the
 * trailers, HTTP statuses mapped to codes as gRPC clients do.
 */
export const GRPC_SERVICE = 'gateway_api_conformance.echo_basic.grpcecho.GrpcEcho';

function pbVarint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

function pbField(field: number, value: Buffer | string): Buffer {
  const b = typeof value === 'string' ? Buffer.from(value) : value;
  return Buffer.concat([pbVarint((field << 3) | 2), pbVarint(b.length), b]);
}

/** the length-delimited fields of one message: field number → values */
function pbFields(buf: Buffer): Map<number, Buffer[]> {
  const out = new Map<number, Buffer[]>();
  let i = 0;
  const varint = (): number => {
    let n = 0;
    let shift = 0;
    for (;;) {
      const b = buf[i++]!;
      n |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) return n >>> 0;
      shift += 7;
    }
  };
  while (i < buf.length) {
    const tag = varint();
    const wire = tag & 7;
    if (wire === 2) {
      const len = varint();
      const v = buf.subarray(i, i + len);
      i += len;
      const k = tag >>> 3;
      out.set(k, [...(out.get(k) ?? []), v]);
    } else if (wire === 0) varint();
    else break; // no other wire types in this service
  }
  return out;
}

function grpcFrame(message: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

function grpcEchoServer(namespace: string, deployment: string): http2.Http2Server {
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    const path = String(headers[':path'] ?? '');
    const method = path.startsWith(`/${GRPC_SERVICE}/`) ? path.slice(GRPC_SERVICE.length + 2) : '';
    stream.on('data', () => undefined);
    stream.on('error', () => undefined);
    if (!['Echo', 'EchoTwo', 'EchoThree'].includes(method)) {
      stream.respond(
        { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12' },
        { endStream: true },
      );
      return;
    }
    stream.on('end', () => {
      const hdrs = Object.entries(headers)
        .filter(([k]) => !k.startsWith(':'))
        .map(([k, v]) => pbField(2, Buffer.concat([pbField(1, k), pbField(2, String(v))])));
      const assertions = Buffer.concat([
        pbField(1, `${GRPC_SERVICE}/${method}`),
        ...hdrs,
        pbField(3, String(headers[':authority'] ?? '')),
        pbField(4, Buffer.concat([pbField(1, namespace), pbField(4, `${deployment}-pod`)])),
      ]);
      stream.respond(
        { ':status': 200, 'content-type': 'application/grpc' },
        { waitForTrailers: true },
      );
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(grpcFrame(pbField(1, assertions)));
    });
  });
  return server;
}

/** gRPC's HTTP-to-status mapping (doc/http-grpc-status-mapping.md) */
function grpcCodeOfHttp(status: number): number {
  if (status === 400) return 13;
  if (status === 401) return 16;
  if (status === 403) return 7;
  if (status === 404) return 12;
  if ([429, 502, 503, 504].includes(status)) return 14;
  return 2;
}

export interface GrpcAnswer {
  code: number;
  method?: string;
  namespace?: string;
  pod?: string;
}

export function grpcCall(
  port: number,
  method: string,
  opts: { authority?: string; metadata?: Record<string, string> } = {},
): Promise<GrpcAnswer> {
  return new Promise((resolvePromise, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', reject);
    const req = session.request({
      ':method': 'POST',
      ':path': `/${GRPC_SERVICE}/${method}`,
      ':authority': opts.authority ?? '127.0.0.1',
      'content-type': 'application/grpc',
      te: 'trailers',
      ...Object.fromEntries(
        Object.entries(opts.metadata ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
      ),
    });
    const timer = setTimeout(() => {
      req.close();
      session.close();
      reject(new Error('no gRPC answer in 10 s'));
    }, 10_000);
    let status = 0;
    let code: number | undefined;
    const chunks: Buffer[] = [];
    req.on('response', (h) => {
      status = Number(h[':status']);
      if (h['grpc-status'] !== undefined) code = Number(h['grpc-status']);
    });
    req.on('trailers', (t) => {
      if (t['grpc-status'] !== undefined) code = Number(t['grpc-status']);
    });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', (err) => {
      clearTimeout(timer);
      session.close();
      reject(err);
    });
    req.on('end', () => {
      clearTimeout(timer);
      session.close();
      if (status !== 200) return resolvePromise({ code: grpcCodeOfHttp(status) });
      const body = Buffer.concat(chunks);
      const answer: GrpcAnswer = { code: code ?? 2 };
      if (answer.code === 0 && body.length >= 5) {
        const assertions = pbFields(
          pbFields(body.subarray(5, 5 + body.readUInt32BE(1))).get(1)?.[0] ?? Buffer.alloc(0),
        );
        answer.method = assertions.get(1)?.[0]?.toString();
        const context = pbFields(assertions.get(4)?.[0] ?? Buffer.alloc(0));
        answer.namespace = context.get(1)?.[0]?.toString() ?? '';
        answer.pod = context.get(4)?.[0]?.toString() ?? '';
      }
      resolvePromise(answer);
    });
    req.end(grpcFrame(Buffer.alloc(0)));
  });
}

/**
 * echo-basic's TCP server (conformance/echo-basic/tcpserver): a welcome line, then
 * PING → PONG, IS_TLS → true|false, TEST → JSON with namespace, pod and the TLS state.
 */
function tcpEcho(namespace: string, deployment: string, isTls: boolean) {
  return (sock: net.Socket | tls.TLSSocket): void => {
    sock.write('Gateway API Test TCP Server\n');
    let buf = '';
    sock.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i).trim();
        buf = buf.slice(i + 1);
        if (line === 'PING') sock.write('PONG\n');
        else if (line === 'IS_TLS') sock.write(`${isTls}\n`);
        else if (line === 'TEST') {
          const t = isTls ? (sock as tls.TLSSocket) : undefined;
          const servername =
            t !== undefined
              ? (t as unknown as { servername?: string | false }).servername
              : undefined;
          sock.write(
            `${JSON.stringify({
              namespace,
              pod: `${deployment}-pod`,
              isTLS: isTls,
              ...(t !== undefined
                ? {
                    tls: {
                      version: t.getProtocol(),
                      serverName: typeof servername === 'string' ? servername : '',
                    },
                  }
                : {}),
            })}\n`,
          );
        } else sock.write(`unknown command ${line}\n`);
      }
    });
    sock.on('error', () => undefined);
  };
}

export class EchoPool {
  private readonly backends = new Map<string, EchoBackend>();

  async get(namespace: string, deployment: string, mode: EchoMode = {}): Promise<EchoBackend> {
    const key = `${namespace}/${deployment}`;
    const known = this.backends.get(key);
    if (known !== undefined) return known;
    const seen: SeenByBackend[] = [];
    const servers: net.Server[] = [];
    let port: number;
    let tlsPort: number | undefined;
    let h2cPort: number | undefined;
    if (mode.grpc === true) {
      const srv = grpcEchoServer(namespace, deployment);
      servers.push(srv as unknown as net.Server);
      port = await listen(srv as unknown as net.Server);
    } else if (mode.tcp === true) {
      const plain = net.createServer(tcpEcho(namespace, deployment, false));
      servers.push(plain);
      port = await listen(plain);
      if (mode.tls !== undefined) {
        const secure = tls.createServer(
          { cert: mode.tls.cert, key: mode.tls.key },
          tcpEcho(namespace, deployment, true),
        );
        servers.push(secure);
        tlsPort = await listen(secure);
      }
    } else {
      const handler = echoHandler({ namespace, deployment, seen });
      const plain = http.createServer(handler);
      plain.on('upgrade', wsEcho);
      servers.push(plain);
      port = await listen(plain);
      // echo-basic serves h2c (prior knowledge) on 3001
      const h2c = http2.createServer(handler);
      servers.push(h2c as unknown as net.Server);
      h2cPort = await listen(h2c as unknown as net.Server);
      if (mode.tls !== undefined) {
        const secure = https.createServer({ cert: mode.tls.cert, key: mode.tls.key }, handler);
        servers.push(secure);
        tlsPort = await listen(secure);
      }
    }
    const b: EchoBackend = {
      namespace,
      deployment,
      port,
      ...(tlsPort !== undefined ? { tlsPort } : {}),
      ...(h2cPort !== undefined ? { h2cPort } : {}),
      seen,
      close: () =>
        Promise.all(
          servers.map(
            (srv) =>
              new Promise<void>((r) => {
                (srv as http.Server).closeAllConnections?.();
                srv.close(() => r());
              }),
          ),
        ).then(() => undefined),
    };
    this.backends.set(key, b);
    return b;
  }

  /** forget what every backend saw (between cases) */
  reset(): void {
    for (const b of this.backends.values()) b.seen.length = 0;
  }

  async close(): Promise<void> {
    for (const sock of upgradedSockets) sock.destroy();
    await Promise.all([...this.backends.values()].map((b) => b.close()));
    this.backends.clear();
  }
}

/* ---------------------------------------------------------------- secrets */

/**
 * What suite.go creates before the tests run, with the same namespaces, names and
 * SANs: self-signed server certificates, CA ConfigMaps (`ca.crt`), and server or
 * client certificates signed by one of those CAs.
 */
type SuiteTls =
  | { kind: 'selfSigned'; namespace: string; name: string; hosts: string[] }
  | { kind: 'ca'; namespace: string; name: string }
  | { kind: 'caSigned'; namespace: string; name: string; hosts: string[]; ca: string }
  | { kind: 'clientCert'; namespace: string; name: string; ca: string };

const INFRA = 'gateway-conformance-infra';
const SUITE_TLS: SuiteTls[] = [
  {
    kind: 'selfSigned',
    namespace: 'gateway-conformance-web-backend',
    name: 'certificate',
    hosts: ['*'],
  },
  {
    kind: 'selfSigned',
    namespace: INFRA,
    name: 'tls-validity-checks-certificate',
    hosts: ['*', '*.org', '*.wildcard.org'],
  },
  { kind: 'ca', namespace: 'gateway-conformance-web-backend', name: 'web-backend-cm' },
  { kind: 'ca', namespace: INFRA, name: 'tls-validity-checks-ca-certificate' },
  {
    kind: 'clientCert',
    namespace: INFRA,
    name: 'tls-validity-checks-client-certificate',
    ca: 'tls-validity-checks-ca-certificate',
  },
  { kind: 'ca', namespace: INFRA, name: 'tls-validity-checks-per-port-ca-certificate' },
  {
    kind: 'clientCert',
    namespace: INFRA,
    name: 'tls-validity-checks-per-port-client-certificate',
    ca: 'tls-validity-checks-per-port-ca-certificate',
  },
  {
    kind: 'selfSigned',
    namespace: INFRA,
    name: 'tls-passthrough-checks-certificate',
    hosts: ['abc.example.com'],
  },
  {
    kind: 'selfSigned',
    namespace: 'gateway-conformance-app-backend',
    name: 'tls-passthrough-checks-certificate',
    hosts: ['abc.example.com'],
  },
  { kind: 'ca', namespace: INFRA, name: 'tls-checks-ca-certificate' },
  {
    kind: 'caSigned',
    namespace: INFRA,
    name: 'tls-checks-certificate',
    hosts: ['abc.example.com', 'other.example.com'],
    ca: 'tls-checks-ca-certificate',
  },
  {
    kind: 'clientCert',
    namespace: INFRA,
    name: 'tls-checks-client-certificate',
    ca: 'tls-checks-ca-certificate',
  },
  {
    kind: 'caSigned',
    namespace: INFRA,
    name: 'tls-terminate-checks-certificate',
    hosts: ['tls.example.com'],
    ca: 'tls-checks-ca-certificate',
  },
  { kind: 'ca', namespace: INFRA, name: 'mismatch-ca-certificate' },
];

export interface Pem {
  cert: string;
  key: string;
  /** the certificate a client trusts for it: its CA's, or itself when self-signed */
  trust: string;
  /** a CA, published as a ConfigMap with `ca.crt` (not as a Secret) */
  isCa?: boolean;
}

const EC = { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' } as const;

export async function makeSecrets(): Promise<Map<string, Pem>> {
  const out = new Map<string, Pem>();
  for (const s of SUITE_TLS) {
    const key = `${s.namespace}/${s.name}`;
    if (s.kind === 'selfSigned' || s.kind === 'ca') {
      const pems = await selfsigned.generate(
        [{ name: 'commonName', value: s.kind === 'ca' ? s.name : s.hosts[0]! }],
        {
          ...EC,
          // self-signed and CA-capable, as MustCreateSelfSignedCertSecret / MustCreateCACertConfigMap
          // make them (a test trusts a self-signed certificate as its own root)
          extensions: [
            { name: 'basicConstraints', cA: true, critical: true },
            {
              name: 'keyUsage',
              keyCertSign: true,
              digitalSignature: true,
              keyEncipherment: true,
              critical: true,
            },
            ...(s.kind === 'selfSigned'
              ? [
                  { name: 'extKeyUsage', serverAuth: true } as const,
                  {
                    name: 'subjectAltName',
                    altNames: s.hosts.map((value) => ({ type: 2 as const, value })),
                  } as const,
                ]
              : []),
          ],
        },
      );
      out.set(key, { cert: pems.cert, key: pems.private, trust: pems.cert, isCa: s.kind === 'ca' });
      continue;
    }
    const ca = out.get(`${s.namespace}/${s.ca}`)!;
    const pems = await selfsigned.generate(
      [{ name: 'commonName', value: s.kind === 'caSigned' ? s.hosts[0]! : s.name }],
      {
        ...EC,
        ca: { key: ca.key, cert: ca.cert },
        extensions: [
          { name: 'basicConstraints', cA: false },
          { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
          s.kind === 'caSigned'
            ? { name: 'extKeyUsage', serverAuth: true }
            : { name: 'extKeyUsage', clientAuth: true },
          ...(s.kind === 'caSigned'
            ? [
                {
                  name: 'subjectAltName',
                  altNames: s.hosts.map((value) => ({ type: 2 as const, value })),
                } as const,
              ]
            : []),
        ],
      },
    );
    out.set(key, { cert: pems.cert, key: pems.private, trust: ca.cert });
  }
  return out;
}

/* ------------------------------------------------------------ the cluster view */

function readObjects(text: string): KubeObject[] {
  const out: KubeObject[] = [];
  for (const doc of parseAllDocuments(
    text
      .replaceAll('{GATEWAY_CLASS_NAME}', GATEWAY_CLASS)
      .replaceAll('{GATEWAY_CONTROLLER_NAME}', CONTROLLER_NAME),
  )) {
    const o = doc.toJS() as KubeObject | null;
    if (o !== null && typeof o === 'object' && typeof o.kind === 'string') out.push(o);
  }
  return out;
}

function nn(o: KubeObject): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

export interface CaseCluster {
  view: ClusterView;
  objects: KubeObject[];
}

/**
 * Base + case manifests, a GatewayClass of ours, the suite's Secrets and
 * EndpointSlices to the echo backends. A case object replaces a base object
 * of the same kind and name (kubectl apply).
 */
export async function buildCluster(
  c: ConformanceCase,
  pool: EchoPool,
  secrets: Map<string, Pem>,
): Promise<CaseCluster> {
  const byKey = new Map<string, KubeObject>();
  const add = (o: KubeObject): void => {
    byKey.set(`${o.kind}/${nn(o)}`, o);
  };
  for (const o of readObjects(readFileSync(join(FIXTURES, 'base.yaml'), 'utf8'))) add(o);
  for (const m of c.manifests)
    for (const o of readObjects(readFileSync(join(FIXTURES, 'manifests', m), 'utf8'))) add(o);
  add({
    apiVersion: `${GATEWAY_GROUP}/v1`,
    kind: 'GatewayClass',
    metadata: { name: GATEWAY_CLASS, generation: 1 },
    spec: { controllerName: CONTROLLER_NAME },
  });
  for (const [key, pem] of secrets) {
    const [namespace, name] = key.split('/') as [string, string];
    if (pem.isCa === true) {
      add({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { namespace, name },
        data: { 'ca.crt': pem.cert },
      });
      continue;
    }
    add({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { namespace, name },
      type: 'kubernetes.io/tls',
      data: {
        'tls.crt': Buffer.from(pem.cert).toString('base64'),
        'tls.key': Buffer.from(pem.key).toString('base64'),
      },
    });
  }
  // the API server sets metadata.generation on every object it stores
  for (const o of byKey.values()) o.metadata.generation ??= 1;

  const objects = [...byKey.values()];
  const deployments = new Map<string, KubeObject>();
  for (const o of objects) if (o.kind === 'Deployment') deployments.set(nn(o), o);

  // the endpoints controller: a slice per selector Service, to its Deployment's pods
  for (const svc of objects.filter((o) => o.kind === 'Service')) {
    const spec = (svc.spec ?? {}) as {
      selector?: Record<string, string>;
      ports?: ServicePort[];
    };
    const app = spec.selector?.app;
    if (app === undefined) continue;
    const ns = svc.metadata.namespace!;
    if (!deployments.has(`${ns}/${app}`)) continue;
    const backend = await pool.get(ns, app, echoModeOf(deployments.get(`${ns}/${app}`)!, secrets));
    objects.push(
      endpointSlice(ns, `${svc.metadata.name}-auto`, svc.metadata.name, backend, spec.ports ?? []),
    );
  }
  if (c.fillEndpointSlices !== undefined) {
    const [ns, dep] = c.fillEndpointSlices.deployment.split('/') as [string, string];
    const backend = await pool.get(ns, dep);
    for (const o of objects) {
      if (o.kind !== 'EndpointSlice' || !c.fillEndpointSlices.slices.includes(o.metadata.name))
        continue;
      // the Go test copies the pods' IPv4 addresses into the -ip4 slices only (pods have no IPv6 here)
      if (o.addressType !== 'IPv4') continue;
      o.endpoints = [
        {
          addresses: ['127.0.0.1'],
          conditions: { ready: true, serving: true, terminating: false },
        },
      ];
      o.ports = ((o.ports as { name?: string; protocol?: string }[] | undefined) ?? []).map(
        (p) => ({
          ...p,
          port: backend.port,
        }),
      );
    }
  }

  const grouped: Partial<Record<ResourceKind, KubeObject[]>> = {};
  for (const o of objects) (grouped[o.kind as ResourceKind] ??= []).push(o);
  return { view: viewOf(grouped), objects };
}

interface ServicePort {
  name?: string;
  port: number;
  targetPort?: number | string;
  appProtocol?: string;
}

/** echo-basic's env: TLS_SERVER_CERT from a Secret volume, TCP_ECHO_SERVER */
function echoModeOf(deployment: KubeObject, secrets: Map<string, Pem>): EchoMode {
  const pod = (deployment.spec as { template?: { spec?: Record<string, unknown> } } | undefined)
    ?.template?.spec;
  const containers = (pod?.containers ?? []) as { env?: { name: string; value?: string }[] }[];
  const env = new Map(containers.flatMap((c) => c.env ?? []).map((e) => [e.name, e.value]));
  const volumes = (pod?.volumes ?? []) as { secret?: { secretName?: string } }[];
  const secretName = volumes.find((v) => v.secret?.secretName !== undefined)?.secret?.secretName;
  const pem =
    env.has('TLS_SERVER_CERT') && secretName !== undefined
      ? secrets.get(`${deployment.metadata.namespace}/${secretName}`)
      : undefined;
  return {
    ...(pem !== undefined ? { tls: pem } : {}),
    tcp: env.get('TCP_ECHO_SERVER') === '1',
    grpc: env.get('GRPC_ECHO_SERVER') === '1',
  };
}

function endpointSlice(
  namespace: string,
  name: string,
  service: string,
  backend: EchoBackend,
  ports: ServicePort[],
): KubeObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { namespace, name, labels: { 'kubernetes.io/service-name': service }, generation: 1 },
    addressType: 'IPv4',
    endpoints: [
      { addresses: ['127.0.0.1'], conditions: { ready: true, serving: true, terminating: false } },
    ],
    // echo-basic serves HTTPS (or TLS) on 8443, h2c on 3001, HTTP/1.1 (and /ws) on the rest
    ports: ports.map((p) => ({
      name: p.name ?? '',
      protocol: 'TCP',
      port:
        (p.targetPort ?? p.port) === 8443 && backend.tlsPort !== undefined
          ? backend.tlsPort
          : (p.targetPort ?? p.port) === 3001 && backend.h2cPort !== undefined
            ? backend.h2cPort
            : backend.port,
      ...(p.appProtocol !== undefined ? { appProtocol: p.appProtocol } : {}),
    })),
  };
}

/* ---------------------------------------------------------------- the router */

/** every listener port the conformance manifests use, each an entrypoint of its own */
export const ENTRYPOINT_PORTS: GatewayProviderOptions['entryPoints'] = {
  web: { port: 80, httpTls: false },
  websecure: { port: 443, httpTls: false },
  web8080: { port: 8080, httpTls: false },
  web8090: { port: 8090, httpTls: false },
  websecure8443: { port: 8443, httpTls: false },
  tls8883: { port: 8883, httpTls: false },
  tls7443: { port: 7443, httpTls: false },
  tls6443: { port: 6443, httpTls: false },
};

export function providerOptions(): GatewayProviderOptions {
  return {
    entryPoints: ENTRYPOINT_PORTS,
    experimentalChannel: true,
    controllerNames: [CONTROLLER_NAME],
    statusAddress: { ip: '127.0.0.1' },
    nativeLBByDefault: false,
  };
}

export interface ConformanceRouter {
  router: RouterServer;
  /** listener port number → the loopback port its entrypoint really listens on */
  portFor(listenerPort: number): number;
  /** applies the translation as provider kubernetesgateway; the element errors of the new table */
  apply(config: DynamicConfig): readonly ElementError[];
  close(): Promise<void>;
}

export async function startConformanceRouter(): Promise<ConformanceRouter> {
  const staticConfig = loadStaticConfig({
    argv: [
      ...Object.keys(ENTRYPOINT_PORTS).map((n) => `--entryPoints.${n}.address=127.0.0.1:0`),
      '--workers=0',
      '--log.level=fatal',
    ],
    env: {},
    cwd: process.cwd(),
  });
  const logger = pino({ level: process.env.PORTICO_TEST_LOG ?? 'silent' });
  const router = createRouterServer({ staticConfig, logger });
  const addresses = await router.listen();
  const real: Record<number, number> = {};
  for (const [name, ep] of Object.entries(ENTRYPOINT_PORTS)) real[ep.port] = addresses[name]!.port;
  return {
    router,
    portFor(listenerPort) {
      const p = real[listenerPort];
      if (p === undefined) throw new Error(`no entrypoint for listener port ${listenerPort}`);
      return p;
    },
    apply(config) {
      const merged = mergeSnapshots([{ provider: GATEWAY_PROVIDER, config, errors: [] }]);
      return router.applyConfig(merged.config, merged.errors).errors;
    },
    close: () => router.shutdown(100),
  };
}

export type Translate = (view: ClusterView, opts: GatewayProviderOptions) => GatewayTranslation;

/* ------------------------------------------------------------------ requests */

interface Captured {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** the client certificate a request presents (tls.MakeTLSRequest… with a client certificate) */
function clientCertOf(rc: RequestCase, secrets: Map<string, Pem>): { cert?: string; key?: string } {
  if (rc.clientCert === undefined) return {};
  const pem = secrets.get(rc.clientCert);
  return pem === undefined ? {} : { cert: pem.cert, key: pem.key };
}

/** HTTP/2: h2c with prior knowledge, or h2 over TLS (ALPN) with SNI */
function sendH2(port: number, rc: RequestCase, secrets: Map<string, Pem>): Promise<Captured> {
  return new Promise((resolvePromise, reject) => {
    const tlsOpts =
      rc.scheme === 'https'
        ? {
            servername: rc.sni ?? (rc.request.host ?? '').replace(/:\d+$/, ''),
            ca: [
              secrets.get(
                rc.serverCert ?? 'gateway-conformance-infra/tls-validity-checks-certificate',
              )?.trust ?? '',
            ],
            checkServerIdentity: () => undefined,
            ...clientCertOf(rc, secrets),
          }
        : {};
    const session = http2.connect(
      `${rc.scheme === 'https' ? 'https' : 'http'}://127.0.0.1:${port}`,
      tlsOpts,
    );
    session.on('error', reject);
    const headers: http2.OutgoingHttpHeaders = {
      ':method': rc.request.method ?? 'GET',
      ':path': rc.request.path,
      ':authority': rc.request.host ?? '127.0.0.1',
    };
    for (const [k, v] of Object.entries(rc.request.headers ?? {})) headers[k.toLowerCase()] = v;
    const req = session.request(headers);
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error('no HTTP/2 answer in 10 s'));
    }, 10_000);
    let status = 0;
    let resHeaders: http.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    req.on('response', (h) => {
      status = Number(h[':status']);
      resHeaders = h as http.IncomingHttpHeaders;
    });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', (err) => {
      clearTimeout(timer);
      session.destroy();
      reject(err);
    });
    req.on('end', () => {
      clearTimeout(timer);
      session.close();
      resolvePromise({ status, headers: resHeaders, body: Buffer.concat(chunks).toString('utf8') });
    });
    req.end(rc.request.body);
  });
}

function send(port: number, rc: RequestCase, secrets: Map<string, Pem>): Promise<Captured> {
  if (rc.protocol === 'h2c' || rc.protocol === 'h2') return sendH2(port, rc, secrets);
  const method = rc.request.method ?? 'GET';
  const headers: Record<string, string> = {};
  if (rc.request.host !== undefined) headers.host = rc.request.host;
  else headers.host = '127.0.0.1'; // CalculateHost: the gateway address, port 80 implied
  for (const [k, v] of Object.entries(rc.request.headers ?? {})) headers[k] = v;
  headers['X-Echo-Set-Header'] = Object.entries(rc.backendSetResponseHeaders ?? {})
    .map(([k, v]) => `${k}:${v}`)
    .join(',');
  const body = rc.request.body;
  return new Promise((resolvePromise, reject) => {
    const onRes = (res: http.IncomingMessage): void => {
      const sock = res.socket as import('node:tls').TLSSocket;
      if (rc.scheme === 'https' && !sock.authorized) {
        // report which certificate was presented instead of the Secret's
        const cn = sock.getPeerCertificate?.()?.subject?.CN;
        res.resume();
        reject(
          new Error(
            `certificate not trusted (${String(sock.authorizationError)}), presented CN=${String(cn)}`,
          ),
        );
        return;
      }
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolvePromise({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      res.on('error', reject);
    };
    const common = {
      host: '127.0.0.1',
      port,
      method,
      path: rc.request.path,
      headers,
      agent: false as const,
      timeout: 10_000,
    };
    let req: http.ClientRequest;
    if (rc.scheme === 'https') {
      const sni = rc.sni ?? (rc.request.host ?? '').replace(/:\d+$/, '');
      req = https.request(
        {
          ...common,
          servername: sni,
          // the suite checks the chain against the Secret's certificate; host names
          // like "*" cannot pass Node's identity check, so only the chain is checked
          // (rejectUnauthorized false: onRes reports an untrusted one with its name)
          // one trusted certificate, as the upstream test passes one (several self-signed
          // roots in one store confuse OpenSSL's issuer lookup)
          ca: [
            secrets.get(
              rc.serverCert ?? 'gateway-conformance-infra/tls-validity-checks-certificate',
            )?.trust ?? '',
          ],
          checkServerIdentity: () => undefined,
          rejectUnauthorized: false,
          ...clientCertOf(rc, secrets),
        },
        onRes,
      );
    } else req = http.request(common, onRes);
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

function isRedirect(status: number): boolean {
  return [300, 301, 302, 303, 304, 305, 307, 308].includes(status);
}

/** CompareRoundTrip (conformance/utils/http/http.go): undefined when the round trip matches */
export function compareRoundTrip(rc: RequestCase, res: Captured): string | undefined {
  const statuses = rc.response?.statuses ?? [rc.response?.status ?? 200];
  if ([408, 504].includes(res.status) && statuses.some((s) => [408, 504].includes(s)))
    return undefined;
  if (!statuses.includes(res.status))
    return `expected status ${statuses.join('|')}, got ${res.status}${res.body.length < 300 ? ` (${res.body.trim()})` : ''}`;
  if (res.status === 200 || res.status === 204) {
    let cReq: {
      path: string;
      host: string;
      method: string;
      headers: Record<string, string[]>;
      namespace: string;
      pod: string;
    };
    // CaptureRoundTrip: only a JSON answer is read as the echo's; any other leaves the
    // captured request empty but for the method ("assume it made the right request")
    if (String(res.headers['content-type'] ?? '') === 'application/json') {
      try {
        cReq = JSON.parse(res.body) as typeof cReq;
      } catch {
        return `the answer is not the echo server's JSON: ${res.body.slice(0, 200)}`;
      }
    } else
      cReq = {
        path: '',
        host: '',
        method: rc.request.method ?? 'GET',
        headers: {},
        namespace: '',
        pod: '',
      };
    const exp = rc.expectedRequest ?? {
      host: rc.request.host,
      path: rc.request.path,
      method: rc.request.method,
      headers: rc.request.headers,
    };
    const method = exp.method ?? 'GET';
    if (exp.host !== undefined && exp.host !== '' && exp.host !== cReq.host)
      return `expected host ${exp.host}, got ${cReq.host}`;
    if ((exp.path ?? '') !== cReq.path) return `expected path ${exp.path}, got ${cReq.path}`;
    if (method !== cReq.method) return `expected method ${method}, got ${cReq.method}`;
    if ((rc.namespace ?? '') !== cReq.namespace)
      return `expected namespace ${rc.namespace ?? '""'}, got ${cReq.namespace}`;
    const reqHeaders = new Map(
      Object.entries(cReq.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
    );
    for (const [name, value] of Object.entries(exp.headers ?? {})) {
      const got = reqHeaders.get(name.toLowerCase());
      if (got === undefined) return `expected request header ${name}, absent`;
      if (got.join(',') !== value)
        return `expected request header ${name}: ${value}, got ${got.join(',')}`;
    }
    const ws = (v: string): string =>
      rc.response?.ignoreWhitespace === true ? v.replaceAll(' ', '') : v;
    for (const [name, values] of Object.entries(rc.response?.validHeaderValues ?? {})) {
      const got = res.headers[name.toLowerCase()];
      if (got === undefined) return `expected response header ${name}, absent`;
      const s = ws(Array.isArray(got) ? got.join(',') : got);
      if (!values.map(ws).includes(s))
        return `expected response header ${name} to be one of ${JSON.stringify(values)}, got ${s}`;
    }
    for (const [name, value] of Object.entries(rc.response?.headers ?? {})) {
      const got = res.headers[name.toLowerCase()];
      if (got === undefined) return `expected response header ${name}, absent`;
      const s = ws(Array.isArray(got) ? got.join(',') : got);
      if (s !== ws(value)) return `expected response header ${name}: ${value}, got ${s}`;
    }
    for (const name of rc.response?.absentHeaders ?? []) {
      const got = res.headers[name.toLowerCase()];
      if (got !== undefined) return `expected response header ${name} absent, got ${String(got)}`;
    }
    for (const name of exp.absentHeaders ?? []) {
      const got = reqHeaders.get(name.toLowerCase());
      if (got !== undefined) return `expected request header ${name} absent, got ${got.join(',')}`;
    }
    if (!cReq.pod.startsWith(rc.backend ?? ''))
      return `expected backend ${rc.backend}, got pod ${cReq.pod}`;
  } else if (isRedirect(res.status) && rc.redirect !== undefined) {
    const location = res.headers.location;
    if (location === undefined) return 'redirect without a Location';
    // Go's resp.Location() resolves against the request URL (http://<gateway address>/path)
    const base = `${rc.scheme ?? 'http'}://127.0.0.1${rc.request.path}`;
    let u: URL;
    try {
      u = new URL(location, base);
    } catch {
      return `bad Location ${location}`;
    }
    const scheme = u.protocol.replace(/:$/, '');
    const host = u.hostname;
    const port = u.port === '' ? '' : u.port;
    // the URL parser drops default ports; the suite accepts them absent anyway
    const path = decodeURIComponent(u.pathname);
    const want = {
      host: rc.redirect.host ?? host,
      scheme: rc.redirect.scheme ?? rc.scheme ?? 'http',
      path: rc.redirect.path ?? rc.request.path.split('?')[0]!,
    };
    if (want.host !== host)
      return `expected redirect host ${want.host}, got ${host} (Location ${location})`;
    if (rc.redirect.port === undefined) {
      if (scheme === 'http' && port !== '' && port !== '80')
        return `expected redirect port 80 or none for http, got ${port} (Location ${location})`;
      if (scheme === 'https' && port !== '' && port !== '443')
        return `expected redirect port 443 or none for https, got ${port} (Location ${location})`;
    } else {
      const defaults: Record<string, string> = { http: '80', https: '443' };
      const got = port === '' ? (defaults[scheme] ?? '') : port;
      const wantPort = rc.redirect.port;
      if (got !== wantPort && !(port === '' && wantPort === '')) {
        // Location: http://h:80/ → URL drops :80; compare on the raw Location too
        if (!location.includes(`:${wantPort}`))
          return `expected redirect port ${wantPort}, got ${port || '(none)'} (Location ${location})`;
      }
    }
    if (want.scheme !== scheme)
      return `expected redirect scheme ${want.scheme}, got ${scheme} (Location ${location})`;
    if (want.path !== path)
      return `expected redirect path ${want.path}, got ${path} (Location ${location})`;
  }
  return undefined;
}

/* ------------------------------------------------------------------- status */

function split(ref: string): { namespace: string; name: string } {
  const [namespace, name] = ref.split('/') as [string, string];
  return { namespace, name };
}

function conditionFound(actual: Condition[], e: ExpectedCondition): boolean {
  return actual.some(
    (c) =>
      c.type === e.type &&
      (e.status === undefined || e.status === '' || c.status === e.status) &&
      (e.reason === undefined || e.reason === '' || c.reason === e.reason),
  );
}

function showConditions(cs: Condition[]): string {
  return cs.length === 0 ? '(none)' : cs.map((c) => `${c.type}=${c.status}/${c.reason}`).join(', ');
}

function routeOf(report: GatewayStatusReport, kind: string, ref: string): RouteStatus | undefined {
  const { namespace, name } = split(ref);
  return report.routes.find((r) => r.kind === kind && r.namespace === namespace && r.name === name);
}

/** parentsForRouteMatch: group/kind defaulted as the API server defaults them, namespace to the route's */
function parentMatches(
  route: RouteStatus,
  p: RouteStatus['parents'][number],
  gateway: string,
): boolean {
  const { namespace, name } = split(gateway);
  return (
    (p.parentRef.group ?? GATEWAY_GROUP) === GATEWAY_GROUP &&
    (p.parentRef.kind ?? 'Gateway') === 'Gateway' &&
    p.parentRef.name === name &&
    (p.parentRef.namespace ?? route.namespace) === namespace
  );
}

export function checkStatus(
  report: GatewayStatusReport,
  check: StatusCheck,
  objects: KubeObject[] = [],
): string | undefined {
  if ('latestGeneration' in check) {
    const { kind, ref } = check.latestGeneration;
    const obj = objects.find(
      (o) => o.kind === kind && nn(o) === (ref.includes('/') ? ref : `/${ref}`),
    );
    if (obj === undefined) return `no object ${kind} ${ref}`;
    const gen = obj.metadata.generation;
    let conditions: Condition[] = [];
    if (kind === 'Gateway')
      conditions =
        report.gateways.find((g) => `${g.namespace}/${g.name}` === ref)?.conditions ?? [];
    else if (kind === 'GatewayClass')
      conditions = report.gatewayClasses.find((g) => g.name === ref)?.conditions ?? [];
    else conditions = routeOf(report, kind, ref)?.parents.flatMap((p) => p.conditions) ?? [];
    if (conditions.length === 0) return `${kind} ${ref}: no conditions`;
    const stale = conditions.filter((c) => c.observedGeneration !== gen);
    return stale.length === 0
      ? undefined
      : `${kind} ${ref} (generation ${gen}): conditions with another observedGeneration: ${stale.map((c) => `${c.type}@${c.observedGeneration}`).join(', ')}`;
  }
  if ('gatewayClassCondition' in check) {
    const { gatewayClass, condition } = check.gatewayClassCondition;
    const gc = report.gatewayClasses.find((g) => g.name === gatewayClass);
    if (gc === undefined) return `no status for GatewayClass ${gatewayClass}`;
    return conditionFound(gc.conditions, condition)
      ? undefined
      : `GatewayClass ${gatewayClass}: no ${condition.type}=${condition.status ?? '*'}/${condition.reason ?? '*'} (${showConditions(gc.conditions)})`;
  }
  if ('routesAccepted' in check) {
    const { gateway, routes, kind = 'HTTPRoute' } = check.routesAccepted;
    const gw = report.gateways.find((g) => `${g.namespace}/${g.name}` === gateway);
    if (gw === undefined) return `no status for Gateway ${gateway}`;
    if (gw.addresses.length === 0) return `Gateway ${gateway} has no address`;
    for (const r of routes) {
      const rs = routeOf(report, kind, r);
      if (rs === undefined) return `no status for ${kind} ${r}`;
      const ok = rs.parents.some(
        (p) =>
          p.controllerName === CONTROLLER_NAME &&
          parentMatches(rs, p, gateway) &&
          conditionFound(p.conditions, { type: 'Accepted', status: 'True', reason: 'Accepted' }),
      );
      if (!ok)
        return `${kind} ${r} is not Accepted by ${gateway}: parents ${JSON.stringify(
          rs.parents.map((p) => ({ ref: p.parentRef, c: showConditions(p.conditions) })),
        )}`;
    }
    for (const l of gw.listeners)
      for (const type of ['ResolvedRefs', 'Accepted', 'Programmed'])
        if (!conditionFound(l.conditions, { type, status: 'True' }))
          return `Gateway ${gateway} listener ${l.name}: ${type} not True (${showConditions(l.conditions)})`;
    return undefined;
  }
  if ('routeCondition' in check) {
    const { route, gateway, condition, kind = 'HTTPRoute' } = check.routeCondition;
    const rs = routeOf(report, kind, route);
    if (rs === undefined) return `no status for ${kind} ${route}`;
    const { namespace, name } = split(gateway);
    const found = rs.parents.some(
      (p) =>
        p.parentRef.name === name &&
        (p.parentRef.namespace === undefined || p.parentRef.namespace === namespace) &&
        conditionFound(p.conditions, condition),
    );
    return found
      ? undefined
      : `${kind} ${route}: no ${condition.type}=${condition.status}/${condition.reason ?? '*'} for ${gateway} (parents: ${rs.parents
          .map(
            (p) =>
              `${p.parentRef.namespace ?? ''}/${p.parentRef.name}: ${showConditions(p.conditions)}`,
          )
          .join('; ')})`;
  }
  if ('routeParents' in check) {
    const { route, parents, kind = 'HTTPRoute' } = check.routeParents;
    const rs = routeOf(report, kind, route);
    if (rs === undefined) return `no status for ${kind} ${route}`;
    for (const e of parents) {
      const ok = rs.parents.some(
        (p) =>
          p.controllerName === CONTROLLER_NAME &&
          parentMatches(rs, p, e.gateway) &&
          e.conditions.every((c) => conditionFound(p.conditions, c)),
      );
      if (!ok)
        return `${kind} ${route}: no parent ${e.gateway} with ${e.conditions
          .map((c) => `${c.type}=${c.status}/${c.reason ?? '*'}`)
          .join(', ')} (parents: ${rs.parents
          .map(
            (p) =>
              `${p.parentRef.namespace ?? ''}/${p.parentRef.name}: ${showConditions(p.conditions)}`,
          )
          .join('; ')})`;
    }
    return undefined;
  }
  if ('noAcceptedParents' in check) {
    const { route, kind = 'HTTPRoute' } = check.noAcceptedParents;
    const rs = routeOf(report, kind, route);
    if (rs === undefined || rs.parents.length === 0) return undefined;
    if (rs.parents.length > 1)
      return `${kind} ${route}: ${rs.parents.length} parents, expected at most one`;
    return conditionFound(rs.parents[0]!.conditions, { type: 'Accepted', status: 'False' })
      ? undefined
      : `${kind} ${route}: its parent is accepted (${showConditions(rs.parents[0]!.conditions)})`;
  }
  if ('zeroRoutes' in check) {
    const gw = report.gateways.find((g) => `${g.namespace}/${g.name}` === check.zeroRoutes.gateway);
    if (gw === undefined || gw.listeners.length === 0) return undefined;
    if (gw.listeners.length === 1 && gw.listeners[0]!.attachedRoutes === 0) return undefined;
    return `Gateway ${check.zeroRoutes.gateway}: attachedRoutes ${gw.listeners.map((l) => `${l.name}=${l.attachedRoutes}`).join(', ')}`;
  }
  if ('gatewayListeners' in check) {
    const { gateway, listeners } = check.gatewayListeners;
    const gw = report.gateways.find((g) => `${g.namespace}/${g.name}` === gateway);
    if (gw === undefined) return `no status for Gateway ${gateway}`;
    if (gw.listeners.length !== listeners.length)
      return `Gateway ${gateway}: ${gw.listeners.length} listener statuses, expected ${listeners.length}`;
    for (const e of listeners) {
      const a = gw.listeners.find((l) => l.name === e.name);
      if (a === undefined) return `Gateway ${gateway}: no status for listener ${e.name}`;
      // gatewayListenersMatch: an empty (or absent) expected list means none at all
      if ((e.supportedKinds ?? []).length === 0 && a.supportedKinds.length !== 0)
        return `Gateway ${gateway} listener ${e.name}: supportedKinds ${JSON.stringify(a.supportedKinds)}, expected none`;
      for (const k of e.supportedKinds ?? []) {
        if (
          !a.supportedKinds.some(
            (ak) =>
              (ak.group ?? GATEWAY_GROUP) === (k.group ?? GATEWAY_GROUP) && ak.kind === k.kind,
          )
        )
          return `Gateway ${gateway} listener ${e.name}: ${k.kind} not in supportedKinds ${JSON.stringify(a.supportedKinds)}`;
      }
      if (a.attachedRoutes !== e.attachedRoutes)
        return `Gateway ${gateway} listener ${e.name}: attachedRoutes ${a.attachedRoutes}, expected ${e.attachedRoutes}`;
      for (const c of e.conditions)
        if (!conditionFound(a.conditions, c))
          return `Gateway ${gateway} listener ${e.name}: no ${c.type}=${c.status}/${c.reason ?? '*'} (${showConditions(a.conditions)})`;
    }
    return undefined;
  }
  if ('listenerConditions' in check) {
    const { gateway, listener, conditions } = check.listenerConditions;
    const gw = report.gateways.find((g) => `${g.namespace}/${g.name}` === gateway);
    if (gw === undefined) return `no status for Gateway ${gateway}`;
    const ls = gw.listeners.filter((l) => listener === undefined || l.name === listener);
    if (ls.length === 0) return `Gateway ${gateway}: no listener ${listener ?? ''} in status`;
    for (const l of ls)
      for (const c of conditions)
        if (!conditionFound(l.conditions, c))
          return `Gateway ${gateway} listener ${l.name}: no ${c.type}=${c.status}/${c.reason ?? '*'} (${showConditions(l.conditions)})`;
    return undefined;
  }
  const { gateway, condition } = check.gatewayCondition;
  const gw = report.gateways.find((g) => `${g.namespace}/${g.name}` === gateway);
  if (gw === undefined) return `no status for Gateway ${gateway}`;
  return conditionFound(gw.conditions, condition)
    ? undefined
    : `Gateway ${gateway}: no ${condition.type}=${condition.status}/${condition.reason ?? '*'} (${showConditions(gw.conditions)})`;
}

/* ------------------------------------------------------------------ one case */

export interface CaseContext {
  translate: Translate;
  router: ConformanceRouter;
  pool: EchoPool;
  secrets: Map<string, Pem>;
}

function requestName(rc: RequestCase, i: number): string {
  if (rc.name !== undefined) return rc.name;
  const h = rc.request.headers !== undefined ? ' with headers' : '';
  const base = `${i} request to '${rc.request.host ?? ''}${rc.request.path}'${h}`;
  return rc.backend !== undefined
    ? `${base} should go to ${rc.backend}`
    : `${base} should receive ${rc.response?.statuses?.join('|') ?? rc.response?.status ?? 200}`;
}

/** Runs one upstream test; returns every expectation that did not hold (empty: passed). */
export async function runCase(c: ConformanceCase, ctx: CaseContext): Promise<string[]> {
  ctx.pool.reset();
  const cluster = await buildCluster(c, ctx.pool, ctx.secrets);
  const failures = await runPhase(ctx, cluster.objects, c);
  if (c.then !== undefined) {
    let objects = cluster.objects;
    for (const d of c.then.delete ?? [])
      objects = objects.filter(
        (o) =>
          !(
            o.kind === d.kind &&
            o.metadata.name === d.name &&
            o.metadata.namespace === d.namespace
          ),
      );
    for (const m of c.then.addManifests ?? []) {
      const added = readObjects(readFileSync(join(FIXTURES, 'manifests', m), 'utf8'));
      for (const o of added) o.metadata.generation ??= 1;
      objects = [
        ...objects.filter((o) => !added.some((a) => a.kind === o.kind && nn(a) === nn(o))),
        ...added,
      ];
    }
    for (const op of c.then.set ?? []) {
      const o = objects.find(
        (x) =>
          x.kind === op.kind &&
          x.metadata.name === op.name &&
          x.metadata.namespace === op.namespace,
      );
      if (o === undefined) {
        failures.push(`then: no ${op.kind} ${op.namespace}/${op.name} to patch`);
        continue;
      }
      let at = o as unknown as Record<string | number, unknown>;
      for (const k of op.path.slice(0, -1)) at = at[k] as Record<string | number, unknown>;
      at[op.path[op.path.length - 1]!] = op.value;
      o.metadata.generation = (o.metadata.generation ?? 1) + 1;
    }
    ctx.pool.reset();
    for (const f of await runPhase(ctx, objects, c.then)) failures.push(`then: ${f}`);
  }
  return failures;
}

function viewOfObjects(objects: KubeObject[]): ClusterView {
  const grouped: Partial<Record<ResourceKind, KubeObject[]>> = {};
  for (const o of objects) (grouped[o.kind as ResourceKind] ??= []).push(o);
  return viewOf(grouped);
}

async function runPhase(
  ctx: CaseContext,
  objects: KubeObject[],
  phase: CasePhase & { weights?: WeightCheck[] },
): Promise<string[]> {
  const failures: string[] = [];
  let translation: GatewayTranslation;
  try {
    translation = ctx.translate(viewOfObjects(objects), providerOptions());
  } catch (err) {
    return [`translateGateway threw: ${(err as Error).stack ?? String(err)}`];
  }
  for (const s of phase.status ?? []) {
    const f = checkStatus(translation.status, s, objects);
    if (f !== undefined) failures.push(`status: ${f}`);
  }
  let elementErrors: readonly ElementError[] = [];
  try {
    elementErrors = ctx.router.apply(translation.config);
  } catch (err) {
    failures.push(`the router refused the configuration: ${(err as Error).message}`);
    return failures;
  }
  for (const [i, rc] of (phase.requests ?? []).entries())
    for (let n = 0; n < (rc.repeat ?? 1); n++) {
      const f = await oneRequest(rc, requestName(rc, i), ctx);
      if (f !== undefined) {
        failures.push(rc.repeat !== undefined ? `${f} (attempt ${n + 1})` : f);
        break;
      }
    }
  for (const w of phase.weights ?? []) failures.push(...(await weighted(w, ctx)));
  // what the translator said about the objects, to tell a failure's cause
  if (failures.length > 0) {
    for (const e of elementErrors)
      failures.push(
        `(router error) ${e.kind} ${e.name}${e.field !== undefined ? ` ${e.field}` : ''}: ${e.message}`,
      );
    for (const d of translation.diagnostics)
      failures.push(
        `(diagnostic) ${d.level} ${d.kind} ${d.namespace ?? ''}/${d.name} ${d.field}: ${d.message}`,
      );
  }
  return failures;
}

function prefixed(name: string, f: string | undefined): string | undefined {
  return f === undefined ? undefined : `${name}: ${f}`;
}

/** undefined when the TLS handshake with this SNI is cut by the gateway (EOF or reset) */
function tlsRejected(port: number, servername: string): Promise<string | undefined> {
  return new Promise((resolvePromise) => {
    const sock = tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false });
    sock.setTimeout(5000, () => {
      sock.destroy();
      resolvePromise('the gateway neither completed nor cut the handshake in 5 s');
    });
    sock.on('secureConnect', () => {
      const cn = sock.getPeerCertificate()?.subject?.CN;
      sock.destroy();
      resolvePromise(
        `the TLS handshake for ${servername} completed (certificate CN=${String(cn)}), expected the connection rejected`,
      );
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      // Go's isConnectionRejected: io.EOF / ErrUnexpectedEOF / ECONNRESET
      if (err.code === 'ECONNRESET' || /socket disconnected|EOF|ECONNRESET/.test(err.message))
        resolvePromise(undefined);
      else resolvePromise(`the connection failed otherwise: ${err.message}`);
    });
  });
}

/** grpc compareResponse (conformance/utils/grpc/grpc.go) */
async function grpcRoundTrip(ctx: CaseContext, rc: RequestCase): Promise<string | undefined> {
  const g = rc.grpc!;
  let a: GrpcAnswer;
  try {
    a = await grpcCall(ctx.router.portFor(rc.port ?? 80), g.method, g);
  } catch (err) {
    return `gRPC call failed: ${(err as Error).message}`;
  }
  const want = g.code ?? 0;
  if (a.code !== want) return `expected gRPC code ${want}, got ${a.code}`;
  if (a.code !== 0) return undefined;
  if (a.method !== `${GRPC_SERVICE}/${g.method}`)
    return `expected method ${GRPC_SERVICE}/${g.method}, got ${a.method}`;
  if ((rc.namespace ?? '') !== '' && rc.namespace !== a.namespace)
    return `expected namespace ${rc.namespace}, got ${a.namespace}`;
  if (!(a.pod ?? '').startsWith(rc.backend ?? ''))
    return `expected backend ${rc.backend}, got pod ${a.pod}`;
  return undefined;
}

/** the TCP echo exchange of conformance/utils/tcp/tcp.go through the gateway */
function tcpRoundTrip(ctx: CaseContext, rc: RequestCase): Promise<string | undefined> {
  const t = rc.tcp!;
  const port = ctx.router.portFor(rc.port ?? 443);
  return new Promise((resolvePromise) => {
    const sock: net.Socket = t.tls
      ? tls.connect({
          host: '127.0.0.1',
          port,
          servername: rc.sni ?? '',
          ca: [
            ctx.secrets.get(
              rc.serverCert ?? 'gateway-conformance-infra/tls-passthrough-checks-certificate',
            )?.trust ?? '',
          ],
          checkServerIdentity: () => undefined,
        })
      : net.connect({ host: '127.0.0.1', port });
    const steps = ['', 'PING', 'IS_TLS', 'TEST'];
    const answers: string[] = [];
    let buf = '';
    const done = (f: string | undefined): void => {
      sock.destroy();
      resolvePromise(f);
    };
    sock.setTimeout(5000, () => done(`no complete answer in 5 s (got ${JSON.stringify(answers)})`));
    sock.on('error', (err) => done(`connection failed: ${err.message}`));
    sock.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        answers.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
        const next = steps[answers.length];
        if (next !== undefined) sock.write(`${next}\n`);
      }
      if (answers.length < steps.length) return;
      if (answers[0] !== 'Gateway API Test TCP Server') return done(`welcome ${answers[0]}`);
      if (answers[1] !== 'PONG') return done(`PING answered ${answers[1]}`);
      if (answers[2] !== String(t.backendIsTLS))
        return done(`IS_TLS answered ${answers[2]}, expected ${t.backendIsTLS}`);
      let payload: { namespace?: string; pod?: string; tls?: { serverName?: string } };
      try {
        payload = JSON.parse(answers[3]!) as typeof payload;
      } catch {
        return done(`TEST answered ${answers[3]}`);
      }
      if (payload.namespace !== rc.namespace)
        return done(`namespace ${payload.namespace}, expected ${rc.namespace}`);
      if (!(payload.pod ?? '').startsWith(`${rc.backend}-`))
        return done(`pod ${payload.pod}, expected backend ${rc.backend}`);
      if (t.hostname !== undefined && payload.tls?.serverName !== t.hostname)
        return done(`SNI at the backend ${payload.tls?.serverName}, expected ${t.hostname}`);
      done(undefined);
    });
  });
}

/** one request and its checks; the failure, or undefined */
async function oneRequest(
  rc: RequestCase,
  name: string,
  ctx: CaseContext,
): Promise<string | undefined> {
  const failures: string[] = [];
  if (rc.expectConnectionRejected === true)
    return prefixed(name, await tlsRejected(ctx.router.portFor(rc.port ?? 443), rc.sni ?? ''));
  if (rc.tcp !== undefined) return prefixed(name, await tcpRoundTrip(ctx, rc));
  if (rc.grpc !== undefined) return prefixed(name, await grpcRoundTrip(ctx, rc));
  if (rc.websocket === true)
    return prefixed(
      name,
      await websocketRoundTrip(ctx.router.portFor(rc.port ?? 80), rc.request.host ?? '127.0.0.1'),
    );
  {
    let res: Captured;
    try {
      res = await send(
        ctx.router.portFor(rc.port ?? (rc.scheme === 'https' ? 443 : 80)),
        rc,
        ctx.secrets,
      );
    } catch (err) {
      if (rc.expectRequestError === true) return undefined;
      return `${name}: request failed: ${(err as Error).message}`;
    }
    if (rc.expectRequestError === true)
      return `${name}: expected the request to fail, got HTTP ${res.status}`;
    if (rc.expectFailure)
      return res.status === 200 ? `${name}: expected a failure, got 200` : undefined;
    let expected = rc;
    if (rc.backendFromRequestHeader !== undefined && res.status === 200) {
      const seen = (JSON.parse(res.body) as { headers?: Record<string, string[]> }).headers ?? {};
      const values =
        Object.entries(seen).find(
          ([k]) => k.toLowerCase() === rc.backendFromRequestHeader!.toLowerCase(),
        )?.[1] ?? [];
      if (values.length !== 1)
        return `${name}: expected a single '${rc.backendFromRequestHeader}' request header, got ${values.length}`;
      expected = { ...rc, backend: values[0] };
    }
    const f = compareRoundTrip(expected, res);
    if (f !== undefined) return `${name}: ${f}`;
    if ((rc.mirroredTo ?? []).some((m) => m.percent !== undefined))
      return prefixed(name, await mirrorDistribution(rc, ctx));
    for (const m of rc.mirroredTo ?? []) {
      const b = await ctx.pool.get(m.namespace, m.name);
      const path = rc.request.path;
      // the mirror is sent without waiting for it: poll for it (bounded)
      const deadline = Date.now() + 3000;
      while (!b.seen.some((s) => s.url === path) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      if (!b.seen.some((s) => s.url === path))
        failures.push(`${name}: no mirrored request to ${path} reached ${m.namespace}/${m.name}`);
    }
  }
  return failures[0];
}

/**
 * HTTPRouteRequestPercentageMirror's testMirroredRequestsDistribution: 500 requests, then
 * the mirror's count must be within ±15 % (relative) of percent × 500
 */
async function mirrorDistribution(rc: RequestCase, ctx: CaseContext): Promise<string | undefined> {
  const total = 500;
  const tolerance = 0.15;
  const path = rc.request.path;
  const mirrors = await Promise.all(
    (rc.mirroredTo ?? []).map(async (m) => ({ m, b: await ctx.pool.get(m.namespace, m.name) })),
  );
  const count = (b: EchoBackend): number => b.seen.filter((x) => x.url === path).length;
  const before = mirrors.map(({ b }) => count(b));
  for (let i = 0; i < total; i++) {
    const res = await send(ctx.router.portFor(rc.port ?? 80), rc, ctx.secrets);
    const f = compareRoundTrip(rc, res);
    if (f !== undefined) return `request ${i + 1} of ${total}: ${f}`;
  }
  // mirrors are sent without waiting for them: wait until the counts stop moving (bounded)
  let last = -1;
  for (let n = 0; n < 40; n++) {
    const now = mirrors.reduce((sum, { b }) => sum + count(b), 0);
    if (now === last) break;
    last = now;
    await new Promise((r) => setTimeout(r, 50));
  }
  for (const [i, { m, b }] of mirrors.entries()) {
    const got = count(b) - before[i]!;
    const want = (total * (m.percent ?? 100)) / 100;
    if (got < want * (1 - tolerance) || got > want * (1 + tolerance))
      return `${m.namespace}/${m.name} got ${got} of ${total} mirrored, expected ${want} ±15 %`;
  }
  return undefined;
}

async function weighted(w: WeightCheck, ctx: CaseContext): Promise<string[]> {
  const failures: string[] = [];
  const total = w.total ?? 500;
  const tolerance = w.tolerance ?? 0.05;
  const counts = new Map<string, number>();
  for (let i = 0; i < total; i++) {
    const rc: RequestCase = {
      ...w.request,
      request: {
        ...w.request.request,
        headers: { ...w.request.request.headers, 'X-Jitter': String(i) },
      },
    };
    try {
      if (rc.grpc !== undefined) {
        // grpc.AddEntropy: a random metadata value per call
        const a = await grpcCall(ctx.router.portFor(rc.port ?? 80), rc.grpc.method, {
          ...rc.grpc,
          metadata: { ...rc.grpc.metadata, 'x-jitter': String(i) },
        });
        if (a.code !== 0) return [`weighted distribution: gRPC code ${a.code}`];
        const pod = (a.pod ?? '').replace(/-pod$/, '');
        counts.set(pod, (counts.get(pod) ?? 0) + 1);
        continue;
      }
      const res = await send(ctx.router.portFor(rc.port ?? 80), rc, ctx.secrets);
      const f = compareRoundTrip(rc, res);
      if (f !== undefined) return [`weighted distribution: ${f}`];
      const pod = (JSON.parse(res.body) as { pod: string }).pod.replace(/-pod$/, '');
      counts.set(pod, (counts.get(pod) ?? 0) + 1);
    } catch (err) {
      return [`weighted distribution: ${(err as Error).message}`];
    }
  }
  for (const [backend, share] of Object.entries(w.weights)) {
    const got = (counts.get(backend) ?? 0) / total;
    if (Math.abs(got - share) > tolerance)
      failures.push(
        `weighted distribution: ${backend} got ${got.toFixed(3)}, expected ${share} ±${tolerance}`,
      );
  }
  for (const [backend, n] of counts)
    if (!(backend in w.weights))
      failures.push(`weighted distribution: unexpected backend ${backend} (${n})`);
  return failures;
}
