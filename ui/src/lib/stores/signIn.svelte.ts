// The sign-in started from this window (a new account, or re-authorizing one), from opening the
// browser to `connect-succeeded` or `connect-failed`; its progress shows on the Add account screen.
import type { AccountDto } from '../bindings/AccountDto';
import type { ConnectFailedDto } from '../bindings/ConnectFailedDto';
import { invoke, messageOf } from '../ipc';
import { displayName } from '../status';
import type { AccountsStore } from './accounts.svelte';
import type { ConnectionsStore } from './connections.svelte';
import type { NoticesStore } from './notices.svelte';
import type { Router } from './routing.svelte';

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

export class SignInStore {
  current = $state<SignIn | null>(null);

  #accounts: AccountsStore;
  #connections: ConnectionsStore;
  #notices: NoticesStore;
  #router: Router;

  constructor(accounts: AccountsStore, connections: ConnectionsStore, notices: NoticesStore, router: Router) {
    this.#accounts = accounts;
    this.#connections = connections;
    this.#notices = notices;
    this.#router = router;
    // A finished sign-in's outcome was seen; leaving (or reopening) Add account clears it.
    router.onNavigate(() => {
      if (this.current && (this.current.phase === 'succeeded' || this.current.phase === 'failed')) this.current = null;
    });
  }

  /** A sign-in is under way (no other can start). */
  get busy(): boolean {
    return this.current?.phase === 'opening' || this.current?.phase === 'waiting';
  }

  /**
   * Starts a sign-in in the browser: a new account, or (with the identifier of an existing one)
   * a re-authorization of that account. Progress shows on the Add account screen.
   */
  async connect(connectionId: string, identifier: string | null = null): Promise<void> {
    if (this.busy) return;
    const name = this.#connections.get(connectionId)?.name ?? connectionId;
    const existing = identifier
      ? this.#accounts.list.find((a) => a.connection_id === connectionId && a.identifier === identifier.trim())
      : undefined;
    this.current = {
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
    this.#router.navigate({ name: 'add' });
    this.#notices.announce(`Opening your browser to sign in to ${name}…`);
    try {
      const known = new Set(this.#accounts.list.map((a) => a.id));
      const account = await invoke('connect', { connectionId, identifier: identifier?.trim() || null });
      this.#accounts.upsert(account);
      if (this.current?.phase === 'opening' && this.current.connectionId === connectionId) {
        this.current = { ...this.current, accountId: account.id, created: !known.has(account.id), phase: 'waiting' };
        this.#notices.announce('Waiting for you to finish in your browser…');
      }
    } catch (e) {
      const message = messageOf(e);
      if (this.current?.connectionId === connectionId) this.current = { ...this.current, phase: 'failed', message };
      this.#notices.announce(message);
    }
  }

  reconnect(account: AccountDto): Promise<void> {
    return this.connect(account.connection_id, account.identifier);
  }

  /** "Open the link again". */
  async reopen(): Promise<void> {
    const accountId = this.current?.accountId;
    if (!accountId) return;
    try {
      await invoke('reopen_sign_in', { accountId });
      this.#notices.announce('Opened the sign-in page in your browser again.');
    } catch (e) {
      if (this.current?.accountId === accountId) this.current = { ...this.current, phase: 'failed', message: messageOf(e) };
    }
  }

  /** Gives up on the sign-in; an account this sign-in created is removed again. */
  async cancel(): Promise<void> {
    const signIn = this.current;
    if (!signIn) return;
    this.current = null;
    if (!signIn.accountId || signIn.phase !== 'waiting') return;
    try {
      const account = await invoke('cancel_sign_in', { accountId: signIn.accountId });
      if (signIn.created && account.status === 'pending') {
        await invoke('delete_account', { accountId: signIn.accountId });
      }
      this.#notices.announce('Sign-in cancelled. Nothing was stored.');
    } catch (e) {
      this.#notices.notify('danger', 'Latchkey could not cancel the sign-in', messageOf(e));
    }
  }

  /** Closes the success or failure view. */
  finish(): void {
    this.current = null;
  }

  /** After a failure: the same sign-in once more. */
  retry(): Promise<void> {
    const s = this.current;
    this.current = null;
    return s ? this.connect(s.connectionId, s.identifier) : Promise.resolve();
  }

  /** `connect-succeeded`. */
  succeeded(account: AccountDto): void {
    const s = this.current;
    if (s && (s.accountId === account.id || (s.phase === 'opening' && s.connectionId === account.connection_id))) {
      this.current = { ...s, accountId: account.id, phase: 'succeeded', account, message: null };
    }
    this.#notices.announce(`Connected ${displayName(account)} at ${account.connection_name}.`);
  }

  /** `connect-failed`. */
  failed(failure: ConnectFailedDto): void {
    const s = this.current;
    const message = failure.message?.trim() || 'Signing in did not finish. Try again.';
    if (s && failure.account_id && s.accountId === failure.account_id) {
      this.current = { ...s, phase: 'failed', message };
    } else {
      // A link for no sign-in of this window (forged, or from an old sign-in) still gets a word.
      this.#notices.notify('warning', 'A sign-in response was ignored', message);
    }
    this.#notices.announce(message);
  }
}
