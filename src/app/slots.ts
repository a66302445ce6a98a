// Where each account's shared state lives: a slot per (issuer, client, account). The slot
// directory holds the core's lock and journal; a small non-secret meta file next to it names the
// issuer, client and account so every window can tell which slots belong to its configuration.
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { Account } from '../core/types.ts';
import type { OAuthConfig } from '../oauth/serverConfig.ts';

/** Versioned SecretStorage layout: a later release can migrate `v1` keys. */
export const SECRET_PREFIX = 'tokenrelay/v1/';

export interface ConfigIdentity {
  issuer: string;
  clientId: string;
}

export interface SlotMeta {
  v: 1;
  slotKey: string;
  issuer: string;
  clientId: string;
  account: Account;
  /** First sign-in of this account under this configuration: orders accounts the same in every window. */
  createdAt: number;
  updatedAt: number;
}

/** The identity provider a configuration talks to: its issuer, or its token endpoint without discovery. */
export function identityOf(config: OAuthConfig): ConfigIdentity {
  const issuer = (config.issuer || config.endpoints?.token || '').trim().replace(/\/+$/, '');
  return { issuer, clientId: config.clientId.trim() };
}

export function sameIdentity(a: ConfigIdentity, b: ConfigIdentity): boolean {
  return a.issuer === b.issuer && a.clientId === b.clientId;
}

/** First 24 characters of sha256-base64url(issuer|clientId|accountId). */
export function slotKeyOf(identity: ConfigIdentity, accountId: string): string {
  return createHash('sha256').update(`${identity.issuer}|${identity.clientId}|${accountId}`).digest('base64url').slice(0, 24);
}

/** Where a v1 session's credentials were kept (read once, to upgrade it). */
export function secretKeyOf(slotKey: string): string {
  return `${SECRET_PREFIX}${slotKey}`;
}

/** Where the slot's seal key K is kept: the only secret the sealed store needs. */
export function keySecretOf(slotKey: string): string {
  return `tokenrelay/v2/${slotKey}/key`;
}

export function slotDirOf(root: string, slotKey: string): string {
  return join(root, slotKey);
}

const META_SUFFIX = '.json';

/** Written after the sign-in is journaled, by rename: a watcher of `root` sees it complete. */
export async function writeMeta(root: string, meta: SlotMeta): Promise<void> {
  await fs.mkdir(root, { recursive: true, mode: 0o700 });
  const temp = join(root, `.meta-${process.pid}-${randomBytes(6).toString('hex')}`);
  await fs.writeFile(temp, JSON.stringify(meta), { mode: 0o600 });
  await fs.rename(temp, join(root, `${meta.slotKey}${META_SUFFIX}`));
}

export async function readMeta(root: string, slotKey: string): Promise<SlotMeta | undefined> {
  try {
    const meta = JSON.parse(await fs.readFile(join(root, `${slotKey}${META_SUFFIX}`), 'utf8')) as SlotMeta;
    const valid = meta?.v === 1 && meta.slotKey === slotKey && typeof meta.issuer === 'string'
      && typeof meta.clientId === 'string' && typeof meta.account?.id === 'string';
    return valid ? meta : undefined;
  } catch {
    return undefined;
  }
}

/** Every readable slot meta under `root`; unreadable or foreign files are skipped. */
export async function listMetas(root: string): Promise<SlotMeta[]> {
  const names = await fs.readdir(root).catch(() => [] as string[]);
  const metas = await Promise.all(names
    .filter((n) => n.endsWith(META_SUFFIX) && !n.startsWith('.'))
    .map((n) => readMeta(root, n.slice(0, -META_SUFFIX.length))));
  return metas.filter((m): m is SlotMeta => m !== undefined)
    .sort((a, b) => a.createdAt - b.createdAt || a.slotKey.localeCompare(b.slotKey));
}
