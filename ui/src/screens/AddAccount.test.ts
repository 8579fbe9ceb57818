import { screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { AccountDto } from '../lib/bindings/AccountDto';
import type { ConnectionDto } from '../lib/bindings/ConnectionDto';
import { account, catalog, connection, deferred, demo, fail, gmail, renderApp } from '../test/backend';

const ADD = { name: 'add' } as const;
const pending = account({ status: 'pending', signing_in: true, identifier: 'new-1a2b3c4d', identity: null, granted_scopes: [] });

function card(id = 'test'): HTMLElement {
  return screen.getAllByTestId('connection').find((c) => c.dataset.connectionId === id)!;
}

describe('Add account screen', () => {
  it('shows loading, then the configured connections with what each asks for', async () => {
    const held = deferred<ConnectionDto[]>();
    renderApp({ list_connections: () => held.promise }, ADD);
    expect(await screen.findByTestId('loading')).toHaveTextContent('Loading your connections…');
    held.resolve([connection(), connection({ id: 'gh', name: 'GitHub', issuer: null, kind: 'oauth2', scopes: ['repo'] })]);
    await screen.findAllByTestId('connection');
    expect(within(card()).getByRole('heading')).toHaveTextContent('Test provider');
    expect(card()).toHaveTextContent('login.example.test');
    expect(within(card()).getByTestId('connection-status')).toHaveTextContent('Ready');
    expect(within(card()).getAllByTestId('scope').map((s) => s.textContent?.trim())).toEqual(['openid', 'email', 'profile', 'demo.read']);
    expect(within(card('gh')).getByTestId('connect')).toBeEnabled();
  });

  it('says why connections could not be loaded and retries', async () => {
    let n = 0;
    renderApp({ list_connections: () => (++n === 1 ? fail('internal', 'The configuration could not be read.') : [connection()]) }, ADD);
    const error = await screen.findByTestId('load-error');
    expect(error).toHaveTextContent('The configuration could not be read.');
    await userEvent.click(within(error).getByRole('button', { name: 'Try again' }));
    expect(await screen.findByTestId('connection')).toBeInTheDocument();
  });

  it('explains how to configure a connection when there is none', async () => {
    renderApp({ list_connections: () => [] }, ADD);
    expect(await screen.findByTestId('empty')).toHaveTextContent('connections.toml');
  });

  it('offers Set up for a connection that is not set up, and says why others cannot connect', async () => {
    const { app } = renderApp(
      {
        list_connections: () => [
          connection({ id: 'off', name: 'Off', status: 'inactive' }),
          connection({ id: 'new', name: 'New', status: 'pending', client_id: null }),
          connection({ id: 'bad', name: 'Bad', status: 'error', error: 'Bad rejected the client (invalid_client).' }),
          connection({ id: 'key', name: 'Key', kind: 'api-key', scopes: [] }),
        ],
      },
      ADD,
    );
    await screen.findAllByTestId('connection');
    expect(within(card('off')).getByTestId('connect')).toBeDisabled();
    expect(within(card('off')).getByTestId('connection-problem')).toHaveTextContent('Off is turned off. Turn it on in Settings → Connections');
    expect(within(card('new')).getByTestId('connection-status')).toHaveTextContent('Not set up');
    expect(within(card('new')).getByTestId('connection-problem')).toHaveTextContent('needs the client ID of your own New client');
    expect(within(card('new')).queryByTestId('connect')).not.toBeInTheDocument();
    expect(within(card('new')).getByTestId('set-up')).toHaveAccessibleName('Set up New');
    expect(within(card('bad')).getByTestId('connection-problem')).toHaveTextContent('Bad rejected the client (invalid_client). Check its client ID and secret');
    expect(within(card('bad')).getByTestId('set-up')).toHaveAccessibleDescription(/rejected the client/);
    expect(within(card('key')).queryByTestId('connect')).not.toBeInTheDocument();
    expect(card('key')).toHaveTextContent('API key accounts are added from the command line for now.');
    await userEvent.click(within(card('off')).getByTestId('open-settings'));
    expect(app.router.route).toEqual({ name: 'settings', section: 'connections' });
  });

  it('connects: opening, then waiting with "Open the link again" and Cancel', async () => {
    const held = deferred<AccountDto>();
    const { backend, app } = renderApp({ connect: () => held.promise, reopen_sign_in: () => null }, ADD);
    await userEvent.type(await screen.findByLabelText(/Account name/), 'work');
    await userEvent.click(within(card()).getByTestId('connect'));
    expect(backend.callsOf('connect')).toEqual([{ connectionId: 'test', identifier: 'work' }]);
    expect(screen.getByTestId('sign-in')).toHaveAttribute('data-phase', 'opening');
    expect(screen.getByTestId('sign-in-waiting')).toHaveTextContent('Opening Test provider in your browser…');
    expect(screen.getByTestId('reopen-link')).toBeDisabled();

    held.resolve(pending);
    await waitFor(() => expect(screen.getByTestId('sign-in')).toHaveAttribute('data-phase', 'waiting'));
    expect(screen.getByTestId('sign-in-waiting')).toHaveTextContent('Waiting for you to finish in your browser…');
    expect(screen.getByTestId('reopen-link')).toHaveFocus();
    await waitFor(() => expect(screen.getByTestId('live')).toHaveTextContent('Waiting for you to finish in your browser…'));

    await userEvent.click(screen.getByTestId('reopen-link'));
    expect(backend.callsOf('reopen_sign_in')).toEqual([{ accountId: pending.id }]);
    expect(app.signIn.current?.phase).toBe('waiting');
  });

  it('shows success with the granted access, and a partial grant', async () => {
    const { backend, app } = renderApp({ connect: () => pending }, ADD);
    await userEvent.click(await screen.findByTestId('connect'));
    await waitFor(() => expect(app.signIn.current?.phase).toBe('waiting'));
    await backend.emit('connect-succeeded', account({ id: pending.id, granted_scopes: ['openid', 'email', 'profile'] }));
    const title = await screen.findByTestId('connect-success');
    expect(title).toHaveTextContent('Connected alice@example.test');
    await waitFor(() => expect(title).toHaveFocus());
    expect(screen.getByTestId('partial-grant')).toHaveTextContent('granted only part');
    const missing = screen.getAllByTestId('scope').filter((s) => s.dataset.state === 'missing');
    expect(missing.map((s) => s.textContent)).toEqual(['!demo.read (asked for, not granted)']);
    await userEvent.click(screen.getByTestId('view-account'));
    expect(app.router.route).toEqual({ name: 'account', id: pending.id });
  });

  it('shows a failure with the reason and tries again', async () => {
    const { backend, app } = renderApp({ connect: () => pending }, ADD);
    await userEvent.click(await screen.findByTestId('connect'));
    await waitFor(() => expect(app.signIn.current?.phase).toBe('waiting'));
    await backend.emit('connect-failed', {
      connection_id: 'test',
      account_id: pending.id,
      code: 'reauth_needed',
      message: 'You declined access at Test provider. Nothing was stored; connect again when you are ready.',
    });
    expect(await screen.findByTestId('connect-error')).toHaveTextContent('You declined access at Test provider.');
    await userEvent.click(screen.getByTestId('try-again'));
    await waitFor(() => expect(backend.callsOf('connect')).toHaveLength(2));
  });

  it('shows a sentence when the browser cannot be opened', async () => {
    renderApp(
      { connect: () => fail('internal', 'Latchkey could not open your web browser. Check that a default browser is set.') },
      ADD,
    );
    await userEvent.click(await screen.findByTestId('connect'));
    expect(await screen.findByTestId('connect-error')).toHaveTextContent('Check that a default browser is set.');
  });

  it('cancels: forgets the sign-in and removes the account it created', async () => {
    const { backend, app } = renderApp(
      { connect: () => pending, cancel_sign_in: () => ({ ...pending, signing_in: false }), delete_account: () => null },
      ADD,
    );
    await userEvent.click(await screen.findByTestId('connect'));
    await waitFor(() => expect(app.signIn.current?.phase).toBe('waiting'));
    await userEvent.click(screen.getByTestId('cancel-sign-in'));
    await waitFor(() => expect(backend.callsOf('delete_account')).toEqual([{ accountId: pending.id }]));
    expect(backend.callsOf('cancel_sign_in')).toEqual([{ accountId: pending.id }]);
    expect(screen.queryByTestId('sign-in')).not.toBeInTheDocument();
    expect(screen.getAllByTestId('connection')).toHaveLength(1);
  });

  it('cancelling a re-authorization keeps the existing account', async () => {
    const bob = account({ identifier: 'bob', status: 'expired' });
    const { backend, app } = renderApp(
      {
        list_accounts: () => [bob],
        connect: () => ({ ...bob, signing_in: true }),
        cancel_sign_in: () => bob,
      },
      { name: 'accounts' },
    );
    await userEvent.click(await screen.findByTestId('reconnect'));
    await waitFor(() => expect(app.signIn.current?.phase).toBe('waiting'));
    expect(screen.getByRole('heading', { level: 1 })).toHaveTextContent('Reconnect account');
    expect(screen.getByTestId('sign-in')).toHaveTextContent('Sign in as bob at Test provider');
    await userEvent.click(screen.getByTestId('cancel-sign-in'));
    await waitFor(() => expect(backend.callsOf('cancel_sign_in')).toHaveLength(1));
    expect(backend.callsOf('delete_account')).toEqual([]);
  });

  it('reports a refused sign-in link that belongs to no sign-in of this window', async () => {
    const { backend } = renderApp({}, ADD);
    await screen.findByTestId('connection');
    await backend.emit('connect-failed', {
      connection_id: 'test',
      account_id: null,
      code: 'invalid_input',
      message: 'This sign-in response does not match a sign-in Latchkey started (it is unknown, expired or was already used), so it was ignored. Start the connection again.',
    });
    const notice = await screen.findByTestId('notice');
    expect(notice).toHaveRole('alert');
    expect(notice).toHaveTextContent('A sign-in response was ignored');
    expect(notice).toHaveTextContent('does not match a sign-in Latchkey started');
    await userEvent.click(within(notice).getByRole('button', { name: /Dismiss/ }));
    expect(screen.queryByTestId('notice')).not.toBeInTheDocument();
  });

  it('connects with the keyboard alone', async () => {
    const { backend } = renderApp({ connect: () => pending }, ADD);
    const input = await screen.findByLabelText(/Account name/);
    input.focus();
    await userEvent.keyboard('personal{Enter}');
    await waitFor(() => expect(backend.callsOf('connect')).toEqual([{ connectionId: 'test', identifier: 'personal' }]));
  });

  describe('catalog and setup', () => {
    const SECRET = 'GOCSPX-very-secret-value';
    const ids = () => screen.getAllByTestId('connection').map((c) => c.dataset.connectionId);

    it('lists the catalog by provider with descriptions and status, and the search filters it', async () => {
      renderApp({}, ADD, catalog());
      await screen.findAllByTestId('connection');
      expect(ids()).toEqual(['demo', 'gmail', 'slack']);
      expect(card('gmail')).toHaveTextContent('Google');
      expect(within(card('gmail')).getByTestId('connection-description')).toHaveTextContent('Mail in your Google account.');
      expect(within(card('gmail')).getByTestId('connection-status')).toHaveTextContent('Not set up');
      expect(within(card('demo')).getByTestId('connection-status')).toHaveTextContent('Ready');
      expect(within(card('slack')).getByTestId('connection-status')).toHaveTextContent('Turned off');

      const search = screen.getByRole('searchbox', { name: 'Search services' });
      await userEvent.type(search, 'MAIL');
      expect(ids()).toEqual(['gmail']);
      expect(screen.getByText('1 of 3 services shown')).toHaveAttribute('role', 'status');
      await userEvent.clear(search);
      await userEvent.type(search, 'google');
      expect(ids()).toEqual(['gmail']);
      await userEvent.clear(search);
      await userEvent.type(search, 'nothing like it');
      const none = screen.getByTestId('no-matches');
      expect(none).toHaveTextContent('No service matches');
      await userEvent.click(within(none).getByRole('button', { name: 'Clear search' }));
      expect(ids()).toEqual(['demo', 'gmail', 'slack']);
      expect(search).toHaveFocus();
    });

    it('connects a ready catalog entry in one click', async () => {
      const { backend } = renderApp({ connect: () => account({ connection_id: 'demo', status: 'pending', signing_in: true }) }, ADD, catalog());
      await screen.findAllByTestId('connection');
      await userEvent.click(within(card('demo')).getByTestId('connect'));
      expect(backend.callsOf('connect')).toEqual([{ connectionId: 'demo', identifier: null }]);
      expect(screen.getByTestId('sign-in')).toBeInTheDocument();
    });

    it('shows a disabled entry as turned off, with where to turn it on', async () => {
      renderApp({}, ADD, catalog());
      await screen.findAllByTestId('connection');
      expect(within(card('slack')).getByTestId('connect')).toBeDisabled();
      expect(within(card('slack')).getByTestId('connection-problem')).toHaveTextContent('Slack is turned off. Turn it on in Settings → Connections');
      expect(within(card('slack')).getByTestId('open-settings')).toHaveAccessibleName('Open Settings → Connections to turn on Slack');
    });

    it('opens the setup form of a pending entry: instructions, developer page, redirect URI, client fields', async () => {
      const { backend } = renderApp({}, ADD, catalog());
      await screen.findAllByTestId('connection');
      await userEvent.click(within(card('gmail')).getByTestId('set-up'));
      const setup = screen.getByTestId('setup');
      const title = within(setup).getByRole('heading', { level: 2, name: 'Set up Gmail' });
      await waitFor(() => expect(title).toHaveFocus());
      expect(within(setup).getByTestId('setup-instructions')).toHaveTextContent('create an OAuth client ID of type “Desktop app”');
      expect(screen.queryByTestId('connection')).not.toBeInTheDocument();

      await userEvent.click(within(setup).getByRole('button', { name: "Open Google's developer page" }));
      expect(backend.callsOf('open_provider_page')).toEqual([{ connectionId: 'gmail', page: 'setup' }]);

      const redirect = within(setup).getByLabelText('Redirect URI');
      expect(redirect).toHaveValue('http://127.0.0.1/oauth/gmail/callback');
      expect(redirect).toHaveAttribute('readonly');
      expect(redirect).toHaveAccessibleDescription('Any port.');

      expect(within(setup).getByLabelText('Client ID')).toHaveValue('');
      const secret = within(setup).getByLabelText(/Client secret/);
      expect(secret).toHaveAttribute('type', 'password');
      expect(secret).toBeRequired();
      expect(within(setup).getByText('(required)')).toBeInTheDocument();

      await userEvent.click(screen.getByTestId('back-to-catalog'));
      await waitFor(() => expect(within(card('gmail')).getByTestId('set-up')).toHaveFocus());
    });

    it('says what is missing instead of saving an empty form', async () => {
      const { backend } = renderApp({}, ADD, catalog());
      await screen.findAllByTestId('connection');
      await userEvent.click(within(card('gmail')).getByTestId('set-up'));
      await userEvent.click(screen.getByTestId('save-setup'));
      const clientId = screen.getByLabelText('Client ID');
      expect(clientId).toHaveAttribute('aria-invalid', 'true');
      expect(clientId).toHaveAccessibleDescription('Enter the client ID that Google gave you.');
      expect(clientId).toHaveFocus();
      expect(screen.getByLabelText(/Client secret/)).toHaveAccessibleDescription(/Enter the client secret too: Google requires it\./);
      expect(backend.callsOf('configure_connection')).toEqual([]);
    });

    it('saves the typed client id and secret; the entry becomes connectable, and Connect now signs in', async () => {
      const { backend, app } = renderApp({ connect: () => account({ connection_id: 'gmail', status: 'pending', signing_in: true }) }, ADD, catalog());
      await screen.findAllByTestId('connection');
      await userEvent.click(within(card('gmail')).getByTestId('set-up'));
      await userEvent.type(screen.getByLabelText('Client ID'), '  1234.apps.googleusercontent.com ');
      await userEvent.type(screen.getByLabelText(/Client secret/), SECRET);
      await userEvent.click(screen.getByTestId('save-setup'));
      await waitFor(() =>
        expect(backend.callsOf('configure_connection')).toEqual([
          {
            connectionId: 'gmail',
            change: { client_id: '1234.apps.googleusercontent.com', client_secret: SECRET, clear_client_secret: false, scopes: null, enabled: null },
          },
        ]),
      );
      const result = await screen.findByTestId('setup-result');
      expect(result).toHaveAttribute('data-status', 'active');
      expect(result).toHaveTextContent('Gmail is set up.');
      await waitFor(() => expect(result).toHaveFocus());
      expect(app.connections.get('gmail')?.status).toBe('active');

      // Back in the catalog, Gmail now connects.
      await userEvent.click(screen.getByTestId('back-to-catalog'));
      expect(within(card('gmail')).getByTestId('connection-status')).toHaveTextContent('Ready');
      expect(within(card('gmail')).getByTestId('connect')).toBeEnabled();
    });

    it('offers Connect now once the connection is set up', async () => {
      const { backend } = renderApp({ connect: () => account({ connection_id: 'gmail', status: 'pending', signing_in: true }) }, ADD, catalog());
      await screen.findAllByTestId('connection');
      await userEvent.click(within(card('gmail')).getByTestId('set-up'));
      await userEvent.type(screen.getByLabelText('Client ID'), 'id-1');
      await userEvent.type(screen.getByLabelText(/Client secret/), SECRET);
      await userEvent.keyboard('{Enter}');
      const connectNow = await screen.findByRole('button', { name: 'Connect now to Gmail' });
      await userEvent.click(connectNow);
      expect(backend.callsOf('connect')).toEqual([{ connectionId: 'gmail', identifier: null }]);
      await waitFor(() => expect(screen.getByTestId('sign-in')).toHaveAttribute('data-phase', 'waiting'));
    });

    it('never renders the client secret back, saved or not', async () => {
      let n = 0;
      const { backend, connections } = renderApp({}, ADD, catalog());
      const configure = connections.handlers().configure_connection!;
      backend.handlers.configure_connection = (args) =>
        ++n === 1 ? fail('keychain_unavailable', 'The system keychain is not available (locked). Unlock it, then try again.') : configure(args);
      await screen.findAllByTestId('connection');
      await userEvent.click(within(card('gmail')).getByTestId('set-up'));
      await userEvent.type(screen.getByLabelText('Client ID'), 'id-1');
      const secret = screen.getByLabelText(/Client secret/);
      await userEvent.type(secret, SECRET);
      await userEvent.click(screen.getByTestId('save-setup'));
      expect(await screen.findByTestId('setup-error')).toHaveTextContent('Unlock it, then try again. Type the client secret again to retry.');
      expect(secret).toHaveValue('');
      expect(document.body.innerHTML).not.toContain(SECRET);

      await userEvent.type(secret, SECRET);
      await userEvent.click(screen.getByTestId('save-setup'));
      await screen.findByTestId('setup-result');
      expect(secret).toHaveValue('');
      expect(document.body.innerHTML).not.toContain(SECRET);
      expect(JSON.stringify(window.__latchkeyIpc)).not.toContain(SECRET);
      expect(backend.callsOf('configure_connection').map((c) => (c.change as { client_secret: string }).client_secret)).toEqual([SECRET, SECRET]);
    });

    it('says what is still missing when saving did not make the connection ready', async () => {
      renderApp({}, ADD, [gmail({ client_id: 'old-id' }), demo()]);
      await screen.findAllByTestId('connection');
      expect(within(card('gmail')).getByTestId('connection-problem')).toHaveTextContent('Gmail needs the client secret of your Google client too.');
      await userEvent.click(within(card('gmail')).getByTestId('set-up'));
      expect(screen.getByLabelText('Client ID')).toHaveValue('old-id');
      // A secret is required: the form will not send without it.
      await userEvent.click(screen.getByTestId('save-setup'));
      expect(screen.getByLabelText(/Client secret/)).toHaveFocus();
    });

    it('refreshes the catalog when the connections change elsewhere', async () => {
      const { backend, connections } = renderApp({}, ADD, catalog());
      await screen.findAllByTestId('connection');
      expect(within(card('gmail')).getByTestId('connection-status')).toHaveTextContent('Not set up');
      connections.list = connections.list.map((c) => (c.id === 'gmail' ? { ...c, status: 'active', client_id: 'x', client_secret_stored: true } : c));
      await backend.emit('connections-changed', null);
      await waitFor(() => expect(within(card('gmail')).getByTestId('connection-status')).toHaveTextContent('Ready'));
      expect(screen.queryByTestId('loading')).not.toBeInTheDocument();
    });
  });

  describe('custom connections', () => {
    const SECRET = 'acme-client-secret-value';
    const ids = () => screen.getAllByTestId('connection').map((c) => c.dataset.connectionId);
    const ISSUER_DOWN = 'Latchkey could not read the OpenID Connect discovery document of https://login.acme.test (timeout). Check the issuer URL and your network.';

    async function openCustom() {
      await screen.findAllByTestId('connection');
      const entry = screen.getByTestId('custom-entry');
      expect(within(entry).getByRole('heading')).toHaveTextContent('Custom…');
      await userEvent.click(within(entry).getByRole('button', { name: 'Add a custom connection' }));
      const panel = screen.getByTestId('custom-connection');
      await waitFor(() => expect(within(panel).getByRole('heading', { level: 2, name: 'Add a custom connection' })).toHaveFocus());
      return panel;
    }

    async function fillOidc() {
      await userEvent.type(screen.getByLabelText(/Display name/), 'Acme SSO');
      await userEvent.type(screen.getByLabelText('Issuer URL'), 'https://login.acme.test');
      await userEvent.type(screen.getByLabelText('Client ID'), ' acme-client ');
      await userEvent.type(screen.getByLabelText(/Client secret/), SECRET);
      const scopes = screen.getByLabelText('Scopes');
      await userEvent.clear(scopes);
      await userEvent.type(scopes, 'openid  email offline_access email');
    }

    it('adds an OpenID Connect connection with the typed values, shows the redirect URI and connects now', async () => {
      const { backend, app } = renderApp({ connect: () => account({ connection_id: 'acme-sso', status: 'pending', signing_in: true }) }, ADD, catalog());
      const panel = await openCustom();
      expect(within(panel).getByRole('radio', { name: 'OAuth / OpenID Connect (by issuer URL)' })).toBeChecked();
      expect(within(panel).getByLabelText('Scopes')).toHaveValue('openid email profile');
      const secret = within(panel).getByLabelText(/Client secret/);
      expect(secret).toHaveAttribute('type', 'password');
      await fillOidc();
      // The name is suggested from the display name.
      expect(screen.getByLabelText('Name')).toHaveValue('acme-sso');
      await userEvent.click(screen.getByTestId('add-connection'));
      await waitFor(() =>
        expect(backend.callsOf('add_connection')).toEqual([
          {
            connection: {
              id: 'acme-sso',
              name: 'Acme SSO',
              kind: 'oauth2',
              issuer: 'https://login.acme.test',
              client_id: 'acme-client',
              client_secret: SECRET,
              scopes: ['openid', 'email', 'offline_access'],
            },
          },
        ]),
      );
      const result = await screen.findByTestId('custom-result');
      expect(result).toHaveTextContent('Acme SSO was added.');
      await waitFor(() => expect(result).toHaveFocus());
      const redirect = screen.getByLabelText('Redirect URI');
      expect(redirect).toHaveValue('http://127.0.0.1/oauth/acme-sso/callback');
      expect(redirect).toHaveAttribute('readonly');
      expect(redirect).toHaveAccessibleDescription('Any port.');
      expect(app.connections.get('acme-sso')?.status).toBe('active');

      // The secret is gone from the window once sent.
      expect(screen.queryByLabelText(/Client secret/)).not.toBeInTheDocument();
      expect(document.body.innerHTML).not.toContain(SECRET);
      expect(JSON.stringify(window.__latchkeyIpc)).not.toContain(SECRET);

      await userEvent.click(screen.getByRole('button', { name: 'Connect now to Acme SSO' }));
      expect(backend.callsOf('connect')).toEqual([{ connectionId: 'acme-sso', identifier: null }]);
      await waitFor(() => expect(screen.getByTestId('sign-in')).toHaveAttribute('data-phase', 'waiting'));
    });

    it('lists the new connection in the catalog', async () => {
      renderApp({}, ADD, catalog());
      await openCustom();
      await fillOidc();
      await userEvent.keyboard('{Enter}');
      await screen.findByTestId('custom-result');
      await userEvent.click(screen.getByTestId('custom-done'));
      expect(ids()).toEqual(['acme-sso', 'demo', 'gmail', 'slack']);
      expect(within(card('acme-sso')).getByRole('heading')).toHaveTextContent('Acme SSO');
      expect(within(card('acme-sso')).getByTestId('connection-status')).toHaveTextContent('Ready');
      await waitFor(() => expect(within(card('acme-sso')).getByTestId('identifier')).toHaveFocus());
    });

    it('refuses an invalid name in the form, with a sentence and a suggestion, without calling the backend', async () => {
      const { backend } = renderApp({}, ADD, catalog());
      await openCustom();
      const name = screen.getByLabelText('Name');
      await userEvent.type(name, 'Acme SSO');
      await userEvent.type(screen.getByLabelText('Issuer URL'), 'http://login.acme.test');
      await userEvent.click(screen.getByTestId('add-connection'));
      expect(name).toHaveAttribute('aria-invalid', 'true');
      expect(name).toHaveFocus();
      expect(name).toHaveAccessibleDescription(
        /“Acme SSO” cannot be used as a name: use only lowercase letters, digits and dashes, starting with a letter or digit\. Try “acme-sso”\./,
      );
      expect(screen.getByLabelText('Issuer URL')).toHaveAccessibleDescription(/The issuer URL must start with https:\/\//);
      expect(screen.getByLabelText('Client ID')).toHaveAccessibleDescription('Enter the client ID of the client you created at the provider.');
      expect(backend.callsOf('add_connection')).toEqual([]);

      // A name already in use is refused too.
      await userEvent.clear(name);
      await userEvent.type(name, 'gmail');
      await userEvent.click(screen.getByTestId('add-connection'));
      expect(name).toHaveAccessibleDescription(/There already is a connection named “gmail”\./);
      expect(backend.callsOf('add_connection')).toEqual([]);
    });

    it('shows the backend’s sentence when it refuses, and keeps no secret', async () => {
      const { backend } = renderApp({ add_connection: () => fail('network', ISSUER_DOWN) }, ADD, catalog());
      await openCustom();
      await fillOidc();
      await userEvent.click(screen.getByTestId('add-connection'));
      const error = await screen.findByTestId('custom-error');
      expect(error).toHaveRole('alert');
      expect(error).toHaveTextContent(`${ISSUER_DOWN} Type the client secret again to retry.`);
      await waitFor(() => expect(error).toHaveFocus());
      expect(screen.getByLabelText(/Client secret/)).toHaveValue('');
      expect(document.body.innerHTML).not.toContain(SECRET);
      // The rest of the form stays as typed, ready to retry.
      expect(screen.getByLabelText('Issuer URL')).toHaveValue('https://login.acme.test');
      expect(backend.callsOf('add_connection')).toHaveLength(1);
    });

    it('adds an API key connection with its names only', async () => {
      const { backend } = renderApp({}, ADD, catalog());
      const panel = await openCustom();
      await userEvent.click(within(panel).getByRole('radio', { name: 'API key' }));
      expect(within(panel).queryByLabelText('Issuer URL')).not.toBeInTheDocument();
      expect(within(panel).queryByLabelText(/Client secret/)).not.toBeInTheDocument();
      expect(within(panel).getByTestId('custom-cli-note')).toHaveTextContent('API key accounts are added from the command line for now.');
      await userEvent.type(screen.getByLabelText(/Display name/), 'Weather (Pro)');
      expect(screen.getByLabelText('Name')).toHaveValue('weather-pro');
      await userEvent.click(screen.getByTestId('add-connection'));
      await waitFor(() =>
        expect(backend.callsOf('add_connection')).toEqual([
          { connection: { id: 'weather-pro', name: 'Weather (Pro)', kind: 'api-key', issuer: null, client_id: null, client_secret: null, scopes: null } },
        ]),
      );
      const result = await screen.findByTestId('custom-result');
      expect(result).toHaveTextContent('Weather (Pro) was added. API key accounts are added from the command line for now.');
      expect(screen.queryByTestId('connect-now')).not.toBeInTheDocument();
      expect(screen.queryByLabelText('Redirect URI')).not.toBeInTheDocument();
    });

    it('is offered when the search finds nothing, and Back returns to it', async () => {
      renderApp({}, ADD, catalog());
      await screen.findAllByTestId('connection');
      await userEvent.type(screen.getByRole('searchbox', { name: 'Search services' }), 'acme');
      await userEvent.click(within(screen.getByTestId('no-matches')).getByTestId('add-custom'));
      expect(screen.getByTestId('custom-connection')).toBeInTheDocument();
      await userEvent.click(screen.getByTestId('back-to-catalog'));
      await waitFor(() => expect(within(screen.getByTestId('no-matches')).getByTestId('add-custom')).toHaveFocus());
    });
  });
});
