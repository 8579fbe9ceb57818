// The window's state and the actions that change it. Backend data arrives from commands and events
// (`accounts-changed`, `connections-changed`, `connect-succeeded`, `connect-failed`); screens read this state and call
// these actions. One instance per window, handed to components through Svelte context.
import { getContext, setContext, tick } from 'svelte';
import type { AccountDto } from './bindings/AccountDto';
import type { ConnectFailedDto } from './bindings/ConnectFailedDto';
import type { ConnectionChangeDto } from './bindings/ConnectionChangeDto';
import type { ConnectionDto } from './bindings/ConnectionDto';
import type { FirstViewDto } from './bindings/FirstViewDto';
import type { NewConnectionDto } from './bindings/NewConnectionDto';
import type { ProviderPageDto } from './bindings/ProviderPageDto';
import type { RevokeDto } from './bindings/RevokeDto';
import { SCRIPT_BEGAN } from './began';
import { delay } from './frames';
import { CommandError, EVENTS, invoke, isTauriAvailable, listen, messageOf, UNAVAILABLE } from './ipc';
import { displayName } from './status';

export type SettingsSection = 'accounts' | 'connections' | 'activity' | 'keychain' | 'general' | 'about';

export type Route =
  | { name: 'accounts' }
  | { name: 'add' }
  | { name: 'account'; id: string }
  | { name: 'settings'; section: SettingsSection };

export type Load<T> =
  | { status: 'loading' }
  | { status: 'ready'; value: T }
  | { status: 'error'; message: string }
  | { status: 'unavailable' };

/** A sign-in started from this window, for the progress view. */
export type SignIn = {
  connectionId: string;
  connectionName: string;
  /** Set once `connect` answered. */
  accountId: string | null;
  /** The account name passed to `connect` (an existing account's re-authorizes it). */
  identifier: string | null;
  /** Re-authorizing this existing account (its display name), rather than adding one. */
  reauthorizing: string | null;
  /** The account did not exist before this sign-in (Cancel removes it again). */
  created: boolean;
  phase: 'opening' | 'waiting' | 'succeeded' | 'failed';
  account: AccountDto | null;
  message: string | null;
};

export type Tone = 'success' | 'warning' | 'danger' | 'neutral';
export type Notice = { id: number; tone: Tone; title: string; text: string };
export type RevokeResult = {
  accountId: string;
  name: string;
  ok: boolean;
  confirmed: boolean;
  text: string;
  connectionId: string;
  /** The provider's name, for "Open <provider>'s connected apps page". */
  provider: string;
  /** Set when the provider did not confirm: where the user removes access by hand. */
  connectedAppsUrl: string | null;
};

const APP = Symbol('latchkey-app');
/** How long `start` waits for the first view's frame before it subscribes and reloads anyway. */
const FIRST_PAINT_WAIT_MS = 250;

export function provideApp(app: AppState): void {
  setContext(APP, app);
}

export function useApp(): AppState {
  const app = getContext<AppState | undefined>(APP);
  if (!app) throw new Error('useApp() outside <App>');
  return app;
}

/** For component tests: the context map `render(…, { context })` takes. */
export function appContext(app: AppState): Map<symbol, AppState> {
  return new Map([[APP, app]]);
}

export class AppState {
  // Raw: lists from the backend are replaced whole, never changed in place, so deep proxies would
  // only cost time (a signal per field read of every account on every render).
  connections = $state.raw<Load<ConnectionDto[]>>({ status: 'loading' });
  accounts = $state.raw<Load<AccountDto[]>>({ status: 'loading' });
  route = $state<Route>({ name: 'accounts' });
  signIn = $state<SignIn | null>(null);
  notices = $state<Notice[]>([]);
  /** The latest sentence for the polite live region. */
  announcement = $state('');
  /** Ticks every 30 s so relative times stay honest. */
  now = $state(Date.now());
  /** Live updates could not be subscribed to. */
  liveUpdatesOff = $state(false);
  /** The result of the last revoke of each account, shown beside it. */
  revokeResults = $state<Record<string, RevokeResult>>({});

  #accountsVersion = 0;
  #connectionsVersion = 0;
  #noticeId = 0;
  #stops: (() => void)[] = [];

