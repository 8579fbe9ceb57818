import { screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { account, allAccountRows, connection, deferred, fail, renderApp } from '../test/backend';
import type { AccountDto } from '../lib/bindings/AccountDto';

const bob = account({
  id: '22222222-2222-4222-8222-222222222222',
  identifier: 'bob@work.test',
  identity: { subject: 'b', email: 'bob@work.test', name: 'Bob' },
  status: 'expired',
  labels: ['work'],
});
const carol = account({
  id: '33333333-3333-4333-8333-333333333333',
  connection_id: 'gh',
  connection_name: 'GitHub',
  identifier: 'carol',
  identity: { subject: '3', email: null, name: 'Carol' },
  status: 'error',
  last_error: 'GitHub refused the refresh token. Reconnect the account.',
  requested_scopes: ['repo', 'read:user'],
  granted_scopes: ['read:user'],
});
const dave = account({
  id: '44444444-4444-4444-8444-444444444444',
  identifier: 'dave@example.test',
  identity: null,
  status: 'active',
  reauth_needed: true,
});

function rows(): HTMLElement[] {
  return screen.queryAllByTestId('account');
}

describe('Accounts screen', () => {
  it('shows loading until the list arrives', async () => {
    const held = deferred<AccountDto[]>();
    renderApp({ list_accounts: () => held.promise });
    expect(await screen.findByTestId('loading')).toHaveTextContent('Loading your accounts…');
    held.resolve([account()]);
    expect(await screen.findByTestId('account')).toBeInTheDocument();
    expect(screen.queryByTestId('loading')).not.toBeInTheDocument();
  });

  it('says why loading failed and tries again', async () => {
    let attempts = 0;
    renderApp({
      list_accounts: () => (++attempts === 1 ? fail('internal', "Latchkey's local database failed: disk I/O error") : [account()]),
    });
    const error = await screen.findByTestId('load-error');
    expect(error).toHaveTextContent('Latchkey could not load your accounts.');
    expect(error).toHaveTextContent('disk I/O error');
    await userEvent.click(within(error).getByRole('button', { name: 'Try again' }));
    expect(await screen.findByTestId('account')).toBeInTheDocument();
  });

  it('welcomes a new user with a way to add an account', async () => {
    const { app } = renderApp({ list_accounts: () => [] });
    const empty = await screen.findByTestId('empty');
    expect(empty).toHaveTextContent('No accounts yet');
    await userEvent.click(within(empty).getByRole('button', { name: 'Add your first account' }));
    expect(app.router.route).toEqual({ name: 'add' });
  });

  it('explains that connections must be configured first when there are none', async () => {
    renderApp({ list_connections: () => [], list_accounts: () => [] });
    expect(await screen.findByTestId('empty')).toHaveTextContent('No connections configured yet');
    expect(screen.getByTestId('empty')).toHaveTextContent('connections.toml');
  });

  it('groups accounts by provider, with status words, scopes and relative times', async () => {
    renderApp({
      list_connections: () => [connection(), connection({ id: 'gh', name: 'GitHub' })],
      list_accounts: () => [account(), bob, carol],
    });
    await screen.findAllByTestId('account');
    const groups = screen.getAllByTestId('provider-group');
    expect(groups.map((g) => within(g).getByRole('heading', { level: 2 }).textContent?.replace(/\s+/g, ' ').trim())).toEqual([
      'GitHub 1',
      'Test provider 2',
    ]);
    const alice = rows().find((r) => r.dataset.identifier === 'alice@example.test')!;
    expect(within(alice).getByTestId('status')).toHaveTextContent('Active');
    expect(within(alice).getByTestId('identity')).toHaveTextContent('Alice Example');
    expect(within(alice).getAllByTestId('scope').map((c) => c.textContent?.trim())).toEqual(['openid', 'email', 'profile', 'demo.read']);
    expect(alice).toHaveTextContent('Updated 3 minutes ago');

    const bobRow = rows().find((r) => r.dataset.identifier === 'bob@work.test')!;
    expect(within(bobRow).getByTestId('status')).toHaveTextContent('Expired — reconnect');
    expect(within(bobRow).getByRole('list', { name: 'Labels' })).toHaveTextContent('work');

    const carolRow = rows().find((r) => r.dataset.identifier === 'carol')!;
    expect(within(carolRow).getByTestId('status')).toHaveTextContent('Error');
    expect(within(carolRow).getByTestId('last-error')).toHaveTextContent('GitHub refused the refresh token');
    const chips = within(carolRow).getAllByTestId('scope');
    expect(chips.map((c) => [c.textContent?.trim(), c.dataset.state])).toEqual([
      ['!repo (asked for, not granted)', 'missing'],
      ['read:user', 'granted'],
    ]);
  });

  it('shows the expiry of an active account in relative time', async () => {
    const soon = new Date(Date.now() + 50 * 60_000).toISOString();
    renderApp({ list_accounts: () => [account({ expires_at: soon })] });
    expect(await screen.findByTestId('expiry')).toHaveTextContent('Access expires in 50 minutes');
  });

  it('lists accounts that need attention with one button each', async () => {
    const { backend } = renderApp({
      list_connections: () => [connection(), connection({ id: 'gh', name: 'GitHub' })],
      list_accounts: () => [account(), bob, carol, dave],
      connect: ({ connectionId, identifier }) => account({ connection_id: connectionId, identifier: identifier!, status: 'expired', signing_in: true }),
    });
    const banner = await screen.findByTestId('attention');
    expect(within(banner).getByRole('heading')).toHaveTextContent('3 accounts need attention');
    const items = within(banner).getAllByTestId('attention-item');
    expect(items.map((i) => within(i).getByRole('button').textContent?.trim())).toEqual([
      'Reconnect bob@work.test',
      'Reconnect carol',
      'Re-authorize dave@example.test',
    ]);
    expect(items[2]).toHaveTextContent('Test provider now asks for different access.');
    expect(screen.getByTestId('nav-attention')).toHaveTextContent('3');

    await userEvent.click(within(items[0]!).getByRole('button'));
    await waitFor(() => expect(backend.callsOf('connect')).toEqual([{ connectionId: 'test', identifier: 'bob@work.test' }]));
    expect(await screen.findByTestId('sign-in')).toHaveAttribute('data-phase', 'waiting');
  });

  it('has no attention banner when all is well', async () => {
    renderApp({ list_accounts: () => [account()] });
    await screen.findByTestId('account');
    expect(screen.queryByTestId('attention')).not.toBeInTheDocument();
    expect(screen.queryByTestId('nav-attention')).not.toBeInTheDocument();
  });

  it('searches by name, email and label, and filters by provider and status', async () => {
    renderApp({
      list_connections: () => [connection(), connection({ id: 'gh', name: 'GitHub' })],
      list_accounts: () => [account(), bob, carol],
    });
    await screen.findAllByTestId('account');
    const ids = () => rows().map((r) => r.dataset.identifier).sort();

    await userEvent.type(screen.getByLabelText('Search'), 'WORK');
    expect(ids()).toEqual(['bob@work.test']);
    await userEvent.clear(screen.getByLabelText('Search'));
    await userEvent.type(screen.getByLabelText('Search'), 'carol');
    expect(ids()).toEqual(['carol']);
    await userEvent.clear(screen.getByLabelText('Search'));

    await userEvent.selectOptions(screen.getByLabelText('Provider'), 'gh');
    expect(ids()).toEqual(['carol']);
    await userEvent.selectOptions(screen.getByLabelText('Provider'), '');
    await userEvent.selectOptions(screen.getByLabelText('Status'), 'Expired — reconnect');
    expect(ids()).toEqual(['bob@work.test']);
  });

  it('says when nothing matches and clears the filters', async () => {
    renderApp({ list_accounts: () => [account(), bob] });
    await screen.findAllByTestId('account');
    await userEvent.type(screen.getByLabelText('Search'), 'nobody');
    const none = screen.getByTestId('no-matches');
    expect(none).toHaveTextContent('No accounts match');
    expect(screen.getByText('0 of 2 accounts shown')).toHaveAttribute('role', 'status');
    await userEvent.click(within(none).getByRole('button', { name: 'Clear filters' }));
    expect(rows()).toHaveLength(2);
    expect(screen.getByLabelText('Search')).toHaveFocus();
  });

  it('updates from accounts-changed events without asking again', async () => {
    const { backend } = renderApp({ list_accounts: () => [account()] });
    await screen.findByTestId('account');
    await backend.emit('accounts-changed', [account({ status: 'revoked', updated_at: new Date().toISOString() }), bob]);
    await waitFor(() => expect(rows()).toHaveLength(2));
    expect(within(rows().find((r) => r.dataset.identifier === 'alice@example.test')!).getByTestId('status')).toHaveTextContent('Revoked');
    expect(backend.callsOf('list_accounts')).toHaveLength(1);
  });

  it('shows a pending account waiting for the browser, and an unfinished one with Connect again', async () => {
    renderApp({
      list_accounts: () => [
        account({ status: 'pending', signing_in: true, granted_scopes: [], identity: null, identifier: 'new-1' }),
        account({ id: '55555555-5555-4555-8555-555555555555', status: 'pending', signing_in: false, granted_scopes: [], identity: null, identifier: 'new-2' }),
      ],
    });
    await screen.findAllByTestId('account');
    const [waiting, unfinished] = ['new-1', 'new-2'].map((n) => rows().find((r) => r.dataset.identifier === n)!);
    expect(within(waiting!).getByTestId('status')).toHaveTextContent('Pending');
    expect(within(waiting!).getByTestId('connect-waiting')).toHaveTextContent('Waiting for you to finish in your browser…');
    expect(within(waiting!).queryByTestId('reconnect')).not.toBeInTheDocument();
    expect(within(waiting!).getAllByTestId('scope').every((c) => c.dataset.state === 'requested')).toBe(true);
    expect(within(unfinished!).getByTestId('connect-waiting')).toHaveTextContent('The sign-in was not finished.');
    expect(within(unfinished!).getByTestId('reconnect')).toHaveTextContent('Connect again');
  });

  it('opens an account from its name', async () => {
    const { app } = renderApp({ list_accounts: () => [account()], get_account: () => ({ account: account(), history: [] }) });
    await userEvent.click(await screen.findByTestId('open-account'));
    expect(app.router.route).toEqual({ name: 'account', id: account().id });
  });

  describe('with 1,000 accounts', () => {
    // Two providers; three accounts need attention. Identifiers are numbered so that display order
    // (by provider, then by name) is easy to state.
    const MANY: AccountDto[] = Array.from({ length: 1000 }, (_, i) => {
      const gh = i % 4 === 0;
      return account({
        id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
        connection_id: gh ? 'gh' : 'test',
        connection_name: gh ? 'GitHub' : 'Test provider',
        identifier: `user-${String(i).padStart(4, '0')}@example.test`,
        identity: null,
        status: i === 998 || i === 999 || i === 3 ? 'expired' : 'active',
        labels: i === 999 ? ['last'] : [],
      });
    }).reverse();
    /** Fresh copies, as each backend answer is. */
    const many = (): AccountDto[] => MANY.map((a) => ({ ...a, labels: [...a.labels] }));
    const displayOrder = (list: AccountDto[]) =>
      [...list]
        .sort((a, b) => a.connection_name.localeCompare(b.connection_name) || a.identifier.localeCompare(b.identifier))
        .map((a) => a.identifier);
    const setup = () =>
      renderApp({
        list_connections: () => [connection(), connection({ id: 'gh', name: 'GitHub' })],
        list_accounts: () => many(),
      });

    it('renders the first screenful at once, then every row, in display order', async () => {
      setup();
      await screen.findAllByTestId('account');
      // The first render: a screenful (the three attention items count), not a thousand rows.
      const first = rows().length;
      expect(first).toBeGreaterThan(5);
      expect(first).toBeLessThanOrEqual(40);
      const list = screen.getByTestId('account-list');
      expect(list).toHaveAttribute('aria-busy', 'true');
      expect(rows().map((r) => r.dataset.identifier)).toEqual(displayOrder(many()).slice(0, first));
      // Group headings count every account from the start.
      expect(screen.getAllByTestId('provider-group')[0]!.querySelector('.count')).toHaveTextContent('250');

      const all = await allAccountRows();
      expect(all).toHaveLength(1000);
      expect(all.map((r) => r.dataset.identifier)).toEqual(displayOrder(many()));
      expect(list).not.toHaveAttribute('aria-busy');
      expect(screen.getAllByTestId('provider-group').map((g) => g.querySelectorAll('[data-testid="account"]').length)).toEqual([250, 750]);
      expect(screen.getAllByTestId('attention-item')).toHaveLength(3);
    }, 20_000);

    it('renders as many rows first as fit the window: 9 at 720 px, at least 8, at most 24', async () => {
      const height = window.innerHeight;
      try {
        for (const [innerHeight, first] of [[720, 9], [300, 8], [4000, 24]] as const) {
          Object.defineProperty(window, 'innerHeight', { value: innerHeight, configurable: true });
          const { unmount } = setup();
          await screen.findAllByTestId('account');
          // The three attention items count.
          expect(rows().length + screen.getAllByTestId('attention-item').length, `${innerHeight} px`).toBe(first);
          unmount();
        }
      } finally {
        Object.defineProperty(window, 'innerHeight', { value: height, configurable: true });
      }
    });

    it('searches and filters over all accounts while rows are still being added', async () => {
      setup();
      await screen.findAllByTestId('account');
      expect(screen.getByTestId('account-list')).toHaveAttribute('aria-busy', 'true');
      // The last account in display order is not rendered yet; the search finds it anyway.
      expect(rows().some((r) => r.dataset.identifier === 'user-0999@example.test')).toBe(false);
      await userEvent.type(screen.getByLabelText('Search'), 'LAST');
      expect(rows().map((r) => r.dataset.identifier)).toEqual(['user-0999@example.test']);
      expect(screen.getByText('1 of 1000 accounts shown')).toHaveAttribute('role', 'status');

      await userEvent.clear(screen.getByLabelText('Search'));
      await userEvent.selectOptions(screen.getByLabelText('Status'), 'Expired — reconnect');
      expect((await allAccountRows()).map((r) => r.dataset.identifier)).toEqual([
        'user-0003@example.test',
        'user-0998@example.test',
        'user-0999@example.test',
      ]);

      await userEvent.selectOptions(screen.getByLabelText('Status'), '');
      await userEvent.selectOptions(screen.getByLabelText('Provider'), 'gh');
      const gh = await allAccountRows();
      expect(gh).toHaveLength(250);
      expect(gh.every((r) => r.dataset.connectionId === 'gh')).toBe(true);
    }, 20_000);

    it('keeps the accounts that did not change when the whole list arrives again', async () => {
      const { app, backend } = setup();
      await screen.findAllByTestId('account');
      const before = app.accounts.list;
      const row = rows().find((r) => r.dataset.identifier === 'user-0004@example.test')!;

      await backend.emit('accounts-changed', many());
      expect(app.accounts.list).toBe(before);

      const changed = many().map((a) => (a.identifier === 'user-0004@example.test' ? { ...a, status: 'revoked' as const } : a));
      await backend.emit('accounts-changed', changed);
      await waitFor(() => expect(row).toHaveAttribute('data-status', 'revoked'));
      expect(app.accounts.list.filter((a, i) => a !== before[i]).map((a) => a.identifier)).toEqual(['user-0004@example.test']);
      expect(await allAccountRows()).toHaveLength(1000);
    }, 20_000);
  });
});
