/** `${NAME}` substitution in a check file's text, as Soda does before reading the YAML. */
import { DqSyntaxError } from './errors.js';

/** `${NAME}` (spaces allowed inside the braces). */
const VARIABLE = /\$\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}/g;

export interface Substitution {
  readonly text: string;
  readonly errors: readonly DqSyntaxError[];
}

export function substituteVariables(
  file: string,
  text: string,
  variables: Readonly<Record<string, string>>,
): Substitution {
  const errors: DqSyntaxError[] = [];
  const lineOf = (offset: number): number => text.slice(0, offset).split('\n').length;
  const substituted = text.replace(VARIABLE, (whole, name: string, offset: number) => {
    const value = variables[name];
    if (value === undefined) {
      errors.push(
        new DqSyntaxError(
          { file, line: lineOf(offset) },
          `variable \${${name}} is not defined (pass it with -v ${name}=... or a "variables:" section)`,
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
