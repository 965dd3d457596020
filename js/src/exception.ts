// OpenTelemetry `exception.*` attributes for any thrown value: JavaScript can throw anything.
import type { TracewireAttributes } from '../wasm/tracewire_sdk.js';

/** `exception.type`, `exception.message` and `exception.stacktrace` of a thrown value. */
export function exceptionAttributes(error: unknown): TracewireAttributes {
  if (error instanceof Error) {
    const attributes: TracewireAttributes = {
      'exception.type': error.name || error.constructor?.name || 'Error',
      'exception.message': error.message,
    };
    if (typeof error.stack === 'string') attributes['exception.stacktrace'] = error.stack;
    return attributes;
  }
  if (error === null || error === undefined) {
    return { 'exception.type': String(error), 'exception.message': String(error) };
  }
  const type = typeof error === 'object' ? (error.constructor?.name ?? 'Object') : typeof error;
  let message: string;
  try {
    message = typeof error === 'string' ? error : JSON.stringify(error) ?? String(error);
  } catch {
    message = String(error);
  }
  return { 'exception.type': type, 'exception.message': message };
}
