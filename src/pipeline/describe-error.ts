/** An infrastructure error as one log-friendly line (`Name: message`). */
export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
