// The one-shot CLI host: with no window or agent to ask, this process answers one terminal route
// itself, from the store of record, through the same AccountService, lock, spend claims and sealed
// records as every window. It reads the configuration file's profile, takes K from the OS keyring
// (or the key file the user opted in to), refreshes under the lock if it must, and leaves nothing
// running: no watcher, no proactive timer, no listener. In a separate bundle (dist/host.js), loaded
// only when no socket answers, so the socket path starts as fast as before.
import { configFilePath, openStoreLayout } from '../../app/storeRoot.ts';
import { DEFAULT_PROFILE, profileSettings, profileSource, readConfigFile, saveProfile, type Profile } from '../../app/configFile.ts';
import { ProfileHost, profileKeyStores } from '../../app/profileHost.ts';
import { TokenRelayError } from '../../core/errors.ts';
import { redactingLogger } from '../../core/redact.ts';
import { terminalRoutes } from '../../ipc/terminalRoutes.ts';
import { ROUTES } from '../../ipc/tokenProtocol.ts';
import { stderrLogger } from './stderrLogger.ts';
import { checkClientSecret, writeClientSecret } from '../../app/clientSecret.ts';
import { displayIssuer } from '../../oauth/serverConfig.ts';
import { holdSignals } from './heldSignals.ts';
import { signInInTerminal, type TerminalSignInOptions } from './terminalSignIn.ts';

export { NoDirectConfiguration } from '../../app/profileHost.ts';

export interface DirectRequest {
  route: string;
  body: Record<string, unknown>;
  /** The configuration file's profile (default: TOKENRELAY_PROFILE, else "default"). */
  profile?: string;
  /** `tokenrelay sign-in --issuer … --client-id …`: saved into the profile (validated) before signing in. */
  saveProfile?: Profile;
  /** How `sign-in` asks the user, in this terminal. */
  signIn?: Omit<TerminalSignInOptions, 'env'>;
}

const DESTINATION_ROUTES = new Set<string>([ROUTES.gitCredential, ROUTES.dockerCredential, ROUTES.mcpServer, ROUTES.kubernetesCluster]);

export async function answerDirectly(request: DirectRequest, env: NodeJS.ProcessEnv = process.env): Promise<unknown> {
  const log = redactingLogger(stderrLogger(env));
  const profile = request.profile ?? env.TOKENRELAY_PROFILE ?? DEFAULT_PROFILE;
  const configPath = configFilePath(env);
  if (request.saveProfile) {
    saveProfile(configPath, profile, { ...readConfigFile(configPath).profiles[profile], ...request.saveProfile });
    log.info(`Saved profile "${profile}" in ${configPath}`);
  }
  // A git host, registry, MCP server or cluster may belong to any profile (its lists, or an entry
  // naming it): those routes open every profile of the file, the others only the one asked for.
  const allProfiles = DESTINATION_ROUTES.has(request.route) && request.body.profile === undefined;
  const host = ProfileHost.open({
    env, profile, configPath, log, label: 'cli', watchSlots: false, allProfiles,
    brokerOptions: { proactive: false, awaitLateAnswers: true, prepareClient: false, answerSiblings: false, primeLockAtStart: false },
  });
  const { service } = host;
  // A sign-in waits on the user, who may cancel it; every other route may be refreshing.
  const signals = request.route === 'sign-in' ? undefined : holdSignals();
  try {
    await host.start();
    const signIn = request.signIn ?? { flow: 'auto', json: false, qr: true, timeoutMs: 600_000 };
    service.setSignInHandler(async () => {
      const result = await signInInTerminal(service.oauthClient(), { ...signIn, env });
      await service.signIn(result.tokens, result.account, undefined, result.origin);
    });
    const routes = terminalRoutes({ service, log, host: 'direct', ...host.settings });
    const handler = Object.hasOwn(routes, request.route) ? routes[request.route] : undefined;
    if (!handler) throw new TokenRelayError('protocol', `Unknown request "${request.route}".`);
    return await handler(request.body);
  } finally {
    await service.dispose();
    signals?.release();
    // Not exit 0 while the only copy of a session leaves with this process: say what is lost.
    const lost = service.lostOnExit();
    if (lost) throw lost;
  }
}

/**
 * `tokenrelay config set-client-secret`: stores (or, undefined, removes) the client secret of a
 * profile's client in the key store that profile uses, never in the configuration file.
 */
export async function setClientSecretDirectly(o: { profile?: string; secret: string | undefined }, env: NodeJS.ProcessEnv = process.env): Promise<{ where: string; clientId: string; issuer: string; profile: string }> {
  const log = redactingLogger(stderrLogger(env));
  const profile = o.profile ?? env.TOKENRELAY_PROFILE ?? DEFAULT_PROFILE;
  const file = readConfigFile(configFilePath(env));
  const settings = profileSettings(file, profile);
  if (!settings.ok) throw settings.problem;
  const get = profileSource(file.profiles[profile]);
  const layout = openStoreLayout(env);
  const keyStores = profileKeyStores(env, layout, get);
  const { identity, oauth } = settings.settings;
  const where = await writeClientSecret(keyStores, identity, o.secret === undefined ? undefined : checkClientSecret(o.secret), log);
  return { where, clientId: identity.clientId, issuer: displayIssuer(oauth) ?? identity.issuer, profile };
}
