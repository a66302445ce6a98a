// The terminal protocol: the one definition of routes, request and response shapes, error codes
// and environment names shared by the window's socket server (tokenServer.ts) and the `tokenrelay`
// CLI (src/cli). HTTP/1.1 POST `/v<PROTOCOL_VERSION>/<route>` with a JSON object body over a unix
// socket (a named pipe on Windows); 200 + JSON on success, otherwise `{ error: { code, message } }`.
//
// This module is bundled into the CLI: it must stay free of imports (types only) and of runtime
// dependencies beyond plain constants and functions.

/** Environment variable holding the window's terminal socket path. */
export const ENV_SOCKET = 'TOKENRELAY_SOCK';
/** Environment variable holding the Node runtime the launcher runs (VS Code's, with ELECTRON_RUN_AS_NODE). */
export const ENV_NODE = 'VSCODE_TOKENRELAY_NODE';
/** Default environment variable `tokenrelay exec` puts the access token in (for that child only). */
export const DEFAULT_EXEC_ENV = 'TOKENRELAY_ACCESS_TOKEN';
/** Terminal sockets are named `<kind>-<random>.sock` in the private socket directory. */
export const TERMINAL_SOCKET_KIND = 'term';
/** Git credential username when the window sets none. */
export const DEFAULT_GIT_USERNAME = 'oauth2';

export const ROUTES = {
  token: 'token',
  status: 'status',
  reportRejected: 'report-rejected',
  signIn: 'sign-in',
  signOut: 'sign-out',
  gitCredential: 'git-credential',
  dockerCredential: 'docker-credential',
  mcpServer: 'mcp-server',
  kubernetesCluster: 'kubernetes-cluster',
} as const;
export type RouteName = (typeof ROUTES)[keyof typeof ROUTES];

/** A profile's name (tokenrelay.profiles, the configuration file, `--profile`). */
export const PROFILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Upper bounds the server enforces on request fields (the whole body is capped at 64 KiB). */
export const LIMITS = {
  tokenChars: 16 * 1024,
  scopes: 64,
  scopeChars: 256,
  accountChars: 512,
  profileChars: 64,
  /** git's protocol, host and path attributes. */
  gitAttributeChars: 4096,
  minValidSeconds: 24 * 3600,
  serverUrlChars: 2048,
  /** A resource indicator (RFC 8707): an absolute URI. */
  resourceChars: 2048,
} as const;

// ---- token ---------------------------------------------------------------------------------

export interface TokenRequest {
  /** Scopes the caller needs; each must be covered by the window's configured scopes. */
  scopes?: string[];
  /** The token must stay valid at least this many seconds. */
  minValidSeconds?: number;
  /** A token the caller's server answered 401 to: refreshed unless it was already replaced. */
  rejected?: string;
  /** Account id or label; the window's first signed-in account when absent. */
  account?: string;
  /** The API the token is for (RFC 8707 resource indicator, absolute URI); absent: tokenrelay.resource. */
  resource?: string;
  /** The profile (tokenrelay.profiles, or a profile of the configuration file); "default" when absent. */
  profile?: string;
}

/** Every request may name its profile; a host that does not serve it answers `unknown-profile`. */
export interface ProfileField {
  profile?: string;
}

export interface AccountInfo {
  id: string;
  label: string;
}

export interface TokenResponse {
  accessToken: string;
  /** Wall-clock ms (epoch). */
  expiresAt: number;
  account: AccountInfo;
  generation: number;
  scope?: string;
}

// ---- report-rejected -----------------------------------------------------------------------

export interface ReportRejectedRequest extends ProfileField {
  token: string;
  account?: string;
}

/** Never carries a token: the caller asks `token` when it needs the replacement. */
export interface ReportRejectedResponse {
  /** True when the window now holds a different token than the reported one. */
  replaced: boolean;
  expiresAt: number;
  generation: number;
}

// ---- status --------------------------------------------------------------------------------

export type SessionState = 'signed-out' | 'signed-in' | 'refreshing' | 'needs-sign-in' | 'offline' | 'degraded' | 'error';

export type StatusRequest = ProfileField;

/** Never carries a token. */
export interface StatusResponse {
  protocol: number;
  state: SessionState;
  account?: AccountInfo;
  issuer?: string;
  clientId?: string;
  expiresAt?: number;
  /** The scopes granted with the current token, when the server said. */
  scopes?: string[];
  generation?: number;
  lastRefresh?: { at: number; byThisWindow: boolean; pid: number };
  error?: string;
  errorCode?: string;
  /** Why the answering process's last sign-in failed, until the next attempt. */
  lastSignInError?: string;
  gitUsername: string;
  /** The answering process: a window's extension host, an agent, or this CLI reading the store. */
  hostPid: number;
  /** The same number as hostPid, under its first name (scripts read it). */
  windowPid: number;
  /** Why this window's sockets are not in the preferred directory (too long, or not ours). */
  socketNotice?: string;
  /** Who answered: a VS Code window, a `tokenrelay agent`, or this CLI process reading the store itself. */
  host?: HostKind;
  /** The profile this status is of. */
  profile?: string;
  /** Every profile the answering host serves (a window: its settings' profiles). */
  profiles?: string[];
  /** The store of record's directory. */
  store?: string;
  /** Where the seal key is kept, e.g. "the OS keyring (Secret Service)"; a key file says it is not protected by the OS. */
  keyStore?: string;
}

export type HostKind = 'window' | 'agent' | 'direct';

// ---- sign-in -------------------------------------------------------------------------------

export interface SignInRequest extends ProfileField {
  /** Ask even when already signed in (e.g. to switch account). */
  force?: boolean;
}

