/*
 * `npm run docs:gen`: writes the files generated from the configuration
 * schema — docs/middlewares/reference.md, docs/static-options.md and
 * docs/schema/{dynamic,static}.schema.json (what `portico schema --dynamic`
 * and `--static` print, for editors that want a file) and
 * deploy/crds/portico-crds.yaml (what `portico schema --crd` prints).
 * `--check` writes nothing and exits 1 when a committed file is out of date.
 * Formatted with the repository's prettier settings so `npm run lint` agrees.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { crdYaml } from '../config/schema/crds.js';
import { middlewareReference } from '../config/schema/reference.js';
import { dynamicJsonSchema } from '../config/schema/json-schema.js';
import { staticJsonSchema } from '../config/schema/static.js';
import { staticReference } from '../config/schema/static-reference.js';

export interface GeneratedFile {
  /** relative to the repository root */
  path: string;
  content: string;
}

export async function generatedFiles(root: string): Promise<GeneratedFile[]> {
  // prettier is a devDependency: this tool runs in the repository, never in production
  const prettier = await import('prettier');
  const format = async (rel: string, text: string, parser: string) => {
    const options = (await prettier.resolveConfig(path.join(root, rel))) ?? {};
    return prettier.format(text, { ...options, parser });
  };
  return [
    {
      path: 'docs/middlewares/reference.md',
      content: await format('docs/middlewares/reference.md', middlewareReference(), 'markdown'),
    },
    {
      path: 'docs/schema/dynamic.schema.json',
      content: await format(
        'docs/schema/dynamic.schema.json',
        JSON.stringify(dynamicJsonSchema()),
        'json',
      ),
    },
    {
      path: 'docs/static-options.md',
      content: await format('docs/static-options.md', staticReference(), 'markdown'),
    },
    {
      path: 'docs/schema/static.schema.json',
      content: await format(
        'docs/schema/static.schema.json',
        JSON.stringify(staticJsonSchema()),
        'json',
      ),
    },
    {
      path: 'deploy/crds/portico-crds.yaml',
      content: await format('deploy/crds/portico-crds.yaml', crdYaml(), 'yaml'),
    },
  ];
}

function read(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const f of await generatedFiles(root)) {
    const file = path.join(root, f.path);
    if (read(file) === f.content) continue;
    if (check) {
      process.stderr.write(`${f.path} is out of date: run npm run docs:gen\n`);
      stale++;
      continue;
    }
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, f.content);
    process.stdout.write(`wrote ${f.path}\n`);
  }
  process.exitCode = stale > 0 ? 1 : 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  await main();
}
