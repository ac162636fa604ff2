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

const KINDS = {
  routers: { title: 'Routers', singular: 'Router' },
  services: { title: 'Services', singular: 'Service' },
  middlewares: { title: 'Middlewares', singular: 'Middleware' },
};

/** list filters survive navigation (back to the list keeps the search) */
const filters = {
  routers: { q: '', status: '' },
  services: { q: '', status: '' },
  middlewares: { q: '', status: '' },
};

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
  return store[kind].find((o) => o.name === name);
}

function serverRows(service) {
  const status = service?.serverStatus ?? {};
  const urls = new Set(Object.keys(status));
  for (const s of service?.loadBalancer?.servers ?? []) if (s && s.url) urls.add(s.url);
  return [...urls].map((url) => [code(url), status[url] ? badge(status[url]) : badge('unknown')]);
}

function serversTable(service) {
  const rows = serverRows(service);
  if (rows.length === 0) return empty('No servers listed for this service.');
  return table('Servers', ['URL', 'Health'], rows, { class: 'servers' });
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
    h('h2', null, h('a', { href: href('') }, label)),
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
        ` — ${plural(p.routers ?? 0, 'router')}, ${plural(p.services ?? 0, 'service')}, ${plural(p.middlewares ?? 0, 'middleware')}`,
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

function overviewPage() {
  const body = h('div');
  const render = () => {
    clear(body).append(
      loadingOr(() => {
        const o = store.overview ?? {};
        return h(
          'div',
          null,
          h(
            'div',
            { class: 'cards' },
            countCard('routers', 'Routers', o.http?.routers),
            countCard('services', 'Services', o.http?.services),
            countCard('middlewares', 'Middlewares', o.http?.middlewares),
            countCard('certificates', 'Certificates', o.certificates),
          ),
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
  const cells = [h('td', null, badge(item.status)), nameCell(kind, item)];
  if (kind === 'routers') {
    cells.push(
      h('td', null, code(item.rule ?? '')),
      h('td', null, (item.using?.length ? item.using : (item.entryPoints ?? [])).join(', ') || '—'),
      h('td', null, item.service ? objLink('services', item.service) : '—'),
    );
  } else if (kind === 'services') {
    const st = Object.values(item.serverStatus ?? {});
    const up = st.filter((s) => s === 'UP').length;
    cells.push(
      h('td', null, item.type ?? '—'),
      h('td', null, st.length ? `${up}/${st.length} UP` : '—'),
      h('td', null, commaLinks('routers', item.usedBy)),
    );
  } else {
    cells.push(h('td', null, item.type ?? '—'), h('td', null, commaLinks('routers', item.usedBy)));
  }
  cells.push(h('td', null, item.provider ?? ''));
  return h('tr', { 'data-name': item.name, class: `status-${item.status}` }, cells);
}

const HEADERS = {
  routers: ['Status', 'Name', 'Rule', 'Entrypoints', 'Service', 'Provider'],
  services: ['Status', 'Name', 'Type', 'Servers', 'Used by', 'Provider'],
  middlewares: ['Status', 'Name', 'Type', 'Used by', 'Provider'],
};

function listPage(kind, query) {
  const f = filters[kind];
  if (query.has('status')) f.status = query.get('status');
  if (query.has('search')) f.q = query.get('search');
  const id = `search-${kind}`;
  const search = h('input', {
    id,
    type: 'search',
    value: f.q,
    placeholder: kind === 'routers' ? 'name, rule, service…' : 'name, type…',
    autocomplete: 'off',
    spellcheck: 'false',
  });
  const statusSel = h(
    'select',
    { id: `status-${kind}` },
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
        const items = store[kind].filter(
          (i) => (f.status === '' || i.status === f.status) && matches(i, f.q),
        );
        count.textContent = `${items.length} of ${store[kind].length}`;
        if (items.length === 0)
          return empty(store[kind].length === 0 ? `No ${kind}.` : `No ${kind} match.`);
        return table(
          KINDS[kind].title,
          HEADERS[kind],
          items.map((i) => rowFor(kind, i)),
          { class: `list list-${kind}` },
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
    h('label', { for: `status-${kind}` }, 'Status'),
    statusSel,
    count,
  );
  return {
    el: h('div', null, title(KINDS[kind].title), controls, body),
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
    h('p', null, h('a', { href: `#/${kind}` }, `All ${kind}`)),
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

function middlewareChain(names) {
  const list = Array.isArray(names) ? names : [];
  if (list.length === 0) return empty('No middlewares.');
  return h(
    'ol',
    { class: 'chain' },
    list.map((n) => {
      const m = findByName('middlewares', n);
      return h(
        'li',
        null,
        objLink('middlewares', n),
        m
          ? [' ', h('span', { class: 'muted' }, m.type ?? ''), ' ', badge(m.status)]
          : [' ', badge('unknown')],
      );
    }),
  );
}

function routerPage(name) {
  const body = h('div');
  const charts = h('div', { class: 'charts-wrap' });
  const renderCharts = () =>
    clear(charts).append(routerCharts(store.traffic.get(name), store.trafficAvailable));
  const render = () => {
    clear(body).append(
      loadingOr(() => {
        const r = findByName('routers', name);
        if (!r) return missing('routers', name);
        const svc = r.service ? findByName('services', r.service) : undefined;
        return h(
          'div',
          null,
          detailHeader('routers', r),
          h(
            'div',
            { class: 'grid2' },
            section(
              'Router',
              dl([
                ['Rule', code(r.rule ?? '')],
                ['Priority', String(r.priority ?? '')],
                ['Entrypoints', (r.entryPoints ?? []).join(', ')],
                ['Served on', (r.using ?? []).join(', ') || 'none'],
                ['TLS', r.tls ? json(r.tls) : 'no'],
                ['Provider', r.provider ?? ''],
              ]),
            ),
            section('Middlewares', middlewareChain(r.middlewares)),
            section(
              'Service',
              r.service
                ? h(
                    'p',
                    { class: 'svc' },
                    objLink('services', r.service),
                    ' ',
                    svc ? badge(svc.status) : badge('unknown'),
                    svc?.type ? h('span', { class: 'muted' }, ` ${svc.type}`) : null,
                  )
                : empty('No service.'),
              svc ? serversTable(svc) : null,
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
    el: h('div', null, body, section('Traffic', charts)),
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
]);

function configOf(item) {
  const out = {};
  for (const [k, v] of Object.entries(item)) if (!META.has(k)) out[k] = v;
  return out;
}

function servicePage(name) {
  const body = h('div');
  const render = () => {
    clear(body).append(
      loadingOr(() => {
        const s = findByName('services', name);
        if (!s) return missing('services', name);
        const config = configOf(s);
        return h(
          'div',
          null,
          detailHeader('services', s),
          h(
            'div',
            { class: 'grid2' },
            section(
              'Service',
              dl([
                ['Type', s.type ?? ''],
                ['Provider', s.provider ?? ''],
                ['Used by', commaLinks('routers', s.usedBy)],
              ]),
            ),
            section('Servers', serversTable(s)),
          ),
          Object.keys(config).length ? section('Configuration', json(config)) : null,
        );
      }),
    );
  };
  render();
  return { el: body, update: (w) => w === 'data' && render() };
}

function middlewarePage(name) {
  const body = h('div');
  const render = () => {
    clear(body).append(
      loadingOr(() => {
        const m = findByName('middlewares', name);
        if (!m) return missing('middlewares', name);
        const config = configOf(m);
        const key = Object.keys(config).find(
          (k) => k.toLowerCase() === String(m.type ?? '').toLowerCase(),
        );
        return h(
          'div',
          null,
          detailHeader('middlewares', m),
          section(
            'Middleware',
            dl([
              ['Type', m.type ?? ''],
              ['Provider', m.provider ?? ''],
              ['Used by', commaLinks('routers', m.usedBy)],
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
        return store.providers.map((p) =>
          h(
            'section',
            { class: 'panel', 'data-provider': p.name },
            h('h2', null, p.name, ' ', badge(p.status)),
            dl([
              ['Last update', fmtTime(p.lastUpdate)],
              ['Last change', fmtTime(p.lastChange)],
              [
                'Objects',
                `${plural(p.routers ?? 0, 'router')}, ${plural(p.services ?? 0, 'service')}, ${plural(p.middlewares ?? 0, 'middleware')}`,
              ],
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
  for (const kind of ['routers', 'services', 'middlewares']) {
    const d = diff?.[kind];
    if (!d) continue;
    for (const n of d.added ?? [])
      lines.push(
        h(
          'li',
          { class: 'diff-add' },
          h('span', { class: 'sign', 'aria-label': 'added' }, '+'),
          ` ${kind.slice(0, -1)} `,
          objLink(kind, n),
        ),
      );
    for (const n of d.removed ?? [])
      lines.push(
        h(
          'li',
          { class: 'diff-del' },
          h('span', { class: 'sign', 'aria-label': 'removed' }, '−'),
          ` ${kind.slice(0, -1)} `,
          h('del', null, n),
        ),
      );
    for (const c of d.changed ?? [])
      lines.push(
        h(
          'li',
          { class: 'diff-mod' },
          h('span', { class: 'sign', 'aria-label': 'changed' }, '~'),
          ` ${kind.slice(0, -1)} `,
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

export function pageFor(path, query) {
  const [section, ...rest] = path;
  const name = rest.join('/');
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
