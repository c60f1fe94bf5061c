/** What every view gets from the shell: navigation, and one place to report a failed load. */
import type { ChangesReply } from './types.js';
import type { View } from './url-state.js';

export interface ViewContext {
  /** Shows another view; `replace` rewrites the current history entry (typing in a search box). */
  navigate(view: View, options?: { replace?: boolean }): void;
  /** Reports a failed request; the shell explains it (token prompt on 401, banner otherwise). */
  fail(error: unknown): void;
  /** Clears the error banner after a request that worked. */
  recovered(): void;
}

/**
 * A mounted view. `refresh(null)` loads it whole; the live loop calls `refresh(changes)` with each
 * /api/changes reply that has news, and the view reloads only what those changes touch.
 */
export interface ViewController {
  readonly element: HTMLElement;
  refresh(changes: ChangesReply | null): Promise<void>;
  /** Called when the view's own URL state changed (back/forward), without a remount. */
  update?(view: View): boolean;
  destroy(): void;
}
