// Shared checks of the key store tests.
import assert from 'node:assert/strict';
import { isTokenRelayError, type TokenRelayError } from '../../src/core/errors.ts';

/** A store error: code 'key-store', the message and fix matching, and `secret` nowhere in the message. */
export async function rejectsWith(p: Promise<unknown>, message: RegExp, fix: RegExp, secret: string): Promise<TokenRelayError> {
  let caught: unknown;
  await p.then(() => assert.fail('expected a key-store error'), (err) => { caught = err; });
  assert.ok(isTokenRelayError(caught, 'key-store'), `not a key-store error: ${String(caught)}`);
  assert.match(caught.message, message);
  assert.match(caught.fix ?? '', fix);
  assert.ok(!caught.message.includes(secret), 'the secret is in the error');
  return caught;
}
