// Svelte 5 with runes everywhere; TypeScript in components through Vite's own transpiler.
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

export default {
  preprocess: vitePreprocess({ script: true }),
  compilerOptions: { runes: true },
};
