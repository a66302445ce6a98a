// What a terminal request does, whoever serves it: a window's or an agent's socket (tokenServer.ts)
// or a one-shot CLI process with no window (src/cli/direct). Each route validates its body, then
// asks the host's TokenService (its AccountService), so every host answers alike.
//
// Profiles: a request may name one (`--profile`). A destination-bound request (git, docker, MCP,
// kubectl) that names none goes to the first profile whose own list names that destination, else
// to the first profile with its rules: a token only ever goes where the user's settings send it.
import type { Logger } from '../core/types.ts';
import type { HostDescription, TokenService } from '../app/tokenService.ts';
import { TokenRelayError } from '../core/errors.ts';
import { redactor } from '../core/redact.ts';
import { gitRefusal } from '../app/gitAccess.ts';
import { mcpRefusal } from '../app/mcpAccess.ts';
import { clusterRefusal } from '../app/clusterAccess.ts';
import { DEFAULT_DOCKER_USERNAME, registryOf } from '../app/dockerAccess.ts';
import { PROTOCOL_VERSION } from './wire.ts';
import { resourceProblem } from '../core/audiences.ts';
import {
  DEFAULT_GIT_USERNAME, LIMITS, PROFILE_NAME, ROUTES,
  type DockerCredentialResponse, type GitCredentialResponse, type KubernetesClusterResponse, type McpServerResponse, type ReportRejectedResponse, type SignInResponse, type SignOutResponse, type StatusResponse, type TokenResponse,
} from './tokenProtocol.ts';

