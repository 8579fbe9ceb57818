import { describe, expect, it } from 'vitest';
import { FakeBackend, account, connection, fail } from '../test/backend';
import { CommandError, EVENTS, GENERIC_FAILURE, IPC_LOG_LIMIT, invoke, isTauriAvailable, listen, takeFirstView } from './ipc';

describe('ipc', () => {
  it('refuses to call a backend outside Latchkey', async () => {
    expect(isTauriAvailable()).toBe(false);
    await expect(invoke('list_accounts')).rejects.toMatchObject({ code: 'unavailable' });
    await expect(listen('accounts-changed', () => {})).rejects.toBeInstanceOf(CommandError);
  });

  it('records every result, error and event payload in window.__latchkeyIpc', async () => {
    const alice = account();
    const backend = new FakeBackend({
      list_accounts: () => [alice],
      revoke: () => fail('network', 'Latchkey could not reach Test provider. Check your network and try again.'),
    });
    const seen: unknown[] = [];
    // The generated name; the backend emits the name on the wire.
    await listen(EVENTS.accountsChanged, (list) => seen.push(list));

    await expect(invoke('list_accounts')).resolves.toHaveLength(1);
    const error = await invoke('revoke', { accountId: 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandError);
    expect(error).toMatchObject({ code: 'network', message: expect.stringContaining('Check your network') });
    await backend.emit('accounts-changed', []);

    expect(seen).toEqual([[]]);
    expect(window.__latchkeyIpc).toEqual([
      { kind: 'result', name: 'list_accounts', payload: [alice] },
      { kind: 'error', name: 'revoke', payload: { code: 'network', message: expect.any(String) } },
      { kind: 'event', name: 'accounts-changed', payload: [] },
    ]);
    expect(backend.callsOf('revoke')).toEqual([{ accountId: 'x' }]);
  });

  it('keeps a copy, so later changes to a payload do not alter the record', async () => {
    const list = [account()];
    new FakeBackend({ list_accounts: () => list });
    const got = await invoke('list_accounts');
    got[0]!.identifier = 'changed';
    expect((window.__latchkeyIpc![0]!.payload as { identifier: string }[])[0]!.identifier).toBe('alice@example.test');
  });

  it('bounds the record to the last 500 payloads', async () => {
    new FakeBackend({ about: () => ({ name: 'Latchkey', version: '0.1.0', identifier: 'x', tauri_version: '2' }) });
    for (let i = 0; i < IPC_LOG_LIMIT + 20; i++) await invoke('about');
    expect(window.__latchkeyIpc).toHaveLength(IPC_LOG_LIMIT);
  });

  it('turns unknown failures into a sentence, never an object', async () => {
    new FakeBackend({
      list_accounts: () => {
        throw 'command list_accounts not found';
      },
      list_connections: () => {
        throw { code: 'weird', message: '' };
      },
    });
    await expect(invoke('list_accounts')).rejects.toMatchObject({ code: 'internal', message: expect.stringContaining(GENERIC_FAILURE) });
    await expect(invoke('list_connections')).rejects.toMatchObject({ code: 'internal', message: GENERIC_FAILURE });
  });

  it('takes the first view handed over with the page once, and records it', () => {
    const view = { connections: [connection()], accounts: [account()] };
    const text = JSON.stringify(view);
    window.__LATCHKEY_FIRST_VIEW__ = text;
    expect(takeFirstView()).toEqual(view);
    expect(window.__LATCHKEY_FIRST_VIEW__).toBeUndefined();
    expect(takeFirstView()).toBeNull();
    expect(window.__latchkeyIpc).toEqual([{ kind: 'first-view', name: 'first-view', payload: text }]);
  });

  it('ignores a first view of the wrong shape', () => {
    const parsed = { connections: [connection()], accounts: [account()] };
    for (const bad of [null, 'x', '{"connections": [', 'null', '{"connections": []}', '{"connections": [], "accounts": {}}', parsed]) {
      window.__LATCHKEY_FIRST_VIEW__ = bad;
      expect(takeFirstView()).toBeNull();
      expect(window.__LATCHKEY_FIRST_VIEW__).toBeUndefined();
    }
    expect(window.__latchkeyIpc ?? []).toEqual([]);
  });
});
