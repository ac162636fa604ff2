/*
 * The dynamic configuration as a whole (Traefik's file-provider shape:
 * `http`, `tls`, `tcp`, `udp`), for JSON Schema and the docs. Elements are
 * validated one by one (src/config/validate.ts) with the schemas of
 * http.ts, tls.ts, tcp.ts, udp.ts and middlewares/.
 */
import { Type } from '@sinclair/typebox';
import { Arr, HINT, Map, Obj, type TSchema } from './core.js';
import { Router, Service, ServersTransport } from './http.js';
import { TlsCertificate, TlsOptions, TlsStore } from './tls.js';
import { TcpMiddlewareElement, TcpRouter, TcpServersTransport, TcpServiceElement } from './tcp.js';
import { UdpRouter, UdpServiceElement } from './udp.js';
import { middlewareSchemas } from './middlewares/index.js';

/** A middleware element: exactly one type key, whose value is that type's options. */
export const Middleware: TSchema = Type.Unsafe<Record<string, unknown>>({
  type: 'object',
  description: 'a middleware: exactly one type key with its options',
  minProperties: 1,
  maxProperties: 1,
  additionalProperties: false,
  properties: Object.fromEntries(
    middlewareSchemas.map((m) => [m.type, { ...m.options, description: m.description }]),
  ),
  [HINT]: { kind: 'any' },
});

export const ServiceElement: TSchema = { ...Service, minProperties: 1, maxProperties: 1 };

export const DynamicConfiguration = Obj(
  {
    http: Obj(
      {
        routers: Map(Router, { description: 'routers by name' }),
        services: Map(ServiceElement, { description: 'services by name' }),
        middlewares: Map(Middleware, { description: 'middlewares by name' }),
        serversTransports: Map(ServersTransport, { description: 'servers transports by name' }),
      },
      { description: 'HTTP routing' },
    ),
    tls: Obj(
      {
        certificates: Arr(TlsCertificate, { description: 'certificates served by SNI' }),
        options: Map(TlsOptions, {
          description: 'TLS options by name (default: the default options)',
        }),
        stores: Map(TlsStore, { description: 'certificate stores by name (only default is used)' }),
      },
      { description: 'certificates, TLS options and stores' },
    ),
    tcp: Obj(
      {
        routers: Map(TcpRouter, { description: 'tcp routers by name' }),
        services: Map(TcpServiceElement, { description: 'tcp services by name' }),
        middlewares: Map(TcpMiddlewareElement, { description: 'tcp middlewares by name' }),
        serversTransports: Map(TcpServersTransport, {
          description: 'tcp servers transports by name',
        }),
      },
      { description: 'TCP routing (connections routed on SNI, ALPN and client IP)' },
    ),
    udp: Obj(
      {
        routers: Map(UdpRouter, { description: 'udp routers by name' }),
        services: Map(UdpServiceElement, { description: 'udp services by name' }),
      },
      { description: 'UDP routing' },
    ),
  },
  { description: "Portico's dynamic configuration: Traefik v3's file-provider format" },
);
