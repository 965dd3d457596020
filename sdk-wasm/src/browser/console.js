// Console capture (browser/console.rs): each wrapped method runs the original first, with the
// page's `this` and arguments, then hands the call to the SDK; nothing is captured while a
// capture is recorded or while the SDK writes its own warning (`quiet`).
import { tracewireDescribe } from './page.js';

let quiet = false;

/** `console.warn(message)` for the SDK's own warning, never captured. */
export function tracewireWarn(message) {
  const was = quiet;
  quiet = true;
  try { console.warn(message); } finally { quiet = was; }
}

/**
 * Wraps the comma-separated `methods`; `record(i, text)` gets the index of the method and the
 * arguments as one text (errors as `name: message`, other objects as JSON). Returns the restore.
 */
export function tracewireConsole(methods, record) {
  const wrapped = [];
  let live = true;
  methods.split(',').forEach((m, i) => {
    const original = console[m];
    if (typeof original !== 'function' || wrapped.some((w) => w[0] === m)) return;
    const wrapper = function (...args) {
      const result = original.apply(this, args);
      if (live && !quiet) {
        quiet = true;
        try {
          record(i, args.map((a) => {
            const d = tracewireDescribe(a);
            return a instanceof Error ? d[0] + ': ' + d[1] : d[1];
          }).join(' '));
        } catch (e) { /* the SDK was dropped meanwhile */ } finally { quiet = false; }
      }
      return result;
    };
    console[m] = wrapper;
    wrapped.push([m, original, wrapper]);
  });
  return () => {
    live = false;
    for (const [m, original, wrapper] of wrapped) if (console[m] === wrapper) console[m] = original;
  };
}
