// What a screen shows for data it asked the backend for: loading, the data, or why there is none.
import { CommandError } from './ipc';

export type Load<T> =
  | { status: 'loading' }
  | { status: 'ready'; value: T }
  | { status: 'error'; message: string }
  | { status: 'unavailable' };

/** The state for a failed load: "not connected to Latchkey", the command's sentence, or `fallback`. */
export function failed(e: unknown, fallback: string): Load<never> {
  if (e instanceof CommandError && e.code === 'unavailable') return { status: 'unavailable' };
  return { status: 'error', message: e instanceof CommandError ? e.message : fallback };
}
