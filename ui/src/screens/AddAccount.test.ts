import { screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { AccountDto } from '../lib/bindings/AccountDto';
import type { ConnectionDto } from '../lib/bindings/ConnectionDto';
import { account, connection, deferred, fail, renderApp } from '../test/backend';

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

  it('disables Connect for a connection that is not ready, saying what to do', async () => {
    renderApp(
      {
        list_connections: () => [
          connection({ id: 'off', name: 'Off', status: 'inactive' }),
          connection({ id: 'new', name: 'New', status: 'pending' }),
          connection({ id: 'bad', name: 'Bad', status: 'error', error: 'Bad rejected the client (invalid_client).' }),
          connection({ id: 'key', name: 'Key', kind: 'api-key', scopes: [] }),
        ],
      },
      ADD,
    );
    await screen.findAllByTestId('connection');
    expect(within(card('off')).getByTestId('connect')).toBeDisabled();
    expect(within(card('off')).getByTestId('connection-problem')).toHaveTextContent('turned off');
    expect(within(card('new')).getByTestId('connection-status')).toHaveTextContent('Not set up');
    expect(within(card('new')).getByTestId('connection-problem')).toHaveTextContent('client_id');
    expect(within(card('bad')).getByTestId('connection-problem')).toHaveTextContent('Bad rejected the client (invalid_client). Check its client_id');
    expect(within(card('bad')).getByTestId('connect')).toHaveAccessibleDescription(/rejected the client/);
    expect(within(card('key')).queryByTestId('connect')).not.toBeInTheDocument();
    expect(card('key')).toHaveTextContent('API key accounts are added from the command line for now.');
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
    expect(app.signIn?.phase).toBe('waiting');
  });

  it('shows success with the granted access, and a partial grant', async () => {
    const { backend, app } = renderApp({ connect: () => pending }, ADD);
    await userEvent.click(await screen.findByTestId('connect'));
    await waitFor(() => expect(app.signIn?.phase).toBe('waiting'));
    await backend.emit('connect-succeeded', account({ id: pending.id, granted_scopes: ['openid', 'email', 'profile'] }));
    const title = await screen.findByTestId('connect-success');
    expect(title).toHaveTextContent('Connected alice@example.test');
    await waitFor(() => expect(title).toHaveFocus());
    expect(screen.getByTestId('partial-grant')).toHaveTextContent('granted only part');
    const missing = screen.getAllByTestId('scope').filter((s) => s.dataset.state === 'missing');
    expect(missing.map((s) => s.textContent)).toEqual(['!demo.read (asked for, not granted)']);
    await userEvent.click(screen.getByTestId('view-account'));
    expect(app.route).toEqual({ name: 'account', id: pending.id });
  });

  it('shows a failure with the reason and tries again', async () => {
    const { backend, app } = renderApp({ connect: () => pending }, ADD);
    await userEvent.click(await screen.findByTestId('connect'));
    await waitFor(() => expect(app.signIn?.phase).toBe('waiting'));
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
    await waitFor(() => expect(app.signIn?.phase).toBe('waiting'));
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
    await waitFor(() => expect(app.signIn?.phase).toBe('waiting'));
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
});
