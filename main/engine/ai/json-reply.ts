import { z } from 'zod';
import type { JsonSchemaObject } from './llm-provider.js';

/** A model's reply read as JSON: the value, or what is wrong with it (worded for a retry prompt). */
export type JsonReply = { ok: true; value: unknown } | { ok: false; error: string };

/**
 * The JSON inside a model's reply.
 *
 * Models asked for JSON still wrap it in Markdown fences or put a reasoning block (`<think>…`)
 * before it; both are removed before parsing.
 */
export function extractJson(text: string): JsonReply {
  let body = text.replace(/<think>[\s\S]*?<\/think>/g, '').trim();
  const fenced = /^```[a-zA-Z]*\s*\n?([\s\S]*?)\n?```$/.exec(body);
  if (fenced?.[1] !== undefined) body = fenced[1].trim();
  if (body === '') return { ok: false, error: 'the reply was empty' };
  try {
    return { ok: true, value: JSON.parse(body) as unknown };
  } catch (err) {
    return { ok: false, error: `the reply is not valid JSON (${(err as Error).message})` };
  }
}

/**
 * A validator for a JSON Schema, through zod's converter.
 *
 * Throws when the schema uses something the converter does not support; spec parsing calls this
 * first, so a task never starts with a schema it cannot check.
 */
export function compileJsonSchema(schema: JsonSchemaObject): z.ZodType {
  return z.fromJSONSchema(schema);
}

/** Parses a reply as JSON and, when given a validator, checks it. */
export function checkJsonReply(text: string, validator?: z.ZodType): JsonReply {
  const parsed = extractJson(text);
  if (!parsed.ok || validator === undefined) return parsed;
  const checked = validator.safeParse(parsed.value);
  if (checked.success) return parsed;
  return { ok: false, error: `the JSON does not match the schema:\n${z.prettifyError(checked.error)}` };
}
