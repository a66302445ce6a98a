// The part of the `Idp` handle every test server shares (test/idp and test/oauth2server): early
// revocation of the latest access token, faults on the token endpoint, introspection, close.
import type { ApiServer } from './api.ts';
import type { CounterStore } from './counters.ts';
import type { FaultableServer } from './faults.ts';
import type { Idp } from './server.ts';

export function sharedHandle(parts: {
  web: FaultableServer;
  api: ApiServer;
  counters: CounterStore;
  revokeAccessToken(token: string): boolean;
  log(line: string): void;
  name: string;
}): Pick<Idp, 'revokeAccessToken' | 'revokeLatestAccessToken' | 'setFault' | 'fault' | 'introspect' | 'close'> {
  const { web, api, counters, revokeAccessToken, log, name } = parts;
  return {
    revokeAccessToken,
    revokeLatestAccessToken: () => {
      const latest = counters.latestAccessToken();
      return latest !== undefined && revokeAccessToken(latest);
    },
    setFault: (mode) => web.setFault(mode),
    fault: () => web.fault,
    introspect: (token) => api.introspect(token),
    async close() {
      await Promise.all([web.close(), api.close()]);
      log(`${name} closed`);
    },
  };
}
