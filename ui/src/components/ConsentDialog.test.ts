import { screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { ConsentAnswerDto } from '../lib/bindings/ConsentAnswerDto';
import type { ConsentRequestDto } from '../lib/bindings/ConsentRequestDto';
import { deferred, fail, renderApp } from '../test/backend';

function question(overrides: Partial<ConsentRequestDto> = {}): ConsentRequestDto {
  return {
    id: 1,
    consumer: 'claude-code',
    account_id: '11111111-1111-4111-8111-111111111111',
    account_ref: 'test:alice@example.test',
    connection_name: 'Test provider',
    identity: 'alice@example.test',
    access: 'read',
    purpose: 'api_call',
    ...overrides,
  };
}

/** The window with `waiting` questions already pending; answers are recorded and accepted. */
function asking(waiting: ConsentRequestDto[], answer?: (id: number, answer: ConsentAnswerDto) => null) {
  const answers: { id: number; answer: ConsentAnswerDto }[] = [];
  const rendered = renderApp({
    pending_consents: () => waiting,
    answer_consent: ({ id, answer: a }) => {
      answers.push({ id, answer: a });
      return answer ? answer(id, a) : null;
    },
  });
  return { ...rendered, answers };
}

describe('The consent dialog', () => {
  it('names the program, the account, the access and the purpose, with Deny focused', async () => {
    asking([question()]);
    const dialog = await screen.findByTestId('consent-dialog');
    expect(dialog).toHaveAttribute('role', 'alertdialog');
    expect(within(dialog).getByTestId('consent-consumer')).toHaveTextContent('claude-code');
    expect(within(dialog).getByTestId('consent-account')).toHaveTextContent('Test provider · alice@example.test');
    expect(within(dialog).getByTestId('consent-account')).toHaveTextContent('test:alice@example.test');
    expect(within(dialog).getByTestId('consent-access')).toHaveTextContent('Read only (GET)');
    expect(within(dialog).getByTestId('consent-purpose')).toHaveTextContent('Call its API through Latchkey');
    await waitFor(() => expect(within(dialog).getByTestId('consent-deny')).toHaveFocus());
    expect(within(dialog).getByTestId('consent-note')).toHaveTextContent('Any program you run can claim any name');
  });

  it('says full access and a token plainly', async () => {
    asking([question({ access: 'full', purpose: 'token', consumer: '/usr/bin/git' })]);
    const dialog = await screen.findByTestId('consent-dialog');
    expect(within(dialog).getByTestId('consent-access')).toHaveTextContent('Full (any request, changes too)');
    expect(within(dialog).getByTestId('consent-purpose')).toHaveTextContent('Take its access token');
    expect(within(dialog).getByTestId('consent-consumer')).toHaveTextContent('/usr/bin/git');
    expect(within(dialog).getByTestId('consent-note')).toHaveTextContent('For a shell or an interpreter');
  });

  it.each([
    ['consent-once', 'once'],
    ['consent-always', 'always'],
    ['consent-deny', 'deny'],
  ] as const)('%s answers %s and closes', async (button, answer) => {
    const { answers } = asking([question({ id: 7 })]);
    await userEvent.click(await screen.findByTestId(button));
    await waitFor(() => expect(screen.queryByTestId('consent-dialog')).not.toBeInTheDocument());
    expect(answers).toEqual([{ id: 7, answer }]);
  });

  it('stresses the allow that lasts one call, not the one that lasts', async () => {
    asking([question({ id: 3 })]);
    expect(await screen.findByTestId('consent-once')).toHaveClass('btn-primary');
    expect(screen.getByTestId('consent-always')).not.toHaveClass('btn-primary');
    expect(screen.getByTestId('consent-deny')).not.toHaveClass('btn-primary');
  });

  it('denies on Escape and on Enter (Deny has the focus)', async () => {
    const { answers } = asking([question({ id: 1 }), question({ id: 2, consumer: 'cursor' })]);
    await screen.findByTestId('consent-dialog');
    await waitFor(() => expect(screen.getByTestId('consent-deny')).toHaveFocus());
    await userEvent.keyboard('{Escape}');
    await waitFor(() => expect(screen.getByTestId('consent-consumer')).toHaveTextContent('cursor'));
    await waitFor(() => expect(screen.getByTestId('consent-deny')).toHaveFocus());
    await userEvent.keyboard('{Enter}');
    await waitFor(() => expect(screen.queryByTestId('consent-dialog')).not.toBeInTheDocument());
    expect(answers).toEqual([
      { id: 1, answer: 'deny' },
      { id: 2, answer: 'deny' },
    ]);
  });

  it('keeps the focus for the next question when the first opened over a focused heading; Escape works anywhere', async () => {
    const { backend, answers } = asking([]);
    // A screen focuses its heading after navigation: the first dialog opens over it.
    const heading = await screen.findByRole('heading', { level: 1, name: 'Accounts' });
    heading.focus();
    await backend.emit('consent-requested', question({ id: 1 }));
    await backend.emit('consent-requested', question({ id: 2, consumer: 'cursor' }));
    await waitFor(() => expect(screen.getByTestId('consent-deny')).toHaveFocus());
    await userEvent.click(screen.getByTestId('consent-deny'));
    await waitFor(() => expect(screen.getByTestId('consent-consumer')).toHaveTextContent('cursor'));
    await waitFor(() => expect(screen.getByTestId('consent-deny')).toHaveFocus());
    // Focus outside the modal: Tab comes back into it, and Escape still denies.
    heading.focus();
    await userEvent.tab();
    expect(screen.getByTestId('consent-deny')).toHaveFocus();
    heading.focus();
    await userEvent.keyboard('{Escape}');
    await waitFor(() => expect(screen.queryByTestId('consent-dialog')).not.toBeInTheDocument());
    expect(answers).toEqual([
      { id: 1, answer: 'deny' },
      { id: 2, answer: 'deny' },
    ]);
    await waitFor(() => expect(heading).toHaveFocus());
  });

  it('the next question is ready at once when the backend ends the answered one before it replies', async () => {
    const held = deferred<null>();
    const { backend, answers } = asking([question({ id: 1 }), question({ id: 2, consumer: 'cursor' })], (id) =>
      id === 1 ? (held.promise as unknown as null) : null,
    );
    await waitFor(() => expect(screen.getByTestId('consent-deny')).toHaveFocus());
    await userEvent.click(screen.getByTestId('consent-deny'));
    // The desk is done with question 1 (its program has the answer) before the command returns.
    await backend.emit('consent-ended', 1);
    await waitFor(() => expect(screen.getByTestId('consent-consumer')).toHaveTextContent('cursor'));
    expect(screen.getByTestId('consent-deny')).toBeEnabled();
    await waitFor(() => expect(screen.getByTestId('consent-deny')).toHaveFocus());
    held.resolve(null);
    await userEvent.keyboard('{Escape}');
    await waitFor(() => expect(screen.queryByTestId('consent-dialog')).not.toBeInTheDocument());
    expect(answers).toEqual([
      { id: 1, answer: 'deny' },
      { id: 2, answer: 'deny' },
    ]);
  });

  it('shows one question at a time, oldest first, with how many wait', async () => {
    const { backend, answers } = asking([question({ id: 1 })]);
    await screen.findByTestId('consent-dialog');
    await backend.emit('consent-requested', question({ id: 2, consumer: 'cursor' }));
    await backend.emit('consent-requested', question({ id: 2, consumer: 'cursor' }));
    await waitFor(() => expect(screen.getByTestId('consent-waiting')).toHaveTextContent('One more question is waiting.'));
    expect(screen.getAllByTestId('consent-dialog')).toHaveLength(1);
    expect(screen.getByTestId('consent-consumer')).toHaveTextContent('claude-code');
    await userEvent.click(screen.getByTestId('consent-once'));
    await waitFor(() => expect(screen.getByTestId('consent-consumer')).toHaveTextContent('cursor'));
    expect(screen.queryByTestId('consent-waiting')).not.toBeInTheDocument();
    await userEvent.click(screen.getByTestId('consent-always'));
    await waitFor(() => expect(screen.queryByTestId('consent-dialog')).not.toBeInTheDocument());
    expect(answers).toEqual([
      { id: 1, answer: 'once' },
      { id: 2, answer: 'always' },
    ]);
  });

  it('goes away when the backend ends the question (timed out, or the program left)', async () => {
    const { backend } = asking([]);
    await backend.emit('consent-requested', question({ id: 3 }));
    await screen.findByTestId('consent-dialog');
    await backend.emit('consent-ended', 3);
    await waitFor(() => expect(screen.queryByTestId('consent-dialog')).not.toBeInTheDocument());
  });

  it('keeps the question and says why when the answer fails; drops it when it is over', async () => {
    let failure: 'internal' | 'invalid_input' = 'internal';
    asking([question({ id: 4 })], () => fail(failure, failure === 'internal' ? 'Latchkey’s local database failed: disk full' : 'This question is no longer waiting.'));
    await userEvent.click(await screen.findByTestId('consent-always'));
    expect(await screen.findByTestId('consent-error')).toHaveTextContent('disk full');
    expect(screen.getByTestId('consent-dialog')).toBeInTheDocument();
    failure = 'invalid_input';
    await userEvent.click(screen.getByTestId('consent-once'));
    await waitFor(() => expect(screen.queryByTestId('consent-dialog')).not.toBeInTheDocument());
  });
});
