/*
 * Reading one dynamic-configuration file (Traefik's file-provider format) into
 * a DynamicConfig, with the line of every named element so errors can point at
 * the source. Parsing is pure (text in, result out) so the watcher, `portico
 * check` and tests share it; shapes are checked later by src/config/validate.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type Document } from 'yaml';
import type { DynamicConfig, ElementError } from '../../src/config/dynamic.js';
import type { ElementOrigin } from '../../src/config/provider.js';

export type FileFormat = 'yaml' | 'json' | 'toml';

/** Format of a file from its extension; undefined for files the provider ignores. */
export function fileFormat(file: string): FileFormat | undefined {
  switch (extname(file).toLowerCase()) {
    case '.yml':
    case '.yaml':
      return 'yaml';
    case '.json':
      return 'json';
    case '.toml':
      return 'toml';
    default:
      return undefined;
  }
}

/** One file, parsed. `ok` is false when the text could not be read as configuration at all. */
export interface ParsedFile {
  ok: boolean;
  config: DynamicConfig;
  /** 1-based line per named element, keyed `<root>.<section>/<name>`, e.g. `http.routers/api` */
  lines: Record<string, number>;
  errors: ElementError[];
}

export interface LoadResult {
  config: DynamicConfig;
  errors: ElementError[];
  origins: Record<string, ElementOrigin>;
}

/** Canonical spelling of the sections, matched ignoring case as Traefik does. */
const SECTIONS: Record<string, readonly string[]> = {
  http: ['routers', 'services', 'middlewares', 'serversTransports'],
  tcp: ['routers', 'services', 'middlewares', 'serversTransports'],
  udp: ['routers', 'services'],
  tls: ['certificates', 'options', 'stores'],
};

export function fileError(file: string, message: string): ElementError {
  return { kind: 'provider', name: 'file', field: file, message };
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function positionOf(text: string, offset: number): { line: number; col: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, col: Math.min(offset, text.length) - lineStart + 1 };
}

function canonical(key: string, known: readonly string[]): string | undefined {
  return known.find((k) => k.toLowerCase() === key.toLowerCase());
}

/**
 * Rewrites root and section keys (`HTTP`, `Routers`) to their canonical
 * spelling so files can be merged and located; fields inside elements are left
 * for the validator. A second spelling of an already present key is left as is
 * so the validator reports it instead of one silently winning.
 */
