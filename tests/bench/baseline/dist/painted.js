// After the first frame: tell the process (the benchmark reads its stdout).
requestAnimationFrame(() =>
  requestAnimationFrame(() => window.__TAURI_INTERNALS__.invoke('window_painted')),
);
