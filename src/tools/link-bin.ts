/*
 * `npx portico` inside this repository: npm does not link a package's own bin
 * into node_modules/.bin, so npx would otherwise install and rebuild a copy of
 * the project. Runs from `prepare`, after the build, where node_modules exists.
 */
import { chmodSync, existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const target = path.join(root, 'dist', 'src', 'bin.js');
chmodSync(target, 0o755);
const binDir = path.join(root, 'node_modules', '.bin');
if (existsSync(path.join(root, 'node_modules'))) {
  mkdirSync(binDir, { recursive: true });
  const link = path.join(binDir, 'portico');
  rmSync(link, { force: true });
  symlinkSync(path.relative(binDir, target), link);
}
