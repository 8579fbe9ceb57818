// The stores on their own, over the fake backend: what the screens' tests see only indirectly.
import { describe, expect, it } from 'vitest';
import { account, connection, FakeBackend, fail } from '../../test/backend';
import { AppState } from '../app.svelte';

function app(accounts = [account()]) {
  return new AppState({ connections: [connection()], accounts });
}

describe('AccountsStore', () => {
  it('keeps the fresher copy of an account', () => {
    const held = account({ updated_at: '2026-01-02T00:00:00Z', status: 'active' });
    const state = app([held]);
    state.accounts.upsert({ ...held, status: 'expired', updated_at: '2026-01-01T00:00:00Z' });
    expect(state.accounts.get(held.id)).toBe(held);
    state.accounts.upsert({ ...held, status: 'revoked', updated_at: '2026-01-03T00:00:00Z' });
    expect(state.accounts.get(held.id)?.status).toBe('revoked');
  });

  it('drops a list request that an accounts-changed overtook', async () => {
    let answer!: (list: ReturnType<typeof account>[]) => void;
    new FakeBackend({ list_accounts: () => new Promise((resolve) => (answer = resolve)) });
    const state = app([]);
    const loading = state.accounts.load();
    const fresh = [account({ identifier: 'fresh@example.test' })];
    state.accounts.changed(fresh);
    answer([account({ identifier: 'old@example.test' })]);
    await loading;
    expect(state.accounts.list.map((a) => a.identifier)).toEqual(['fresh@example.test']);
  });

  it('sends a trimmed note, and none for blank text', async () => {
    const backend = new FakeBackend({ set_note: ({ note }) => account({ note }) });
    const state = app();
    await state.accounts.setNote('id-1', '  keep this  ');
    await state.accounts.setNote('id-1', '   ');
    expect(backend.callsOf('set_note')).toEqual([
      { accountId: 'id-1', note: 'keep this' },
      { accountId: 'id-1', note: null },
    ]);
  });
});

describe('SignInStore', () => {
  it('is busy while a sign-in is open, and navigating away clears only a finished one', async () => {
    const alice = account({ status: 'pending' });
    new FakeBackend({ connect: () => alice });
    const state = app([]);
    await state.signIn.connect('test', null);
    expect(state.router.route).toEqual({ name: 'add' });
    expect(state.signIn.busy).toBe(true);

    state.router.navigate({ name: 'accounts' });
    expect(state.signIn.current?.phase).toBe('waiting');

    state.signIn.succeeded({ ...alice, status: 'active' });
    expect(state.signIn.busy).toBe(false);
    state.router.navigate({ name: 'add' });
    expect(state.signIn.current).toBeNull();
  });

  it('keeps the failure of connect for the progress view', async () => {
    new FakeBackend({ connect: () => fail('network', 'The provider could not be reached.') });
    const state = app([]);
    await state.signIn.connect('test', null);
    expect(state.signIn.current).toMatchObject({ phase: 'failed', message: 'The provider could not be reached.' });
  });
});
