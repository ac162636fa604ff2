/*
 * `portico schema --dynamic|--static`: the JSON Schema of the dynamic or the
 * static configuration file, for editors (docs/file-provider.md and
 * docs/static-configuration.md say how to use it). `--crd`: the Kubernetes
 * CRDs as YAML (docs/kubernetes-crds.md). Pure: returns what to print and
 * the exit code; src/cli.ts does the writing.
 */
import { crdYaml } from './crds.js';
import { dynamicJsonSchema } from './json-schema.js';
import { staticJsonSchema } from './static.js';

export const SCHEMA_USAGE = `Usage: portico schema --dynamic | --static | --crd
  prints the JSON Schema (draft-07) of Traefik's dynamic configuration file
  (--dynamic) or static configuration file (--static) as Portico reads it;
  point an editor at it, e.g. a first line
  # yaml-language-server: $schema=./portico-dynamic.schema.json
  --crd prints Traefik's Kubernetes CRDs (traefik.io/v1alpha1) with their
  OpenAPI schemas, as multi-document YAML for kubectl apply -f -
`;

export interface CommandOutput {
  stdout: string;
  stderr: string;
  code: number;
}

const SCHEMAS: Record<string, () => Record<string, unknown>> = {
  '--dynamic': dynamicJsonSchema,
  '--static': staticJsonSchema,
};

export function schemaCommand(args: readonly string[]): CommandOutput {
  if (args.length === 1 && args[0] === '--crd') return { stdout: crdYaml(), stderr: '', code: 0 };
  const schema = args.length === 1 ? SCHEMAS[args[0]!] : undefined;
  if (schema) return { stdout: JSON.stringify(schema(), null, 2) + '\n', stderr: '', code: 0 };
  if (args.length === 1 && (args[0] === '--help' || args[0] === '-h'))
    return { stdout: SCHEMA_USAGE, stderr: '', code: 0 };
  const what = args.length === 0 ? 'say which schema' : `unknown argument ${args.join(' ')}`;
  return { stdout: '', stderr: `portico schema: ${what}\n${SCHEMA_USAGE}`, code: 2 };
}
