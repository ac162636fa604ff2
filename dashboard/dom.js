/*
 * DOM helpers. Every string from the API becomes a text node or an attribute
 * value; nothing is ever parsed as HTML, so a router named `<img onerror=…>`
 * stays a name (and the CSP forbids inline code anyway).
 */

const SVG_NS = 'http://www.w3.org/2000/svg';

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

/** h('a', { href: '#/x', class: 'link' }, 'text', child) */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  return append(el, children);
}

export function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  return append(el, children);
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

const STATUS_LABEL = {
  enabled: 'enabled',
  warning: 'warning',
  disabled: 'error',
  ok: 'ok',
  error: 'error',
  disconnected: 'disconnected',
  UP: 'UP',
  DOWN: 'DOWN',
};

const STATUS_CLASS = {
  enabled: 'ok',
  ok: 'ok',
  UP: 'ok',
  warning: 'warn',
  disconnected: 'warn',
  disabled: 'err',
  error: 'err',
  DOWN: 'err',
};

export function badge(status) {
  const s = String(status ?? 'unknown');
  return h('span', { class: `badge badge-${STATUS_CLASS[s] ?? 'muted'}` }, STATUS_LABEL[s] ?? s);
}

/** a link to an object's page: kind is routers|services|middlewares */
export function objLink(kind, name) {
  return h('a', { href: `#/${kind}/${encodeURIComponent(name)}`, class: 'obj' }, name);
}

export function errorList(errors) {
  const list = Array.isArray(errors) ? errors : errors ? [errors] : [];
  if (list.length === 0) return null;
  return h(
    'ul',
    { class: 'errors' },
    list.map((e) => h('li', null, typeof e === 'string' ? e : JSON.stringify(e))),
  );
}

export function json(value) {
  return h('pre', { class: 'json' }, JSON.stringify(value, null, 2));
}

/** a table in a scrolling wrapper (narrow windows); rows are arrays of cells (nodes or text) */
export function table(caption, headers, rows, attrs = {}) {
  const el = h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      attrs,
      caption ? h('caption', { class: 'sr-only' }, caption) : null,
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          headers.map((t) => h('th', { scope: 'col' }, t)),
        ),
      ),
      h(
        'tbody',
        null,
        rows.map((r) =>
          r instanceof Node
            ? r
            : h(
                'tr',
                null,
                r.map((c) => (c instanceof Node && c.tagName === 'TD' ? c : h('td', null, c))),
              ),
        ),
      ),
    ),
  );
  // narrow windows show each row as a card; the labels come from the headers
  for (const tr of el.querySelectorAll('tbody tr'))
    [...tr.children].forEach((td, i) => {
      if (headers[i] && !td.hasAttribute('data-label')) td.setAttribute('data-label', headers[i]);
    });
  return el;
}

export function dl(pairs) {
  return h(
    'dl',
    { class: 'props' },
    pairs
      .filter((p) => p)
      .map(([k, v]) => [h('dt', null, k), h('dd', null, v === undefined || v === '' ? '—' : v)]),
  );
}

export function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleString();
}

export function fmtClock(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleTimeString();
}

export function fmtNum(n, digits = 1) {
  if (n === null || n === undefined || Number.isNaN(n)) return '—';
  if (Number.isInteger(n)) return String(n);
  return n.toFixed(digits);
}

export function section(title, ...children) {
  return h('section', { class: 'panel' }, h('h2', null, title), children);
}

export function empty(text) {
  return h('p', { class: 'muted empty' }, text);
}
