import { screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { GrantDto } from '../../lib/bindings/GrantDto';
import { account, renderApp } from '../../test/backend';

const apps = { name: 'settings', section: 'apps' } as const;
const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000).toISOString();
const inDays = (d: number) => new Date(Date.now() + d * 86_400_000).toISOString();

function grant(overrides: Partial<GrantDto> = {}): GrantDto {
  return {
    consumer: 'claude-code',
    account_id: '11111111-1111-4111-8111-111111111111',
    account_ref: 'test:alice@example.test',
    connection_name: 'Test provider',
    identity: 'alice@example.test',
    access: 'read',
    until: null,
    expired: false,
    created_at: hoursAgo(48),
    last_used: hoursAgo(2),
    ...overrides,
  };
}

describe('Settings → Apps & agents', () => {
  it('lists each consumer with its accounts, access, end and last use', async () => {
    renderApp(
      {
        list_grants: () => [
          grant(),
          grant({ account_id: '22222222-2222-4222-8222-222222222222', account_ref: 'gh:carol', connection_name: 'GitHub', identity: 'carol', access: 'full', until: inDays(3), last_used: null }),
          grant({ consumer: '/usr/bin/git', access: 'full' }),
        ],
      },
      apps,
    );
    const consumers = await screen.findAllByTestId('grant-consumer');
    expect(consumers.map((c) => c.dataset.consumer)).toEqual(['claude-code', '/usr/bin/git']);
    const rows = within(consumers[0]!).getAllByTestId('grant');
    expect(rows).toHaveLength(2);
    expect(rows[0]).toHaveTextContent('Test provider · alice@example.test');
    expect(within(rows[0]!).getByTestId('grant-access')).toHaveTextContent('Read only (GET)');
    expect(within(rows[0]!).getByTestId('grant-until')).toHaveTextContent('removed');
    expect(within(rows[0]!).getByTestId('grant-last-used')).toHaveTextContent('2 hours ago');
    expect(within(rows[1]!).getByTestId('grant-access')).toHaveTextContent(/^Full$/);
    expect(within(rows[1]!).getByTestId('grant-access')).toHaveAttribute('title', 'Full (any request, changes too)');
    const until = new Intl.DateTimeFormat('en', { dateStyle: 'medium' }).format(Date.parse(inDays(3)));
    expect(within(rows[1]!).getByTestId('grant-until')).toHaveTextContent(until);
    expect(within(rows[1]!).getByTestId('grant-last-used')).toHaveTextContent('never');
    expect(screen.getByTestId('settings-apps')).toHaveAttribute('aria-current', 'page');
  });

  it('removes a grant after a confirmation, as the user', async () => {
    let list = [grant(), grant({ consumer: 'cursor' })];
    const { backend } = renderApp(
      {
        list_grants: () => list,
        remove_grant: ({ consumer, accountId }) => {
          list = list.filter((g) => !(g.consumer === consumer && g.account_id === accountId));
          return null;
        },
      },
      apps,
    );
    await screen.findAllByTestId('grant');
    const first = screen.getAllByTestId('grant-consumer')[0]!;
    await userEvent.click(within(first).getByTestId('remove-grant'));
    const dialog = await screen.findByTestId('remove-grant-dialog');
    expect(dialog).toHaveTextContent('Remove claude-code’s access?');
    await userEvent.click(within(dialog).getByTestId('cancel'));
    expect(backend.callsOf('remove_grant')).toEqual([]);
    await userEvent.click(within(first).getByTestId('remove-grant'));
    await userEvent.click(within(await screen.findByTestId('remove-grant-dialog')).getByTestId('confirm-remove-grant'));
    await waitFor(() => expect(screen.getAllByTestId('grant-consumer').map((c) => c.dataset.consumer)).toEqual(['cursor']));
    expect(backend.callsOf('remove_grant')).toEqual([{ consumer: 'claude-code', accountId: grant().account_id }]);
  });

  it('says how agents get access when there is none, and reloads on changes', async () => {
    let list: GrantDto[] = [];
    const { backend } = renderApp({ list_grants: () => list }, apps);
    const empty = await screen.findByTestId('grants-empty');
    expect(empty).toHaveTextContent('Latchkey asks you here first');
    expect(empty).toHaveTextContent('latchkey grants add');
    list = [grant()];
    await backend.emit('accounts-changed', [account()]);
    expect(await screen.findByTestId('grant')).toHaveTextContent('alice@example.test');
  });
});
