// RFC 8628 sign-in for hosts whose browser cannot reach this machine's loopback.
import type { SignedIn } from '../core/types.ts';
import { TokenRelayError } from '../core/errors.ts';
import type { OAuthClient } from './oauthClient.ts';

export interface DevicePrompt {
  userCode: string;
  verificationUri: string;
  verificationUriComplete?: string;
  expiresAt: number;
}

export interface DeviceOptions {
  /** Shows the code to the user; sign-in proceeds while it is shown. */
  present(prompt: DevicePrompt): void | Promise<void>;
  signal?: AbortSignal;
  /** Servers that send no interval get RFC 8628's default of 5 s. */
  defaultIntervalS?: number;
}

export async function signInWithDeviceCode(client: OAuthClient, options: DeviceOptions): Promise<SignedIn> {
  const started = Date.now();
  const auth = await client.startDeviceAuthorization(options.signal);
  const expiresAt = started + auth.expires_in * 1000;
  let intervalMs = (auth.interval ?? options.defaultIntervalS ?? 5) * 1000;
  await options.present({
    userCode: auth.user_code,
    verificationUri: auth.verification_uri,
    verificationUriComplete: auth.verification_uri_complete,
    expiresAt,
  });
  for (;;) {
    await delay(intervalMs, options.signal);
    if (Date.now() > expiresAt) {
      throw new TokenRelayError('timeout', `The device code ${auth.user_code} expired before it was approved.`, 'Start sign-in again and approve it sooner.');
    }
    const result = await client.pollDeviceCode(auth.device_code, options.signal);
    if (result === 'slow_down') intervalMs += 5000;
    else if (result !== 'pending') return result;
  }
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const cancelled = () => { clearTimeout(timer); reject(new TokenRelayError('cancelled', 'Sign-in was cancelled.')); };
    const timer = setTimeout(() => { signal?.removeEventListener('abort', cancelled); resolve(); }, ms);
    if (signal?.aborted) return cancelled();
    signal?.addEventListener('abort', cancelled, { once: true });
  });
}
