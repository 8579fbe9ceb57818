import { screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { SettingsSection } from '../lib/stores/routing.svelte';
import type { AccountDto } from '../lib/bindings/AccountDto';
import type { AuditEntryDto } from '../lib/bindings/AuditEntryDto';
import type { KeychainDto } from '../lib/bindings/KeychainDto';
import { account, catalog, connection, deferred, fail, gmail, renderApp, type Handlers } from '../test/backend';

const settings = (section: SettingsSection) => ({ name: 'settings', section }) as const;
const alice = account();
const bob = account({ id: '22222222-2222-4222-8222-222222222222', identifier: 'bob@work.test', identity: null });
const carol = account({
  id: '33333333-3333-4333-8333-333333333333',
  connection_id: 'gh',
  connection_name: 'GitHub',
  identifier: 'carol',
  identity: null,
});
const gone = account({ id: '44444444-4444-4444-8444-444444444444', identifier: 'old', status: 'revoked', identity: null });

function row(id: string): HTMLElement {
  return screen.getAllByTestId('settings-account').find((r) => r.dataset.accountId === id)!;
}

function revoking(list: AccountDto[], extra: Handlers = {}) {
  let current = list;
  return renderApp(
    {
      list_connections: () => [connection(), connection({ id: 'gh', name: 'GitHub' })],
      list_accounts: () => current,
      revoke: ({ accountId }) => {
        const a = current.find((x) => x.id === accountId)!;
        const revoked = { ...a, status: 'revoked' as const, updated_at: new Date().toISOString() };
        current = current.map((x) => (x.id === accountId ? revoked : x));
        return { account: revoked, provider_confirmed: true, message: `Access revoked: ${a.connection_name} confirmed the tokens are invalid, and they were deleted from this device.`, connected_apps_url: null };
      },
      ...extra,
    },
    settings('accounts'),
  );
}

describe('Settings', () => {
  it('switches sections from its own navigation, marking the current one', async () => {
    const { app } = renderApp({ list_accounts: () => [] }, settings('accounts'));
    expect(await screen.findByRole('heading', { level: 2, name: 'Connected accounts' })).toBeInTheDocument();
    await userEvent.click(screen.getByTestId('settings-connections'));
    expect(app.router.route).toEqual(settings('connections'));
    expect(screen.getByTestId('settings-connections')).toHaveAttribute('aria-current', 'page');
    expect(screen.getByRole('heading', { level: 2, name: 'Connections' })).toBeInTheDocument();
  });

  describe('Connected accounts', () => {
    it('has a Revoke button on every active row, and says why others have none', async () => {
      revoking([alice, gone]);
      await screen.findAllByTestId('settings-account');
      expect(within(row(alice.id)).getByTestId('revoke')).toHaveAccessibleName('Revoke alice@example.test');
      expect(within(row(gone.id)).queryByTestId('revoke')).not.toBeInTheDocument();
      expect(row(gone.id)).toHaveTextContent('Already revoked');
      expect(within(row(gone.id)).getByTestId('select')).toBeDisabled();
    });

    it('revokes one account from its row after confirming', async () => {
      const { backend } = revoking([alice, bob]);
      await userEvent.click(within(await screen.findByTestId('accounts-table')).getAllByTestId('revoke')[0]!);
      const dialog = screen.getByTestId('revoke-dialog');
      expect(dialog).toHaveAccessibleName('Revoke access for alice@example.test?');
      await userEvent.click(within(dialog).getByTestId('confirm-revoke'));
      await waitFor(() => expect(backend.callsOf('revoke')).toEqual([{ accountId: alice.id }]));
      const message = await screen.findByTestId('revoke-message');
      expect(message).toHaveTextContent('alice@example.test: Access revoked: Test provider confirmed');
      await waitFor(() => expect(row(alice.id)).toHaveAttribute('data-status', 'revoked'));
    });

    it('revokes several selected accounts at once, saying what happens at each provider', async () => {
      const { backend } = revoking([alice, bob, carol]);
      await screen.findAllByTestId('settings-account');
      const selectedButton = screen.getByTestId('revoke-selected');
      expect(selectedButton).toBeDisabled();
      await userEvent.click(screen.getByRole('checkbox', { name: 'Select alice@example.test (Test provider)' }));
      await userEvent.click(screen.getByRole('checkbox', { name: 'Select carol (GitHub)' }));
      expect(selectedButton).toHaveTextContent('Revoke selected (2)');
      await userEvent.click(selectedButton);
      const dialog = screen.getByTestId('revoke-dialog');
      expect(dialog).toHaveAccessibleName('Revoke access for 2 accounts?');
      const consequences = within(dialog).getAllByTestId('revoke-consequence').map((p) => p.textContent?.replace(/\s+/g, ' ').trim());
      expect(consequences).toEqual([
        'Latchkey will ask Test provider to invalidate the tokens of alice@example.test, then delete them from this device. Test provider will no longer let Latchkey act for this account.',
        'Latchkey will ask GitHub to invalidate the tokens of carol, then delete them from this device. GitHub will no longer let Latchkey act for this account.',
      ]);
      await userEvent.click(within(dialog).getByTestId('confirm-revoke'));
      await waitFor(() => expect(backend.callsOf('revoke')).toEqual([{ accountId: alice.id }, { accountId: carol.id }]));
      await waitFor(() => expect(screen.getAllByTestId('revoke-message')).toHaveLength(2));
      expect(screen.getByTestId('revoke-selected')).toHaveTextContent('Revoke selected');
      expect(screen.getByTestId('revoke-selected')).toBeDisabled();
    });

    it('selects all active accounts at once, and Cancel revokes nothing', async () => {
      const { backend } = revoking([alice, bob, gone]);
      await screen.findAllByTestId('settings-account');
      await userEvent.click(screen.getByTestId('select-all'));
      expect(screen.getByTestId('revoke-selected')).toHaveTextContent('Revoke selected (2)');
      await userEvent.click(screen.getByTestId('revoke-selected'));
      await userEvent.click(within(screen.getByTestId('revoke-dialog')).getByTestId('cancel'));
      expect(screen.queryByTestId('revoke-dialog')).not.toBeInTheDocument();
      expect(backend.callsOf('revoke')).toEqual([]);
      expect(screen.getByTestId('revoke-selected')).toHaveFocus();
    });

    it('reports each account whose revoke failed', async () => {
      revoking([alice, bob], {
        revoke: ({ accountId }) =>
          accountId === bob.id
            ? fail('network', 'Latchkey could not reach Test provider (timeout). Check your network and try again.')
            : { account: { ...alice, status: 'revoked' }, provider_confirmed: false, message: 'Removed from this device; not confirmed by Test provider (no revocation endpoint).', connected_apps_url: null },
      });
      await screen.findAllByTestId('settings-account');
      await userEvent.click(screen.getByTestId('select-all'));
      await userEvent.click(screen.getByTestId('revoke-selected'));
      await userEvent.click(screen.getByTestId('confirm-revoke'));
      await waitFor(() => expect(screen.getAllByTestId('revoke-message')).toHaveLength(2));
      const [a, b] = screen.getAllByTestId('revoke-message');
      expect(a).toHaveAttribute('data-confirmed', 'false');
      expect(a).toHaveTextContent('not confirmed by Test provider');
      expect(b).toHaveAttribute('data-ok', 'false');
      expect(b).toHaveTextContent('Check your network and try again.');
      await waitFor(() => expect(screen.getByTestId('live')).toHaveTextContent('1 of 2 accounts revoked.'));
    });

    it('links to the provider’s connected apps page when the provider did not confirm', async () => {
      const { backend } = revoking([alice, bob], {
        revoke: ({ accountId }) =>
          accountId === alice.id
            ? {
                account: { ...alice, status: 'revoked' },
                provider_confirmed: false,
                message: 'Removed from this device; Test provider has no way for apps to revoke access. Remove Latchkey there too.',
                connected_apps_url: 'https://login.example.test/connected-apps',
              }
            : { account: { ...bob, status: 'revoked' }, provider_confirmed: true, message: 'Access revoked.', connected_apps_url: null },
      });
      await screen.findAllByTestId('settings-account');
      await userEvent.click(screen.getByTestId('select-all'));
      await userEvent.click(screen.getByTestId('revoke-selected'));
      await userEvent.click(screen.getByTestId('confirm-revoke'));
      await waitFor(() => expect(screen.getAllByTestId('revoke-message')).toHaveLength(2));
      const [a, b] = screen.getAllByTestId('revoke-message');
      const open = within(a!).getByRole('button', { name: "Open Test provider's connected apps page" });
      expect(within(b!).queryByTestId('open-connected-apps')).not.toBeInTheDocument();
      await userEvent.click(open);
      expect(backend.callsOf('open_provider_page')).toEqual([{ connectionId: 'test', page: 'connected-apps' }]);
    });

    it('says why the connected apps page could not be opened', async () => {
      revoking([alice], {
        revoke: () => ({ account: { ...alice, status: 'revoked' }, provider_confirmed: false, message: 'Not confirmed.', connected_apps_url: 'https://login.example.test/apps' }),
        open_provider_page: () => fail('internal', 'Latchkey could not open your web browser. Check that a default browser is set.'),
      });
      await userEvent.click(await screen.findByTestId('revoke'));
      await userEvent.click(screen.getByTestId('confirm-revoke'));
      await userEvent.click(await screen.findByTestId('open-connected-apps'));
      expect(await within(screen.getByTestId('revoke-message')).findByRole('alert')).toHaveTextContent('Check that a default browser is set.');
    });

    it('has an empty state, and a loading error', async () => {
      renderApp({ list_accounts: () => [] }, settings('accounts'));
      expect(await screen.findByTestId('empty')).toHaveTextContent('No connected accounts');
    });

    it('revokes with the keyboard alone', async () => {
      const { backend } = revoking([alice]);
      const revoke = await screen.findByTestId('revoke');
      revoke.focus();
      await userEvent.keyboard('{Enter}');
      expect(screen.getByTestId('confirm-revoke')).toHaveFocus();
      await userEvent.keyboard('{Enter}');
      await waitFor(() => expect(backend.callsOf('revoke')).toEqual([{ accountId: alice.id }]));
    });
  });

  describe('Connections', () => {
    function item(id: string): HTMLElement {
      return screen.getAllByTestId('settings-connection').find((c) => c.dataset.connectionId === id)!;
    }

    async function configure(id: string): Promise<HTMLElement> {
      await screen.findAllByTestId('settings-connection');
      const button = within(item(id)).getByTestId('configure');
      expect(button).toHaveAttribute('aria-expanded', 'false');
      await userEvent.click(button);
      expect(button).toHaveAttribute('aria-expanded', 'true');
      return within(item(id)).getByTestId('connection-settings');
    }

    it('lists each connection with its status and what is missing, closed until configured', async () => {
      renderApp(
        {
          list_connections: () => [
            connection(),
            connection({ id: 'bad', name: 'Bad', status: 'error', error: 'Bad rejected the client (invalid_client).', scopes: [] }),
            connection({ id: 'key', name: 'Key', kind: 'api-key', status: 'active', issuer: null, scopes: [], redirect_uri: null, revocation: null }),
            gmail(),
          ],
        },
        settings('connections'),
      );
      const items = await screen.findAllByTestId('settings-connection');
      expect(items.map((i) => i.dataset.connectionId)).toEqual(['bad', 'gmail', 'key', 'test']);
      expect(item('test')).toHaveTextContent('OAuth 2.0 sign-in');
      expect(within(item('bad')).getByTestId('connection-status')).toHaveTextContent('Error');
      expect(within(item('bad')).getByTestId('connection-problem')).toHaveTextContent('Bad rejected the client (invalid_client).');
      expect(item('gmail')).toHaveTextContent('Google · gmail');
      expect(within(item('gmail')).getByTestId('connection-problem')).toHaveTextContent('Gmail needs the client ID and client secret of your own Google client first.');
      expect(screen.queryByTestId('connection-settings')).not.toBeInTheDocument();
      expect(within(item('gmail')).getByTestId('configure')).toHaveAccessibleName('Configure Gmail');
      const key = await configure('key');
      expect(key).toHaveTextContent('API key connections have no client or scopes to set here.');
      expect(screen.queryByTestId('connect')).not.toBeInTheDocument();
    });

    it('edits the client id, and keeps the client secret write-only', async () => {
      const SECRET = 'shh-new-secret';
      const { backend } = renderApp({}, settings('connections'), [gmail({ client_id: 'old-id', client_secret_stored: true, status: 'active' })]);
      const panel = await configure('gmail');
      expect(within(panel).getByTestId('secret-stored')).toHaveTextContent('A client secret is stored in the keychain.');
      const secret = within(panel).getByLabelText('Replace the client secret');
      expect(secret).toHaveAttribute('type', 'password');
      expect(secret).toHaveValue('');
      const save = within(panel).getByTestId('save-client');
      expect(save).toBeDisabled();

      const clientId = within(panel).getByLabelText('Client ID');
      expect(clientId).toHaveValue('old-id');
      await userEvent.clear(clientId);
      await userEvent.type(clientId, 'new-id');
      await userEvent.type(secret, SECRET);
      await userEvent.click(save);
      await waitFor(() =>
        expect(backend.callsOf('configure_connection')).toEqual([
          { connectionId: 'gmail', change: { client_id: 'new-id', client_secret: SECRET, clear_client_secret: false, scopes: null, enabled: null } },
        ]),
      );
      expect(await within(panel).findByTestId('client-message')).toHaveTextContent('Saved the client ID and client secret. Gmail is ready to connect accounts.');
      expect(secret).toHaveValue('');
      expect(document.body.innerHTML).not.toContain(SECRET);
      expect(clientId).toHaveValue('new-id');
      expect(save).toBeDisabled();
    });

    it('removes the stored client secret after confirming', async () => {
      const { backend } = renderApp({}, settings('connections'), [gmail({ client_id: 'id', client_secret_stored: true, status: 'active' })]);
      const panel = await configure('gmail');
      await userEvent.click(within(panel).getByTestId('remove-secret'));
      const dialog = screen.getByTestId('remove-secret-dialog');
      expect(dialog).toHaveAccessibleName('Remove the client secret of Gmail?');
      expect(dialog).toHaveTextContent('Google requires it');
      await userEvent.click(within(dialog).getByTestId('confirm-remove-secret'));
      await waitFor(() =>
        expect(backend.callsOf('configure_connection')).toEqual([
          { connectionId: 'gmail', change: { client_id: null, client_secret: null, clear_client_secret: true, scopes: null, enabled: null } },
        ]),
      );
      expect(await within(panel).findByTestId('secret-missing')).toHaveTextContent('No client secret stored. Google requires one.');
      expect(within(item('gmail')).getByTestId('connection-status')).toHaveTextContent('Not set up');
      expect(within(panel).queryByTestId('remove-secret')).not.toBeInTheDocument();
    });

    it('turns a connection on and off', async () => {
      const { backend } = renderApp({}, settings('connections'), catalog());
      const panel = await configure('slack');
      const box = within(panel).getByRole('checkbox', { name: 'Turned on' });
      expect(box).not.toBeChecked();
      await userEvent.click(box);
      await waitFor(() => expect(backend.callsOf('configure_connection')).toEqual([
        { connectionId: 'slack', change: { client_id: null, client_secret: null, clear_client_secret: false, scopes: null, enabled: true } },
      ]));
      expect(await within(panel).findByText('Slack is turned on.')).toHaveAttribute('role', 'status');
      expect(box).toBeChecked();
      expect(within(item('slack')).getByTestId('connection-status')).toHaveTextContent('Not set up');
    });

    it('saves the scopes chosen from their descriptions, saying accounts need re-authorization', async () => {
      const { backend } = renderApp(
        { list_accounts: () => [account({ connection_id: 'gmail', connection_name: 'Gmail' })] },
        settings('connections'),
        [gmail({ client_id: 'id', client_secret_stored: true, status: 'active' })],
      );
      const panel = await configure('gmail');
      const save = within(panel).getByTestId('save-scopes');
      expect(save).toBeDisabled();
      const send = within(panel).getByRole('checkbox', { name: /Send email on your behalf/ });
      expect(send).not.toBeChecked();
      expect(within(panel).getByRole('checkbox', { name: /Read your email and settings/ })).toBeChecked();
      await userEvent.click(send);
      await userEvent.click(within(panel).getByRole('checkbox', { name: /See your email address/ }));
      expect(save).toBeEnabled();
      await userEvent.click(save);
      await waitFor(() =>
        expect(backend.callsOf('configure_connection')).toEqual([
          {
            connectionId: 'gmail',
            change: {
              client_id: null,
              client_secret: null,
              clear_client_secret: false,
              scopes: ['openid', 'https://www.googleapis.com/auth/gmail.readonly', 'https://www.googleapis.com/auth/gmail.send'],
              enabled: null,
            },
          },
        ]),
      );
      const message = await within(panel).findByTestId('scopes-message');
      expect(message).toHaveTextContent('Scopes saved. The account connected to Gmail need');
      expect(message).toHaveTextContent('re-authorized');
      expect(send).toBeChecked();
      expect(save).toBeDisabled();
    });

    it('shows the redirect URI to register and how revoking works, in words', async () => {
      const { backend } = renderApp({}, settings('connections'), catalog());
      const gmailPanel = await configure('gmail');
      expect(within(gmailPanel).getByLabelText('Redirect URI to register')).toHaveValue('http://127.0.0.1/oauth/gmail/callback');
      expect(within(gmailPanel).getByTestId('revocation')).toHaveTextContent('Revoking asks Google to end access');
      await userEvent.click(within(gmailPanel).getByRole('button', { name: "Open Google's developer page" }));
      expect(backend.callsOf('open_provider_page')).toEqual([{ connectionId: 'gmail', page: 'setup' }]);
      const demoPanel = await configure('demo');
      expect(within(demoPanel).getByTestId('revocation')).toHaveTextContent(
        'Demo has no way for apps to revoke access: Latchkey deletes the tokens and links you to its page',
      );
    });

    it('says why a change was not saved', async () => {
      renderApp({ configure_connection: () => fail('internal', 'Latchkey could not write connections.toml (read-only file system).') }, settings('connections'), catalog());
      const panel = await configure('demo');
      await userEvent.click(within(panel).getByRole('checkbox', { name: /Change your demo data/ }));
      await userEvent.click(within(panel).getByTestId('save-scopes'));
      expect(await within(panel).findByRole('alert')).toHaveTextContent('read-only file system');
      expect(within(panel).getByTestId('save-scopes')).toBeEnabled();
    });

    it('removes a custom connection after confirming; catalog entries have no Remove', async () => {
      const acme = connection({ id: 'acme', name: 'Acme', issuer: 'https://login.acme.test' });
      const { backend } = renderApp({}, settings('connections'), [gmail(), acme]);
      await screen.findAllByTestId('settings-connection');
      expect(within(item('gmail')).queryByTestId('remove-connection')).not.toBeInTheDocument();
      const remove = within(item('acme')).getByRole('button', { name: 'Remove Acme' });

      // Cancel removes nothing and gives focus back.
      await userEvent.click(remove);
      await userEvent.click(within(screen.getByTestId('remove-connection-dialog')).getByTestId('cancel'));
      expect(screen.queryByTestId('remove-connection-dialog')).not.toBeInTheDocument();
      expect(remove).toHaveFocus();
      expect(backend.callsOf('remove_connection')).toEqual([]);

      await userEvent.click(remove);
      const dialog = screen.getByTestId('remove-connection-dialog');
      expect(dialog).toHaveAccessibleName('Remove Acme?');
      expect(dialog).toHaveTextContent('Latchkey deletes acme from connections.toml');
      expect(within(dialog).getByTestId('confirm-remove-connection')).toHaveFocus();
      await userEvent.keyboard('{Enter}');
      await waitFor(() => expect(backend.callsOf('remove_connection')).toEqual([{ connectionId: 'acme' }]));
      await waitFor(() => expect(screen.getAllByTestId('settings-connection').map((i) => i.dataset.connectionId)).toEqual(['gmail']));
      expect(screen.queryByTestId('remove-connection-dialog')).not.toBeInTheDocument();
      expect(within(item('gmail')).getByTestId('configure')).toHaveFocus();
      expect(await screen.findByTestId('notice')).toHaveTextContent('Acme was removed from Latchkey.');
    });

    it('shows the backend’s sentence when it refuses to remove a connection', async () => {
      const refusal = 'Acme still has 1 account(s): revoke or delete them first.';
      const { backend } = renderApp(
        {
          list_accounts: () => [account({ connection_id: 'acme', connection_name: 'Acme' })],
          remove_connection: () => fail('invalid_input', refusal),
        },
        settings('connections'),
        [connection({ id: 'acme', name: 'Acme' })],
      );
      await screen.findAllByTestId('settings-connection');
      const remove = within(item('acme')).getByTestId('remove-connection');
      await userEvent.click(remove);
      await waitFor(() => expect(screen.getByTestId('remove-connection-accounts')).toHaveTextContent('It still has an account'));
      await userEvent.click(screen.getByTestId('confirm-remove-connection'));
      const error = await within(item('acme')).findByTestId('remove-connection-error');
      expect(error).toHaveRole('alert');
      expect(error).toHaveTextContent(refusal);
      expect(backend.callsOf('remove_connection')).toEqual([{ connectionId: 'acme' }]);
      expect(screen.queryByTestId('remove-connection-dialog')).not.toBeInTheDocument();
      expect(remove).toHaveFocus();
      expect(remove).toHaveAccessibleDescription(refusal);
    });

    it('has an empty state and a load error', async () => {
      renderApp({ list_connections: () => fail('internal', 'connections.toml line 3: expected a string.') }, settings('connections'));
      expect(await screen.findByTestId('load-error')).toHaveTextContent('connections.toml line 3');
    });

    it('explains how to add one when none is configured', async () => {
      renderApp({ list_connections: () => [] }, settings('connections'));
      expect(await screen.findByTestId('empty')).toHaveTextContent('[[connection]]');
    });
  });

  describe('Activity', () => {
    const at = (m: number) => new Date(Date.now() - m * 60_000).toISOString();
    const trail: AuditEntryDto[] = [
      { id: 1, at: at(60), account_id: alice.id, connection_id: 'test', action: 'account.created', actor: 'user', caller: null, outcome: 'ok', detail: '' },
      { id: 2, at: at(30), account_id: alice.id, connection_id: 'test', action: 'token.revoked', actor: 'user', caller: null, outcome: 'unconfirmed', detail: 'not confirmed by the provider: timeout' },
      { id: 3, at: at(10), account_id: 'deleted-id', connection_id: 'test', action: 'account.deleted', actor: 'cli', caller: 'cleanup.sh', outcome: 'ok', detail: '' },
      { id: 4, at: at(1), account_id: null, connection_id: 'gh', action: 'connection.error', actor: 'provider', caller: null, outcome: 'failed', detail: 'invalid_client' },
    ];

    it('lists the trail newest first, in words', async () => {
      renderApp({ list_accounts: () => [alice], audit_trail: () => trail }, settings('activity'));
      const entries = await screen.findAllByTestId('activity-entry');
      await waitFor(() => expect(entries[3]).toHaveTextContent('alice@example.test'));
      expect(entries.map((e) => e.dataset.action)).toEqual(['connection.error', 'account.deleted', 'token.revoked', 'account.created']);
      expect(entries[0]).toHaveTextContent('Connection gh');
      expect(entries[0]).toHaveTextContent('Failed');
      expect(entries[1]).toHaveTextContent('Deleted account');
      expect(entries[1]).toHaveTextContent('Command line (cleanup.sh)');
      expect(entries[2]).toHaveTextContent('Access revoked');
      expect(entries[2]).toHaveTextContent('Not confirmed');
      expect(entries[3]).toHaveTextContent('alice@example.test');
      expect(entries[3]).toHaveTextContent('You');
    });

    it('filters by account and period through the backend', async () => {
      const { backend } = renderApp({ list_accounts: () => [alice], audit_trail: () => trail.slice(0, 2) }, settings('activity'));
      await screen.findAllByTestId('activity-entry');
      expect(backend.callsOf('audit_trail')[0]).toEqual({ filter: {} });
      await screen.findByRole('option', { name: 'alice@example.test (Test provider)' });
      await userEvent.selectOptions(screen.getByLabelText('Account'), alice.id);
      await waitFor(() => expect(backend.callsOf('audit_trail').at(-1)).toEqual({ filter: { account_id: alice.id } }));
      await userEvent.selectOptions(screen.getByLabelText('Period'), 'Last 7 days');
      await waitFor(() => expect(backend.callsOf('audit_trail').at(-1)?.filter).toMatchObject({ account_id: alice.id, since: expect.any(Number) }));
      const since = (backend.callsOf('audit_trail').at(-1)!.filter as { since: number }).since;
      expect(Math.abs(Date.now() / 1000 - 7 * 24 * 3600 - since)).toBeLessThan(60);
    });

    it('exports the filtered trail as CSV and JSON lines, saying where the file is', async () => {
      const { backend } = renderApp(
        {
          audit_trail: () => trail,
          export_audit: ({ format }) => ({ path: `/home/me/Downloads/latchkey-activity-2026-11-01T04-00-00Z.${format}`, entries: 4 }),
        },
        settings('activity'),
      );
      await screen.findAllByTestId('activity-entry');
      await userEvent.click(screen.getByTestId('export-csv'));
      expect(await screen.findByText(/Saved 4 entries to \/home\/me\/Downloads\/latchkey-activity-.*\.csv/)).toHaveAttribute('role', 'status');
      await userEvent.click(screen.getByTestId('export-jsonl'));
      await waitFor(() => expect(screen.getByTestId('export-result')).toHaveTextContent(/\.jsonl$/));
      expect(backend.callsOf('export_audit')).toEqual([
        { filter: {}, format: 'csv' },
        { filter: {}, format: 'jsonl' },
      ]);
    });

    it('says why an export failed', async () => {
      renderApp(
        { audit_trail: () => trail, export_audit: () => fail('internal', 'Latchkey could not write to /home/me/Downloads (Permission denied). Check its permissions.') },
        settings('activity'),
      );
      await userEvent.click(await screen.findByTestId('export-csv'));
      await waitFor(() => expect(screen.getByTestId('export-result')).toHaveTextContent('Check its permissions.'));
      expect(screen.getByTestId('export-result')).toHaveAttribute('role', 'alert');
    });

    it('has loading, empty and error states', async () => {
      const held = deferred<AuditEntryDto[]>();
      renderApp({ audit_trail: () => held.promise }, settings('activity'));
      expect(await screen.findByTestId('loading')).toHaveTextContent('Loading the activity…');
      held.resolve([]);
      expect(await screen.findByTestId('activity-empty')).toHaveTextContent('Nothing recorded');
    });

    it('says why the trail could not be read', async () => {
      renderApp({ audit_trail: () => fail('internal', 'Latchkey’s local database failed: locked') }, settings('activity'));
      expect(await screen.findByTestId('load-error')).toHaveTextContent('locked');
    });
  });

  describe('Keychain', () => {
    it('shows the backend and that it works, and checks again', async () => {
      let n = 0;
      const { backend } = renderApp(
        {
          keychain_status: (): KeychainDto =>
            ++n === 1
              ? { description: 'Secret Service (service “io.latchkey.desktop”)', healthy: true, message: 'The keychain is unlocked and accepts new entries.' }
              : { description: 'Secret Service (service “io.latchkey.desktop”)', healthy: false, message: 'The keychain is not usable (locked). Unlock it, then check again.' },
        },
        settings('keychain'),
      );
      const box = await screen.findByTestId('keychain');
      expect(screen.getByTestId('keychain-description')).toHaveTextContent('Secret Service');
      expect(box).toHaveAttribute('data-healthy', 'true');
      expect(box).toHaveTextContent('Working');
      await userEvent.click(screen.getByTestId('keychain-check'));
      await waitFor(() => expect(screen.getByTestId('keychain')).toHaveAttribute('data-healthy', 'false'));
      expect(screen.getByTestId('keychain')).toHaveTextContent('Not available');
      expect(screen.getByTestId('keychain-message')).toHaveRole('alert');
      expect(backend.callsOf('keychain_status')).toHaveLength(2);
    });

    it('shows loading and a failed check', async () => {
      const held = deferred<KeychainDto>();
      renderApp({ keychain_status: () => held.promise }, settings('keychain'));
      expect(await screen.findByTestId('loading')).toHaveTextContent('Loading the keychain status…');
      held.reject({ code: 'internal', message: 'The keychain check did not finish (panicked). Try again.' });
      expect(await screen.findByTestId('load-error')).toHaveTextContent('did not finish');
    });
  });

  describe('General', () => {
    it('turns "keep running in the tray" off and on', async () => {
      let keep = true;
      const { backend } = renderApp(
        {
          get_preferences: () => ({ keep_running_in_tray: keep }),
          set_preferences: ({ preferences }) => ((keep = preferences.keep_running_in_tray), preferences),
        },
        settings('general'),
      );
      const box = await screen.findByTestId('keep-running');
      expect(box).toBeChecked();
      expect(box).toHaveAccessibleDescription(/tray icon shows whether any account needs attention/);
      await userEvent.click(box);
      await waitFor(() => expect(backend.callsOf('set_preferences')).toEqual([{ preferences: { keep_running_in_tray: false } }]));
      expect(await screen.findByText('Closing the window now quits Latchkey.')).toBeInTheDocument();
      expect(box).not.toBeChecked();
    });

    it('says why a setting could not be saved', async () => {
      renderApp(
        {
          get_preferences: () => ({ keep_running_in_tray: true }),
          set_preferences: () => fail('internal', 'Latchkey could not save your settings (read-only file system). Try again.'),
        },
        settings('general'),
      );
      await userEvent.click(await screen.findByTestId('keep-running'));
      expect(await screen.findByRole('alert')).toHaveTextContent('read-only file system');
      await waitFor(() => expect(screen.getByTestId('keep-running')).toBeChecked());
    });

    it('shows a load error', async () => {
      renderApp({ get_preferences: () => fail('internal', 'no config folder') }, settings('general'));
      expect(await screen.findByTestId('load-error')).toHaveTextContent('no config folder');
    });
  });

  describe('About', () => {
    it('shows the version', async () => {
      renderApp({ about: () => ({ name: 'Latchkey', version: '0.1.0', identifier: 'io.latchkey.desktop', tauri_version: '2.12.5' }) }, settings('about'));
      expect(await screen.findByTestId('about-version')).toHaveTextContent('0.1.0');
      expect(screen.getByTestId('about')).toHaveTextContent('Tauri 2.12.5');
    });

    it('shows a load error', async () => {
      renderApp({ about: () => fail('internal', 'unavailable') }, settings('about'));
      expect(await screen.findByTestId('load-error')).toBeInTheDocument();
    });
  });
});