  /** `first`: the lists handed over with the page (`takeFirstView`), shown at once. */
  constructor(first: FirstViewDto | null = null) {
    if (first) {
      this.connections = { status: 'ready', value: first.connections };
      this.accounts = { status: 'ready', value: first.accounts };
    }
  }

  get accountList(): AccountDto[] {
    return this.accounts.status === 'ready' ? this.accounts.value : [];
  }

  get connectionList(): ConnectionDto[] {
    return this.connections.status === 'ready' ? this.connections.value : [];
  }

  account(id: string): AccountDto | undefined {
    return byId(this.accountList).get(id);
  }

  connection(id: string): ConnectionDto | undefined {
    return byId(this.connectionList).get(id);
  }

  /**
   * Subscribes to the backend's events, then loads connections and accounts: again when the page
   * came with them (they may have changed between the page's making and the subscriptions), but
   * without "Loading…" in their place.
   */
  async start(): Promise<void> {
    if (!isTauriAvailable()) {
      this.connections = { status: 'unavailable' };
      this.accounts = { status: 'unavailable' };
      return;
    }
    // The lists that came with the page are in its first frame: report that frame, and only then
    // subscribe and reload, so the reload (1,000 accounts: their IPC answer and a re-render) does not
    // hold that frame up. A hidden window paints no frames, so this waits for FIRST_PAINT_WAIT_MS at
    // most.
    const firstView = this.accounts.status === 'ready';
    if (firstView) await Promise.race([this.#reportFirstPaint(), delay(FIRST_PAINT_WAIT_MS)]);
    const timer = setInterval(() => (this.now = Date.now()), 30_000);
    this.#stops.push(() => clearInterval(timer));
    // Subscribe first, so no change is missed between the first load and the listeners.
    const subscriptions = await Promise.allSettled([
      listen(EVENTS.accountsChanged, (list) => this.#onAccountsChanged(list)),
      listen(EVENTS.connectionsChanged, () => void this.refreshConnections()),
      listen(EVENTS.connectSucceeded, (account) => this.#onConnectSucceeded(account)),
      listen(EVENTS.connectFailed, (failure) => this.#onConnectFailed(failure)),
    ]);
    for (const s of subscriptions) {
      if (s.status === 'fulfilled') this.#stops.push(s.value);
      else this.liveUpdatesOff = true;
    }
    await Promise.all([firstView ? this.refreshConnections() : this.loadConnections(), this.loadAccounts()]);
    if (!firstView) void this.#reportFirstPaint();
  }

  /** Tells the backend when the first account list is on screen (its log, and the start-up
   * benchmark): the time from the page's script to the frame after the list rendered, and from the
   * page's navigation to its script (`SCRIPT_BEGAN`). A long list renders its first screenful
   * first and appends the rest after that frame (Accounts.svelte), so this is when the first screen
   * of the list was painted. */
  async #reportFirstPaint(): Promise<void> {
    if (this.accounts.status !== 'ready' || typeof requestAnimationFrame !== 'function') return;
    const accounts = this.accounts.value.length;
    await tick();
    await new Promise<void>((reported) =>
      requestAnimationFrame(() =>
        requestAnimationFrame(() => {
          invoke('window_painted', { accounts, renderMs: performance.now() - SCRIPT_BEGAN, loadedMs: SCRIPT_BEGAN }).catch(() => {});
          reported();
        }),
      ),
    );
  }

  stop(): void {
    for (const stop of this.#stops.splice(0)) {
      try {
        stop();
      } catch {
        // The window is going away; nothing to tell anyone.
      }
    }
  }

  async loadConnections(): Promise<void> {
    const version = ++this.#connectionsVersion;
    this.connections = { status: 'loading' };
    try {
      const list = await invoke('list_connections');
      if (version === this.#connectionsVersion) this.connections = { status: 'ready', value: list };
    } catch (e) {
      if (version === this.#connectionsVersion) this.connections = failed(e, 'Latchkey could not load your connections.');
    }
  }

  /**
   * Loads the connections again without showing "Loading…" in their place (forms being edited
   * stay), after `connections-changed`.
   */
  async refreshConnections(): Promise<void> {
    if (this.connections.status !== 'ready') return this.loadConnections();
    const version = ++this.#connectionsVersion;
    try {
      const list = await invoke('list_connections');
      if (version === this.#connectionsVersion) this.connections = { status: 'ready', value: list };
    } catch (e) {
      if (version === this.#connectionsVersion) this.notify('danger', 'Latchkey could not refresh your connections', messageOf(e));
    }
  }

  /**
   * Changes a connection's configuration (only the fields given); resolves with the connection as
   * it is now, rejects with a `CommandError`. A client secret passed here is sent once and never
   * kept.
   */
  async configureConnection(connectionId: string, change: Partial<ConnectionChangeDto>): Promise<ConnectionDto> {
    const full: ConnectionChangeDto = {
      client_id: null,
      client_secret: null,
      clear_client_secret: false,
      scopes: null,
      enabled: null,
      ...change,
    };
    const updated = await invoke('configure_connection', { connectionId, change: full });
    this.#upsertConnection(updated);
    return updated;
  }

  /**
   * Adds a custom connection (OpenID Connect by issuer, API key or basic auth); resolves with it
   * as the backend now lists it, rejects with a `CommandError`. A client secret passed here is
   * sent once and never kept.
   */
  async addConnection(connection: NewConnectionDto): Promise<ConnectionDto> {
    const added = await invoke('add_connection', { connection });
    this.#upsertConnection(added);
    void this.refreshConnections();
    return added;
  }

  /** Removes a custom connection that has no accounts; rejects with a `CommandError` when refused. */
  async removeConnection(connectionId: string): Promise<void> {
    const name = this.connection(connectionId)?.name ?? connectionId;
    await invoke('remove_connection', { connectionId });
    if (this.connections.status === 'ready') {
      this.#connectionsVersion += 1;
      this.connections = { status: 'ready', value: this.connections.value.filter((c) => c.id !== connectionId) };
    }
    void this.refreshConnections();
    const text = `${name} was removed from Latchkey.`;
    this.notify('success', 'Connection removed', text);
    this.announce(text);
  }

  /** Opens a provider's page in the browser; resolves with a sentence when that failed, else null. */
  async openProviderPage(connectionId: string, page: ProviderPageDto): Promise<string | null> {
    try {
      await invoke('open_provider_page', { connectionId, page });
      this.announce('Opened the page in your browser.');
      return null;
    } catch (e) {
      return messageOf(e);
    }
  }

  async loadAccounts(): Promise<void> {
    const version = this.#accountsVersion;
    if (this.accounts.status !== 'ready') this.accounts = { status: 'loading' };
    try {
      const list = await invoke('list_accounts');
      // An `accounts-changed` that arrived meanwhile is at least as fresh.
      if (version === this.#accountsVersion) this.#setAccounts(list);
    } catch (e) {
      if (this.accounts.status === 'ready') this.notify('danger', 'Latchkey could not refresh your accounts', messageOf(e));
      else this.accounts = failed(e, 'Latchkey could not load your accounts.');
    }
  }

  navigate(route: Route): void {
    // A finished sign-in's outcome was seen; leaving (or reopening) Add account clears it.
    if (this.signIn && (this.signIn.phase === 'succeeded' || this.signIn.phase === 'failed')) this.signIn = null;
    this.route = route;
  }

  announce(text: string): void {
    // Re-setting the same text would not be read again; clear first.
    this.announcement = '';
    queueMicrotask(() => (this.announcement = text));
  }

  notify(tone: Tone, title: string, text: string): number {
    const id = ++this.#noticeId;
    this.notices = [...this.notices, { id, tone, title, text }];
    return id;
  }

  dismiss(id: number): void {
    this.notices = this.notices.filter((n) => n.id !== id);
  }

  /**
   * Starts a sign-in in the browser: a new account, or (with the identifier of an existing one)
   * a re-authorization of that account. Progress shows on the Add account screen.
   */
  async connect(connectionId: string, identifier: string | null = null): Promise<void> {
    if (this.signIn && (this.signIn.phase === 'opening' || this.signIn.phase === 'waiting')) return;
    const connection = this.connection(connectionId);
    const name = connection?.name ?? connectionId;
    const existing = identifier
      ? this.accountList.find((a) => a.connection_id === connectionId && a.identifier === identifier.trim())
      : undefined;
    this.signIn = {
      connectionId,
      connectionName: name,
      accountId: null,
      identifier: identifier?.trim() || null,
      reauthorizing: existing ? displayName(existing) : null,
      created: false,
      phase: 'opening',
      account: null,
      message: null,
    };
    this.route = { name: 'add' };
    this.announce(`Opening your browser to sign in to ${name}…`);
    try {
      const known = new Set(this.accountList.map((a) => a.id));
      const account = await invoke('connect', { connectionId, identifier: identifier?.trim() || null });
      this.#upsert(account);
      if (this.signIn?.phase === 'opening' && this.signIn.connectionId === connectionId) {
        this.signIn = { ...this.signIn, accountId: account.id, created: !known.has(account.id), phase: 'waiting' };
        this.announce('Waiting for you to finish in your browser…');
      }
    } catch (e) {
      const message = messageOf(e);
      if (this.signIn?.connectionId === connectionId) this.signIn = { ...this.signIn, phase: 'failed', message };
      this.announce(message);
    }
  }

  reconnect(account: AccountDto): Promise<void> {
    return this.connect(account.connection_id, account.identifier);
  }

  /** "Open the link again". */
  async reopenSignIn(): Promise<void> {
    const accountId = this.signIn?.accountId;
    if (!accountId) return;
    try {
      await invoke('reopen_sign_in', { accountId });
      this.announce('Opened the sign-in page in your browser again.');
    } catch (e) {
      if (this.signIn?.accountId === accountId) this.signIn = { ...this.signIn, phase: 'failed', message: messageOf(e) };
    }
  }

  /** Gives up on the sign-in; an account this sign-in created is removed again. */
  async cancelSignIn(): Promise<void> {
    const signIn = this.signIn;
    if (!signIn) return;
    this.signIn = null;
    if (!signIn.accountId || signIn.phase !== 'waiting') return;
    try {
      const account = await invoke('cancel_sign_in', { accountId: signIn.accountId });
      if (signIn.created && account.status === 'pending') {
        await invoke('delete_account', { accountId: signIn.accountId });
      }
      this.announce('Sign-in cancelled. Nothing was stored.');
    } catch (e) {
      this.notify('danger', 'Latchkey could not cancel the sign-in', messageOf(e));
    }
  }

  /** Closes the success or failure view. */
  finishSignIn(): void {
    this.signIn = null;
  }

  /** After a failure: the same sign-in once more. */
  retrySignIn(): Promise<void> {
    const s = this.signIn;
    this.signIn = null;
    return s ? this.connect(s.connectionId, s.identifier) : Promise.resolve();
  }

  /** Revokes each account in turn; the outcome of each is kept in `revokeResults`. */
  async revoke(ids: string[]): Promise<RevokeResult[]> {
    const results: RevokeResult[] = [];
    for (const accountId of ids) {
      const account = this.account(accountId);
      const name = account ? displayName(account) : 'The account';
      const connectionId = account?.connection_id ?? '';
      const provider = this.connection(connectionId)?.provider ?? account?.connection_name ?? 'the provider';
      const base = { accountId, name, connectionId, provider };
      let result: RevokeResult;
      try {
        const outcome: RevokeDto = await invoke('revoke', { accountId });
        this.#upsert(outcome.account);
        result = {
          ...base,
          connectionId: outcome.account.connection_id,
          ok: true,
          confirmed: outcome.provider_confirmed,
          text: outcome.message,
          connectedAppsUrl: outcome.connected_apps_url,
        };
      } catch (e) {
        result = { ...base, ok: false, confirmed: false, text: messageOf(e), connectedAppsUrl: null };
      }
      this.revokeResults = { ...this.revokeResults, [accountId]: result };
      results.push(result);
    }
    const done = results.filter((r) => r.ok).length;
    if (results.length === 1 && results[0]) this.announce(results[0].text);
    else this.announce(`${done} of ${results.length} accounts revoked.`);
    return results;
  }

  /** Deletes the account; true when it is gone. */
  async deleteAccount(accountId: string): Promise<boolean> {
    const account = this.account(accountId);
    try {
      await invoke('delete_account', { accountId });
      if (this.accounts.status === 'ready') {
        this.accounts = { status: 'ready', value: this.accounts.value.filter((a) => a.id !== accountId) };
      }
      const text = `${account ? displayName(account) : 'The account'} was removed from Latchkey. Its history stays in Activity.`;
      this.notify('success', 'Account deleted', text);
      this.announce(text);
      return true;
    } catch (e) {
      this.notify('danger', 'Latchkey could not delete the account', messageOf(e));
      return false;
    }
  }

  /** Replaces one account in the list with a fresher copy. */
  #upsert(account: AccountDto): void {
    if (this.accounts.status !== 'ready') return;
    const list = this.accounts.value;
    const i = list.findIndex((a) => a.id === account.id);
    if (i === -1) {
      this.accounts = { status: 'ready', value: [...list, account] };
      return;
    }
    const held = Date.parse(list[i]!.updated_at);
    if (Date.parse(account.updated_at) < held) return;
    this.accounts = { status: 'ready', value: list.map((a, j) => (j === i ? account : a)) };
  }

  /** Replaces one connection in the list with the copy a command returned. */
  #upsertConnection(connection: ConnectionDto): void {
    if (this.connections.status !== 'ready') return;
    // A list request already on its way may predate this change.
    this.#connectionsVersion += 1;
    const list = this.connections.value;
    const known = list.some((c) => c.id === connection.id);
    this.connections = {
      status: 'ready',
      value: known ? list.map((c) => (c.id === connection.id ? connection : c)) : [...list, connection],
    };
  }

  #onAccountsChanged(list: AccountDto[]): void {
    if (!Array.isArray(list)) return;
    this.#accountsVersion += 1;
    this.#setAccounts(list);
  }

  /**
   * A whole list from the backend. Accounts that did not change stay the objects already held (and
   * the held list stays when nothing changed), so a change to one account of 1,000 re-renders one
   * row, not all of them.
   */
  #setAccounts(list: AccountDto[]): void {
    const held = this.accounts.status === 'ready' ? this.accounts.value : null;
    const value = held ? reuseUnchanged(held, list) : list;
    if (value !== held) this.accounts = { status: 'ready', value };
  }

  #onConnectSucceeded(account: AccountDto): void {
    this.#upsert(account);
    // A revoke's outcome is news about tokens this sign-in replaced.
    if (account.id in this.revokeResults) {
      const { [account.id]: _, ...rest } = this.revokeResults;
      this.revokeResults = rest;
    }
    const s = this.signIn;
    if (s && (s.accountId === account.id || (s.phase === 'opening' && s.connectionId === account.connection_id))) {
      this.signIn = { ...s, accountId: account.id, phase: 'succeeded', account, message: null };
    }
    this.announce(`Connected ${displayName(account)} at ${account.connection_name}.`);
  }

  #onConnectFailed(failure: ConnectFailedDto): void {
    const s = this.signIn;
    const message = failure.message?.trim() || 'Signing in did not finish. Try again.';
    if (s && failure.account_id && s.accountId === failure.account_id) {
      this.signIn = { ...s, phase: 'failed', message };
    } else {
      // A link for no sign-in of this window (forged, or from an old sign-in) still gets a word.
      this.notify('warning', 'A sign-in response was ignored', message);
    }
    this.announce(message);
  }
}

const indexes = new WeakMap<readonly { id: string }[], Map<string, { id: string }>>();

/** A list's items by id, built once per list (lists are replaced, never changed in place). */
function byId<T extends { id: string }>(list: readonly T[]): Map<string, T> {
  let index = indexes.get(list);
  if (!index) {
    index = new Map();
    for (const item of list) if (!index.has(item.id)) index.set(item.id, item);
    indexes.set(list, index);
  }
  return index as Map<string, T>;
}

function reuseUnchanged<T extends { id: string }>(held: T[], fresh: T[]): T[] {
  const index = byId(held);
  let same = held.length === fresh.length;
  const list = fresh.map((item, i) => {
    const old = index.get(item.id);
    if (old === undefined || !sameData(old, item)) {
      same = false;
      return item;
    }
    if (held[i] !== old) same = false;
    return old;
  });
  return same ? held : list;
}

/** Deep equality of data as it arrives over IPC (JSON: objects, arrays, primitives). */
function sameData(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameData(x, b[i]));
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const keys = Object.keys(x);
  return (
    keys.length === Object.keys(y).length &&
    keys.every((k) => Object.prototype.hasOwnProperty.call(y, k) && sameData(x[k], y[k]))
  );
}

function failed(e: unknown, fallback: string): Load<never> {
  if (e instanceof CommandError && e.code === 'unavailable') return { status: 'unavailable' };
  return { status: 'error', message: e instanceof CommandError ? e.message : fallback };
}

export { UNAVAILABLE };
