/*
 * The access log's field names, as Traefik spells them. The static
 * configuration checks `accessLog.fields.names` against them (with a
 * did-you-mean), and the access log (src/observability/access-log.ts) writes
 * exactly these, its value table typed by this list so neither can drift.
 */

/** the JSON fields Portico writes, in line order */
export const ACCESS_LOG_FIELDS = [
  'ClientAddr',
  'ClientHost',
  'ClientPort',
  'ClientUsername',
  'DownstreamStatus',
  'DownstreamContentSize',
  'Duration',
  'OriginStatus',
  'OriginContentSize',
  'OriginDuration',
  'Overhead',
  'RequestAddr',
  'RequestHost',
  'RequestPort',
  'RequestMethod',
  'RequestPath',
  'RequestProtocol',
  'RequestLine',
  'RequestScheme',
  'RequestContentSize',
  'RequestCount',
  'RetryAttempts',
  'RouterName',
  'ServiceName',
  'ServiceURL',
  'ServiceAddr',
  'StartUTC',
  'StartLocal',
  'TLSVersion',
  'TLSCipher',
  'TraceId',
  'entryPointName',
  // Portico's: why the upstream exchange failed
  'OriginError',
] as const;

export type AccessLogField = (typeof ACCESS_LOG_FIELDS)[number];

/** Traefik field names Portico accepts in fields.names but never writes */
export const ACCESS_LOG_TRAEFIK_ONLY_FIELDS = [
  'OriginStatusLine',
  'DownstreamStatusLine',
  'GzipRatio',
  'TLSClientSubject',
  'KubernetesIngressNamespace',
  'KubernetesIngressName',
  'KubernetesServiceName',
  'KubernetesServicePort',
  'SpanId',
];