export interface SignInResponse {
  alreadySignedIn: boolean;
  state: SessionState;
  account?: AccountInfo;
}

export interface SignOutRequest extends ProfileField {
  /** Account id or label (default: the primary account). */
  account?: string;
}

export interface SignOutResponse {
  /** Who was signed out; absent when nobody was signed in. */
  account?: AccountInfo;
  /** Signed out, but the identity provider did not revoke the grant: its answer and what to do (the CLI exits non-zero). */
  revocationWarning?: string;
}

// ---- git-credential ------------------------------------------------------------------------

/** What git passed to the helper; the window decides whether that protocol and host get the token. */
export interface GitCredentialRequest extends ProfileField {
  protocol: string;
  /** `host` or `host:port`, as git sends it. */
  host: string;
  path?: string;
  /** `erase`: the password git's server refused, reported as rejected (ignored unless it is the current token). */
  erase?: string;
}

/** `declined` alone, nothing for an erase, or the credential for a get. */
export interface GitCredentialResponse {
  /** Why this protocol or host gets no token (https only; tokenrelay.git.hosts). */
  declined?: string;
  username?: string;
  password?: string;
  /** Unix seconds, for git's `password_expiry_utc` (git >= 2.41 then never reuses a stale token). */
  passwordExpiryUtc?: number;
}

// ---- docker-credential -------------------------------------------------------------------

/** A `get` names the registry; without `serverURL` it is a `list` and no token is fetched. */
export interface DockerCredentialRequest extends ProfileField {
  serverURL?: string;
}

export interface DockerCredentialResponse {
  username: string;
  /** The registries the window answers for (tokenrelay.docker.registries), as registry hosts. */
  registries: string[];
  /** The current access token: only when `serverURL` is one of `registries`. */
  secret?: string;
}

// ---- mcp-server ----------------------------------------------------------------------------

/** Asked by `mcp-proxy` at start, before anything reaches the server: may `url` receive the token? */
export interface McpServerRequest extends ProfileField {
  url: string;
}

export interface McpServerResponse {
  /** Why this server gets no token (tokenrelay.mcp.servers); the proxy stops. */
  declined?: string;
  /** The configured issuer, which the server's RFC 9728 metadata must name among its authorization_servers. */
  issuer?: string;
  /** The profile that serves this server: the proxy asks its tokens with it. */
  profile?: string;
}

// ---- kubernetes-cluster --------------------------------------------------------------------

/** Asked by `kubectl-credential` before `token`: may the cluster kubectl calls receive the token? */
export interface KubernetesClusterRequest extends ProfileField {
  /** KUBERNETES_EXEC_INFO's spec.cluster.server; absent when the kubeconfig does not provide it. */
  server?: string;
}

export interface KubernetesClusterResponse {
  /** Why this cluster gets no token (plain http, tokenrelay.kubernetes.clusters). */
  declined?: string;
  /** The profile that serves this cluster: the plugin asks its token with it. */
  profile?: string;
}

// ---- route table (request/response by route) ---------------------------------------------------

export interface RouteTypes {
  token: { request: TokenRequest; response: TokenResponse };
  status: { request: StatusRequest; response: StatusResponse };
  'report-rejected': { request: ReportRejectedRequest; response: ReportRejectedResponse };
  'sign-in': { request: SignInRequest; response: SignInResponse };
  'sign-out': { request: SignOutRequest; response: SignOutResponse };
  'git-credential': { request: GitCredentialRequest; response: GitCredentialResponse };
  'docker-credential': { request: DockerCredentialRequest; response: DockerCredentialResponse };
  'mcp-server': { request: McpServerRequest; response: McpServerResponse };
  'kubernetes-cluster': { request: KubernetesClusterRequest; response: KubernetesClusterResponse };
}

// ---- errors and exit codes ---------------------------------------------------------------------

/**
 * Error codes a client can receive: the core's TokenRelayError codes (HTTP 409) plus the transport's
 * own (`unknown-route` 404, `unsupported-version` 400, `malformed-json` 400, `too-large` 413,
 * `method` 405, `timeout` 408, `bad-request` 400, `internal` 500, `busy` 503).
 */
export type RemoteErrorCode =
  | 'not-signed-in' | 'needs-sign-in' | 'offline' | 'idp-rejected' | 'config' | 'corrupt-secret'
  | 'lock-dir' | 'stale-view' | 'timeout' | 'cancelled' | 'protocol'
  | 'corrupt-record' | 'key-missing' | 'key-store' | 'degraded' | 'refresh-stuck' | 'fresh-token-rejected'
  | 'unknown-route' | 'unsupported-version' | 'malformed-json' | 'too-large' | 'method' | 'bad-request' | 'internal'
  | 'busy' | 'unknown-profile';

/** The CLI's stable exit codes (documented in README). */
export const EXIT = {
  ok: 0,
  error: 1,
  usage: 2,
  notSignedIn: 3,
  noSocket: 4,
  idpUnreachable: 5,
  /** A Token Relay directory cannot be written (read-only, full, permission denied); the message names it and the fix. */
  storage: 6,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Maps a remote error code to the CLI exit code. */
export function exitCodeFor(code: string): ExitCode {
  switch (code) {
    case 'not-signed-in':
    case 'needs-sign-in':
      return EXIT.notSignedIn;
    case 'offline':
      return EXIT.idpUnreachable;
    case 'lock-dir':
    case 'degraded':
      return EXIT.storage;
    default: // fresh-token-rejected too: the server's configuration, not the session, is at fault; key-store
      // (a locked or missing keyring) is a general error whose message names the fix
      return EXIT.error;
  }
}
