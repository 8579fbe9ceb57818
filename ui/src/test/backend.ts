// A fake backend for component tests: `mockIPC` from @tauri-apps/api answers each command from the
// handlers given (an unmocked command fails the way a backend error would, so it cannot pass
// unnoticed), records every call, and emits events through Tauri's own event mock.
import { render, screen } from '@testing-library/svelte';
import { emit } from '@tauri-apps/api/event';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import App from '../App.svelte';
import { AppState } from '../lib/app.svelte';
import type { AccountDto } from '../lib/bindings/AccountDto';
import type { Commands, Events } from '../lib/bindings/commands';
import type { ConnectionDto } from '../lib/bindings/ConnectionDto';
import type { Route } from '../lib/stores/routing.svelte';

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
    handout: 'open',
    ...overrides,
  };
}

export function connection(overrides: Partial<ConnectionDto> = {}): ConnectionDto {
  const scopes = overrides.scopes ?? ['openid', 'email', 'profile', 'demo.read'];
  return {
    id: 'test',
    name: 'Test provider',
    provider: overrides.name ?? 'Test provider',
    description: null,
    kind: 'oauth2',
    status: 'active',
    error: null,
    enabled: overrides.status !== 'inactive',
    scopes,
    scope_choices: scopes.map((name) => ({ name, description: null, requested: true })),
    issuer: 'https://login.example.test',
    client_id: 'latchkey-test',
    needs_client_secret: false,
    takes_client_secret: true,
    client_secret_stored: false,
    client_setup_url: null,
    client_setup: null,
    redirect: 'deep-link',
    redirect_uri: `io.latchkey.desktop:/oauth/${overrides.id ?? 'test'}/callback`,
    revocation: 'rfc7009',
    api_base: null,
    ...overrides,
  };
}

/** Catalog entries as the backend lists them: Gmail not set up (it needs a secret), demo ready. */
export function gmail(overrides: Partial<ConnectionDto> = {}): ConnectionDto {
  return connection({
    id: 'gmail',
    name: 'Gmail',
    provider: 'Google',
    description: 'Mail in your Google account.',
    status: 'pending',
    scopes: ['openid', 'email', 'https://www.googleapis.com/auth/gmail.readonly'],
    scope_choices: [
      { name: 'openid', description: 'Know that it is you', requested: true },
      { name: 'email', description: 'See your email address', requested: true },
      { name: 'https://www.googleapis.com/auth/gmail.readonly', description: 'Read your email and settings', requested: true },
      { name: 'https://www.googleapis.com/auth/gmail.send', description: 'Send email on your behalf', requested: false },
    ],
    issuer: 'https://accounts.google.com',
    client_id: null,
    needs_client_secret: true,
    takes_client_secret: true,
    client_setup_url: 'https://console.cloud.google.com/apis/credentials',
    client_setup: 'In the Google Cloud console, create an OAuth client ID of type “Desktop app”. Paste its client ID and client secret here.',
    redirect: 'loopback',
    redirect_uri: 'http://127.0.0.1/oauth/gmail/callback (any port)',
    revocation: 'rfc7009',
    api_base: null,
    ...overrides,
  });
}

export function demo(overrides: Partial<ConnectionDto> = {}): ConnectionDto {
  return connection({
    id: 'demo',
    name: 'Demo',
    provider: 'Demo',
    description: 'A demo service that is ready to connect.',
    scopes: ['openid', 'demo.read'],
    scope_choices: [
      { name: 'openid', description: 'Know that it is you', requested: true },
      { name: 'demo.read', description: 'Read your demo data', requested: true },
      { name: 'demo.write', description: 'Change your demo data', requested: false },
    ],
    issuer: 'https://demo.example.test',
    client_id: 'demo-client',
    revocation: 'none',
    api_base: null,
    ...overrides,
  });
}

/** A few catalog connections: Gmail (pending, needs a secret), Demo (active), Slack (turned off). */
export function catalog(): ConnectionDto[] {
  return [
    gmail(),
    demo(),
    connection({
      id: 'slack',
      name: 'Slack',
      provider: 'Slack',
      description: 'Messages and channels in your Slack workspaces.',
      status: 'inactive',
      enabled: false,
      scopes: ['users:read'],
      client_id: null,
      issuer: null,
    }),
  ];
}

/**
 * The connection commands over a list the test can read back: `configure_connection` applies the
 * change and works out the status as the backend does (off → inactive; no client id, or no secret
 * where one is needed → pending), `add_connection` adds a custom connection (refusing an invalid
 * or taken name, as the backend does), `remove_connection` removes one (refusing a catalog entry),
 * and `open_provider_page` records nothing but the call. A client secret is reduced to
 * `client_secret_stored` at once, like the real backend.
 */
export class FakeConnections {
  list: ConnectionDto[];
  constructor(list: ConnectionDto[]) {
    this.list = list.map((c) => ({ ...c }));
  }

