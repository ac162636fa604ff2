/*
 * The dashboard's data: the API's lists fetched on start and again (debounced)
 * after every `configuration` event, the event timeline, and the live traffic
 * samples from the server-sent event stream. Pages subscribe and re-render.
 */

export const API = new URL('../api/', import.meta.url);

/** one-second samples kept per router for the charts (two minutes) */
const KEEP_SAMPLES = 120;
const KEEP_EVENTS = 200;
const REFRESH_DEBOUNCE_MS = 250;

export const store = {
  overview: null,
  routers: [],
  services: [],
  middlewares: [],
  tcpRouters: [],
  tcpServices: [],
  tcpMiddlewares: [],
  udpRouters: [],
  udpServices: [],
  providers: [],
  certificates: [],
  entrypoints: [],
  version: null,
  /** newest first */
  events: [],
  /** router name → samples (oldest first); null: the API has no traffic data */
  traffic: new Map(),
  trafficAvailable: undefined,
  /** connecting | live | reconnecting */
  connection: 'connecting',
  loadError: null,
  loaded: false,
};

const listeners = new Set();

/** kind: 'data' (lists changed), 'events', 'traffic', 'connection' */
export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function notify(kind) {
  for (const fn of listeners) {
    try {
      fn(kind);
    } catch (err) {
      console.error('dashboard: render failed', err);
    }
  }
}

export async function getJSON(path) {
  const res = await fetch(new URL(path, API), { headers: { accept: 'application/json' } });
  let body;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  if (!res.ok) {
    const err = new Error((body && body.message) || `${res.status} ${res.statusText}`);
    err.status = res.status;
    throw err;
  }
  return body;
}

const asArray = (v) => (Array.isArray(v) ? v : []);

export async function refresh() {
  try {
    // TCP and UDP lists as Traefik's API serves them (/api/tcp/*, /api/udp/*)
    const all = (path) => getJSON(`${path}?per_page=10000`).catch(() => []);
    const [
      overview,
      routers,
      services,
      middlewares,
      providers,
      certificates,
      entrypoints,
      tcpRouters,
      tcpServices,
      tcpMiddlewares,
      udpRouters,
      udpServices,
    ] = await Promise.all([
      getJSON('overview'),
      getJSON('http/routers?per_page=10000'),
      getJSON('http/services?per_page=10000'),
      getJSON('http/middlewares?per_page=10000'),
      getJSON('providers'),
      getJSON('certificates?per_page=10000').catch(() => []),
      getJSON('entrypoints'),
      all('tcp/routers'),
      all('tcp/services'),
      all('tcp/middlewares'),
      all('udp/routers'),
      all('udp/services'),
    ]);
    Object.assign(store, {
      overview,
      routers: asArray(routers),
      services: asArray(services),
      middlewares: asArray(middlewares),
      tcpRouters: asArray(tcpRouters),
      tcpServices: asArray(tcpServices),
      tcpMiddlewares: asArray(tcpMiddlewares),
      udpRouters: asArray(udpRouters),
      udpServices: asArray(udpServices),
      providers: asArray(providers),
      certificates: asArray(certificates),
      entrypoints: asArray(entrypoints),
      loadError: null,
      loaded: true,
    });
  } catch (err) {
    store.loadError = err instanceof Error ? err.message : String(err);
  }
  notify('data');
}

let refreshTimer;
function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refresh, REFRESH_DEBOUNCE_MS);
}

function addEvent(e) {
  if (!e || typeof e.id !== 'number') return false;
  if (store.events.some((x) => x.id === e.id)) return false;
  store.events.unshift(e);
  store.events.sort((a, b) => b.id - a.id);
  if (store.events.length > KEEP_EVENTS) store.events.length = KEEP_EVENTS;
  return true;
}

function pushSample(name, sample) {
  if (!sample || typeof sample !== 'object' || typeof sample.requests !== 'number') return;
  let list = store.traffic.get(name);
  if (!list) store.traffic.set(name, (list = []));
  const last = list[list.length - 1];
  if (last && typeof sample.t === 'number' && last.t === sample.t) list[list.length - 1] = sample;
  else list.push(sample);
  if (list.length > KEEP_SAMPLES) list.splice(0, list.length - KEEP_SAMPLES);
}

/** /api/traffic: {routers: [{name, samples: [...]}]} */
function seedTraffic(snapshot) {
  const routers = snapshot && Array.isArray(snapshot.routers) ? snapshot.routers : null;
  if (!routers) return false;
  for (const series of routers) {
    if (!series || typeof series.name !== 'string') continue;
    for (const s of asArray(series.samples).slice(-KEEP_SAMPLES)) pushSample(series.name, s);
  }
  return true;
}

/** an SSE traffic tick: {t, routers: {name: sample}} */
function onTick(tick) {
  const routers = tick && typeof tick === 'object' ? tick.routers : null;
  if (!routers || typeof routers !== 'object') return;
  store.trafficAvailable = true;
  const seen = new Set();
  for (const [name, sample] of Object.entries(routers)) {
    pushSample(name, sample);
    seen.add(name);
  }
  // a router with no sample this second had no request: chart a zero
  for (const [name, list] of store.traffic) {
    if (seen.has(name) || typeof tick.t !== 'number') continue;
    const last = list[list.length - 1];
    if (last && last.t < tick.t)
      pushSample(name, {
        t: tick.t,
        requests: 0,
        errors4xx: 0,
        errors5xx: 0,
        p50Ms: null,
        p99Ms: null,
      });
  }
  notify('traffic');
}

function setConnection(state) {
  if (store.connection === state) return;
  store.connection = state;
  notify('connection');
}

let source;

function connect(afterId) {
  const url = new URL('events', API);
  url.searchParams.set('traffic', '1');
  if (afterId > 0) url.searchParams.set('after', String(afterId));
  source = new EventSource(url);
  let opened = false;
  source.addEventListener('open', () => {
    // events missed while disconnected changed the lists: fetch them again
    if (opened) refreshSoon();
    opened = true;
    setConnection('live');
  });
  source.addEventListener('error', () => {
    // EventSource reconnects by itself (the server asks for 2 s), sending Last-Event-ID
    setConnection(source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting');
  });
  const parse = (msg) => {
    try {
      return JSON.parse(msg.data);
    } catch {
      return null;
    }
  };
  source.addEventListener('configuration', (msg) => {
    if (addEvent(parse(msg))) notify('events');
    refreshSoon();
  });
  source.addEventListener('provider', (msg) => {
    if (addEvent(parse(msg))) notify('events');
    refreshSoon();
  });
  source.addEventListener('traffic', (msg) => onTick(parse(msg)));
}

export async function start() {
  getJSON('version')
    .then((v) => {
      store.version = v;
      notify('data');
    })
    .catch(() => {});
  const [history, traffic] = await Promise.all([
    getJSON('events/history').catch(() => []),
    getJSON('traffic?window=120').catch(() => null),
    refresh(),
  ]);
  let last = 0;
  for (const e of asArray(history)) {
    addEvent(e);
    last = Math.max(last, e.id);
  }
  store.trafficAvailable = seedTraffic(traffic);
  notify('events');
  notify('traffic');
  connect(last);
}
