import { describe, expect, it } from 'vitest';
import { infrastructureError, ServerError } from './errors.js';

const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('infrastructureError', () => {
  it('answers a database that is down, starting, failing over or full with 503 and a Retry-After', () => {
    for (const error of [
      withCode('57P01', 'terminating connection due to administrator command'),
      withCode('57P03', 'the database system is starting up'),
      withCode('08006'),
      withCode('53300', 'too many connections'),
      withCode('53100', 'could not extend file: No space left on device'),
      withCode('ECONNREFUSED'),
      new Error('Connection terminated unexpectedly'),
      new Error('Client has encountered a connection error and is not queryable'),
      new Error('timeout exceeded when trying to connect'),
    ]) {
      const fault = infrastructureError(error);
      expect(fault?.status, error.message).toBe(503);
      expect(fault?.retryAfterS).toBeGreaterThan(0);
      expect(ServerError.fromUnknown(error).code).toBe('unavailable');
    }
  });

  it('answers a full disk with 507 and a Retry-After', () => {
    const fault = infrastructureError(withCode('ENOSPC', 'ENOSPC: no space left on device, write'));
    expect(fault).toMatchObject({ code: 'insufficient_storage', status: 507 });
    expect(fault?.retryAfterS).toBeGreaterThan(0);
  });

  it('leaves every other error to the 500 path', () => {
    expect(infrastructureError(withCode('23505', 'duplicate key'))).toBeUndefined();
    expect(infrastructureError(new TypeError('x is undefined'))).toBeUndefined();
    expect(infrastructureError('not an error')).toBeUndefined();
    expect(ServerError.fromUnknown(new TypeError('x')).status).toBe(500);
  });
});
