/**
 * Which JWS algorithm a configured public key verifies, and the key as a JWK: a PEM (SPKI,
 * PKCS#1 or an X.509 certificate) or a JWK object, read with node:crypto. RSA keys (2048 bits
 * or more) verify RS256, P-256 keys ES256, Ed25519 keys EdDSA; anything else, and a private
 * key given by mistake, is an error string for the configuration to report.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';

export type PublicKeyAlg = 'RS256' | 'ES256' | 'EdDSA';

export interface DescribedKey {
  alg: PublicKeyAlg;
  /** The public key only, as a JWK. */
  jwk: JsonWebKey;
}

/** The key's algorithm and JWK, or why it cannot be used. */
export function describePublicKey(input: unknown): DescribedKey | string {
  let key: KeyObject;
  try {
    if (typeof input === 'string') {
      if (input.includes('PRIVATE KEY')) return 'a private key: give the public key only';
      key = createPublicKey(input);
    } else if (typeof input === 'object' && input !== null && !Array.isArray(input)) {
      if ('d' in input) return 'a private JWK (it has "d"): give the public key only';
      key = createPublicKey({ key: input as JsonWebKey, format: 'jwk' });
    } else {
      return 'a PEM string or a JWK object';
    }
  } catch (error) {
    return `not a readable public key (${error instanceof Error ? error.message : String(error)})`;
  }
  const alg = algOf(key);
  if (!isAlg(alg)) return alg;
  const declared = typeof input === 'object' && input !== null ? (input as { alg?: unknown }).alg : undefined;
  if (declared !== undefined && declared !== alg) return `the JWK says alg ${JSON.stringify(declared)} but the key is for ${alg}`;
  return { alg, jwk: key.export({ format: 'jwk' }) };
}

function isAlg(value: string): value is PublicKeyAlg {
  return value === 'RS256' || value === 'ES256' || value === 'EdDSA';
}

/** The algorithm, or why the key has none here. */
function algOf(key: KeyObject): PublicKeyAlg | string {
  switch (key.asymmetricKeyType) {
    case 'rsa': {
      const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
      return bits >= 2048 ? 'RS256' : `an RSA key of ${bits} bits: at least 2048`;
    }
    case 'ec':
      return key.asymmetricKeyDetails?.namedCurve === 'prime256v1' ? 'ES256' : `an EC key on ${key.asymmetricKeyDetails?.namedCurve}: only P-256 (ES256)`;
    case 'ed25519':
      return 'EdDSA';
    default:
      return `a ${key.asymmetricKeyType} key: RSA (RS256), P-256 (ES256) or Ed25519 (EdDSA) only`;
  }
}
