import { describe, expect, it } from 'vitest';
import { exceptionAttributes } from '../src/exception.js';

describe('exceptionAttributes', () => {
  it('takes type, message and stack from an Error', () => {
    const attributes = exceptionAttributes(new TypeError('bad value'));
    expect(attributes['exception.type']).toBe('TypeError');
    expect(attributes['exception.message']).toBe('bad value');
    expect(String(attributes['exception.stacktrace'])).toContain('bad value');
  });

  it('describes values that are not Errors', () => {
    expect(exceptionAttributes('boom')).toEqual({ 'exception.type': 'string', 'exception.message': 'boom' });
    expect(exceptionAttributes({ code: 7 })).toEqual({ 'exception.type': 'Object', 'exception.message': '{"code":7}' });
    expect(exceptionAttributes(null)).toEqual({ 'exception.type': 'null', 'exception.message': 'null' });
    expect(exceptionAttributes(undefined)).toEqual({ 'exception.type': 'undefined', 'exception.message': 'undefined' });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(exceptionAttributes(cyclic)['exception.message']).toBe('[object Object]');
  });
});
