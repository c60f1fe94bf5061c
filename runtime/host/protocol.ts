/**
 * Messages between the Lambda host and one function container (a child process).
 *
 * Kept in its own module so the container entry point and the host agree on one shape; the
 * channel is Node's IPC (JSON), which is what a Lambda runtime API exchange carries too.
 */

/** What the host sends for one invocation. */
export interface InvokeMessage {
  readonly type: 'invoke';
  readonly requestId: string;
  readonly event: unknown;
  /** Epoch milliseconds at which the host kills the container (the function's timeout). */
  readonly deadlineMs: number;
  readonly invokedFunctionArn: string;
}

/** A handler error as Lambda reports it (`X-Amz-Function-Error` payload). */
export interface FunctionErrorPayload {
  readonly errorType: string;
  readonly errorMessage: string;
  readonly trace?: readonly string[];
}

/** What the container answers. `ready` is sent once the handler module has been imported. */
export type ContainerMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'init-error'; readonly error: FunctionErrorPayload }
  | { readonly type: 'result'; readonly requestId: string; readonly ok: true; readonly payload: unknown }
  | { readonly type: 'result'; readonly requestId: string; readonly ok: false; readonly error: FunctionErrorPayload };

/** Outcome of one invocation as seen by event sources and the Invoke API. */
export type InvocationOutcome =
  | { readonly ok: true; readonly payload: unknown; readonly requestId: string; readonly durationMs: number }
  | {
      readonly ok: false;
      readonly error: FunctionErrorPayload;
      /** `Unhandled` for thrown errors, timeouts and crashes, as Lambda reports them. */
      readonly functionError: 'Unhandled';
      /** The container never became ready (init failed, timed out or crashed): the event never reached the handler. */
      readonly initError?: boolean;
      readonly requestId: string;
      readonly durationMs: number;
    };

export function toErrorPayload(error: unknown): FunctionErrorPayload {
  if (error instanceof Error) {
    return { errorType: error.name || 'Error', errorMessage: error.message, trace: (error.stack ?? '').split('\n') };
  }
  return {
    errorType: 'Error',
    errorMessage: typeof error === 'string' ? error : (JSON.stringify(error) ?? String(error)),
  };
}
