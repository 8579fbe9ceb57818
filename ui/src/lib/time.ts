// Times as people read them: "3 minutes ago", "in 2 hours", with the exact time for a tooltip.

const relative = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
const absolute = new Intl.DateTimeFormat('en', { dateStyle: 'medium', timeStyle: 'short' });

const STEPS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['second', 60],
  ['minute', 60],
  ['hour', 24],
  ['day', 7],
  ['week', 4.345],
  ['month', 12],
  ['year', Infinity],
];

/** "3 minutes ago" / "in 2 hours" / "now", relative to `now` (ms); null for an unreadable time. */
export function relativeTime(iso: string | null | undefined, now: number): string | null {
  if (!iso) return null;
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return null;
  let value = (at - now) / 1000;
  if (Math.abs(value) < 45) return 'just now';
  for (const [unit, size] of STEPS) {
    if (Math.abs(value) < size) return relative.format(Math.round(value), unit);
    value /= size;
  }
  return null;
}

/** "Nov 1, 2026, 4:24 AM"; null for an unreadable time. */
export function absoluteTime(iso: string | null | undefined): string | null {
  if (!iso) return null;
  const at = Date.parse(iso);
  return Number.isNaN(at) ? null : absolute.format(at);
}

/** Unix seconds `hours` before `now` (ms). */
export function hoursAgo(hours: number, now: number): number {
  return Math.floor(now / 1000) - hours * 3600;
}
