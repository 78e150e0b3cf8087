/**
 * Client tokens for tests, signed with `jose` as an app's backend would: HS256 with a secret,
 * or RS256, ES256, EdDSA with a freshly generated key pair (whose public half goes into
 * `publicKeys` as PEM or JWK).
 */
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

export const nowSec = (): number => Math.floor(Date.now() / 1000);

/** An HS256 token for `sub` (null: no sub) with `claims`, valid for an hour unless claims set exp. */
export function hs256(secret: string, sub: string | null, claims: Record<string, unknown> = {}): Promise<string> {
  const now = nowSec();
  return new SignJWT({ ...(sub === null ? {} : { sub }), iat: now, exp: now + 3600, ...claims })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .sign(new TextEncoder().encode(secret));
}

export interface KeyPair {
  alg: 'RS256' | 'ES256' | 'EdDSA';
  privateKey: CryptoKey;
  pem: string;
  jwk: JWK;
  sign(sub: string, claims?: Record<string, unknown>): Promise<string>;
}

export async function keyPair(alg: KeyPair['alg']): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return {
    alg,
    privateKey,
    pem: await exportSPKI(publicKey),
    jwk: await exportJWK(publicKey),
    sign: (sub, claims = {}) => {
      const now = nowSec();
      return new SignJWT({ sub, iat: now, exp: now + 3600, ...claims }).setProtectedHeader({ alg, typ: 'JWT' }).sign(privateKey);
    },
  };
}
