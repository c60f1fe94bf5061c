import type { SourcePos } from './model.js';

/**
 * A problem in a check file (syntax we do not support, a malformed threshold, an unknown key).
 * Always carries the file and line: the runner's promise is that it never passes silently over
 * something it did not understand, so the user must be able to find it.
 */
export class DqSyntaxError extends Error {
  override readonly name = 'DqSyntaxError';
  constructor(
    readonly pos: SourcePos,
    readonly detail: string,
  ) {
    super(`${pos.file}:${pos.line}: ${detail}`);
  }
}

/** Raised when a check cannot be evaluated (query error, NULL metric, bad variable). */
export class DqEvaluationError extends Error {
  override readonly name = 'DqEvaluationError';
}
