// The connections (catalog and custom), loaded from the backend and changed through it.
import type { ConnectionChangeDto } from '../bindings/ConnectionChangeDto';
import type { ConnectionDto } from '../bindings/ConnectionDto';
import type { NewConnectionDto } from '../bindings/NewConnectionDto';
import type { ProviderPageDto } from '../bindings/ProviderPageDto';
import { invoke, messageOf } from '../ipc';
import { byId, upsert, withoutId } from '../lists';
import { failed, type Load } from '../load';
import type { NoticesStore } from './notices.svelte';

export class ConnectionsStore {
  // Raw: the list is replaced whole, never changed in place, so a deep proxy would only cost time.
  state = $state.raw<Load<ConnectionDto[]>>({ status: 'loading' });

  /** Bumped by every change to `state`, so an older list request that answers later is dropped. */
  #version = 0;
  #notices: NoticesStore;

  /** `first`: the list handed over with the page, shown at once. */
  constructor(notices: NoticesStore, first: ConnectionDto[] | null = null) {
    this.#notices = notices;
    if (first) this.state = { status: 'ready', value: first };
  }

  get list(): ConnectionDto[] {
    return this.state.status === 'ready' ? this.state.value : [];
  }

  get(id: string): ConnectionDto | undefined {
    return byId(this.list).get(id);
  }

  async load(): Promise<void> {
    const version = ++this.#version;
    this.state = { status: 'loading' };
    try {
      const list = await invoke('list_connections');
      if (version === this.#version) this.state = { status: 'ready', value: list };
    } catch (e) {
      if (version === this.#version) this.state = failed(e, 'Latchkey could not load your connections.');
    }
  }

  /**
   * Loads the connections again without showing "Loading…" in their place (forms being edited
   * stay), after `connections-changed`.
   */
  async refresh(): Promise<void> {
    if (this.state.status !== 'ready') return this.load();
    const version = ++this.#version;
    try {
      const list = await invoke('list_connections');
      if (version === this.#version) this.state = { status: 'ready', value: list };
    } catch (e) {
      if (version === this.#version) this.#notices.notify('danger', 'Latchkey could not refresh your connections', messageOf(e));
    }
  }

  /**
   * Changes a connection's configuration (only the fields given); resolves with the connection as
   * it is now, rejects with a `CommandError`. A client secret passed here is sent once and never
   * kept.
   */
  async configure(connectionId: string, change: Partial<ConnectionChangeDto>): Promise<ConnectionDto> {
    const full: ConnectionChangeDto = {
      client_id: null,
      client_secret: null,
      clear_client_secret: false,
      scopes: null,
      enabled: null,
      ...change,
    };
    const updated = await invoke('configure_connection', { connectionId, change: full });
    this.#replaceList((list) => upsert(list, updated));
    return updated;
  }

  /**
   * Adds a custom connection (OpenID Connect by issuer, API key or basic auth); resolves with it
   * as the backend now lists it, rejects with a `CommandError`. A client secret passed here is
   * sent once and never kept.
   */
  async add(connection: NewConnectionDto): Promise<ConnectionDto> {
    const added = await invoke('add_connection', { connection });
    this.#replaceList((list) => upsert(list, added));
    void this.refresh();
    return added;
  }

  /** Removes a custom connection that has no accounts; rejects with a `CommandError` when refused. */
  async remove(connectionId: string): Promise<void> {
    const name = this.get(connectionId)?.name ?? connectionId;
    await invoke('remove_connection', { connectionId });
    this.#replaceList((list) => withoutId(list, connectionId));
    void this.refresh();
    const text = `${name} was removed from Latchkey.`;
    this.#notices.notify('success', 'Connection removed', text);
    this.#notices.announce(text);
  }

  /** Opens a provider's page in the browser; resolves with a sentence when that failed, else null. */
  async openProviderPage(connectionId: string, page: ProviderPageDto): Promise<string | null> {
    try {
      await invoke('open_provider_page', { connectionId, page });
      this.#notices.announce('Opened the page in your browser.');
      return null;
    } catch (e) {
      return messageOf(e);
    }
  }

  /** Changes the loaded list by what a command answered; a list request already on its way may
   * predate the change, so its answer is dropped. */
  #replaceList(change: (list: ConnectionDto[]) => ConnectionDto[]): void {
    if (this.state.status !== 'ready') return;
    this.#version += 1;
    this.state = { status: 'ready', value: change(this.state.value) };
  }
}
