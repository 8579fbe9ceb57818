/**
 * When the page's script began to run, in ms since its navigation began: `main.ts` imports this
 * module first, so this is the bundle's first statement. The start-up report counts from here, as
 * the bare window of tests/bench/ counts from its script.
 */
export const SCRIPT_BEGAN = performance.now();
