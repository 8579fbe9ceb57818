// Notices (dismissable messages above the screen) and the sentence for the polite live region.

export type Tone = 'success' | 'warning' | 'danger' | 'neutral';
export type Notice = { id: number; tone: Tone; title: string; text: string };

export class NoticesStore {
  list = $state<Notice[]>([]);
  /** The latest sentence for the polite live region. */
  announcement = $state('');

  #nextId = 0;

  announce(text: string): void {
    // Re-setting the same text would not be read again; clear first.
    this.announcement = '';
    queueMicrotask(() => (this.announcement = text));
  }

  notify(tone: Tone, title: string, text: string): number {
    const id = ++this.#nextId;
    this.list = [...this.list, { id, tone, title, text }];
    return id;
  }

  dismiss(id: number): void {
    this.list = this.list.filter((n) => n.id !== id);
  }
}
