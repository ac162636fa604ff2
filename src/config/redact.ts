/*
 * Secrets in configuration, and the one rule set that keeps them out of every
 * API answer and every log line (issue 11, item 8). The API is often exposed
 * further than the configuration files are, and logs are shipped to places
 * the files never go.
 *
 * Traefik marks its secret fields with a `loggable:"false"` struct tag and
 * its redactor (pkg/redactor) writes "xxxx" in their place when it logs a
 * configuration: basicAuth/digestAuth `users`, client TLS `key`, certificate
 * `keyFile`, Redis `password`... Portico's configuration is plain JSON with
 * plugins, custom headers and label diagnostics in it, so the rules here go by
 * name and by form instead of by type, with Traefik's mask:
 *
 * - a value whose option or header name is secret-like (isSecretName):
 *   Authorization, Cookie, X-Api-Key, *token*, *secret*, *password*, `key`,
 *   `keyFile`... reads "xxxx" (each string of a list too, as Traefik does);
 * - an htpasswd/htdigest user keeps its name: `admin:xxxx`, `dig:realm:xxxx`
 *   (Traefik masks the whole entry; the name is what operators look for);
 * - the password of a URL's userinfo: `http://user:xxxx@host`; a userinfo
 *   without a password is usually a token: `https://xxxx@host`;
 * - a PEM private key block anywhere in a string is replaced whole;
 * - in free text (error messages, diagnostics, explain's reasons): a secret
 *   name followed by `=` (label keys, query strings) or `: ` (header lines,
 *   YAML, JSON) has its value masked, and so has the value of a
 *   `Header(`name`, `value`)`/`Query(...)` rule matcher whose name is secret;
 * - a `{field|label|key|name, value}` pair (a Docker label diagnostic, a log
 *   record about a label) masks `value` when the name is secret;
 * - a value masked anywhere in one redacted object is also masked where it is
 *   quoted elsewhere in that object (an error message repeating it), for
 *   values of ECHO_MIN characters or more (the longest ECHO_MAX_COUNT).
 *
 * Every scan is linear in the input: the texts come from container labels,
 * which anyone who can start a container writes (see issue 11, item 6).
 */

/** Traefik's mask (pkg/redactor maskShort). */
export const MASK = 'xxxx';

/** shorter masked values are not searched for in the rest of the object: too many false hits */
const ECHO_MIN = 6;
/** the search for quotes of masked values is a safety net: bounded, whatever the object holds */
const ECHO_MAX_LENGTH = 4096;
const ECHO_MAX_COUNT = 64;
/** names longer than this are not cached, and a look-back in free text stops there */
const NAME_MAX = 256;

const SECRET_EXACT = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'key',
  'keyfile',
]);
const SECRET_PARTS = [
  'password',
  'passwd',
  'secret',
  'token',
  'apikey',
  'api-key',
  'api_key',
  'privatekey',
  'private-key',
  'private_key',
  'hmac',
];

/** The name an option path ends with: `tls.key` → `key`, `web-1 label a.b.X-Api-Key` → `X-Api-Key`, `users[0]` → `users`. */
export function lastSegment(path: string): string {
  let end = path.length;
  while (end > 0 && path.charCodeAt(end - 1) === 0x5d /* ] */) {
    const open = path.lastIndexOf('[', end - 1);
    if (open === -1) break;
    end = open;
  }
  const head = path.slice(0, end);
  const cut = Math.max(head.lastIndexOf('.'), head.lastIndexOf(' '));
  return head.slice(cut + 1);
}

/**
 * Whether the value of an option or header called `name` (or ending a dotted
 * path, as label keys do) is a secret. One list for option names and header
 * names: `cookie` is an object in sticky options (walked, not masked) and a
 * secret header; `publicKey` (the headers middleware's HPKP option) is not.
 */
export function isSecretName(name: string): boolean {
  return nameKind(name) === 'secret';
}

function isUsersName(name: string): boolean {
  return nameKind(name) === 'users';
}

type NameKind = 'secret' | 'users' | 'plain';

/** the same few option names come back for every element of a large configuration */
const kinds = new Map<string, NameKind>();
const KINDS_MAX = 4096;

function nameKind(name: string): NameKind {
  let kind = kinds.get(name);
  if (kind !== undefined) return kind;
  kind = classify(lastSegment(name).toLowerCase());
  if (name.length > NAME_MAX) return kind;
  if (kinds.size >= KINDS_MAX) kinds.clear();
  kinds.set(name, kind);
  return kind;
}

