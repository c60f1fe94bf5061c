/**
 * The OpenAPI 3.1 document of the query API, generated from the route table and its zod schemas
 * (OpenAPI 3.1 schemas are JSON Schema 2020-12, which zod 4 emits directly).
 */
import { z } from 'zod';
import { problem } from '#domain/api.js';
import type { Route } from './routes.js';

type JsonSchema = Record<string, unknown>;

function schemaOf(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

function parameters(schema: z.ZodObject | undefined, where: 'query' | 'path') {
  if (!schema) return [];
  return Object.entries(schema.shape).map(([name, field]) => {
    const json = schemaOf(field as z.ZodType, 'input');
    const { description, ...fieldSchema } = json;
    return {
      name,
      in: where,
      required: where === 'path' || !(field as z.ZodType).safeParse(undefined).success,
      ...(typeof description === 'string' ? { description } : {}),
      schema: fieldSchema,
    };
  });
}

const problemResponse = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
});

function operation(route: Route) {
  return {
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    ...(route.scope === 'admin' ? { 'x-required-scope': 'admin' } : {}),
    parameters: [...parameters(route.params, 'path'), ...parameters(route.query, 'query')],
    ...(route.body
      ? { requestBody: { required: true, content: { 'application/json': { schema: schemaOf(route.body, 'input') } } } }
      : {}),
    responses: {
      [String(route.status ?? 200)]: {
        description: 'OK',
        content: { 'application/json': { schema: schemaOf(route.reply, 'output') } },
      },
      ...(route.etag ? { '304': { description: 'Not modified since the ETag given in If-None-Match' } } : {}),
      '400': problemResponse('A parameter is invalid; the problem names it'),
      '401': problemResponse('No token, or a bad, expired or revoked one'),
      '403': problemResponse('The token lacks the scope this route needs'),
      ...(route.params ? { '404': problemResponse('No such sensor or token') } : {}),
    },
  };
}

export function openApiDocument(routes: readonly Route[]): JsonSchema {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    paths[route.path] ??= {};
    (paths[route.path] as Record<string, unknown>)[route.method] = operation(route);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'IoT First query API',
      version: '1.0.0',
      description:
        'Read-only access to what the pipeline produced. Every route needs a bearer token (npm run token -- create NAME); errors are RFC 9457 problem details.',
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: { Problem: schemaOf(problem, 'output') },
    },
    paths,
  };
}
