import { describe, expect, it } from 'vitest';
import { byId, reuseUnchanged, sameData, upsert, withoutId } from './lists';

type Row = { id: string; n: number; tags?: string[]; extra?: { a: number | null } };

describe('byId', () => {
  it('indexes each id by its first item, once per list', () => {
    const first = { id: 'a', n: 1 };
    const list: Row[] = [first, { id: 'b', n: 2 }, { id: 'a', n: 3 }];
    const index = byId(list);
    expect(index.get('a')).toBe(first);
    expect(index.get('b')?.n).toBe(2);
    expect(index.get('c')).toBeUndefined();
    expect(byId(list)).toBe(index);
    expect(byId([...list])).not.toBe(index);
  });
});

describe('sameData', () => {
  it('compares JSON data deeply', () => {
    expect(sameData({ id: 'a', tags: ['x'], extra: { a: null } }, { id: 'a', tags: ['x'], extra: { a: null } })).toBe(true);
    expect(sameData({ tags: ['x'] }, { tags: ['x', 'y'] })).toBe(false);
    expect(sameData({ extra: { a: 1 } }, { extra: { a: 2 } })).toBe(false);
    expect(sameData({ a: 1 }, { a: 1, b: undefined })).toBe(false);
    expect(sameData({ a: undefined }, { b: undefined })).toBe(false);
    expect(sameData([1], { 0: 1 })).toBe(false);
    expect(sameData(null, {})).toBe(false);
    expect(sameData('1', 1)).toBe(false);
  });
});

describe('reuseUnchanged', () => {
  const held: Row[] = [
    { id: 'a', n: 1, tags: ['x'] },
    { id: 'b', n: 2 },
    { id: 'c', n: 3 },
  ];

  it('keeps the held list when nothing changed', () => {
    expect(reuseUnchanged(held, structuredClone(held))).toBe(held);
  });

  it('keeps the objects that did not change and takes the ones that did', () => {
    const fresh = structuredClone(held);
    fresh[1] = { id: 'b', n: 20 };
    const list = reuseUnchanged(held, fresh);
    expect(list).not.toBe(held);
    expect(list[0]).toBe(held[0]);
    expect(list[1]).toBe(fresh[1]);
    expect(list[2]).toBe(held[2]);
  });

  it('follows the fresh order, additions and removals', () => {
    const reordered = reuseUnchanged(held, structuredClone([held[2]!, held[0]!, held[1]!]));
    expect(reordered).toEqual([held[2], held[0], held[1]]);
    expect(reordered[0]).toBe(held[2]);

    const added = { id: 'd', n: 4 };
    const grown = reuseUnchanged(held, [...structuredClone(held), added]);
    expect(grown).toHaveLength(4);
    expect(grown[3]).toBe(added);

    const shrunk = reuseUnchanged(held, structuredClone(held.slice(0, 2)));
    expect(shrunk).toHaveLength(2);
    expect(shrunk[1]).toBe(held[1]);
  });
});

describe('upsert and withoutId', () => {
  const list: Row[] = [
    { id: 'a', n: 1 },
    { id: 'b', n: 2 },
  ];

  it('replaces an item in place, or adds it at the end, in a new list', () => {
    const replaced = upsert(list, { id: 'a', n: 10 });
    expect(replaced).toEqual([{ id: 'a', n: 10 }, { id: 'b', n: 2 }]);
    expect(replaced[1]).toBe(list[1]);
    expect(upsert(list, { id: 'c', n: 3 }).map((r) => r.id)).toEqual(['a', 'b', 'c']);
    expect(list).toEqual([{ id: 'a', n: 1 }, { id: 'b', n: 2 }]);
  });

  it('removes by id in a new list', () => {
    expect(withoutId(list, 'a')).toEqual([{ id: 'b', n: 2 }]);
    expect(withoutId(list, 'z')).toEqual(list);
    expect(list).toHaveLength(2);
  });
});