  static status(c: ConnectionDto): ConnectionDto['status'] {
    if (!c.enabled) return 'inactive';
    if (c.kind !== 'oauth2') return 'active';
    if (!c.client_id || (c.needs_client_secret && !c.client_secret_stored)) return 'pending';
    return c.status === 'error' ? 'error' : 'active';
  }

  handlers(): Handlers {
    return {
      window_painted: () => null,
      pending_consents: () => [],
      list_connections: () => this.list.map((c) => ({ ...c })),
      configure_connection: ({ connectionId, change }) => {
        const c = this.list.find((x) => x.id === connectionId);
        if (!c) fail('not_found', `There is no connection named “${connectionId}”.`);
        const next: ConnectionDto = { ...c };
        if (change.client_id !== null) next.client_id = change.client_id.trim() || null;
        if (change.clear_client_secret) next.client_secret_stored = false;
        else if (change.client_secret?.trim()) next.client_secret_stored = true;
        if (change.scopes !== null) {
          next.scopes = [...change.scopes];
          next.scope_choices = c.scope_choices.map((s) => ({ ...s, requested: change.scopes!.includes(s.name) }));
        }
        if (change.enabled !== null) next.enabled = change.enabled;
        next.status = FakeConnections.status({ ...next, status: c.status === 'error' && change.client_id === null ? 'error' : 'active' });
        this.list = this.list.map((x) => (x.id === connectionId ? next : x));
        return { ...next };
      },
      add_connection: ({ connection: n }) => {
        const id = n.id.trim();
        if (!/^[a-z0-9][a-z0-9-]{0,63}$/.test(id)) {
          fail('invalid_input', `“${id}” is not a valid connection name: use lowercase letters, digits and dashes.`);
        }
        if (this.list.some((c) => c.id === id)) fail('invalid_input', `There already is a connection named “${id}”.`);
        const oauth = n.kind === 'oauth2';
        const name = n.name?.trim() || id;
        const scopes = oauth ? (n.scopes ?? ['openid', 'email', 'profile']) : [];
        const added: ConnectionDto = {
          id,
          name,
          provider: name,
          description: null,
          kind: n.kind,
          status: 'active',
          error: null,
          enabled: true,
          scopes,
          scope_choices: scopes.map((s) => ({ name: s, description: null, requested: true })),
          issuer: oauth ? n.issuer : null,
          client_id: oauth ? n.client_id?.trim() || null : null,
          needs_client_secret: false,
          takes_client_secret: oauth,
          client_secret_stored: oauth && !!n.client_secret?.trim(),
          client_setup_url: null,
          client_setup: null,
          redirect: oauth ? 'loopback' : null,
          redirect_uri: oauth ? `http://127.0.0.1/oauth/${id}/callback (any port)` : null,
          revocation: oauth ? 'rfc7009' : null,
          api_base: null,
        };
        added.status = FakeConnections.status(added);
        this.list = [...this.list, added];
        return { ...added };
      },
      remove_connection: ({ connectionId }) => {
        const c = this.list.find((x) => x.id === connectionId);
        if (!c) fail('not_found', `There is no connection named “${connectionId}”.`);
        if (c.description !== null) fail('invalid_input', `${c.name} is built into Latchkey and cannot be removed; disable it instead.`);
        this.list = this.list.filter((x) => x.id !== connectionId);
        return null;
      },
      open_provider_page: () => null,
    };
  }
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

/**
 * Renders the whole window on `route` against a fake backend with these handlers; the connection
 * commands work over `connections` (by default the one test connection; `catalog()` for more).
 */
export function renderApp(handlers: Handlers, route: Route = { name: 'accounts' }, connections: ConnectionDto[] = [connection()]) {
  const fake = new FakeConnections(connections);
  const backend = new FakeBackend({
    ...fake.handlers(),
    list_accounts: () => [],
    ...handlers,
  });
  const app = new AppState();
  app.router.route = route;
  const result = render(App, { props: { app } });
  return { ...result, app, backend, connections: fake };
}

/**
 * Waits until the account list shows every row: a long list renders its first screenful at once
 * and appends the rest a batch per frame, with `aria-busy` on the list until it is complete.
 * Returns the rows, in document order. (It polls the list's attribute rather than using `waitFor`,
 * whose query of the whole document after each batch slows rendering 1,000 rows down a lot.)
 */
export async function allAccountRows(timeout = 10_000): Promise<HTMLElement[]> {
  const until = Date.now() + timeout;
  let list = await screen.findByTestId('account-list');
  for (;;) {
    if (!list.isConnected) list = await screen.findByTestId('account-list');
    if (list.getAttribute('aria-busy') !== 'true') break;
    if (Date.now() > until) throw new Error(`The account list was still being rendered after ${timeout} ms.`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return screen.queryAllByTestId('account');
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
