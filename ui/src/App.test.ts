import { render, screen, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import App from './App.svelte';
import { FakeBackend, account, connection, fail, renderApp } from './test/backend';

describe('the window', () => {
  it('outside Latchkey, says so instead of failing', async () => {
    render(App);
    expect(await screen.findByTestId('not-running')).toHaveTextContent('Latchkey isn’t running');
    expect(await screen.findByTestId('unavailable')).toHaveTextContent('appear here when this window runs inside Latchkey');
  });

  it('navigates with the sidebar, marks the current screen and moves focus to its heading', async () => {
    const { app } = renderApp({ list_accounts: () => [account()], keychain_status: () => ({ description: 'x', healthy: true, message: 'ok' }) });
    await screen.findByTestId('account');
    expect(screen.getByTestId('nav-accounts')).toHaveAttribute('aria-current', 'page');
    await userEvent.click(screen.getByTestId('nav-add'));
    expect(app.router.route).toEqual({ name: 'add' });
    expect(screen.getByTestId('nav-add')).toHaveAttribute('aria-current', 'page');
    await waitFor(() => expect(screen.getByRole('heading', { level: 1 })).toHaveFocus());
    expect(screen.getByRole('heading', { level: 1 })).toHaveTextContent('Add account');
    await userEvent.click(screen.getByTestId('nav-settings'));
    await waitFor(() => expect(screen.getByRole('heading', { level: 1, name: 'Settings' })).toHaveFocus());
  });

  it('reaches every screen with the keyboard alone', async () => {
    renderApp({ list_accounts: () => [account()] });
    await screen.findByTestId('account');
    await userEvent.tab();
    expect(screen.getByText('Skip to content')).toHaveFocus();
    await userEvent.tab();
    expect(screen.getByTestId('nav-accounts')).toHaveFocus();
    await userEvent.tab();
    await userEvent.keyboard('{Enter}');
    await waitFor(() => expect(screen.getByRole('heading', { level: 1, name: 'Add account' })).toHaveFocus());
  });

  it('announces changes in a polite live region', async () => {
    const { backend } = renderApp({ list_accounts: () => [] });
    await screen.findByTestId('empty');
    await backend.emit('connect-succeeded', account());
    await waitFor(() => expect(screen.getByTestId('live')).toHaveTextContent('Connected alice@example.test at Test provider.'));
    expect(screen.getByTestId('live')).toHaveAttribute('aria-live', 'polite');
  });

  it('keeps the list when a refresh fails, with a notice', async () => {
    let n = 0;
    const { app } = renderApp({ list_accounts: () => (++n === 1 ? [account()] : fail('internal', 'database locked')) });
    await screen.findByTestId('account');
    await app.accounts.load();
    expect(screen.getByTestId('account')).toBeInTheDocument();
    expect(await screen.findByTestId('notice')).toHaveTextContent('database locked');
  });

  it('shows the list that came with the page in its first render, then loads it again', async () => {
    const alice = account();
    const bob = account({ id: 'acc-bob', identifier: 'bob@example.test' });
    window.__LATCHKEY_FIRST_VIEW__ = JSON.stringify({ connections: [connection()], accounts: [alice] });
    const backend = new FakeBackend({ list_connections: () => [connection()], list_accounts: () => [alice, bob] });
    render(App);
    // No await: the row is in the very first render, with no "Loading…" before it.
    expect(screen.getByTestId('account')).toHaveTextContent('alice@example.test');
    await waitFor(() => expect(screen.getAllByTestId('account')).toHaveLength(2));
    expect(backend.callsOf('list_accounts')).toHaveLength(1);
  });

  describe('with the first view', () => {
    const alice = account();
    const bob = account({ id: 'acc-bob', identifier: 'bob@example.test' });
    /** Frames run only when the test says (`frame()`): the page's callbacks wait until then. */
    let frames: FrameRequestCallback[] = [];
    const frame = () => {
      for (const callback of frames.splice(0)) callback(performance.now());
    };
    const start = () => {
      window.__LATCHKEY_FIRST_VIEW__ = JSON.stringify({ connections: [connection()], accounts: [alice] });
      const backend = new FakeBackend({ list_connections: () => [connection()], list_accounts: () => [alice, bob], window_painted: () => null });
      render(App);
      return backend;
    };
    /** Whether the page listens to account changes: the backend drops bob. */
    const subscribed = async (backend: FakeBackend) => {
      await backend.emit('accounts-changed', [alice]);
      await waitFor(() => expect(screen.getAllByTestId('account')).toHaveLength(1));
    };
    beforeEach(() => {
      frames = [];
      vi.stubGlobal('requestAnimationFrame', (callback: FrameRequestCallback) => frames.push(callback));
      vi.stubGlobal('cancelAnimationFrame', () => {});
    });
    afterEach(() => vi.unstubAllGlobals());

    it('reports its painted frame first, and only then subscribes and loads the lists again', async () => {
      const backend = start();
      expect(screen.getByTestId('account')).toHaveTextContent('alice@example.test');
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(backend.callsOf('window_painted')).toHaveLength(0);
      expect(backend.callsOf('list_accounts')).toHaveLength(0);

      frame();
      frame();
      await waitFor(() => expect(screen.getAllByTestId('account')).toHaveLength(2));
      expect(backend.callsOf('window_painted')).toEqual([expect.objectContaining({ accounts: 1 })]);
      expect(backend.calls.findIndex((c) => c.cmd === 'window_painted')).toBeLessThan(backend.calls.findIndex((c) => c.cmd === 'list_accounts'));
      await subscribed(backend);
    });

    it('in a window that paints no frame (hidden), loads them again after a short wait all the same', async () => {
      const backend = start();
      await waitFor(() => expect(screen.getAllByTestId('account')).toHaveLength(2), { timeout: 2000 });
      expect(backend.callsOf('window_painted')).toHaveLength(0);
      await subscribed(backend);
    });
  });
});
