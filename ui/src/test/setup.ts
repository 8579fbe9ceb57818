import '@testing-library/jest-dom/vitest';
import { cleanup } from '@testing-library/svelte';
import { afterEach } from 'vitest';
import { resetBackend } from './backend';

afterEach(() => {
  // Unmount first: components unsubscribe from events through the mocked backend.
  cleanup();
  resetBackend();
});
