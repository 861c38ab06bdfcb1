import { z } from 'zod';
import { keyedUnionDocs } from './keyed-union.js';
import { operationSchema } from './operation.js';

/**
 * The JSON Schema of an operation file, for editors (YAML language server, VS Code) to validate and complete.
 *
 * Keyed unions validate through a transform, which has no JSON Schema; their documentation unions stand in.
 */
export function operationJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(operationSchema, {
    io: 'input',
    unrepresentable: 'any',
    override: (ctx) => {
      const doc = keyedUnionDocs.get(ctx.zodSchema);
      if (doc) {
        const { $schema: _drop, ...json } = z.toJSONSchema(doc, { io: 'input', unrepresentable: 'any' });
        for (const key of Object.keys(ctx.jsonSchema)) Reflect.deleteProperty(ctx.jsonSchema, key);
        Object.assign(ctx.jsonSchema, json);
      }
    },
  });
  return {
    ...schema,
    title: 'Ultravisor operation',
  };
}
