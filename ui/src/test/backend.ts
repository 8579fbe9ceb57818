// A fake backend for component tests: `mockIPC` from @tauri-apps/api answers each command from the
// handlers given (an unmocked command fails the way a backend error would, so it cannot pass
// unnoticed), records every call, and emits events through Tauri's own event mock.
import { render } from '@testing-library/svelte';
import { emit } from '@tauri-apps/api/event';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import App from '../App.svelte';
import { AppState, type Route } from '../lib/app.svelte';
import type { AccountDto } from '../lib/bindings/AccountDto';
import type { Commands, Events } from '../lib/bindings/commands';
import type { ConnectionDto } from '../lib/bindings/ConnectionDto';

export type Handlers = {
  [K in keyof Commands]?: (args: Commands[K]['args']) => Commands[K]['result'] | Promise<Commands[K]['result']>;
};

export type Call = { cmd: string; args: Record<string, unknown> };

const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString();

export function account(overrides: Partial<AccountDto> = {}): AccountDto {
  return {
    id: '11111111-1111-4111-8111-111111111111',
    connection_id: 'test',
    connection_name: 'Test provider',
    identifier: 'alice@example.test',
    status: 'active',
    identity: { subject: 'sub-alice', email: 'alice@example.test', name: 'Alice Example' },
    requested_scopes: ['openid', 'email', 'profile', 'demo.read'],
    granted_scopes: ['openid', 'email', 'profile', 'demo.read'],
    expires_at: null,
    last_error: null,
    reauth_needed: false,
    labels: [],
    note: null,
    created_at: minutesAgo(60 * 24 * 3),
    updated_at: minutesAgo(3),
    signing_in: false,
    offline: null,
    retry_at: null,
    last_refresh: minutesAgo(3),
    revocation_pending: false,
    ...overrides,
  };
}

export function connection(overrides: Partial<ConnectionDto> = {}): ConnectionDto {
  return {
    id: 'test',
    name: 'Test provider',
    kind: 'oauth2',
    status: 'active',
    error: null,
    scopes: ['openid', 'email', 'profile', 'demo.read'],
    issuer: 'https://login.example.test',
    ...overrides,
  };
}

export class FakeBackend {
  calls: Call[] = [];
  constructor(public handlers: Handlers) {
    mockIPC(
      async (cmd, payload) => {
        const args = (payload ?? {}) as Record<string, unknown>;
        this.calls.push({ cmd, args });
        const handler = (this.handlers as Record<string, ((a: unknown) => unknown) | undefined>)[cmd];
        if (!handler) throw { code: 'internal', message: `The test did not mock ${cmd}.` };
        return handler(args);
      },
      { shouldMockEvents: true },
    );
  }

  callsOf(cmd: keyof Commands): Record<string, unknown>[] {
    return this.calls.filter((c) => c.cmd === cmd).map((c) => c.args);
  }

  emit<K extends keyof Events>(event: K, payload: Events[K]): Promise<void> {
    return emit(event, payload);
  }
}

/** A backend error as the real one rejects: `{ code, message }`. */
export function fail(code: string, message: string): never {
  throw { code, message };
}

/** Renders the whole window on `route` against a fake backend with these handlers. */
export function renderApp(handlers: Handlers, route: Route = { name: 'accounts' }) {
  const backend = new FakeBackend({
    list_connections: () => [connection()],
    list_accounts: () => [],
    ...handlers,
  });
  const app = new AppState();
  app.route = route;
  const result = render(App, { props: { app } });
  return { ...result, app, backend };
}

export function resetBackend(): void {
  clearMocks();
  delete window.__latchkeyIpc;
}

/** A promise with its resolve function, to hold a command until the test lets it answer. */
export function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((ok, no) => {
    resolve = ok;
    reject = no;
  });
  return { promise, resolve, reject };
}
