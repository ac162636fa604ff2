/*
 * UDP routers and services of the dynamic configuration (`udp.*`), in
 * Traefik v3's shape (pkg/config/dynamic/udp_config.go). A UDP router has no
 * rule: it takes every datagram of its entry points. The element types of
 * src/config/dynamic.ts are derived from these.
 */
import { Arr, Int, Obj, Str, StrList, type Static, type TSchema } from './core.js';

export const UdpRouter = Obj(
  {
    entryPoints: StrList({ description: 'udp entry points this router listens on (default: all)' }),
    service: Str({ description: 'the udp service datagrams go to, by name' }),
  },
  {
    required: ['service'],
    description: 'a UDP router (no rule: every datagram of its entry points)',
  },
);

export const UdpServer = Obj(
  { address: Str({ description: 'host:port of the server ([ipv6]:port)' }) },
  { required: ['address'] },
);

export const UdpLoadBalancer = Obj(
  { servers: Arr(UdpServer, { description: 'the servers' }) },
  { description: 'load-balances sessions over servers (round robin)' },
);

export const UdpWeighted = Obj(
  {
    services: Arr(
      Obj(
        {
          name: Str({ description: 'service name' }),
          weight: Int({ description: 'relative weight', default: 1, min: 0 }),
        },
        { required: ['name'] },
      ),
      { nonEmpty: true, description: 'the weighted services' },
    ),
  },
  { required: ['services'], description: 'splits sessions between udp services by weight' },
);

export const UDP_SERVICE_TYPES = ['loadBalancer', 'weighted'] as const;

export const UdpService = Obj(
  { loadBalancer: UdpLoadBalancer, weighted: UdpWeighted },
  { description: 'a udp service: exactly one of loadBalancer, weighted' },
);

export const UdpServiceElement: TSchema = { ...UdpService, minProperties: 1, maxProperties: 1 };

/** UDP services as Docker labels write them: the container is the one server, `server.port`. */
export const LabelUdpService = Obj(
  {
    loadBalancer: Obj(
      {
        server: Obj(
          { port: Int({ description: 'container port', min: 1, max: 65535 }) },
          {
            removed: {
              address:
                "the address is the container's; set loadbalancer.server.port (Traefik has no address label)",
            },
          },
        ),
      },
      {
        removed: {
          servers: 'labels describe one server per container: loadbalancer.server.port',
        },
      },
    ),
  },
  {
    removed: {
      weighted: 'weighted udp services cannot be defined with labels (as in Traefik); use a file',
    },
  },
);

export type UdpRouterConfig = Static<typeof UdpRouter>;
export type UdpServiceConfig = Static<typeof UdpService>;
export type UdpServerConfig = Static<typeof UdpServer>;
export type UdpLoadBalancerConfig = Static<typeof UdpLoadBalancer>;
export type UdpWeightedConfig = Static<typeof UdpWeighted>;