/** Each reads a profile's settings at each request (default: the host's first profile). */
export interface TerminalRouteOptions {
  service: TokenService;
  log: Logger;
  /** The username git gets from `tokenrelay git-credential get` (setting; default `oauth2`). */
  gitUsername?: (profile?: string) => string;
  /** What `docker-credential-tokenrelay` answers (tokenrelay.docker.*, validated); none when absent. */
  docker?: (profile?: string) => { username: string; registries: string[] };
  /** tokenrelay.git.hosts (undefined: every https host); throws the setting's problem when it is invalid. */
  gitHosts?: (profile?: string) => readonly string[] | undefined;
  /** tokenrelay.mcp.servers (undefined: no server gets the token); throws the setting's problem when it is invalid. */
  mcpServers?: (profile?: string) => readonly string[] | undefined;
  /** tokenrelay.kubernetes.clusters (undefined: any https cluster); throws the setting's problem when it is invalid. */
  kubernetesClusters?: (profile?: string) => readonly string[] | undefined;
  /** Why the sockets are not in the preferred directory; shown by `status`. */
  socketNotice?: string;
  /** What `status` says about who answered (a window, an agent, this process), and where it keeps things. */
  host?: StatusResponse['host'];
  where?: () => HostDescription;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type RouteHandler = (body: Record<string, unknown>) => Promise<any>;

export function terminalRoutes(options: TerminalRouteOptions): Record<string, RouteHandler> {
  const { service, log, socketNotice } = options;
  const signingIn = new Map<string, Promise<void>>();
  const gitUsername = (profile?: string) => {
    const name = options.gitUsername?.(profile).trim();
    return name ? name : DEFAULT_GIT_USERNAME;
  };
  /**
   * The profile a destination goes to: the one the request names, else the first whose own list
   * claims it, else the first profile (whose rules then decide). A profile whose list cannot be
   * read claims nothing; its problem is named when it is asked for by name.
   */
  const destination = (named: string | undefined, claims: (profile: string) => boolean): string | undefined => {
    if (named !== undefined) return named;
    const profiles = service.profiles();
    return profiles.find((profile) => {
      try {
        return claims(profile);
      } catch {
        return false;
      }
    }) ?? profiles[0];
  };
  return {
    [ROUTES.token]: async (body): Promise<TokenResponse> => {
      const grant = await service.getToken({
        scopes: optionalScopes(body.scopes),
        minValidityMs: optionalSeconds(body.minValidSeconds, 'minValidSeconds'),
        rejectedAccessToken: optionalString(body.rejected, 'rejected', LIMITS.tokenChars),
        account: optionalString(body.account, 'account', LIMITS.accountChars),
        profile: optionalProfile(body.profile),
        resource: optionalResource(body.resource),
      });
      return {
        accessToken: grant.accessToken,
        expiresAt: grant.expiresAt,
        account: { id: grant.account.id, label: grant.account.label },
        generation: grant.generation,
        scope: grant.scope,
      };
    },

    [ROUTES.reportRejected]: async (body): Promise<ReportRejectedResponse> => {
      const token = optionalString(body.token, 'token', LIMITS.tokenChars);
      if (!token) throw invalid('"token" is required');
      const grant = await service.getToken({
        rejectedAccessToken: token,
        account: optionalString(body.account, 'account', LIMITS.accountChars),
        profile: optionalProfile(body.profile),
      });
      return { replaced: grant.accessToken !== token, expiresAt: grant.expiresAt, generation: grant.generation };
    },

    [ROUTES.status]: async (body): Promise<StatusResponse> => {
      const profile = optionalProfile(body.profile);
      const s = service.status(profile);
      const profiles = service.profiles();
      // An allowlist: nothing token-shaped can leave through status.
      return {
        protocol: PROTOCOL_VERSION,
        state: s.state,
        account: s.account ? { id: s.account.id, label: s.account.label } : undefined,
        issuer: s.issuer,
        clientId: s.clientId,
        expiresAt: s.expiresAt,
        scopes: s.scopes,
        generation: s.generation,
        lastRefresh: s.lastRefresh ? { at: s.lastRefresh.at, byThisWindow: s.lastRefresh.byThisProcess, pid: s.lastRefresh.writer?.pid ?? 0 } : undefined,
        error: redactor.redact(s.error),
        errorCode: s.errorCode,
        lastSignInError: redactor.redact(s.lastSignInError),
        gitUsername: gitUsername(profile),
        hostPid: process.pid,
        windowPid: process.pid,
        socketNotice,
        host: options.host,
        ...options.where?.(),
        profile: profile ?? profiles[0],
        profiles,
      };
    },

    [ROUTES.signIn]: async (body): Promise<SignInResponse> => {
      const force = body.force === true;
      const named = optionalProfile(body.profile);
      const profile = named ?? service.profiles()[0];
      const before = service.status(named);
      const signedIn = before.state === 'signed-in' || before.state === 'refreshing' || before.state === 'offline';
      if (!force && signedIn && before.account) {
        return { alreadySignedIn: true, state: before.state, account: before.account };
      }
      log.info('A terminal asked to sign in; showing the sign-in');
      // One sign-in at a time per profile, whatever the number of terminals asking.
      let running = signingIn.get(profile);
      if (!running) {
        running = service.requestSignIn(named).finally(() => signingIn.delete(profile));
        signingIn.set(profile, running);
      }
      await running;
      const after = service.status(named);
      return { alreadySignedIn: false, state: after.state, account: after.account ? { id: after.account.id, label: after.account.label } : undefined };
    },

    [ROUTES.signOut]: async (body): Promise<SignOutResponse> => {
      const signedOut = await service.signOutAccount(optionalString(body.account, 'account', LIMITS.accountChars), optionalProfile(body.profile));
      if (!signedOut) return {};
      log.info(`A terminal signed out ${signedOut.label}`);
      const { revocationWarning, ...account } = signedOut;
      return revocationWarning ? { account, revocationWarning } : { account };
    },

    [ROUTES.gitCredential]: async (body): Promise<GitCredentialResponse> => {
      const protocol = optionalString(body.protocol, 'protocol', LIMITS.gitAttributeChars);
      const host = optionalString(body.host, 'host', LIMITS.gitAttributeChars);
      if (!protocol || !host) throw invalid('"protocol" and "host" are required');
      const erase = optionalString(body.erase, 'erase', LIMITS.tokenChars);
      const profile = destination(optionalProfile(body.profile), (p) => {
        const hosts = options.gitHosts?.(p);
        return hosts !== undefined && !gitRefusal({ protocol, host }, hosts);
      });
      const declined = gitRefusal({ protocol, host }, options.gitHosts?.(profile));
      if (declined) {
        log.info(`git credential ${erase ? 'erase' : 'get'} declined: ${declined}`);
        return { declined };
      }
      if (erase) {
        await service.getToken({ rejectedAccessToken: erase, profile }); // a token that is not the current one changes nothing
        return {};
      }
      const grant = await service.getToken({ profile });
      return { username: gitUsername(profile), password: grant.accessToken, passwordExpiryUtc: Math.floor(grant.expiresAt / 1000) };
    },

    [ROUTES.dockerCredential]: async (body): Promise<DockerCredentialResponse> => {
      const serverURL = optionalString(body.serverURL, 'serverURL', LIMITS.serverUrlChars);
      const registry = serverURL === undefined ? undefined : registryOf(serverURL);
      const named = optionalProfile(body.profile);
      const settingsOf = (p?: string) => options.docker?.(p) ?? { username: '', registries: [] };
      if (!registry) {
        // A `list`: every registry some profile (or the named one) answers for.
        const profiles = named !== undefined ? [named] : service.profiles();
        const registries = [...new Set(profiles.flatMap((p) => { try { return settingsOf(p).registries; } catch { return []; } }))];
        return { username: settingsOf(named).username || DEFAULT_DOCKER_USERNAME, registries };
      }
      const profile = destination(named, (p) => settingsOf(p).registries.includes(registry.host));
      const { username, registries } = settingsOf(profile);
      const answer = { username: username || DEFAULT_DOCKER_USERNAME, registries };
      // Only a listed https registry ever gets the token.
      if (!registry.https || !registries.includes(registry.host)) return answer;
      return { ...answer, secret: (await service.getToken({ profile })).accessToken };
    },

    [ROUTES.mcpServer]: async (body): Promise<McpServerResponse> => {
      const raw = optionalString(body.url, 'url', LIMITS.serverUrlChars);
      if (!raw) throw invalid('"url" is required');
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        throw invalid('"url" must be an absolute URL');
      }
      const profile = destination(optionalProfile(body.profile), (p) => {
        const servers = options.mcpServers?.(p);
        return servers !== undefined && !mcpRefusal(url, servers);
      });
      const declined = mcpRefusal(url, options.mcpServers?.(profile));
      if (declined) {
        log.info(`mcp-proxy declined: ${declined}`);
        return { declined };
      }
      return { issuer: service.status(profile).issuer, profile };
    },

    [ROUTES.kubernetesCluster]: async (body): Promise<KubernetesClusterResponse> => {
      const server = optionalString(body.server, 'server', LIMITS.serverUrlChars);
      const profile = destination(optionalProfile(body.profile), (p) => {
        const clusters = options.kubernetesClusters?.(p);
        return clusters !== undefined && !clusterRefusal(server, clusters);
      });
      const declined = clusterRefusal(server, options.kubernetesClusters?.(profile));
      if (declined) log.info(`kubectl credential declined: ${declined}`);
      return declined ? { declined } : { profile };
    },
  };
}

