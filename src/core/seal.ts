// AES-256-GCM sealing of a slot's records (node:crypto). The additional authenticated data binds
// the slot, the generation and the key id, so a record cannot be forged, moved to another slot or
// replayed as another generation without the key.
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

export const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface SealKey {
  readonly id: string;
  readonly bytes: Buffer;
}

/** A public name for K: an HMAC under K itself, so it says nothing about K. */
export function keyIdOf(bytes: Buffer): string {
  return createHmac('sha256', bytes).update('tokenrelay key id v2').digest('hex').slice(0, 24);
}

export function newSealKey(): SealKey {
  const bytes = randomBytes(KEY_BYTES);
  return { id: keyIdOf(bytes), bytes };
}

export function sealKeyOf(bytes: Buffer): SealKey | undefined {
  return bytes.length === KEY_BYTES ? { id: keyIdOf(bytes), bytes } : undefined;
}

export interface SealedBox {
  iv: string;
  ct: string;
  tag: string;
}

/** Binds a record to its slot, generation, key and (plaintext, so readable without K) state. */
export function aadOf(slotId: string, gen: number, keyId: string, state: string): Buffer {
  return Buffer.from(`tokenrelay-record-v2\0${slotId}\0${gen}\0${keyId}\0${state}`, 'utf8');
}

export function seal(key: SealKey, aad: Buffer, plaintext: string): SealedBox {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key.bytes, iv).setAAD(aad);
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return { iv: iv.toString('base64'), ct: ct.toString('base64'), tag: cipher.getAuthTag().toString('base64') };
}

/** The plaintext, or undefined when the box does not authenticate under this key and AAD. */
export function open(key: SealKey, aad: Buffer, box: SealedBox): string | undefined {
  try {
    const iv = Buffer.from(box.iv, 'base64');
    const tag = Buffer.from(box.tag, 'base64');
    if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) return undefined;
    const decipher = createDecipheriv('aes-256-gcm', key.bytes, iv).setAAD(aad).setAuthTag(tag);
    return Buffer.concat([decipher.update(Buffer.from(box.ct, 'base64')), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}