function normaliseRoot(value: Record<string, unknown>): DynamicConfig {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    const root = canonical(key, Object.keys(SECTIONS));
    if (root === undefined || root in out) {
      Object.defineProperty(out, key, {
        value: v,
        enumerable: true,
        writable: true,
        configurable: true,
      });
      continue;
    }
    if (!isPlainObject(v)) {
      out[root] = v;
      continue;
    }
    const section: Record<string, unknown> = {};
    for (const [sk, sv] of Object.entries(v)) {
      const name = canonical(sk, SECTIONS[root]!);
      const target = name !== undefined && !(name in section) ? name : sk;
      Object.defineProperty(section, target, {
        value: sv,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    out[root] = section;
  }
  return out as DynamicConfig;
}

/** Lines of `<root>.<section>.<name>` keys, read from the YAML syntax tree. */
function elementLines(doc: Document, lc: LineCounter): Record<string, number> {
  const lines: Record<string, number> = {};
  const keyOf = (node: unknown): string | undefined =>
    isScalar(node) && node.value !== null && node.value !== undefined
      ? String(node.value)
      : undefined;
  if (!isMap(doc.contents)) return lines;
  for (const rootPair of doc.contents.items) {
    const rootKey = keyOf(rootPair.key);
    const root = rootKey === undefined ? undefined : canonical(rootKey, Object.keys(SECTIONS));
    if (root === undefined || !isMap(rootPair.value)) continue;
    for (const sectionPair of rootPair.value.items) {
      const sectionKey = keyOf(sectionPair.key);
      const section = sectionKey === undefined ? undefined : canonical(sectionKey, SECTIONS[root]!);
      if (section === undefined || !isMap(sectionPair.value)) continue;
      for (const pair of sectionPair.value.items) {
        const name = keyOf(pair.key);
        const start = isScalar(pair.key) ? pair.key.range?.[0] : undefined;
        if (name === undefined || start === undefined) continue;
        const id = `${root}.${section}/${name}`;
        if (!(id in lines)) lines[id] = lc.linePos(start).line;
      }
    }
  }
  return lines;
}

/**
 * The offset of the first repeated map key, in the order yaml's own check
 * would report it (a pair's key, then the key against its map, then the
 * value). That check (`uniqueKeys`) compares each key with every earlier key
 * of its map: a file of 50,000 routers took over a minute to parse (issue 11).
 * A Set per map makes it linear; scalar keys are equal when their values are
 * (===, as yaml compares them; merge keys `<<` are distinct symbols).
 */
function firstDuplicateKey(node: unknown): number | undefined {
  if (isMap(node)) {
    const seen = new Set<unknown>();
    for (const pair of node.items) {
      const inKey = firstDuplicateKey(pair.key);
      if (inKey !== undefined) return inKey;
      if (isScalar(pair.key)) {
        const v = pair.key.value;
        if (seen.has(v) && !Number.isNaN(v)) return pair.key.range?.[0] ?? 0;
        seen.add(v);
      }
      const inValue = firstDuplicateKey(pair.value);
      if (inValue !== undefined) return inValue;
    }
  } else if (isSeq(node)) {
    for (const item of node.items) {
      const inItem = firstDuplicateKey(item);
      if (inItem !== undefined) return inItem;
    }
  }
  return undefined;
}

function failed(file: string, text: string, offset: number, reason: string): ParsedFile {
  const { line, col } = positionOf(text, offset);
  return {
    ok: false,
    config: {},
    lines: {},
    errors: [fileError(file, `${file}:${line}:${col}: ${lowerFirst(reason)}`)],
  };
}

/**
 * Parses the text of one configuration file. Never throws: syntax errors come
 * back as a provider error `<file>:<line>:<col>: <reason>` with `ok: false`.
 */
export function parseDynamicText(file: string, text: string, format?: FileFormat): ParsedFile {
  const kind = format ?? fileFormat(file) ?? 'yaml';
  if (kind === 'toml') {
    return failed(file, text, 0, 'toml is not supported; convert the file to yaml or json');
  }

  const warnings: ElementError[] = [];
  // Traefik renders files as Go templates first; Portico does not, so say so
  // rather than let `{{ ... }}` turn into odd strings or syntax errors
  const template = text.indexOf('{{');
  if (template !== -1) {
    const { line, col } = positionOf(text, template);
    warnings.push(
      fileError(
        file,
        `${file}:${line}:${col}: go templates are not supported; "{{" is read as plain text`,
      ),
    );
  }

  let value: unknown;
  const lc = new LineCounter();
  let doc: Document | undefined;

  if (kind === 'json') {
    try {
      value = JSON.parse(text);
    } catch (err) {
      const message = (err as Error).message;
      const at = /at position (\d+)/.exec(message);
      const offset = at ? Number(at[1]) : text.length;
      const reason = message
        .replace(/\s*in JSON at position \d+.*$/s, '')
        .replace(/^JSON\.parse: /, '');
      const result = failed(file, text, offset, reason || 'invalid json');
      result.errors.push(...warnings);
      return result;
    }
    // JSON is YAML, so the YAML tree gives element lines; a mismatch only costs the lines
    // (JSON.parse took the last of repeated keys already: no quadratic duplicate check here)
    const docs = parseAllDocuments(text, {
      lineCounter: lc,
      prettyErrors: false,
      uniqueKeys: false,
    });
    if (Array.isArray(docs) && docs[0] && docs[0].errors.length === 0) doc = docs[0];
  } else {
    const docs = parseAllDocuments(text, {
      lineCounter: lc,
      prettyErrors: false,
      merge: true,
      // repeated keys are still an error, found in linear time below (firstDuplicateKey)
      uniqueKeys: false,
    });
    const list = Array.isArray(docs) ? docs : [];
    doc = list[0];
    const firstError = list.flatMap((d) => d.errors)[0];
    if (firstError) {
      const result = failed(file, text, firstError.pos[0], firstError.message);
      result.errors.push(...warnings);
      return result;
    }
    let duplicate: number | undefined;
    for (const d of list) {
      duplicate = firstDuplicateKey(d.contents);
      if (duplicate !== undefined) break;
    }
    if (duplicate !== undefined) {
      // yaml's own wording for it
      const result = failed(file, text, duplicate, 'map keys must be unique');
      result.errors.push(...warnings);
      return result;
    }
    // Traefik's decoder reads the first document only; later ones would be silently lost
    if (list.slice(1).some((d) => d.contents !== null)) {
      const start = list[1]!.range[0];
      const { line, col } = positionOf(text, start);
      warnings.push(
        fileError(file, `${file}:${line}:${col}: only the first yaml document is read`),
      );
    }
    try {
      value = doc ? doc.toJS({ maxAliasCount: 1000 }) : null;
    } catch (err) {
      const result = failed(file, text, 0, (err as Error).message);
      result.errors.push(...warnings);
      return result;
    }
  }

  if (value === null || value === undefined) {
    // an empty file (or one with comments only) is an empty configuration, as in Traefik
    return { ok: true, config: {}, lines: {}, errors: warnings };
  }
  if (!isPlainObject(value)) {
    const offset = doc?.contents?.range?.[0] ?? 0;
    const result = failed(file, text, offset, 'top level must be a mapping');
    result.errors.push(...warnings);
    return result;
  }
  return {
    ok: true,
    config: normaliseRoot(value),
    lines: doc ? elementLines(doc, lc) : {},
    errors: warnings,
  };
}

/** Origins of the http elements of one parsed file, keyed `routers/<name>` and so on. */
export function originsOf(
  file: string,
  lines: Record<string, number>,
): Record<string, ElementOrigin> {
  const origins: Record<string, ElementOrigin> = {};
  for (const [id, line] of Object.entries(lines)) {
    if (id.startsWith('http.')) origins[id.slice('http.'.length)] = { file, line };
  }
  return origins;
}

/**
 * Reads one file synchronously, for `portico check` and other one-shot uses.
 * A missing or unreadable file is an error in the result, never a throw.
 */
export function loadDynamicFile(path: string): LoadResult {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return { config: {}, errors: [readError(path, err)], origins: {} };
  }
  const parsed = parseDynamicText(path, text);
  return { config: parsed.config, errors: parsed.errors, origins: originsOf(path, parsed.lines) };
}

export function readError(path: string, err: unknown): ElementError {
  const code = (err as NodeJS.ErrnoException).code;
  const reason =
    code === 'ENOENT'
      ? 'no such file'
      : code === 'EACCES'
        ? 'permission denied'
        : code === 'EISDIR'
          ? 'is a directory, not a file'
          : lowerFirst((err as Error).message);
  return fileError(path, `${path}: ${reason}`);
}
