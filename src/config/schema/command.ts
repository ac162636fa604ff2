/*
 * `portico schema --dynamic`: the JSON Schema of the dynamic configuration
 * file, for editors (docs/file-provider.md says how to use it). Pure: returns
 * what to print and the exit code; src/cli.ts does the writing.
 */
import { dynamicJsonSchema } from './json-schema.js';

export const SCHEMA_USAGE = `Usage: portico schema --dynamic
  prints the JSON Schema (draft-07) of Traefik's dynamic configuration file as
  Portico reads it; point an editor at it, e.g. a first line
  # yaml-language-server: $schema=./portico-dynamic.schema.json
`;

export interface CommandOutput {
  stdout: string;
  stderr: string;
  code: number;
}

export function schemaCommand(args: readonly string[]): CommandOutput {
  if (args.length === 1 && args[0] === '--dynamic')
    return { stdout: JSON.stringify(dynamicJsonSchema(), null, 2) + '\n', stderr: '', code: 0 };
  if (args.length === 1 && (args[0] === '--help' || args[0] === '-h'))
    return { stdout: SCHEMA_USAGE, stderr: '', code: 0 };
  const what = args.length === 0 ? 'say which schema' : `unknown argument ${args.join(' ')}`;
  // the static options' schema is the next step of issue 12 §1
  const hint = args.includes('--static') ? ' (--static is not available yet)' : '';
  return { stdout: '', stderr: `portico schema: ${what}${hint}\n${SCHEMA_USAGE}`, code: 2 };
}
