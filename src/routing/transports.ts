/*
 * serversTransports: the default transport from the static configuration and
 * each named one from the dynamic configuration, resolved to the settings the
 * upstream pools are keyed by. A broken transport is recorded and left out;
 * services that name it fail with its reason.
 */
import type { ElementError, ServersTransportConfig } from '../config/dynamic.js';
import type { ServersTransportDefaults } from '../config/static-types.js';
import { parseGoDuration } from '../kernel/duration.js';
import { transportKey, type TransportSettings } from '../proxy/transport.js';
import { errorMessage } from './elements.js';

export const DEFAULT_TRANSPORT = 'default@internal';

export interface TransportSet {
  readonly defaultTransport: TransportSettings;
  /** the settings for a service's `serversTransport` (undefined: the default); throws when missing or broken */
  resolve(name: string | undefined): TransportSettings;
}

function defaultSettings(d: ServersTransportDefaults): TransportSettings {
  const s: TransportSettings = {
    name: DEFAULT_TRANSPORT,
    key: '',
    dialTimeoutMs: d.forwardingTimeouts.dialTimeoutMs,
    responseHeaderTimeoutMs: d.forwardingTimeouts.responseHeaderTimeoutMs,
    idleConnTimeoutMs: d.forwardingTimeouts.idleConnTimeoutMs,
    maxConnsPerHost: d.maxIdleConnsPerHost,
    insecureSkipVerify: d.insecureSkipVerify,
    rootCAs: d.rootCAs,
    serverName: undefined,
  };
  s.key = transportKey(s);
  return s;
}

/** One named transport; unset fields inherit the default transport's (so does a bad duration: the validator reports it). */
function namedSettings(
  name: string,
  t: ServersTransportConfig,
  base: TransportSettings,
): TransportSettings {
  const ft = t.forwardingTimeouts ?? {};
  const s: TransportSettings = {
    name,
    key: '',
    dialTimeoutMs: parseGoDuration(ft.dialTimeout, base.dialTimeoutMs),
    responseHeaderTimeoutMs: parseGoDuration(
      ft.responseHeaderTimeout,
      base.responseHeaderTimeoutMs,
    ),
    idleConnTimeoutMs: parseGoDuration(ft.idleConnTimeout, base.idleConnTimeoutMs),
    maxConnsPerHost: t.maxIdleConnsPerHost ?? base.maxConnsPerHost,
    insecureSkipVerify: t.insecureSkipVerify ?? base.insecureSkipVerify,
    rootCAs: t.rootCAs ?? base.rootCAs,
    serverName: t.serverName,
  };
  s.key = transportKey(s);
  return s;
}

/** Builds every transport; failures go to `errors` (kind `serversTransport`). */
export function buildTransports(
  configs: Record<string, ServersTransportConfig>,
  defaults: ServersTransportDefaults,
  errors: ElementError[],
): TransportSet {
  const defaultTransport = defaultSettings(defaults);
  const transports = new Map<string, TransportSettings>();
  const failures = new Map<string, string>();
  for (const [name, t] of Object.entries(configs)) {
    try {
      transports.set(name, namedSettings(name, t, defaultTransport));
    } catch (err) {
      failures.set(name, errorMessage(err));
      errors.push({ kind: 'serversTransport', name, message: errorMessage(err) });
    }
  }
  return {
    defaultTransport,
    resolve(name) {
      if (name === undefined || name === DEFAULT_TRANSPORT) return defaultTransport;
      const found = transports.get(name);
      if (found !== undefined) return found;
      const why = failures.get(name);
      throw new Error(
        why
          ? `serversTransport "${name}" is invalid: ${why}`
          : `serversTransport "${name}" does not exist`,
      );
    },
  };
}
