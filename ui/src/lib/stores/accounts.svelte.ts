// The accounts, loaded from the backend and kept current by `accounts-changed`, and every command
// that changes one account.
import type { AccountDetailDto } from '../bindings/AccountDetailDto';
import type { AccountDto } from '../bindings/AccountDto';
import type { HandoutPolicyDto } from '../bindings/HandoutPolicyDto';
import type { IdentityDto } from '../bindings/IdentityDto';
import type { RevokeDto } from '../bindings/RevokeDto';
import { invoke, messageOf } from '../ipc';
import { byId, reuseUnchanged, upsert, withoutId } from '../lists';
import { failed, type Load } from '../load';
import { displayName } from '../status';
import type { ConnectionsStore } from './connections.svelte';
import type { NoticesStore } from './notices.svelte';

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

export class AccountsStore {
  // Raw: the list is replaced whole, never changed in place, so a deep proxy would only cost time
  // (a signal per field read of every account on every render).
  state = $state.raw<Load<AccountDto[]>>({ status: 'loading' });
  /** The result of the last revoke of each account, shown beside it. */
  revokeResults = $state<Record<string, RevokeResult>>({});

  /** Bumped by each `accounts-changed`, which is at least as fresh as a list request before it. */
  #version = 0;
  /** Counts `accounts-changed`: the data changed (grants too), even when no account did. */
  changes = $state(0);
  #notices: NoticesStore;
  #connections: ConnectionsStore;

  /** `first`: the list handed over with the page, shown at once. */
  constructor(notices: NoticesStore, connections: ConnectionsStore, first: AccountDto[] | null = null) {
    this.#notices = notices;
    this.#connections = connections;
    if (first) this.state = { status: 'ready', value: first };
  }

  get list(): AccountDto[] {
    return this.state.status === 'ready' ? this.state.value : [];
  }

  get(id: string): AccountDto | undefined {
    return byId(this.list).get(id);
  }

  /** Loads the list; one already shown stays in place meanwhile (and when this fails). */
  async load(): Promise<void> {
    const version = this.#version;
    if (this.state.status !== 'ready') this.state = { status: 'loading' };
    try {
      const list = await invoke('list_accounts');
      if (version === this.#version) this.#setAll(list);
    } catch (e) {
      if (this.state.status === 'ready') this.#notices.notify('danger', 'Latchkey could not refresh your accounts', messageOf(e));
      else this.state = failed(e, 'Latchkey could not load your accounts.');
    }
  }

  /** The whole list, from `accounts-changed`. */
  changed(list: AccountDto[]): void {
    if (!Array.isArray(list)) return;
    this.#version += 1;
    this.changes += 1;
    this.#setAll(list);
  }

  /** Replaces one account in the list with a fresher copy (an older one is ignored). */
  upsert(account: AccountDto): void {
    if (this.state.status !== 'ready') return;
    const held = this.get(account.id);
    if (held && Date.parse(account.updated_at) < Date.parse(held.updated_at)) return;
    this.state = { status: 'ready', value: upsert(this.state.value, account) };
  }

  /** A sign-in of this account succeeded: its fresh copy, and a revoke's outcome is old news. */
  connected(account: AccountDto): void {
    this.upsert(account);
    if (account.id in this.revokeResults) {
      const { [account.id]: _, ...rest } = this.revokeResults;
      this.revokeResults = rest;
    }
  }

  /** The account with its history; rejects with a `CommandError` (`not_found` once it is gone). */
  detail(accountId: string): Promise<AccountDetailDto> {
    return invoke('get_account', { accountId });
  }

  /** Who may take the account's raw token; rejects with a `CommandError`. */
  setHandoutPolicy(accountId: string, policy: HandoutPolicyDto): Promise<AccountDto> {
    return invoke('set_handout_policy', { accountId, policy });
  }

  /** Rejects with a `CommandError`. */
  setLabels(accountId: string, labels: string[]): Promise<AccountDto> {
    return invoke('set_labels', { accountId, labels });
  }

  /** An empty note removes it; rejects with a `CommandError`. */
  setNote(accountId: string, note: string): Promise<AccountDto> {
    return invoke('set_note', { accountId, note: note.trim() || null });
  }

  /** Asks the provider who the account's token belongs to; rejects with a `CommandError`. */
  test(accountId: string): Promise<IdentityDto> {
    return invoke('test_account', { accountId });
  }

  /** Rejects with a `CommandError`. */
  suspend(accountId: string): Promise<AccountDto> {
    return invoke('suspend_account', { accountId });
  }

  /** Rejects with a `CommandError`. */
  resume(accountId: string): Promise<AccountDto> {
    return invoke('resume_account', { accountId });
  }

  /** Revokes each account in turn; the outcome of each is kept in `revokeResults`. */
  async revoke(ids: string[]): Promise<RevokeResult[]> {
    const results: RevokeResult[] = [];
    for (const accountId of ids) {
      const account = this.get(accountId);
      const name = account ? displayName(account) : 'The account';
      const connectionId = account?.connection_id ?? '';
      const provider = this.#connections.get(connectionId)?.provider ?? account?.connection_name ?? 'the provider';
      const base = { accountId, name, connectionId, provider };
      let result: RevokeResult;
      try {
        const outcome: RevokeDto = await invoke('revoke', { accountId });
        this.upsert(outcome.account);
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
    if (results.length === 1 && results[0]) this.#notices.announce(results[0].text);
    else this.#notices.announce(`${done} of ${results.length} accounts revoked.`);
    return results;
  }

  /** Deletes the account; true when it is gone. */
  async delete(accountId: string): Promise<boolean> {
    const account = this.get(accountId);
    try {
      await invoke('delete_account', { accountId });
      if (this.state.status === 'ready') this.state = { status: 'ready', value: withoutId(this.state.value, accountId) };
      const text = `${account ? displayName(account) : 'The account'} was removed from Latchkey. Its history stays in Activity.`;
      this.#notices.notify('success', 'Account deleted', text);
      this.#notices.announce(text);
      return true;
    } catch (e) {
      this.#notices.notify('danger', 'Latchkey could not delete the account', messageOf(e));
      return false;
    }
  }

  /**
   * A whole list from the backend. Accounts that did not change stay the objects already held (and
   * the held list stays when nothing changed), so a change to one account of 1,000 re-renders one
   * row, not all of them.
   */
  #setAll(list: AccountDto[]): void {
    const held = this.state.status === 'ready' ? this.state.value : null;
    const value = held ? reuseUnchanged(held, list) : list;
    if (value !== held) this.state = { status: 'ready', value };
  }
}
