// Scheduling work between frames.

/**
 * Runs `fn` once `frames` more frames have been painted: in a task after the animation-frame
 * callbacks, layout and paint of the last of them (or soon, where there are no frames). Returns
 * what cancels it.
 */
export function afterPaint(fn: () => void, frames = 1): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let frame = 0;
  if (typeof requestAnimationFrame !== 'function') {
    timer = setTimeout(fn);
  } else {
    const next = (left: number) => {
      frame = requestAnimationFrame(() => {
        if (left > 1) next(left - 1);
        else timer = setTimeout(fn);
      });
    };
    next(frames);
  }
  return () => {
    if (frame) cancelAnimationFrame(frame);
    clearTimeout(timer);
  };
}

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}
