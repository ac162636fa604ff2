/*
 * Validates Kubernetes objects against the API's schemas without an API
 * server (issue 14 item 8: "the rendered objects validated against their
 * schemas"), in two passes:
 *
 * - kubernetes-models: Kubernetes' OpenAPI definitions compiled to ajv
 *   validators (types, required fields, int32/int-or-string formats). Like the
 *   OpenAPI documents, they allow unknown properties, so a misspelt field
 *   (`readinesProbe`) would pass.
 * - strict fields: every property must be one the API type declares, read
 *   from @kubernetes/client-node's generated models (their attributeTypeMap
 *   lists each field of each type), which is what `kubectl apply
 *   --validate=strict` refuses on a real server.
 */
import * as k8s from '@kubernetes/client-node';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata?: { name?: string; namespace?: string; [k: string]: unknown };
  [k: string]: unknown;
}

interface Attr {
  baseName: string;
  type: string;
}
type ModelClass = { getAttributeTypeMap(): Attr[] };

const models = k8s as unknown as Record<string, ModelClass | undefined>;

/** `apps/v1` + Deployment → client-node's V1Deployment. */
function modelName(apiVersion: string, kind: string): string {
  const version = apiVersion.split('/').pop() ?? apiVersion;
  return version[0]!.toUpperCase() + version.slice(1) + kind;
}

const PRIMITIVE: Record<string, (v: unknown) => boolean> = {
  string: (v) => typeof v === 'string',
  number: (v) => typeof v === 'number',
  boolean: (v) => typeof v === 'boolean',
  Date: (v) => typeof v === 'string',
  IntOrString: (v) => typeof v === 'string' || (typeof v === 'number' && Number.isInteger(v)),
  any: () => true,
  object: () => true,
};

function strictWalk(value: unknown, type: string, at: string, errors: string[]): void {
  if (value === null || value === undefined) return;
  const primitive = PRIMITIVE[type];
  if (primitive) {
    if (!primitive(value)) errors.push(`${at}: expected ${type}, got ${JSON.stringify(value)}`);
    return;
  }
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    if (!Array.isArray(value)) return void errors.push(`${at}: expected a list`);
    value.forEach((item, i) => strictWalk(item, array[1]!, `${at}[${i}]`, errors));
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    if (typeof value !== 'object' || Array.isArray(value))
      return void errors.push(`${at}: expected a map`);
    for (const [k, v] of Object.entries(value)) strictWalk(v, map[1]!, `${at}.${k}`, errors);
    return;
  }
  const model = models[type];
  if (!model?.getAttributeTypeMap) return void errors.push(`${at}: no model for type ${type}`);
  if (typeof value !== 'object' || Array.isArray(value))
    return void errors.push(`${at}: expected an object (${type})`);
  const attrs = new Map(model.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  for (const [k, v] of Object.entries(value)) {
    const t = attrs.get(k);
    if (t === undefined) errors.push(`${at}.${k}: unknown field (${type})`);
    else strictWalk(v, t, `${at}.${k}`, errors);
  }
}

/** apiVersion → the kubernetes-models module that holds its kinds. */
function modelsModule(apiVersion: string): string {
  return `kubernetes-models/${apiVersion}`;
}

/** Every problem found in one object, as `Kind/name: where: what` lines; empty when valid. */
export async function validateObject(obj: KubeObject): Promise<string[]> {
  const id = `${obj.kind}/${obj.metadata?.name ?? '?'}`;
  const errors: string[] = [];
  if (typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string')
    return [`${id}: apiVersion and kind are required`];
  if (!obj.metadata?.name) errors.push('metadata.name is required');
  let mod: Record<string, unknown>;
  try {
    mod = (await import(modelsModule(obj.apiVersion))) as Record<string, unknown>;
  } catch {
    return [`${id}: unknown apiVersion ${obj.apiVersion}`];
  }
  const Model = mod[obj.kind] as (new (data: unknown) => { validate(): void }) | undefined;
  if (!Model) return [`${id}: unknown kind ${obj.kind} in ${obj.apiVersion}`];
  try {
    new Model(obj).validate();
  } catch (err) {
    errors.push(...(err as Error).message.split(', '));
  }
  strictWalk(obj, modelName(obj.apiVersion, obj.kind), '', errors);
  return errors.map((e) => `${id}: ${e}`);
}

export async function validateAll(objects: readonly KubeObject[]): Promise<string[]> {
  const all = await Promise.all(objects.map(validateObject));
  return all.flat();
}