// ---- request validation: wrong shapes get a `protocol` error naming the field ------------------

function invalid(what: string): TokenRelayError {
  return new TokenRelayError('protocol', `Invalid terminal request: ${what}.`,
    'Update the tokenrelay CLI to the version shipped with the extension (open a new terminal).');
}

function optionalString(value: unknown, name: string, max: number): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > max) throw invalid(`"${name}" must be a non-empty string of at most ${max} characters`);
  return value;
}

/** A profile name as configured (profiles.ts); its existence is the service's to check. */
function optionalProfile(value: unknown): string | undefined {
  const name = optionalString(value, 'profile', LIMITS.profileChars);
  if (name !== undefined && !PROFILE_NAME.test(name)) throw invalid('"profile" must be a profile name (letters, digits, ".", "_" or "-")');
  return name;
}

function optionalResource(value: unknown): string | undefined {
  const resource = optionalString(value, 'resource', LIMITS.resourceChars);
  const problem = resource === undefined ? undefined : resourceProblem(resource);
  if (problem) throw invalid(`"resource" ${problem}`);
  return resource;
}

function optionalSeconds(value: unknown, name: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > LIMITS.minValidSeconds) {
    throw invalid(`"${name}" must be a number of seconds between 0 and ${LIMITS.minValidSeconds}`);
  }
  return Math.round(value * 1000);
}

function optionalScopes(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.length > LIMITS.scopes
    || !value.every((s) => typeof s === 'string' && s.length > 0 && s.length <= LIMITS.scopeChars && !/\s/.test(s))) {
    throw invalid(`"scopes" must be an array of at most ${LIMITS.scopes} scope strings without spaces`);
  }
  return value.length ? value : undefined;
}
