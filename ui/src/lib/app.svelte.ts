// The window's stores, made once per window and handed to components through Svelte context, and
// the wiring of the backend's events (`accounts-changed`, `connections-changed`,
// `connect-succeeded`, `connect-failed`) to them. Screens read the stores and change things only
// through them; `ipc.ts` is the only module that talks to the backend.
import { getContext, setContext, tick } from 'svelte';
import type { FirstViewDto } from './bindings/FirstViewDto';
import { SCRIPT_BEGAN } from './began';
import { delay } from './frames';
import { EVENTS, invoke, isTauriAvailable, listen } from './ipc';
import { AccountsStore } from './stores/accounts.svelte';
import { ConnectionsStore } from './stores/connections.svelte';
import { ConsentStore } from './stores/consent.svelte';
import { NoticesStore } from './stores/notices.svelte';
import { Router } from './stores/routing.svelte';
import { SignInStore } from './stores/signIn.svelte';

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
  readonly notices = new NoticesStore();
  readonly router = new Router();
  readonly connections: ConnectionsStore;
  readonly accounts: AccountsStore;
  readonly signIn: SignInStore;
  readonly consent: ConsentStore;
  /** Ticks every 30 s so relative times stay honest. */
  now = $state(Date.now());
  /** Live updates could not be subscribed to. */
  liveUpdatesOff = $state(false);

  #stops: (() => void)[] = [];

  /** `first`: the lists handed over with the page (`takeFirstView`), shown at once. */
  constructor(first: FirstViewDto | null = null) {
    this.connections = new ConnectionsStore(this.notices, first?.connections);
    this.accounts = new AccountsStore(this.notices, this.connections, first?.accounts);
    this.signIn = new SignInStore(this.accounts, this.connections, this.notices, this.router);
    this.consent = new ConsentStore(this.notices);
  }

  /**
   * Subscribes to the backend's events, then loads connections and accounts: again when the page
   * came with them (they may have changed between the page's making and the subscriptions), but
   * without "Loading…" in their place.
   */
  async start(): Promise<void> {
    if (!isTauriAvailable()) {
      this.connections.state = { status: 'unavailable' };
      this.accounts.state = { status: 'unavailable' };
      return;
    }
    // The lists that came with the page are in its first frame: report that frame, and only then
    // subscribe and reload, so the reload (1,000 accounts: their IPC answer and a re-render) does not
    // hold that frame up. A hidden window paints no frames, so this waits for FIRST_PAINT_WAIT_MS at
    // most.
    const firstView = this.accounts.state.status === 'ready';
    if (firstView) await Promise.race([this.#reportFirstPaint(), delay(FIRST_PAINT_WAIT_MS)]);
    const timer = setInterval(() => (this.now = Date.now()), 30_000);
    this.#stops.push(() => clearInterval(timer));
    // Subscribe first, so no change is missed between the first load and the listeners.
    const subscriptions = await Promise.allSettled([
      listen(EVENTS.accountsChanged, (list) => this.accounts.changed(list)),
      listen(EVENTS.connectionsChanged, () => void this.connections.refresh()),
      listen(EVENTS.connectSucceeded, (account) => {
        this.accounts.connected(account);
        this.signIn.succeeded(account);
      }),
      listen(EVENTS.connectFailed, (failure) => this.signIn.failed(failure)),
      listen(EVENTS.consentRequested, (question) => this.consent.requested(question)),
      listen(EVENTS.consentEnded, (id) => this.consent.ended(id)),
    ]);
    for (const s of subscriptions) {
      if (s.status === 'fulfilled') this.#stops.push(s.value);
      else this.liveUpdatesOff = true;
    }
    await Promise.all([
      firstView ? this.connections.refresh() : this.connections.load(),
      this.accounts.load(),
      this.consent.load(),
    ]);
    if (!firstView) void this.#reportFirstPaint();
  }

  /** Tells the backend when the first account list is on screen (its log, and the start-up
   * benchmark): the time from the page's script to the frame after the list rendered, and from the
   * page's navigation to its script (`SCRIPT_BEGAN`). A long list renders its first screenful
   * first and appends the rest after that frame (Accounts.svelte), so this is when the first screen
   * of the list was painted. */
  async #reportFirstPaint(): Promise<void> {
    if (this.accounts.state.status !== 'ready' || typeof requestAnimationFrame !== 'function') return;
    const accounts = this.accounts.state.value.length;
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
}
