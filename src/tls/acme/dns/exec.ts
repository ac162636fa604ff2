/*
 * lego's `exec` provider: runs EXEC_PATH to publish and withdraw the record.
 *
 *   default:        <EXEC_PATH> present|cleanup <fqdn> <value>
 *   EXEC_MODE=RAW:  <EXEC_PATH> present|cleanup -- <domain> <token> <keyAuth>
 *
 * (the fqdn with its trailing dot, as lego passes it). A non-zero exit fails
 * the challenge. EXEC_PROPAGATION_TIMEOUT (60) and EXEC_POLLING_INTERVAL (2),
 * in seconds. The program inherits Portico's environment, as under lego.
 */
import { spawn } from 'node:child_process';
import {
  DEFAULT_POLLING_INTERVAL_MS,
  DEFAULT_PROPAGATION_TIMEOUT_MS,
  DnsProviderError,
  ProviderEnv,
  type DnsChallengeRecord,
  type DnsProvider,
  type Env,
} from './provider.js';

/** a hung program must not hold the order forever */
const RUN_TIMEOUT_MS = 120_000;

export function createExecProvider(env: Env, name = 'exec'): DnsProvider {
  const e = new ProviderEnv(env, name);
  const [program] = e.require(['EXEC_PATH']);
  const raw = e.get('EXEC_MODE') === 'RAW';

  const run = (command: 'present' | 'cleanup', r: DnsChallengeRecord): Promise<void> => {
    const args = raw
      ? [command, '--', r.domain, r.token, r.keyAuthorization]
      : [command, r.fqdn, r.value];
    return new Promise((resolve, reject) => {
      const child = spawn(program!, args, {
        env: { ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      const keep = (d: Buffer): void => {
        output = (output + d.toString('utf8')).slice(-2000);
      };
      child.stdout!.on('data', keep);
      child.stderr!.on('data', keep);
      const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(
          new DnsProviderError(`${name}: cannot run ${program}: ${err.message}`, { cause: err }),
        );
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve();
        else
          reject(
            new DnsProviderError(
              `${name}: ${program} ${command} ${signal ? `killed by ${signal}` : `exited ${code}`}` +
                (output.trim() ? `: ${output.trim().split('\n').slice(-3).join(' | ')}` : ''),
            ),
          );
      });
    });
  };

  return {
    name,
    propagationTimeoutMs: e.seconds('EXEC_PROPAGATION_TIMEOUT', DEFAULT_PROPAGATION_TIMEOUT_MS),
    pollingIntervalMs: e.seconds('EXEC_POLLING_INTERVAL', DEFAULT_POLLING_INTERVAL_MS),
    present: (r) => run('present', r),
    cleanup: (r) => run('cleanup', r),
  };
}
