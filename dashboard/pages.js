/*
 * The dashboard's pages. Each page builds its skeleton once and re-renders
 * only its live parts on store updates, so a search box keeps its focus and
 * text while the lists refresh underneath it.
 */
import {
  h,
  clear,
  badge,
  objLink,
  errorList,
  json,
  table,
  dl,
  fmtTime,
  fmtClock,
  fmtNum,
  section,
  empty,
} from './dom.js';
import { store, getJSON } from './store.js';
import { chart, METRICS, routerCharts, summary, noTraffic } from './charts.js';

/**
 * Element kinds by route. HTTP keeps its short routes (#/routers); TCP and UDP
 * ones are prefixed (#/tcp/routers, #/udp/services), as in Traefik's
 * dashboard, and read Traefik's /api/tcp/* and /api/udp/* lists. UDP has no
 * middlewares.
 */
const PROTOCOLS = {
  http: { title: 'HTTP', bases: ['routers', 'services', 'middlewares'] },
  tcp: { title: 'TCP', bases: ['routers', 'services', 'middlewares'] },
  udp: { title: 'UDP', bases: ['routers', 'services'] },
};

const BASES = {
  routers: { title: 'Routers', singular: 'router' },
  services: { title: 'Services', singular: 'service' },
  middlewares: { title: 'Middlewares', singular: 'middleware' },
};

function kindOf(proto, base) {
  return proto === 'http' ? base : `${proto}/${base}`;
}

const KINDS = {};
for (const [proto, p] of Object.entries(PROTOCOLS)) {
  for (const base of p.bases) {
    const b = BASES[base];
    const prefix = proto === 'http' ? '' : `${p.title} `;
    KINDS[kindOf(proto, base)] = {
      proto,
      base,
      // the store's list: routers, tcpRouters, udpServices…
      store: proto === 'http' ? base : `${proto}${b.title}`,
      title: prefix ? `${prefix}${base}` : b.title,
      noun: `${prefix}${base}`,
      // in running text: "router", "TCP router"
      word: `${prefix}${b.singular}`,
      singular: prefix
        ? `${prefix}${b.singular}`
        : b.singular[0].toUpperCase() + b.singular.slice(1),
    };
  }
}

function itemsOf(kind) {
  const list = store[KINDS[kind].store];
  return Array.isArray(list) ? list : [];
}

/** list filters survive navigation (back to the list keeps the search) */
const filters = Object.fromEntries(Object.keys(KINDS).map((k) => [k, { q: '', status: '' }]));

function title(text, ...extra) {
  return h('h1', { tabindex: '-1' }, text, extra);
}