function classify(n: string): NameKind {
  if (n === '') return 'plain';
  if (n === 'users') return 'users';
  if (SECRET_EXACT.has(n)) return 'secret';
  for (const part of SECRET_PARTS) if (n.includes(part)) return 'secret';
  // X-Api-Key, Ocp-Apim-Subscription-Key, signingKey...
  return n.endsWith('key') && !n.endsWith('publickey') && !n.endsWith('public-key')
    ? 'secret'
    : 'plain';
}

/** `admin:$2y$...` → `admin:xxxx`, `dig:realm:ha1` → `dig:realm:xxxx`; the hash is the secret. */
export function redactUser(entry: string, echoes?: Set<string>): string {
  const colon = entry.lastIndexOf(':');
  const secret = colon === -1 ? entry : entry.slice(colon + 1);
  if (secret === MASK || secret === '') return entry;
  echoes?.add(secret.trim());
  return colon === -1 ? MASK : entry.slice(0, colon + 1) + MASK;
}

/** A `users` value: a list, or a comma-separated string as labels write it. */
function redactUsersValue(value: string, echoes?: Set<string>): string {
  return value
    .split(',')
    .map((u) => redactUser(u, echoes))
    .join(',');
}

// --- free text ------------------------------------------------------------------------

/** PEM private key blocks (PKCS#1, PKCS#8, EC, encrypted, OpenSSH), terminated or not. */
function maskPemKeys(text: string): string {
  const BEGIN = '-----BEGIN ';
  let at = text.indexOf(BEGIN);
  if (at === -1) return text;
  let out = '';
  let from = 0;
  while (at !== -1) {
    const labelEnd = text.indexOf('-----', at + BEGIN.length);
    if (labelEnd === -1) break;
    const label = text.slice(at + BEGIN.length, labelEnd);
    if (!label.includes('PRIVATE KEY') || label.length > 64) {
      at = text.indexOf(BEGIN, labelEnd);
      continue;
    }
    const endMarker = `-----END ${label}-----`;
    const end = text.indexOf(endMarker, labelEnd + 5);
    out += text.slice(from, at) + MASK;
    from = end === -1 ? text.length : end + endMarker.length;
    at = text.indexOf(BEGIN, from);
  }
  return out + text.slice(from);
}

const AUTHORITY_END = new Set([
  '/',
  '?',
  '#',
  ' ',
  '\t',
  '\n',
  '\r',
  '"',
  "'",
  '`',
  '<',
  '>',
  '\\',
]);

/** `scheme://user:pass@host` → `scheme://user:xxxx@host`; `scheme://token@host` → `scheme://xxxx@host`. */
function maskUserinfo(text: string): string {
  let at = text.indexOf('://');
  if (at === -1) return text;
  let out = '';
  let from = 0;
  while (at !== -1) {
    const start = at + 3;
    let end = start;
    let lastAt = -1;
    while (end < text.length && !AUTHORITY_END.has(text[end]!)) {
      if (text[end] === '@') lastAt = end;
      end++;
    }
    if (lastAt > start) {
      const userinfo = text.slice(start, lastAt);
      const colon = userinfo.indexOf(':');
      const masked = colon === -1 ? MASK : userinfo.slice(0, colon + 1) + MASK;
      out += text.slice(from, start) + masked;
      from = lastAt;
    }
    at = text.indexOf('://', end);
  }
  return out + text.slice(from);
}

/** the index of the quote closing the one at `open`: the text's end when unclosed, -1 past `limit` */
function closingQuote(text: string, open: number, limit = Infinity): number {
  const q = text[open]!;
  const stop = Math.min(text.length, open + limit);
  let i = open + 1;
  while (i < stop && text[i] !== q) i += text[i] === '\\' && q === '"' ? 2 : 1;
  if (i >= text.length) return text.length;
  return i < stop ? i : -1;
}

/** rule arguments are short; an unclosed one is not scanned to the end again for every matcher */
const RULE_ARG_MAX = 8192;

