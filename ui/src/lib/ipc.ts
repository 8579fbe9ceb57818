// The only module that talks to the Tauri backend.
//
// Everything that crosses the IPC boundary from the backend (command results, command rejections,
// event payloads and the first view handed over with the page) is also appended to the bounded
// array `window.__latchkeyIpc` as `{ kind: "result" | "error" | "event" | "first-view", name,
// payload }`, so the end-to-end test can scan exactly what the window received (it checks that no
// token ever arrives).
//
// Command and event types, and the events' names, come from the Rust side (ts-rs and the shell's
// event table): `./bindings/commands.ts`.
import { invoke as tauriInvoke } from '@tauri-apps/api/core';
import { listen as tauriListen } from '@tauri-apps/api/event';
import type { Commands, Events } from './bindings/commands';
import type { ErrorCodeDto } from './bindings/ErrorCodeDto';
import type { FirstViewDto } from './bindings/FirstViewDto';

export { EVENTS } from './bindings/commands';

export const IPC_LOG_LIMIT = 500;

export type IpcRecord = { kind: 'result' | 'error' | 'event' | 'first-view'; name: string; payload: unknown };

declare global {
  interface Window {
    __latchkeyIpc?: IpcRecord[];
    __TAURI_INTERNALS__?: unknown;
    /** JSON text, set by the backend's initialization script (commands/first_view.rs `first_view_script`). */
    __LATCHKEY_FIRST_VIEW__?: unknown;
  }
}

function ipcLog(): IpcRecord[] {
  if (!Array.isArray(window.__latchkeyIpc)) window.__latchkeyIpc = [];
  return window.__latchkeyIpc;
}

/** A copy, so later UI code can never alter what was recorded. */
function snapshot(payload: unknown): unknown {
  try {
    return structuredClone(payload);
  } catch {
    return payload;
  }
}

function record(kind: IpcRecord['kind'], name: string, payload: unknown): void {
  const log = ipcLog();
  log.push({ kind, name, payload: snapshot(payload) });
  if (log.length > IPC_LOG_LIMIT) log.splice(0, log.length - IPC_LOG_LIMIT);
}

export type ErrorCode = ErrorCodeDto | 'unavailable';

/** A rejected command, normalised: `message` is always a sentence to show as it is. */
export class CommandError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'CommandError';
    this.code = code;
  }
}

export const GENERIC_FAILURE = 'Something went wrong inside Latchkey. Try again; if it keeps happening, restart Latchkey.';
export const UNAVAILABLE =
  'This window is not connected to Latchkey. Open Latchkey itself to manage your accounts.';

const CODES: readonly string[] = [
  'reauth_needed',
  'keychain_unavailable',
  'provider_error',
  'network',
  'invalid_input',
  'not_found',
  'internal',
] satisfies ErrorCodeDto[];

function toCommandError(raw: unknown): CommandError {
  if (raw && typeof raw === 'object') {
    const { code, message } = raw as { code?: unknown; message?: unknown };
    const known = typeof code === 'string' && CODES.includes(code) ? (code as ErrorCodeDto) : 'internal';
    const text = typeof message === 'string' && message.trim() !== '' ? message : GENERIC_FAILURE;
    return new CommandError(known, text);
  }
  if (typeof raw === 'string' && raw.trim() !== '') {
    // Tauri itself rejects with a bare string, for example for an unknown command.
    return new CommandError('internal', `${GENERIC_FAILURE} (${raw})`);
  }
  return new CommandError('internal', GENERIC_FAILURE);
}

/** True inside the Tauri webview (or under `mockIPC` in tests). */
export function isTauriAvailable(): boolean {
  return typeof window !== 'undefined' && typeof window.__TAURI_INTERNALS__ === 'object' && window.__TAURI_INTERNALS__ !== null;
}

type NoArgs = Record<string, never>;
type ArgsOf<K extends keyof Commands> = Commands[K]['args'] extends NoArgs ? [] : [Commands[K]['args']];

/** Calls a backend command. Resolves with its result; rejects with a `CommandError`. */
export async function invoke<K extends keyof Commands>(cmd: K, ...args: ArgsOf<K>): Promise<Commands[K]['result']> {
  if (!isTauriAvailable()) throw new CommandError('unavailable', UNAVAILABLE);
  let result: Commands[K]['result'];
  try {
    result = await tauriInvoke<Commands[K]['result']>(cmd, args[0] ?? {});
  } catch (raw) {
    record('error', cmd, raw);
    throw toCommandError(raw);
  }
  record('result', cmd, result);
  return result;
}

/** Subscribes to a backend event; resolves with the function that unsubscribes. */
export async function listen<K extends keyof Events>(event: K, callback: (payload: Events[K]) => void): Promise<() => void> {
  if (!isTauriAvailable()) throw new CommandError('unavailable', UNAVAILABLE);
  try {
    return await tauriListen<Events[K]>(event, (message) => {
      record('event', event, message.payload);
      callback(message.payload);
    });
  } catch (raw) {
    throw toCommandError(raw);
  }
}

/**
 * The connections and accounts the backend handed over with the page (an initialization script:
 * commands/first_view.rs `first_view_script`, as JSON text), so the first frame can show the list; taken once,
 * and its text recorded like a command result. `null` when there is none or it is not the expected
 * shape: the window then loads both over IPC.
 */
export function takeFirstView(): FirstViewDto | null {
  if (typeof window === 'undefined') return null;
  const text = window.__LATCHKEY_FIRST_VIEW__;
  delete window.__LATCHKEY_FIRST_VIEW__;
  if (typeof text !== 'string') return null;
  let view: unknown;
  try {
    view = JSON.parse(text);
  } catch {
    return null;
  }
  if (!view || typeof view !== 'object') return null;
  const { connections, accounts } = view as Partial<FirstViewDto>;
  if (!Array.isArray(connections) || !Array.isArray(accounts)) return null;
  // The text as it came: a string needs no copy to stay as received.
  record('first-view', 'first-view', text);
  return { connections, accounts };
}

/** The sentence to show for any failure; never a raw object or a stack. */
export function messageOf(error: unknown, fallback = GENERIC_FAILURE): string {
  if (error instanceof CommandError) return error.message;
  return fallback;
}
