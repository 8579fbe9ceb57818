import { screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { AccountDetailDto } from '../lib/bindings/AccountDetailDto';
import type { AccountDto } from '../lib/bindings/AccountDto';
import type { AuditEntryDto } from '../lib/bindings/AuditEntryDto';
import { account, connection, deferred, fail, renderApp, type Handlers } from '../test/backend';

const alice = account({ labels: ['work'], note: 'Used by the backup script.' });
const route = { name: 'account', id: alice.id } as const;
const at = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();
const history: AuditEntryDto[] = [
  { id: 1, at: at(90), account_id: alice.id, connection_id: 'test', action: 'account.created', actor: 'user', caller: null, outcome: 'ok', detail: '' },
  { id: 2, at: at(89), account_id: alice.id, connection_id: 'test', action: 'authorization.started', actor: 'user', caller: null, outcome: 'ok', detail: '' },
  { id: 3, at: at(88), account_id: alice.id, connection_id: 'test', action: 'state.changed', actor: 'provider', caller: null, outcome: 'ok', detail: 'pending -> active: signed in' },
  { id: 4, at: at(5), account_id: alice.id, connection_id: 'test', action: 'token.read', actor: 'cli', caller: 'deploy.sh', outcome: 'ok', detail: '' },
];

function open(a: AccountDto = alice, extra: Handlers = {}, h: AuditEntryDto[] = history) {
  let current = a;
  return renderApp(
    {
      list_accounts: () => [current],
      get_account: () => ({ account: current, history: h }),
      set_labels: ({ labels }) => (current = { ...current, labels: [...new Set(labels)].sort(), updated_at: new Date().toISOString() }),
      set_note: ({ note }) => (current = { ...current, note, updated_at: new Date().toISOString() }),
      ...extra,
    },
    route,
  );
}

describe('Account detail screen', () => {
  it('shows loading, then identity, status and details', async () => {
    const held = deferred<AccountDetailDto>();
    renderApp({ list_accounts: () => [alice], get_account: () => held.promise }, route);
    expect(await screen.findByTestId('loading')).toHaveTextContent('Loading this account…');
    held.resolve({ account: alice, history });
    const head = await screen.findByTestId('account-detail');
    expect(within(head).getByRole('heading', { level: 1 })).toHaveTextContent('alice@example.test');
    expect(within(head).getByTestId('status')).toHaveTextContent('Active');
    expect(head).toHaveTextContent('Test provider · Alice Example');
    expect(screen.getByText('Provider’s id').nextElementSibling).toHaveTextContent('sub-alice');
    expect(screen.getByText('Added').nextElementSibling).toHaveTextContent('3 days ago');
  });

  it('says when the account is gone', async () => {
    const { app } = renderApp({ list_accounts: () => [], get_account: () => fail('not_found', 'There is no such account (it may have been deleted).') }, route);
    expect(await screen.findByTestId('account-missing')).toHaveTextContent('This account no longer exists');
    await userEvent.click(screen.getByRole('button', { name: 'Back to accounts' }));
    expect(app.router.route).toEqual({ name: 'accounts' });
  });

  it('says why it could not load and retries', async () => {
    let n = 0;
    open(alice, { get_account: () => (++n === 1 ? fail('internal', 'Latchkey’s local database failed: locked') : { account: alice, history }) });
    const error = await screen.findByTestId('load-error');
    expect(error).toHaveTextContent('locked');
    await userEvent.click(within(error).getByRole('button', { name: 'Try again' }));
    expect(await screen.findByTestId('account-detail')).toBeInTheDocument();
  });

  it('lists the history, newest first, in words', async () => {
    open();
    const entries = await screen.findAllByTestId('history-entry');
    expect(entries.map((e) => e.dataset.action)).toEqual(['token.read', 'state.changed', 'authorization.started', 'account.created']);
    expect(entries[0]).toHaveTextContent('Credential handed out');
    expect(entries[0]).toHaveTextContent('Command line (deploy.sh)');
    expect(entries[0]).toHaveTextContent('5 minutes ago');
    expect(entries[1]).toHaveTextContent('Status changed');
    expect(entries[1]).toHaveTextContent('pending -> active: signed in');
  });

  it('says when there is no history yet', async () => {
    open(alice, {}, []);
    expect(await screen.findByText('Nothing recorded yet.')).toBeInTheDocument();
  });

  it('highlights a partial grant: requested but not granted', async () => {
    open(account({ granted_scopes: ['openid', 'email'], requested_scopes: ['openid', 'email', 'profile', 'demo.read'] }));
    expect(await screen.findByTestId('partial-grant')).toHaveTextContent('granted 2 of the 4 scopes');
    const rows = screen.getAllByTestId('scope-row');
    expect(rows.map((r) => [r.children[0]!.textContent, r.children[1]!.textContent])).toEqual([
      ['openid', 'Granted'],
      ['email', 'Granted'],
      ['profile', 'Not granted'],
      ['demo.read', 'Not granted'],
    ]);
  });

  it('asks to re-authorize when the connection’s scopes changed, naming the difference', async () => {
    const changed = account({ reauth_needed: true, requested_scopes: ['openid', 'email'], granted_scopes: ['openid', 'email'] });
    const { backend, app } = open(changed, {
      list_connections: () => [connection({ scopes: ['openid', 'email', 'calendar'] })],
      connect: () => ({ ...changed, signing_in: true }),
    });
    const callout = await screen.findByTestId('reauth-needed');
    expect(callout).toHaveTextContent('Test provider now asks for different access.');
    await waitFor(() => expect(callout).toHaveTextContent('Adds calendar.'));
    const button = screen.getByTestId('reauthorize');
    expect(button).toHaveTextContent('Re-authorize');
    await userEvent.click(button);
    await waitFor(() => expect(backend.callsOf('connect')).toEqual([{ connectionId: 'test', identifier: 'alice@example.test' }]));
    expect(app.router.route).toEqual({ name: 'add' });
  });

  it('shows the last error of an account in error, with Reconnect', async () => {
    open(account({ status: 'error', last_error: 'Test provider refused the request: invalid_grant.' }));
    expect(await screen.findByTestId('last-error')).toHaveTextContent('invalid_grant');
    expect(screen.getByTestId('reauthorize')).toHaveTextContent('Reconnect');
    expect(screen.queryByTestId('revoke')).not.toBeInTheDocument();
  });

  it('adds and removes labels', async () => {
    const { backend } = open();
    await screen.findByTestId('account-detail');
    await userEvent.type(screen.getByLabelText('New label'), 'backup{Enter}');
    await waitFor(() => expect(backend.callsOf('set_labels')).toEqual([{ accountId: alice.id, labels: ['work', 'backup'] }]));
    await waitFor(() => expect(screen.getAllByTestId('label').map((l) => l.textContent?.replace('×', '').trim())).toEqual(['backup', 'work']));
    expect(screen.getByLabelText('New label')).toHaveValue('');
    await userEvent.click(screen.getByRole('button', { name: 'Remove label work' }));
    await waitFor(() => expect(backend.callsOf('set_labels')[1]).toEqual({ accountId: alice.id, labels: ['backup'] }));
  });

  it('shows why a label was refused', async () => {
    open(alice, { set_labels: () => fail('invalid_input', '“a\\u{7}” is not a valid label: use up to 64 characters on one line.') });
    await screen.findByTestId('account-detail');
    await userEvent.type(screen.getByLabelText('New label'), 'bad{Enter}');
    expect(await screen.findByRole('alert')).toHaveTextContent('is not a valid label');
  });

  it('edits and saves the note', async () => {
    const { backend } = open();
    const note = await screen.findByTestId('note');
    await waitFor(() => expect(note).toHaveValue('Used by the backup script.'));
    expect(screen.getByTestId('save-note')).toBeDisabled();
    await userEvent.clear(note);
    await userEvent.type(note, 'Nightly backups');
    await userEvent.click(screen.getByTestId('save-note'));
    await waitFor(() => expect(backend.callsOf('set_note')).toEqual([{ accountId: alice.id, note: 'Nightly backups' }]));
    expect(await screen.findByText('Note saved.')).toBeInTheDocument();
    expect(screen.getByTestId('save-note')).toBeDisabled();
  });

  it('revokes after a confirmation that says what happens at the provider; Escape cancels', async () => {
    const revoked = { ...alice, status: 'revoked' as const, updated_at: new Date().toISOString() };
    const { backend } = open(alice, {
      revoke: () => ({ account: revoked, provider_confirmed: true, message: 'Access revoked: Test provider confirmed the tokens are invalid, and they were deleted from this device.', connected_apps_url: null }),
    });
    const revoke = await screen.findByTestId('revoke');
    await userEvent.click(revoke);
    let dialog = screen.getByTestId('revoke-dialog');
    expect(dialog).toHaveRole('alertdialog');
    expect(dialog).toHaveAccessibleName('Revoke access for alice@example.test?');
    expect(dialog).toHaveTextContent('Latchkey will ask Test provider to invalidate this account’s tokens');
    expect(within(dialog).getByTestId('confirm-revoke')).toHaveFocus();
    await userEvent.keyboard('{Escape}');
    expect(screen.queryByTestId('revoke-dialog')).not.toBeInTheDocument();
    expect(revoke).toHaveFocus();
    expect(backend.callsOf('revoke')).toEqual([]);

    await userEvent.click(revoke);
    dialog = screen.getByTestId('revoke-dialog');
    await userEvent.keyboard('{Enter}');
    await waitFor(() => expect(backend.callsOf('revoke')).toEqual([{ accountId: alice.id }]));
    expect(await screen.findByTestId('revoke-message')).toHaveTextContent('confirmed the tokens are invalid');
    expect(screen.queryByTestId('revoke-dialog')).not.toBeInTheDocument();
  });

  it('shows a revoke the provider could not confirm, and a revoke that failed', async () => {
    let n = 0;
    open(alice, {
      revoke: () =>
        ++n === 1
          ? fail('keychain_unavailable', 'The system keychain is not available (locked). Unlock it or start a Secret Service, then try again.')
          : { account: { ...alice, status: 'revoked' }, provider_confirmed: false, message: 'Removed from this device; not confirmed by Test provider (timeout).', connected_apps_url: null },
    });
    await userEvent.click(await screen.findByTestId('revoke'));
    await userEvent.click(screen.getByTestId('confirm-revoke'));
    expect(await screen.findByTestId('revoke-message')).toHaveTextContent('Unlock it or start a Secret Service');
    await userEvent.click(screen.getByTestId('revoke'));
    await userEvent.click(screen.getByTestId('confirm-revoke'));
    await waitFor(() => expect(screen.getByTestId('revoke-message')).toHaveTextContent('not confirmed by Test provider'));
  });

  it('forgets a revoke once the account is connected again', async () => {
    const { backend } = open(alice, {
      revoke: () => ({
        account: { ...alice, status: 'revoked' },
        provider_confirmed: true,
        message: 'Access revoked: Test provider confirmed the tokens are invalid.',
        connected_apps_url: null,
      }),
    });
    await userEvent.click(await screen.findByTestId('revoke'));
    await userEvent.click(screen.getByTestId('confirm-revoke'));
    expect(await screen.findByTestId('revoke-message')).toHaveTextContent('confirmed the tokens are invalid');
    await backend.emit('connect-succeeded', { ...alice, status: 'active', updated_at: new Date().toISOString() });
    await waitFor(() => expect(screen.queryByTestId('revoke-message')).not.toBeInTheDocument());
    expect(screen.getByTestId('account-detail')).toHaveAttribute('data-status', 'active');
  });

  it('offers the provider’s connected apps page after a revoke it could not confirm', async () => {
    const { backend } = open(alice, {
      revoke: () => ({
        account: { ...alice, status: 'revoked' },
        provider_confirmed: false,
        message: 'Removed from this device; Test provider could not confirm. Remove Latchkey on its connected apps page too.',
        connected_apps_url: 'https://login.example.test/apps',
      }),
      open_provider_page: () => null,
    });
    await userEvent.click(await screen.findByTestId('revoke'));
    await userEvent.click(screen.getByTestId('confirm-revoke'));
    const message = await screen.findByTestId('revoke-message');
    await userEvent.click(within(message).getByRole('button', { name: "Open Test provider's connected apps page" }));
    expect(backend.callsOf('open_provider_page')).toEqual([{ connectionId: 'test', page: 'connected-apps' }]);
  });

  it('keeps Tab inside the dialog', async () => {
    open();
    await userEvent.click(await screen.findByTestId('revoke'));
    const dialog = screen.getByTestId('revoke-dialog');
    await userEvent.tab();
    expect(within(dialog).getByTestId('cancel')).toHaveFocus();
    await userEvent.tab();
    expect(within(dialog).getByTestId('confirm-revoke')).toHaveFocus();
    await userEvent.tab({ shift: true });
    expect(within(dialog).getByTestId('cancel')).toHaveFocus();
  });

  it('deletes after a confirmation and goes back to the list', async () => {
    const { backend, app } = open(alice, { delete_account: () => null });
    await userEvent.click(await screen.findByTestId('delete'));
    const dialog = screen.getByTestId('delete-dialog');
    expect(dialog).toHaveTextContent('first ask Test provider to revoke its access');
    expect(dialog).toHaveTextContent('Its history stays in Settings → Activity.');
    await userEvent.click(within(dialog).getByTestId('confirm-delete'));
    await waitFor(() => expect(app.router.route).toEqual({ name: 'accounts' }));
    expect(backend.callsOf('delete_account')).toEqual([{ accountId: alice.id }]);
    expect(await screen.findByTestId('notice')).toHaveTextContent('alice@example.test was removed from Latchkey.');
  });

  it('keeps the account when deleting fails, and says why', async () => {
    const { app } = open(alice, { delete_account: () => fail('keychain_unavailable', 'The system keychain is not available (locked). Unlock it, then try again.') });
    await userEvent.click(await screen.findByTestId('delete'));
    await userEvent.click(screen.getByTestId('confirm-delete'));
    expect(await screen.findByTestId('notice')).toHaveTextContent('Unlock it, then try again.');
    expect(app.router.route).toEqual(route);
  });

  it('reloads when the backend reports a change to the account', async () => {
    const { backend } = open();
    await screen.findByTestId('account-detail');
    await backend.emit('accounts-changed', [{ ...alice, status: 'expired', updated_at: new Date().toISOString() }]);
    await waitFor(() => expect(backend.callsOf('get_account').length).toBeGreaterThanOrEqual(2));
    expect(within(screen.getByTestId('account-detail')).getByTestId('status')).toHaveTextContent('Expired — reconnect');
  });
});

describe('Account detail of a revoked account', () => {
  it('says no access is held, lists what it had, and offers Connect again', async () => {
    open(account({ status: 'revoked' }));
    expect(await screen.findByTestId('access-revoked')).toHaveTextContent('holds no access for this account any more');
    expect(screen.getAllByTestId('scope-row').map((r) => r.children[1]!.textContent)).toEqual(['Revoked', 'Revoked', 'Revoked', 'Revoked']);
    expect(screen.getByTestId('reauthorize')).toHaveTextContent('Connect again');
    expect(screen.queryByTestId('revoke')).not.toBeInTheDocument();
  });

  it('suspends, resumes and tests an account, and says how it went', async () => {
    let current = alice;
    open(alice, {
      list_accounts: () => [current],
      get_account: () => ({ account: current, history }),
      suspend_account: () => (current = { ...current, status: 'suspended', updated_at: new Date().toISOString() }),
      resume_account: () => (current = { ...current, status: 'active', updated_at: new Date().toISOString() }),
      test_account: () => ({ subject: 'sub-alice', email: 'alice@example.test', name: 'Alice Example' }),
    });
    await userEvent.click(await screen.findByTestId('test-account'));
    expect(await screen.findByTestId('action-message')).toHaveTextContent(
      'Test passed: Test provider knows this token as Alice Example, alice@example.test, sub-alice.',
    );
    await userEvent.click(screen.getByTestId('suspend'));
    expect(await screen.findByTestId('resume')).toBeInTheDocument();
    expect(screen.getByTestId('action-message')).toHaveTextContent('Suspended');
    expect(screen.queryByTestId('revoke')).not.toBeInTheDocument();
    expect(within(screen.getByTestId('account-detail')).getByTestId('status')).toHaveTextContent('Suspended');
    await userEvent.click(screen.getByTestId('resume'));
    expect(await screen.findByTestId('suspend')).toBeInTheDocument();
    expect(screen.getByTestId('action-message')).toHaveTextContent('Resumed: the account is active again.');
  });

  it('shows a failed test as a sentence, and an offline account as offline', async () => {
    const offline = account({ offline: 'the provider could not be reached', retry_at: at(-1) });
    open(offline, { test_account: () => fail('network', 'Test provider cannot be reached right now (timeout); Latchkey retries at 12:00.') });
    expect(within(await screen.findByTestId('account-detail')).getByTestId('status')).toHaveTextContent('Offline — retrying');
    await userEvent.click(screen.getByTestId('test-account'));
    expect(await screen.findByTestId('action-message')).toHaveTextContent('cannot be reached right now');
  });
});

describe('Token hand-out policy on the account', () => {
  it('shows the token hand-out policy and changes it, saying why when it cannot', async () => {
    let current = alice;
    let refuse = false;
    const { backend } = open(alice, {
      list_accounts: () => [current],
      get_account: () => ({ account: current, history }),
      set_handout_policy: ({ policy }) => {
        if (refuse) fail('internal', 'Latchkey’s local database failed: locked');
        return (current = { ...current, handout: policy as AccountDto['handout'], updated_at: new Date().toISOString() });
      },
    });
    const group = await screen.findByRole('group', { name: /Who may take this account’s token/ });
    expect(within(group).getByRole('radio', { name: 'Open' })).toBeChecked();
    expect(within(group).getByRole('radio', { name: 'Ask' })).toHaveAccessibleDescription(/Only programs you allowed/);
    expect(within(group).getByRole('radio', { name: 'Closed' })).toHaveAccessibleDescription(/never leaves Latchkey/);

    await userEvent.click(within(group).getByRole('radio', { name: 'Closed' }));
    await waitFor(() => expect(backend.callsOf('set_handout_policy')).toEqual([{ accountId: alice.id, policy: 'closed' }]));
    await waitFor(() => expect(within(group).getByRole('radio', { name: 'Closed' })).toBeChecked());
    expect(within(group).getByRole('radio', { name: 'Open' })).not.toBeChecked();

    refuse = true;
    await userEvent.click(within(group).getByRole('radio', { name: 'Ask' }));
    expect(await screen.findByTestId('handout-error')).toHaveTextContent('locked');
    await waitFor(() => expect(within(group).getByRole('radio', { name: 'Closed' })).toBeChecked());
  });

  it('names policy changes and refused credentials in the history', async () => {
    open(alice, {}, [
      { id: 7, at: at(3), account_id: alice.id, connection_id: 'test', action: 'policy.changed', actor: 'user', caller: null, outcome: 'ok', detail: 'hand-out policy open -> ask' },
      { id: 8, at: at(2), account_id: alice.id, connection_id: 'test', action: 'credential.refused', actor: 'cli', caller: '/usr/bin/git (pid 7)', outcome: 'failed', detail: 'git reported that the server refused the credential' },
    ]);
    const entries = await screen.findAllByTestId('history-entry');
    expect(entries[0]).toHaveTextContent('Credential refused by a server');
    expect(entries[1]).toHaveTextContent('Token hand-out policy changed');
    expect(entries[1]).toHaveTextContent('hand-out policy open -> ask');
  });
});
