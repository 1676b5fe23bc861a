import { describe, expect, it } from 'vitest';
import { DnsError } from '../src/dns/errors.js';

describe('DnsError', () => {
  it('is an Error with its code and name, built without a stack trace, and leaves the stack limit as it was', () => {
    const before = Error.stackTraceLimit;
    const error = new DnsError('TIMEOUT', 'svc.test', 'No reply', { cause: new Error('underlying') });
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe('TIMEOUT');
    expect(String(error)).toBe('DnsError: No reply');
    // Only the header: no frames were captured.
    expect(error.stack).toBe('DnsError: No reply');
    expect(Error.stackTraceLimit).toBe(before);
    expect(new Error('other').stack).toContain('\n    at ');
    expect(error.authoritative).toBe(false);
    expect(new DnsError('NODATA', 'svc.test', 'none').authoritative).toBe(true);
  });
});
