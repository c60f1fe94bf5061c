/**
 * One call for everything the template checks find: schema findings (resource specification),
 * value findings (this stack's own rules), screened by the allow-list.
 */
import { type Screened, screen } from './allow-list.js';
import { checkTemplateSchema, type ResourceSpec } from './schema.js';
import type { CfnTemplate } from './template.js';
import { checkTemplateValues } from './value-rules.js';

export function checkTemplate(spec: ResourceSpec, template: CfnTemplate): Screened {
  return screen([...checkTemplateSchema(spec, template), ...checkTemplateValues(template)]);
}
