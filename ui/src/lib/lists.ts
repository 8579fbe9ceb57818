// Pure helpers for the lists the backend sends (accounts, connections). Lists are replaced whole,
// never changed in place, so what is worked out from a list can be kept per list object.

type Item = { id: string };

const indexes = new WeakMap<readonly Item[], Map<string, Item>>();

/** A list's items by id (the first of each id), built once per list. */
export function byId<T extends Item>(list: readonly T[]): Map<string, T> {
  let index = indexes.get(list);
  if (!index) {
    index = new Map();
    for (const item of list) if (!index.has(item.id)) index.set(item.id, item);
    indexes.set(list, index);
  }
  return index as Map<string, T>;
}

/**
 * `fresh`, but with each item whose data did not change kept as the object `held` already has,
 * and `held` itself when nothing changed (not even the order): what re-renders is what changed.
 */
export function reuseUnchanged<T extends Item>(held: T[], fresh: T[]): T[] {
  const index = byId(held);
  let same = held.length === fresh.length;
  const list = fresh.map((item, i) => {
    const old = index.get(item.id);
    if (old === undefined || !sameData(old, item)) {
      same = false;
      return item;
    }
    if (held[i] !== old) same = false;
    return old;
  });
  return same ? held : list;
}

/** Deep equality of data as it arrives over IPC (JSON: objects, arrays, primitives). */
export function sameData(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameData(x, b[i]));
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const keys = Object.keys(x);
  return (
    keys.length === Object.keys(y).length &&
    keys.every((k) => Object.prototype.hasOwnProperty.call(y, k) && sameData(x[k], y[k]))
  );
}

/** A new list with `item` in place of the first item with its id, or added at the end. */
export function upsert<T extends Item>(list: readonly T[], item: T): T[] {
  const i = list.findIndex((x) => x.id === item.id);
  return i === -1 ? [...list, item] : list.map((x, j) => (j === i ? item : x));
}

/** A new list without the items with this id. */
export function withoutId<T extends Item>(list: readonly T[], id: string): T[] {
  return list.filter((x) => x.id !== id);
}