function loadingOr(node) {
  if (store.loadError)
    return h('p', { class: 'alert', role: 'alert' }, `API unreachable: ${store.loadError}`);
  if (!store.loaded) return h('p', { class: 'muted' }, 'Loading…');
  return node();
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function code(text) {
  return h('code', null, text);
}

function commaLinks(kind, names) {
  const list = Array.isArray(names) ? names : [];
  if (list.length === 0) return '—';
  return list.flatMap((n, i) => (i === 0 ? [objLink(kind, n)] : [', ', objLink(kind, n)]));
}

function findByName(kind, name) {
  return itemsOf(kind).find((o) => o.name === name);
}

/** HTTP servers have a url, TCP and UDP ones an address; only checked servers have a health */
function serverRows(service, proto) {
  const status = service?.serverStatus ?? {};
  const addrs = new Set(Object.keys(status));
  for (const s of service?.loadBalancer?.servers ?? []) {
    const a = s && (s.url ?? s.address);
    if (a) addrs.add(a);
  }
  const unknown = () => (proto === 'http' ? badge('unknown') : h('span', { class: 'muted' }, '—'));
  return [...addrs].map((a) => [code(a), status[a] ? badge(status[a]) : unknown()]);
}

function serversTable(service, proto = 'http') {
  const rows = serverRows(service, proto);
  if (rows.length === 0) return empty('No servers listed for this service.');
  return table('Servers', [proto === 'http' ? 'URL' : 'Address', 'Health'], rows, {
    class: 'servers',
  });
}

/** how a TCP router treats TLS: not at all, terminated here, or passed through to the service */
function tlsMode(tls) {
  if (!tls) return '—';
  return tls.passthrough ? 'passthrough' : 'terminated';
}

// ---------------------------------------------------------------------------
// Overview

function countCard(kind, label, counts) {
  const c = counts ?? { total: 0, warnings: 0, errors: 0 };
  const ok = Math.max(0, (c.total ?? 0) - (c.warnings ?? 0) - (c.errors ?? 0));
  const href = (status) => `#/${kind}${status ? `?status=${status}` : ''}`;
  return h(
    'section',
    { class: 'card', 'aria-label': label, 'data-card': kind },
    h('h3', null, h('a', { href: href('') }, label)),
    h('p', { class: 'big' }, String(c.total ?? 0)),
    h(
      'ul',
      { class: 'counts' },
      h('li', { class: 'count-ok' }, h('a', { href: href('enabled') }, `${ok} enabled`)),
      h(
        'li',
        { class: 'count-warn' },
        h('a', { href: href('warning') }, plural(c.warnings ?? 0, 'warning')),
      ),
      h(
        'li',
        { class: 'count-err' },
        h('a', { href: href('disabled') }, plural(c.errors ?? 0, 'error')),
      ),
    ),
  );
}

function entrypointsTable() {
  if (store.entrypoints.length === 0) return empty('No entrypoints.');
  return table(
    'Entrypoints',
    ['Name', 'Address', 'TLS', 'Redirect', 'Middlewares'],
    store.entrypoints.map((e) => [
      e.name,
      code(e.address ?? ''),
      e.http?.tls ? 'yes' : 'no',
      e.http?.redirections?.entryPoint
        ? `→ ${e.http.redirections.entryPoint.to} (${e.http.redirections.entryPoint.scheme ?? 'https'})`
        : '—',
      commaLinks('middlewares', e.http?.middlewares),
    ]),
  );
}

function featureList(features) {
  const f = features ?? {};
  const item = (name, v) =>
    h(
      'li',
      null,
      h('span', { class: `feature ${v ? 'feature-on' : 'feature-off'}` }, name),
      ' ',
      v ? (v === true ? 'on' : String(v)) : 'off',
    );
  return h(
    'ul',
    { class: 'features' },
    item('Tracing', f.tracing),
    item('Metrics', f.metrics),
    item('Access log', f.accessLog),
  );
}

/** "2 routers, 1 service, 0 middlewares; TCP: 3 routers…" (TCP and UDP only when the provider has some) */
function providerObjects(p) {
  const counts = (c, bases) => bases.map((b) => plural(c?.[b] ?? 0, BASES[b].singular)).join(', ');
  const parts = [counts(p, PROTOCOLS.http.bases)];
  if (p.tcp) parts.push(`TCP: ${counts(p.tcp, PROTOCOLS.tcp.bases)}`);
  if (p.udp) parts.push(`UDP: ${counts(p.udp, PROTOCOLS.udp.bases)}`);
  return parts.join('; ');
}

function providersSummary() {
  if (store.providers.length === 0) return empty('No providers.');
  return h(
    'ul',
    { class: 'plain' },
    store.providers.map((p) =>
      h(
        'li',
        null,
        badge(p.status),
        ' ',
        h('a', { href: '#/providers' }, p.name),
        ` — ${providerObjects(p)}`,
      ),
    ),
  );
}

function busiest() {
  if (store.trafficAvailable === false) return noTraffic();
  const rows = [...store.traffic.entries()]
    .map(([name, samples]) => ({ name, ...summary(samples) }))
    .filter((r) => r.requests > 0)
    .sort((a, b) => b.requests - a.requests)
    .slice(0, 5);
  if (rows.length === 0) return empty('No requests in the last minute.');
  return table(
    'Busiest routers',
    ['Router', 'Req/min', 'Error rate'],
    rows.map((r) => [
      objLink('routers', r.name),
      String(r.requests),
      r.errorRate === null ? '—' : `${fmtNum(r.errorRate)} %`,
    ]),
  );
}

/** one row of count cards per protocol, as Traefik's dashboard groups them */
function protocolCards(proto, counts, ...extra) {
  const p = PROTOCOLS[proto];
  const id = `overview-${proto}`;
  return h(
    'section',
    { class: 'protocol', 'aria-labelledby': id, 'data-protocol': proto },
    h('h2', { id }, p.title),
    h(
      'div',
      { class: 'cards' },
      p.bases.map((base) => {
        const kind = kindOf(proto, base);
        return countCard(kind, KINDS[kind].title, counts?.[base]);
      }),
      extra,
    ),
  );
}

function overviewPage() {
  const body = h('div');
  const render = () => {
    clear(body).append(
      loadingOr(() => {
        const o = store.overview ?? {};
        return h(
          'div',
          null,
          protocolCards('http', o.http, countCard('certificates', 'Certificates', o.certificates)),
          protocolCards('tcp', o.tcp),
          protocolCards('udp', o.udp),
          h(
            'div',
            { class: 'grid2' },
            section('Entrypoints', entrypointsTable()),
            section('Providers', providersSummary()),
            section('Features', featureList(o.features)),
            section('Busiest routers', busiest()),
          ),
          section(
            'Recent changes',
            timelineList(store.events.slice(0, 5)),
            h('p', null, h('a', { href: '#/timeline' }, 'Full timeline')),
          ),
        );
      }),
    );
  };
  render();
  return { el: h('div', null, title('Overview'), body), update: render };
}

// ---------------------------------------------------------------------------
// Lists

function matches(item, q) {
  if (q === '') return true;
  const hay = [item.name, item.rule, item.type, item.provider, item.service]
    .filter((v) => typeof v === 'string')
    .join('\n')
    .toLowerCase();
  return q
    .toLowerCase()
    .split(/\s+/)
    .filter(Boolean)
    .every((w) => hay.includes(w));
}

function nameCell(kind, item) {
  return h('td', { class: 'name-cell' }, objLink(kind, item.name), errorList(item.error));
}

function rowFor(kind, item) {
  const { proto, base } = KINDS[kind];
  const cells = [h('td', null, badge(item.status)), nameCell(kind, item)];
  if (base === 'routers') {
    // a UDP router has no rule: every datagram of its entrypoints
    if (proto !== 'udp') cells.push(h('td', null, code(item.rule ?? '')));
    cells.push(
      h('td', null, (item.using?.length ? item.using : (item.entryPoints ?? [])).join(', ') || '—'),
    );
    if (proto === 'tcp') cells.push(h('td', { class: 'tls-mode' }, tlsMode(item.tls)));
    cells.push(
      h('td', null, item.service ? objLink(kindOf(proto, 'services'), item.service) : '—'),
    );
  } else if (base === 'services') {
    const st = Object.values(item.serverStatus ?? {});
    const up = st.filter((s) => s === 'UP').length;
    const servers = item.loadBalancer?.servers?.length ?? 0;
    cells.push(
      h('td', null, item.type ?? '—'),
      h(
        'td',
        null,
        st.length
          ? `${up}/${st.length} UP`
          : proto !== 'http' && servers > 0
            ? plural(servers, 'server')
            : '—',
      ),
      h('td', null, commaLinks(kindOf(proto, 'routers'), item.usedBy)),
    );
  } else {
    cells.push(
      h('td', null, item.type ?? '—'),
      h('td', null, commaLinks(kindOf(proto, 'routers'), item.usedBy)),
    );
  }
  cells.push(h('td', null, item.provider ?? ''));
  return h('tr', { 'data-name': item.name, class: `status-${item.status}` }, cells);
}

const HEADERS = {
  routers: ['Status', 'Name', 'Rule', 'Entrypoints', 'Service', 'Provider'],
  services: ['Status', 'Name', 'Type', 'Servers', 'Used by', 'Provider'],
  middlewares: ['Status', 'Name', 'Type', 'Used by', 'Provider'],
  'tcp/routers': ['Status', 'Name', 'Rule', 'Entrypoints', 'TLS', 'Service', 'Provider'],
  'tcp/services': ['Status', 'Name', 'Type', 'Servers', 'Used by', 'Provider'],
  'tcp/middlewares': ['Status', 'Name', 'Type', 'Used by', 'Provider'],
  'udp/routers': ['Status', 'Name', 'Entrypoints', 'Service', 'Provider'],
  'udp/services': ['Status', 'Name', 'Type', 'Servers', 'Used by', 'Provider'],
};

/** Routers | Services | Middlewares of one protocol */
function protocolTabs(kind) {
  const { proto, base } = KINDS[kind];
  const p = PROTOCOLS[proto];
  return h(
    'nav',
    { class: 'tabs', 'aria-label': `${p.title} elements` },
    h(
      'ul',
      null,
      p.bases.map((b) =>
        h(
          'li',
          null,
          h(
            'a',
            { href: `#/${kindOf(proto, b)}`, 'aria-current': b === base ? 'page' : null },
            BASES[b].title,
          ),
        ),
      ),
    ),
  );
}

function listPage(kind, query) {
  const f = filters[kind];
  const k = KINDS[kind];
  if (query.has('status')) f.status = query.get('status');
  if (query.has('search')) f.q = query.get('search');
  const slug = kind.replace('/', '-');
  const id = `search-${slug}`;
  const search = h('input', {
    id,
    type: 'search',
    value: f.q,
    placeholder:
      k.base !== 'routers'
        ? 'name, type…'
        : k.proto === 'udp'
          ? 'name, service…'
          : 'name, rule, service…',
    autocomplete: 'off',
    spellcheck: 'false',
  });
  const statusSel = h(
    'select',
    { id: `status-${slug}` },
    [
      ['', 'All'],
      ['enabled', 'Enabled'],
      ['warning', 'Warnings'],
      ['disabled', 'Errors'],
    ].map(([v, t]) => h('option', { value: v, selected: f.status === v }, t)),
  );
  const count = h('p', { class: 'muted count', 'aria-live': 'polite' });
  const body = h('div');
  const render = () => {
    clear(body).append(
      loadingOr(() => {
        const all = itemsOf(kind);
        const items = all.filter(
          (i) => (f.status === '' || i.status === f.status) && matches(i, f.q),
        );
        count.textContent = `${items.length} of ${all.length}`;
        if (items.length === 0)
          return empty(all.length === 0 ? `No ${k.noun}.` : `No ${k.noun} match.`);
        return table(
          k.title,
          HEADERS[kind],
          items.map((i) => rowFor(kind, i)),
          { class: `list list-${slug}` },
        );
      }),
    );
  };
  search.addEventListener('input', () => {
    f.q = search.value.trim();
    render();
  });
  statusSel.addEventListener('change', () => {
    f.status = statusSel.value;
    render();
  });
  render();
  const controls = h(
    'div',
    { class: 'controls', role: 'search' },
    h('label', { for: id }, 'Search'),
    search,
    h('label', { for: `status-${slug}` }, 'Status'),
    statusSel,
    count,
  );
  return {
    el: h('div', null, title(k.title), protocolTabs(kind), controls, body),
    update: (what) => {
      if (what === 'data') render();
    },
    focus: search,
  };
}

// ---------------------------------------------------------------------------
// Details

function missing(kind, name) {
  return h(
    'div',
    null,
    title(name),
    h(
      'p',
      { class: 'alert', role: 'alert' },
      `${KINDS[kind].singular} ${name} does not exist (any more).`,
    ),
    h('p', null, h('a', { href: `#/${kind}` }, `All ${KINDS[kind].noun}`)),
  );
}

function detailHeader(kind, item) {
  return [
    h('p', { class: 'crumbs' }, h('a', { href: `#/${kind}` }, KINDS[kind].title), ' / '),
    title(item.name, ' ', badge(item.status)),
    item.error?.length
      ? h('div', { class: 'alert', role: 'alert' }, h('h2', null, 'Errors'), errorList(item.error))
      : null,
  ];
}

function middlewareChain(names, kind = 'middlewares') {
  const list = Array.isArray(names) ? names : [];
  if (list.length === 0) return empty('No middlewares.');
  return h(
    'ol',
    { class: 'chain' },
    list.map((n) => {
      const m = findByName(kind, n);
      return h(
        'li',
        null,
        objLink(kind, n),
        m
          ? [' ', h('span', { class: 'muted' }, m.type ?? ''), ' ', badge(m.status)]
          : [' ', badge('unknown')],
      );
    }),
  );
}

function routerFacts(r, proto) {
  if (proto === 'udp')
    return [
      ['Entrypoints', (r.entryPoints ?? []).join(', ')],
      ['Served on', (r.using ?? []).join(', ') || 'none'],
      ['Provider', r.provider ?? ''],
    ];
  return [
    ['Rule', code(r.rule ?? '')],
    ['Priority', String(r.priority ?? '')],
    ['Entrypoints', (r.entryPoints ?? []).join(', ')],
    ['Served on', (r.using ?? []).join(', ') || 'none'],
    // TCP: passthrough hands the TLS bytes to the service; otherwise Portico terminates TLS
    ['TLS', r.tls ? (proto === 'tcp' ? [tlsMode(r.tls), ' ', json(r.tls)] : json(r.tls)) : 'no'],
    ['Provider', r.provider ?? ''],
  ];
}

function routerPage(name, kind = 'routers') {
  const { proto } = KINDS[kind];
  const svcKind = kindOf(proto, 'services');
  const body = h('div');
  // traffic is recorded per HTTP router only
  const charts = proto === 'http' ? h('div', { class: 'charts-wrap' }) : null;
  const renderCharts = () =>
    charts && clear(charts).append(routerCharts(store.traffic.get(name), store.trafficAvailable));
  const render = () => {
    clear(body).append(
      loadingOr(() => {
        const r = findByName(kind, name);
        if (!r) return missing(kind, name);
        const svc = r.service ? findByName(svcKind, r.service) : undefined;
        return h(
          'div',
          null,
          detailHeader(kind, r),
          h(
            'div',
            { class: 'grid2' },
            section(KINDS[kind].singular, dl(routerFacts(r, proto))),
            proto === 'udp'
              ? null
              : section(
                  'Middlewares',
                  middlewareChain(r.middlewares, kindOf(proto, 'middlewares')),
                ),
            section(
              'Service',
              r.service
                ? h(
                    'p',
                    { class: 'svc' },
                    objLink(svcKind, r.service),
                    ' ',
                    svc ? badge(svc.status) : badge('unknown'),
                    svc?.type ? h('span', { class: 'muted' }, ` ${svc.type}`) : null,
                  )
                : empty('No service.'),
              svc ? serversTable(svc, proto) : null,
              svc?.error?.length ? errorList(svc.error) : null,
            ),
          ),
        );
      }),
    );
  };
  render();
  renderCharts();
  return {
    el: h('div', null, body, charts ? section('Traffic', charts) : null),
    update: (what) => {
      if (what === 'data') render();
      if (what === 'traffic') renderCharts();
    },
  };
}

const META = new Set([
  'name',
  'provider',
  'status',
  'error',
  'usedBy',
  'serverStatus',
  'type',
  'using',
  'priorityStr',
]);

function configOf(item) {
  const out = {};
  for (const [k, v] of Object.entries(item)) if (!META.has(k)) out[k] = v;
  return out;
}

function servicePage(name, kind = 'services') {
  const { proto } = KINDS[kind];
  const body = h('div');
  const render = () => {
    clear(body).append(
      loadingOr(() => {
        const s = findByName(kind, name);
        if (!s) return missing(kind, name);
        const config = configOf(s);
        return h(
          'div',
          null,
          detailHeader(kind, s),
          h(
            'div',
            { class: 'grid2' },
            section(
              'Service',
              dl([
                ['Type', s.type ?? ''],
                ['Provider', s.provider ?? ''],
                ['Used by', commaLinks(kindOf(proto, 'routers'), s.usedBy)],
              ]),
            ),
            section('Servers', serversTable(s, proto)),
          ),
          Object.keys(config).length ? section('Configuration', json(config)) : null,
        );
      }),
    );
  };
  render();
  return { el: body, update: (w) => w === 'data' && render() };
}

function middlewarePage(name, kind = 'middlewares') {
  const { proto } = KINDS[kind];
  const body = h('div');
  const render = () => {
    clear(body).append(
      loadingOr(() => {
        const m = findByName(kind, name);
        if (!m) return missing(kind, name);
        const config = configOf(m);
        const key = Object.keys(config).find(
          (k) => k.toLowerCase() === String(m.type ?? '').toLowerCase(),
        );
        return h(
          'div',
          null,
          detailHeader(kind, m),
          section(
            'Middleware',
            dl([
              ['Type', m.type ?? ''],
              ['Provider', m.provider ?? ''],
              ['Used by', commaLinks(kindOf(proto, 'routers'), m.usedBy)],
            ]),
          ),
          section('Options', json(key ? config[key] : config)),
        );
      }),
    );
  };
  render();
  return { el: body, update: (w) => w === 'data' && render() };
}

// ---------------------------------------------------------------------------
// Providers and certificates

function providersPage() {
  const body = h('div');
  const render = () => {
    clear(body).append(
      loadingOr(() => {
        if (store.providers.length === 0) return empty('No providers.');
        // one node: Element.append would print an array as "[object HTMLElement]"
        return h(
          'div',
          null,
          store.providers.map((p) =>
            h(
              'section',
              { class: 'panel', 'data-provider': p.name },
              h('h2', null, p.name, ' ', badge(p.status)),
              dl([
                ['Last update', fmtTime(p.lastUpdate)],
                ['Last change', fmtTime(p.lastChange)],
                ['Objects', providerObjects(p)],
              ]),
              h('h3', null, 'Errors'),
              p.errors?.length
                ? table(
                    'Errors',
                    ['Kind', 'Name', 'Field', 'Message'],
                    p.errors.map((e) => [
                      e.kind ?? '',
                      e.name ?? '',
                      e.field ? code(e.field) : '—',
                      h('span', { class: 'err-text' }, e.message ?? ''),
                    ]),
                  )
                : empty('No errors.'),
              h('h3', null, 'Diagnostics'),
              p.diagnostics?.length
                ? table(
                    'Diagnostics',
                    ['Level', 'Object', 'Field', 'Value', 'Message'],
                    p.diagnostics.map((d) => [
                      badge(d.level === 'error' ? 'error' : 'warning'),
                      d.object ?? '',
                      code(d.field ?? ''),
                      d.value === undefined ? '—' : code(d.value),
                      d.message ?? '',
                    ]),
                  )
                : empty('No diagnostics.'),
            ),
          ),
        );
      }),
    );
  };
  render();
  return { el: h('div', null, title('Providers'), body), update: (w) => w === 'data' && render() };
}

function daysCell(c) {
  if (typeof c.daysLeft !== 'number') return h('td', null, c.pending ? 'pending' : '—');
  const cls = c.daysLeft < 0 ? 'days-expired' : c.daysLeft < 30 ? 'days-warn' : 'days-ok';
  return h(
    'td',
    { class: cls },
    c.daysLeft < 0 ? `expired ${-c.daysLeft} d ago` : `${c.daysLeft} d`,
  );
}

function certificatesPage() {
  const body = h('div');
  const render = () => {
    clear(body).append(
      loadingOr(() => {
        if (store.certificates.length === 0) return empty('No certificates.');
        return table(
          'Certificates',
          [
            'Status',
            'Domains',
            'Days left',
            'Expires',
            'Issuer',
            'Source',
            'Resolver',
            'Last error',
          ],
          store.certificates.map((c) => [
            badge(c.status),
            (c.domains ?? []).join(', '),
            daysCell(c),
            fmtTime(c.notAfter),
            c.issuer ?? '—',
            c.source ?? '—',
            c.resolver ?? '—',
            c.lastError ? h('span', { class: 'err-text' }, c.lastError) : '—',
          ]),
          { class: 'certs' },
        );
      }),
    );
  };
  render();
  return {
    el: h('div', null, title('Certificates'), body),
    update: (w) => w === 'data' && render(),
  };
}

// ---------------------------------------------------------------------------
// Timeline

function diffLines(diff) {
  const lines = [];
  // HTTP elements at the top level; TCP and UDP ones under diff.tcp and diff.udp
  for (const kind of Object.keys(KINDS)) {
    const { proto, base } = KINDS[kind];
    const d = proto === 'http' ? diff?.[base] : diff?.[proto]?.[base];
    if (!d) continue;
    const label = ` ${KINDS[kind].word} `;
    for (const n of d.added ?? [])
      lines.push(
        h(
          'li',
          { class: 'diff-add' },
          h('span', { class: 'sign', 'aria-label': 'added' }, '+'),
          label,
          objLink(kind, n),
        ),
      );
    for (const n of d.removed ?? [])
      lines.push(
        h(
          'li',
          { class: 'diff-del' },
          h('span', { class: 'sign', 'aria-label': 'removed' }, '−'),
          label,
          h('del', null, n),
        ),
      );
    for (const c of d.changed ?? [])
      lines.push(
        h(
          'li',
          { class: 'diff-mod' },
          h('span', { class: 'sign', 'aria-label': 'changed' }, '~'),
          label,
          objLink(kind, c.name),
          c.fields?.length ? h('span', { class: 'muted' }, `: ${c.fields.join(', ')}`) : null,
        ),
      );
  }
  return lines;
}

function timelineItem(e) {
  const time = h('time', { datetime: e.time }, fmtClock(e.time));
  if (e.type === 'configuration') {
    const lines = diffLines(e.diff);
    return h(
      'li',
      { class: 'event event-config', 'data-event': e.id },
      h(
        'p',
        { class: 'event-head' },
        time,
        ' ',
        h('strong', null, `Configuration v${e.version}`),
        ' ',
        h('span', { class: 'muted' }, `${e.compileMs ?? '?'} ms`),
        e.errors ? [' ', h('span', { class: 'badge badge-err' }, plural(e.errors, 'error'))] : null,
      ),
      lines.length
        ? h('ul', { class: 'diff' }, lines)
        : h('p', { class: 'muted' }, 'no changes to routers, services or middlewares'),
    );
  }
  if (e.type === 'provider') {
    const errs = Array.isArray(e.errors) ? e.errors : [];
    return h(
      'li',
      { class: `event event-provider${errs.length ? ' event-error' : ''}`, 'data-event': e.id },
      h(
        'p',
        { class: 'event-head' },
        time,
        ' ',
        h('strong', null, `Provider ${e.provider}`),
        ' ',
        errs.length ? badge('error') : badge('ok'),
      ),
      errs.length
        ? errorList(
            errs.map(
              (x) =>
                `${x.kind ?? ''} ${x.name ?? ''}${x.field ? ` (${x.field})` : ''}: ${x.message ?? ''}`,
            ),
          )
        : h('p', { class: 'muted' }, 'errors cleared'),
    );
  }
  return h('li', { class: 'event' }, time, ' ', String(e.type));
}

function timelineList(events) {
  if (events.length === 0) return empty('No events yet.');
  return h('ol', { class: 'timeline', reversed: true }, events.map(timelineItem));
}

function timelinePage() {
  const body = h('div', { 'aria-live': 'polite' });
  const render = () => clear(body).append(timelineList(store.events));
  render();
  return {
    el: h(
      'div',
      null,
      title('Timeline'),
      h('p', { class: 'muted' }, 'Configuration changes and provider errors, newest first, live.'),
      body,
    ),
    update: (w) => w === 'events' && render(),
  };
}

// ---------------------------------------------------------------------------
// Traffic

function trafficPage() {
  const body = h('div');
  const render = () => {
    if (store.trafficAvailable === false) {
      clear(body).append(
        noTraffic(),
        h('p', { class: 'muted' }, 'The API has no traffic store (metrics are off).'),
      );
      return;
    }
    const names = new Set([
      ...store.traffic.keys(),
      ...store.routers.filter((r) => !r.name.endsWith('@internal')).map((r) => r.name),
    ]);
    const rows = [...names]
      .map((name) => ({
        name,
        samples: store.traffic.get(name) ?? [],
        ...summary(store.traffic.get(name)),
      }))
      .sort((a, b) => b.requests - a.requests || a.name.localeCompare(b.name));
    if (rows.length === 0) {
      clear(body).append(noTraffic());
      return;
    }
    clear(body).append(
      table(
        'Traffic per router',
        ['Router', 'Req/s', 'Req/min', 'Errors', 'p50', 'p99', 'Last 2 min'],
        rows.map((r) =>
          h(
            'tr',
            { 'data-name': r.name },
            h('td', null, objLink('routers', r.name)),
            h('td', { class: 'num' }, fmtNum(r.rps)),
            h('td', { class: 'num' }, String(r.requests)),
            h('td', { class: 'num' }, r.errorRate === null ? '—' : `${fmtNum(r.errorRate)} %`),
            h('td', { class: 'num' }, r.p50 === null ? '—' : `${fmtNum(r.p50)} ms`),
            h('td', { class: 'num' }, r.p99 === null ? '—' : `${fmtNum(r.p99)} ms`),
            h(
              'td',
              { class: 'spark-cell' },
              r.samples.length ? chart(r.samples, METRICS[0], { compact: true }) : '—',
            ),
          ),
        ),
        { class: 'traffic' },
      ),
    );
  };
  render();
  return {
    el: h(
      'div',
      null,
      title('Traffic'),
      h('p', { class: 'muted' }, 'Per router, one sample per second, live.'),
      body,
    ),
    update: (w) => (w === 'traffic' || w === 'data') && render(),
  };
}

// ---------------------------------------------------------------------------
// Explain

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

function explainResult(r) {
  const m = r.matched;
  return h(
    'div',
    { class: 'explain-result', 'data-testid': 'explain-result' },
    m
      ? section(
          'Matched',
          dl([
            ['Router', objLink('routers', m.router)],
            ['Rule', code(m.rule ?? '')],
            ['Priority', String(m.priority ?? '')],
            [
              'Middlewares',
              m.middlewares?.length ? commaLinks('middlewares', m.middlewares) : 'none',
            ],
            ['Service', m.service ? objLink('services', m.service) : '—'],
            [
              'Servers',
              m.servers?.length
                ? h(
                    'ul',
                    { class: 'plain' },
                    m.servers.map((s) => h('li', null, code(s.url ?? ''), ' ', badge(s.status))),
                  )
                : '—',
            ],
            ['Entrypoint', r.entryPoint ?? ''],
          ]),
        )
      : h(
          'p',
          { class: 'alert', role: 'alert' },
          `No router matches this request${r.entryPoint ? ` on entrypoint ${r.entryPoint}` : ''}: the client gets 404.`,
        ),
    r.candidates?.length
      ? section(
          'Candidates (by priority)',
          table(
            'Candidates',
            ['Router', 'Rule', 'Priority', 'Matched', 'Reason'],
            r.candidates.map((c) => [
              objLink('routers', c.router),
              code(c.rule ?? ''),
              String(c.priority ?? ''),
              c.matched ? 'yes' : 'no',
              c.reason ?? '',
            ]),
          ),
        )
      : null,
    r.disabled?.length
      ? section(
          'Disabled routers (not considered)',
          h(
            'ul',
            { class: 'plain' },
            r.disabled.map((d) => h('li', null, objLink('routers', d.router), errorList(d.errors))),
          ),
        )
      : null,
    r.notes?.length
      ? section(
          'Notes',
          h(
            'ul',
            null,
            r.notes.map((n) => h('li', null, n)),
          ),
        )
      : null,
  );
}

function explainPage(query) {
  const url = h('input', {
    id: 'explain-url',
    type: 'url',
    required: true,
    value: query.get('url') ?? '',
    placeholder: 'http://example.com/path',
    size: 40,
  });
  const method = h(
    'select',
    { id: 'explain-method' },
    METHODS.map((m) =>
      h('option', { value: m, selected: (query.get('method') ?? 'GET') === m }, m),
    ),
  );
  const headers = h(
    'textarea',
    { id: 'explain-headers', rows: 2, placeholder: 'Name: value (one per line)' },
    query.getAll('header').join('\n'),
  );
  const out = h('div', { 'aria-live': 'polite' });
  const run = async () => {
    const q = new URLSearchParams({ url: url.value.trim(), method: method.value });
    for (const line of headers.value.split('\n'))
      if (line.includes(':')) q.append('header', line.trim());
    history.replaceState(null, '', `#/explain?${q}`);
    clear(out).append(h('p', { class: 'muted' }, 'Explaining…'));
    try {
      clear(out).append(explainResult(await getJSON(`explain?${q}`)));
    } catch (err) {
      clear(out).append(
        h('p', { class: 'alert', role: 'alert' }, err instanceof Error ? err.message : String(err)),
      );
    }
  };
  const form = h(
    'form',
    { class: 'explain-form' },
    h('div', { class: 'field' }, h('label', { for: 'explain-url' }, 'URL'), url),
    h('div', { class: 'field' }, h('label', { for: 'explain-method' }, 'Method'), method),
    h('div', { class: 'field' }, h('label', { for: 'explain-headers' }, 'Headers'), headers),
    h('button', { type: 'submit' }, 'Explain'),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    run();
  });
  if (url.value) run();
  return {
    el: h(
      'div',
      null,
      title('Explain'),
      h('p', { class: 'muted' }, 'Which router would serve a request, and why the others did not.'),
      form,
      out,
    ),
    focus: url,
  };
}

