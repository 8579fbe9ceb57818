// After the first frame: tell the process (the benchmark reads its stdout), with the page's own
// time from this script to that frame, the floor of Latchkey's script → painted list, and from the
// navigation's start to this script (the page's loading).
const began = performance.now();
requestAnimationFrame(() =>
  requestAnimationFrame(() =>
    window.__TAURI_INTERNALS__.invoke('window_painted', { renderMs: performance.now() - began, loadedMs: began }),
  ),
);