const RULE_MATCHER = /\b(?:Header|Query)(?:Regexp)?\(/g;

/** `Header(`X-Api-Key`, `value`)`, `QueryRegexp("token", "...")`: the value is masked when the name is secret. */
function maskRuleValues(text: string): string {
  if (!text.includes('Header') && !text.includes('Query')) return text;
  let out = '';
  let from = 0;
  for (const m of text.matchAll(RULE_MATCHER)) {
    let i = m.index + m[0].length;
    while (text[i] === ' ') i++;
    if (text[i] !== '`' && text[i] !== '"') continue;
    const nameEnd = closingQuote(text, i, RULE_ARG_MAX);
    if (nameEnd === -1) continue;
    const name = text.slice(i + 1, nameEnd);
    i = nameEnd + 1;
    while (text[i] === ' ') i++;
    if (text[i] !== ',') continue;
    i++;
    while (text[i] === ' ') i++;
    if (text[i] !== '`' && text[i] !== '"') continue;
    const valueEnd = closingQuote(text, i, RULE_ARG_MAX);
    if (valueEnd === -1) continue;
    const value = text.slice(i + 1, valueEnd);
    if (!isSecretName(name) || value === '' || value === MASK || i + 1 < from) continue;
    out += text.slice(from, i + 1) + MASK;
    from = valueEnd;
  }
  return out + text.slice(from);
}

const NAME_CHAR = /[A-Za-z0-9_.\-[\]]/;
/** what may stand before a name for it to be one (not the middle of a word or a URL) */
const NAME_BOUNDARY = new Set([
  ' ',
  '\t',
  '\n',
  '\r',
  '"',
  "'",
  '`',
  '{',
  '(',
  '[',
  ',',
  ';',
  '&',
  '?',
]);

/**
 * `name=value` and `name: value` where the name is secret-like. `=` takes any name (label
 * keys are dotted paths; query strings); `:` only an undotted one, so that an error
 * written `tls.key: cert and key must be set together` keeps its reason.
 */
function maskNamedValues(text: string): string {
  let out = '';
  let from = 0;
  for (let sep = 0; sep < text.length; sep++) {
    const c = text[sep];
    if (c !== ':' && c !== '=') continue;
    if (sep < from) continue;
    // the name before the separator: optional spaces and closing quote, then name characters
    let k = sep - 1;
    while (k >= 0 && k > sep - 4 && text[k] === ' ') k--;
    const quotedName = k >= 0 && (text[k] === '"' || text[k] === "'");
    if (quotedName) k--;
    const nameEnd = k + 1;
    while (k >= 0 && nameEnd - k <= NAME_MAX && NAME_CHAR.test(text[k]!)) k--;
    const nameStart = k + 1;
    if (nameStart === nameEnd) continue;
    if (k >= 0 && !NAME_BOUNDARY.has(text[k]!) && !(quotedName && text[k] === text[nameEnd]))
      continue;
    const name = text.slice(nameStart, nameEnd);
    if (c === ':' && (name.includes('.') || text.startsWith('//', sep + 1))) continue;
    if (!isSecretName(name)) continue;
    // the value: a quoted string, or up to the end of the line (`:`) or of the token (`=`)
    let v = sep + 1;
    while (text[v] === ' ' || text[v] === '\t') v++;
    let valueStart: number;
    let valueEnd: number;
    let resume: number;
    if (text[v] === '"' || text[v] === "'" || text[v] === '`') {
      valueStart = v + 1;
      valueEnd = closingQuote(text, v);
      resume = valueEnd;
    } else {
      valueStart = v;
      valueEnd = v;
      const stops = c === '=' || quotedName ? '\n\r \t&,;"\'})]' : '\n\r';
      while (valueEnd < text.length && !stops.includes(text[valueEnd]!)) valueEnd++;
      resume = valueEnd;
    }
    const value = text.slice(valueStart, valueEnd);
    const trimmed = value.trim();
    if (trimmed === '' || trimmed === MASK || '|>{['.includes(trimmed[0]!)) {
      sep = Math.max(sep, resume - 1);
      continue;
    }
    out += text.slice(from, valueStart) + MASK;
    from = valueEnd;
    sep = Math.max(sep, resume - 1);
  }
  return from === 0 ? text : out + text.slice(from);
}

/** Free text (messages, URLs, rules, PEM) with the secrets it shows masked. Idempotent. */
export function redactText(text: string): string {
  if (text.length < 3) return text;
  let t = text;
  if (t.includes('-----BEGIN ')) t = maskPemKeys(t);
  if (t.includes('://')) t = maskUserinfo(t);
  if (t.includes('(')) t = maskRuleValues(t);
  if (t.includes(':') || t.includes('=')) t = maskNamedValues(t);
  return t;
}

// --- structured values ------------------------------------------------------------------

type Json = Record<string, unknown>;

interface Scope {
  /** values masked by name, searched for in the rest of the object */
  echoes: Set<string>;
  /** the objects being walked, outermost first (cycles are possible in log records) */
  path: object[];
}

const PAIR_NAMES = ['field', 'label', 'key', 'name'];
const MAX_DEPTH = 64;

function isPlain(v: object): boolean {
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

function maskString(value: string, scope: Scope): string {
  if (value === '' || value === MASK) return value;
  scope.echoes.add(value);
  return MASK;
}

/** a value held under `key`: the key's name decides first, the value's form after */
function walkKeyed(value: unknown, key: string, scope: Scope, depth: number): unknown {
  if (value === null || (typeof value !== 'string' && typeof value !== 'object')) return value;
  const kind = nameKind(key);
  if (typeof value === 'string') {
    if (kind === 'secret') return maskString(value, scope);
    if (kind === 'users') return redactUsersValue(value, scope.echoes);
    return redactText(value);
  }
  if (Array.isArray(value) && kind !== 'plain') {
    return value.map((v) =>
      typeof v !== 'string'
        ? walk(v, scope, depth + 1)
        : kind === 'secret'
          ? maskString(v, scope)
          : redactUser(v, scope.echoes),
    );
  }
  return walk(value, scope, depth);
}

/** pino's err serializer shape (type, message, stack, own fields, cause), as plain data */
function errorData(err: Error): Json {
  const out: Json = {
    type: err.constructor?.name ?? err.name,
    message: err.message,
    stack: err.stack,
  };
  for (const [k, v] of Object.entries(err)) if (!(k in out)) out[k] = v;
  if (err.cause !== undefined) out.cause = err.cause;
  if (err instanceof AggregateError) out.aggregateErrors = err.errors;
  return out;
}

function walk(value: unknown, scope: Scope, depth: number): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object') return value;
  if (scope.path.includes(value)) return '[Circular]';
  if (depth > MAX_DEPTH) return '[Too deep]';
  if (Array.isArray(value)) {
    scope.path.push(value);
    const out = value.map((v) => walk(v, scope, depth + 1));
    scope.path.pop();
    return out;
  }
  const source = value instanceof Error ? errorData(value) : value;
  // class instances (sockets, buffers, dates) are not configuration; left as they are
  if (!(value instanceof Error) && !isPlain(value)) return value;
  scope.path.push(value);
  const obj = source as Json;
  let pairName: string | undefined;
  if (typeof obj.value === 'string') {
    for (const n of PAIR_NAMES) {
      const candidate = obj[n];
      if (typeof candidate === 'string') {
        pairName = candidate;
        break;
      }
    }
  }
  const out: Json = {};
  for (const k of Object.keys(obj)) {
    const r = walkKeyed(
      obj[k],
      k === 'value' && pairName !== undefined ? pairName : k,
      scope,
      depth + 1,
    );
    const key = redactText(k);
    // a key such as "__proto__" is data here, never the copy's prototype
    if (key === '__proto__')
      Object.defineProperty(out, key, {
        value: r,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    else out[key] = r;
  }
  scope.path.pop();
  return out;
}

/** masks, in place, the quotes of masked values elsewhere in the (fresh) copy */
function maskEchoes(value: unknown, echoes: string[]): unknown {
  if (typeof value === 'string') {
    // indexOf, not one alternation regex: V8's substring search stays linear whatever the text
    let s = value;
    for (const e of echoes) if (s.includes(e)) s = s.split(e).join(MASK);
    return s;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = maskEchoes(value[i], echoes);
    return value;
  }
  if (value !== null && typeof value === 'object' && isPlain(value)) {
    const obj = value as Json;
    for (const k of Object.keys(obj)) obj[k] = maskEchoes(obj[k], echoes);
  }
  return value;
}

/**
 * A deep copy of `value` with every secret masked (the rules at the top of this file).
 * Only values change: keys, nesting and types stay, so the API keeps Traefik's shapes.
 * Errors become plain `{type, message, stack, ...}` objects, as pino serialises them.
 */
export function redact<T>(value: T): T {
  const scope: Scope = { echoes: new Set(), path: [] };
  const out = walk(value, scope, 0);
  const echoes = [...new Set([...scope.echoes].map((e) => e.trim()))]
    .filter((e) => e.length >= ECHO_MIN && e.length <= ECHO_MAX_LENGTH)
    .sort((a, b) => b.length - a.length)
    .slice(0, ECHO_MAX_COUNT);
  if (echoes.length === 0) return out as T;
  return maskEchoes(out, echoes) as T;
}

/**
 * The label value a diagnostic or a log line may show for `key`: masked when the
 * label names a secret option or header, user hashes masked in `users`.
 */
export function redactLabelValue(key: string, value: string): string {
  if (isSecretName(key)) return value === '' ? value : MASK;
  if (isUsersName(key)) return redactUsersValue(value);
  return redactText(value);
}
