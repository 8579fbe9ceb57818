// The consent questions programs ask through the app's consent desk (`consent-requested`), shown
// one at a time, oldest first, until the person answers (`answer_consent`) or the backend says the
// question is over (`consent-ended`: timed out, or the program stopped asking).
import type { ConsentAnswerDto } from '../bindings/ConsentAnswerDto';
import type { ConsentRequestDto } from '../bindings/ConsentRequestDto';
import { CommandError, invoke, messageOf } from '../ipc';
import type { NoticesStore } from './notices.svelte';

export class ConsentStore {
  queue = $state<ConsentRequestDto[]>([]);
  /** The question whose answer is on its way to the backend. */
  private answering = $state<number | null>(null);
  /** Why the last answer was not taken, for the current question. */
  error = $state<string | null>(null);

  constructor(private notices: NoticesStore) {}

  /** The question on screen. */
  get current(): ConsentRequestDto | null {
    return this.queue[0] ?? null;
  }

  /**
   * The answer to the question on screen is on its way. Only that question's: the backend may end
   * it (`consent-ended`) before the answer's reply, and the next question is then ready at once.
   */
  get busy(): boolean {
    return this.answering !== null && this.answering === this.current?.id;
  }

  /** The questions already waiting when the window opened. */
  async load(): Promise<void> {
    try {
      const list = await invoke('pending_consents');
      for (const q of list) this.requested(q);
    } catch {
      // Questions asked from now on still arrive as events.
    }
  }

  requested(question: ConsentRequestDto): void {
    if (!this.queue.some((q) => q.id === question.id)) this.queue = [...this.queue, question];
  }

  ended(id: number): void {
    if (this.current?.id === id) this.error = null;
    this.queue = this.queue.filter((q) => q.id !== id);
  }

  async answer(answer: ConsentAnswerDto): Promise<void> {
    const q = this.current;
    if (!q || this.busy) return;
    this.answering = q.id;
    this.error = null;
    try {
      await invoke('answer_consent', { id: q.id, answer });
      this.ended(q.id);
      this.notices.announce(
        answer === 'deny' ? `Denied ${q.consumer}.` : answer === 'once' ? `Allowed ${q.consumer} once.` : `Always allowed ${q.consumer}.`,
      );
    } catch (e) {
      // Over already (timed out, or the program left): nothing to answer any more.
      if (e instanceof CommandError && e.code === 'invalid_input') this.ended(q.id);
      else this.error = messageOf(e);
    } finally {
      if (this.answering === q.id) this.answering = null;
    }
  }
}
