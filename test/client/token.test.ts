/** Reading a client token's expiry (no verification) and when the SDK asks for the next one. */
import { expect, test } from 'bun:test';
import { refreshDelayMs, tokenExpiryMs } from '../../src/client/token.ts';
import { hs256 } from '../support/tokens.ts';

test('exp of a signed JWT, in milliseconds; null without exp or for what is not a JWT', async () => {
  expect(tokenExpiryMs(await hs256('secret-0123456789abcdef', 'alice', { exp: 1_900_000_000 }))).toBe(1_900_000_000_000);
  // A payload whose base64url needs padding and uses - and _.
  const payload = btoa(JSON.stringify({ sub: 'ü?>', exp: 1_800_000_001 })).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  expect(tokenExpiryMs(`x.${payload}.y`)).toBe(1_800_000_001_000);
  expect(tokenExpiryMs(`x.${btoa('{"sub":"a"}')}.y`)).toBeNull();
  expect(tokenExpiryMs(`x.${btoa('{"exp":"soon"}')}.y`)).toBeNull();
  expect(tokenExpiryMs('not a token')).toBeNull();
  expect(tokenExpiryMs('a.!!!.b')).toBeNull();
});

test('the next token is asked for the margin before exp, or half-way for a short-lived token', () => {
  expect(refreshDelayMs(3_600_000, 0, 30_000)).toBe(3_570_000);
  expect(refreshDelayMs(20_000, 0, 30_000)).toBe(10_000);
  expect(refreshDelayMs(1000, 5000, 30_000)).toBe(0);
});
