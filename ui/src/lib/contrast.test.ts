// WCAG AA: every text colour the window uses against the background it is used on, in both
// schemes, read from app.css itself (translucent backgrounds composited over the surface).
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

// Tests run from ui/ (npm test, vitest run).
const css = readFileSync(resolve(process.cwd(), 'src/app.css'), 'utf8');

type RGBA = [number, number, number, number];

function block(source: string, start: string): Record<string, string> {
  const at = source.indexOf(start);
  const open = source.indexOf('{', source.indexOf(':root', at));
  const close = source.indexOf('}', open);
  const vars: Record<string, string> = {};
  for (const m of source.slice(open + 1, close).matchAll(/--([\w-]+):\s*([^;]+);/g)) vars[m[1]!] = m[2]!.trim();
  return vars;
}

function parse(value: string): RGBA {
  const hex = /^#([0-9a-f]{6})$/i.exec(value);
  if (hex) {
    const n = parseInt(hex[1]!, 16);
    return [(n >> 16) & 255, (n >> 8) & 255, n & 255, 1];
  }
  const rgba = /^rgba?\(([^)]+)\)$/.exec(value);
  if (rgba) {
    const [r, g, b, a = '1'] = rgba[1]!.split(',').map((s) => s.trim());
    return [Number(r), Number(g), Number(b), Number(a)];
  }
  throw new Error(`not a colour: ${value}`);
}

function over(top: RGBA, bottom: RGBA): RGBA {
  const a = top[3];
  return [top[0] * a + bottom[0] * (1 - a), top[1] * a + bottom[1] * (1 - a), top[2] * a + bottom[2] * (1 - a), 1];
}

function luminance([r, g, b]: RGBA): number {
  const f = (c: number) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
}

function ratio(fg: RGBA, bg: RGBA): number {
  const [a, b] = [luminance(fg), luminance(bg)].sort((x, y) => y - x);
  return (a! + 0.05) / (b! + 0.05);
}

// [text, background] pairs as the components use them.
const PAIRS: [string, string][] = [
  ['text', 'bg'],
  ['text', 'surface'],
  ['text', 'sidebar'],
  ['text', 'surface-sunken'],
  ['text-muted', 'bg'],
  ['text-muted', 'surface'],
  ['text-muted', 'sidebar'],
  ['accent', 'surface'],
  ['accent', 'sidebar'],
  ['accent', 'accent-soft'],
  ['accent-text', 'accent'],
  ['danger-text', 'danger'],
  ['danger-fg', 'surface'],
  ['danger-fg', 'danger-bg'],
  ['pending-fg', 'surface'],
  ['chip-text', 'chip-bg'],
  ['chip-missing-text', 'chip-missing-bg'],
  ['text', 'warning-bg'],
  ['text', 'danger-bg'],
  ['text', 'success-bg'],
  ...(['success', 'pending', 'warning', 'neutral', 'danger', 'suspended', 'offline'] as const).map(
    (t): [string, string] => [`${t}-fg`, `${t}-bg`],
  ),
];

describe('colour contrast (WCAG AA, 4.5:1)', () => {
  const light = block(css, ':root');
  const dark = { ...light, ...block(css, '@media (prefers-color-scheme: dark)') };
  for (const [scheme, vars] of [['light', light], ['dark', dark]] as const) {
    it(`${scheme} scheme`, () => {
      const surface = parse(vars['surface']!);
      const failures = PAIRS.flatMap(([fg, bg]) => {
        const back = over(parse(vars[bg]!), surface);
        const r = ratio(over(parse(vars[fg]!), back), back);
        return r < 4.5 ? [`${fg} on ${bg}: ${r.toFixed(2)}`] : [];
      });
      expect(failures).toEqual([]);
    });
  }

  it('would notice a failing pair', () => {
    expect(ratio(parse('#8a909b'), parse('#ffffff'))).toBeLessThan(4.5);
  });
});