// ---------------------------------------------------------------------------

const DETAIL = { routers: routerPage, services: servicePage, middlewares: middlewarePage };

/** #/tcp/routers, #/tcp/routers/<name>, #/udp/services… */
function protocolPage(proto, rest, query) {
  const [base, ...names] = rest;
  const kind = kindOf(proto, base ?? 'routers');
  if (!KINDS[kind]) return null;
  const name = names.join('/');
  return name ? DETAIL[KINDS[kind].base](name, kind) : listPage(kind, query);
}

export function pageFor(path, query) {
  const [section, ...rest] = path;
  const name = rest.join('/');
  const page = section === 'tcp' || section === 'udp' ? protocolPage(section, rest, query) : null;
  if (page) return page;
  switch (section) {
    case undefined:
    case '':
      return overviewPage();
    case 'routers':
      return name ? routerPage(name) : listPage('routers', query);
    case 'services':
      return name ? servicePage(name) : listPage('services', query);
    case 'middlewares':
      return name ? middlewarePage(name) : listPage('middlewares', query);
    case 'providers':
      return providersPage();
    case 'certificates':
      return certificatesPage();
    case 'timeline':
      return timelinePage();
    case 'traffic':
      return trafficPage();
    case 'explain':
      return explainPage(query);
    default:
      return {
        el: h('div', null, title('Not found'), h('p', null, h('a', { href: '#/' }, 'Overview'))),
      };
  }
}
