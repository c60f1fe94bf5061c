/**
 * `${NAME}` substitution in a check file's text, as Soda does before reading the checks.
 *
 * Lookup order is Soda's (Jinja OsContext and Scan.get_variable): the process environment first,
 * then the file's `variables:` section (which Soda writes over the scan's variables), then the
 * scan variables (`-v NAME=value`, and `NOW`). A name found nowhere is left in the text and
 * reported on its line, so only the check (or section) that uses it is invalidated; Soda would
 * render it as an empty string instead (docs/sodacl-v3.md, "Deliberate differences").
 */
import { isMap, isScalar, type parseDocument } from 'yaml';
import { DqSyntaxError } from './errors.js';

/** `${NAME}` (spaces allowed inside the braces). */
const VARIABLE = /\$\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}/g;

export type Lookup = (name: string) => string | undefined;

export interface VariableSources {
  /** The process environment (the CLI passes `process.env`); wins over everything. */
  readonly environment?: Readonly<Record<string, string | undefined>>;
  /** Scan variables: `-v NAME=value` and `NOW`. */
  readonly scan?: Readonly<Record<string, string>>;
}

export interface Substitution {
  readonly text: string;
  /** One per unresolved use, on the line of the use. */
  readonly errors: readonly DqSyntaxError[];
}

function resolveIn(text: string, lookup: Lookup): string {
  return text.replace(VARIABLE, (whole, name: string) => lookup(name) ?? whole);
}

/** Environment, then the file's `variables:` (resolved in order), then the scan variables. */
export function variableLookup(doc: ReturnType<typeof parseDocument>, sources: VariableSources): Lookup {
  const env = sources.environment ?? {};
  const scan = sources.scan ?? {};
  const fileVars: Record<string, string> = {};
  const lookup: Lookup = (name) => env[name] ?? fileVars[name] ?? scan[name];
  const section = doc.get('variables');
  if (isMap(section)) {
    for (const p of section.items) {
      if (isScalar(p.key) && isScalar(p.value))
        fileVars[String(p.key.value)] = resolveIn(String(p.value.value), lookup);
    }
  }
  return lookup;
}

export function substituteVariables(file: string, text: string, lookup: Lookup): Substitution {
  const errors: DqSyntaxError[] = [];
  const lineOf = (offset: number): number => text.slice(0, offset).split('\n').length;
  const substituted = text.replace(VARIABLE, (whole, name: string, offset: number) => {
    const value = lookup(name);
    if (value === undefined) {
      errors.push(
        new DqSyntaxError(
          { file, line: lineOf(offset) },
          `variable \${${name}} is not defined (pass it with -v ${name}=..., a "variables:" section or the environment)`,
        ),
      );
      return whole;
    }
    if (/[\r\n]/.test(value)) {
      errors.push(new DqSyntaxError({ file, line: lineOf(offset) }, `variable \${${name}} must be a single line`));
      return whole;
    }
    return value;
  });
  return { text: substituted, errors };
}
