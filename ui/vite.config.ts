/// <reference types="vitest/config" />
// Builds the window into ui/dist (tauri.conf.json → build.frontendDist), which the Tauri build embeds.
// No dev server is used by the app; `npm run dev` is only for working on styles in a browser.
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { svelteTesting } from '@testing-library/svelte/vite';

export default defineConfig({
  plugins: [svelte(), svelteTesting()],
  // Relative asset URLs: the app serves the bundle from its own origin.
  base: './',
  clearScreen: false,
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'safari15',
    // One stylesheet, no inline styles or scripts: the CSP allows only 'self'.
    assetsInlineLimit: 0,
    cssCodeSplit: false,
    sourcemap: false,
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.ts'],
    setupFiles: ['src/test/setup.ts'],
    restoreMocks: true,
  },
});
