/*
 * Portico's dashboard: hash routing (#/routers/name@file), one page mounted at
 * a time, live updates from the API's event stream. No framework, no build.
 */
import { store, subscribe, start } from './store.js';
import { pageFor } from './pages.js';

const main = document.getElementById('main');
const conn = document.getElementById('conn');
const version = document.getElementById('version');
const navLinks = [...document.querySelectorAll('#nav a')];

let current = null;

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const q = raw.indexOf('?');
  const pathPart = q === -1 ? raw : raw.slice(0, q);
  const query = new URLSearchParams(q === -1 ? '' : raw.slice(q + 1));
  const path = pathPart.split('/').map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  });
  return { path, query };
}

function mount(userNavigation) {
  const { path, query } = parseHash();
  current = pageFor(path, query);
  main.replaceChildren(current.el);
  const section = path[0] ?? '';
  for (const a of navLinks) {
    if (a.dataset.section === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const heading = main.querySelector('h1');
  document.title = `${heading ? heading.textContent : 'Portico'} · Portico dashboard`;
  if (userNavigation) (current.focus ?? heading ?? main).focus();
}

const CONN_TEXT = {
  connecting: 'connecting…',
  live: 'live',
  reconnecting: 'reconnecting…',
  closed: 'disconnected',
};

function showConnection() {
  conn.textContent = CONN_TEXT[store.connection] ?? store.connection;
  conn.className = `conn conn-${store.connection}`;
  conn.title =
    store.connection === 'live' ? 'Receiving live updates' : 'Not receiving live updates; retrying';
}

subscribe((kind) => {
  if (kind === 'connection') showConnection();
  if (kind === 'data' && store.version) {
    version.textContent = `Portico ${store.version.Version ?? ''} · started ${new Date(store.version.startDate).toLocaleString()}`;
  }
  current?.update?.(kind);
});

window.addEventListener('hashchange', () => mount(true));
mount(false);
showConnection();
start();
