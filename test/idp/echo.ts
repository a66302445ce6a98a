// A hostile identity provider's error answers on the token endpoint: the error_description quotes
// the refresh token it was sent and the current access and id tokens, in the shapes a careless
// server writes them (bare, inside a path, ending a sentence). Answered before oidc-provider, so
// nothing is rotated or counted as a grant.
import type { IncomingMessage, ServerResponse } from 'node:http';

export const ECHO_FAULTS = ['echo-invalid_request', 'echo-invalid_grant', 'echo-429', 'echo-500'] as const;
export type EchoFault = (typeof ECHO_FAULTS)[number];

const ANSWERS: Record<EchoFault, { status: number; error: string }> = {
  'echo-invalid_request': { status: 400, error: 'invalid_request' },
  'echo-invalid_grant': { status: 400, error: 'invalid_grant' },
  'echo-429': { status: 429, error: 'temporarily_unavailable' },
  'echo-500': { status: 500, error: 'server_error' },
};

export interface CurrentTokens {
  accessToken?: string;
  idToken?: string;
}

export function isEchoFault(mode: string): mode is EchoFault {
  return (ECHO_FAULTS as readonly string[]).includes(mode);
}

export function answerWithEcho(mode: EchoFault, req: IncomingMessage, res: ServerResponse, current: CurrentTokens): void {
  let form = '';
  req.setEncoding('utf8').on('data', (chunk: string) => { form += chunk; });
  req.on('end', () => {
    const presented = new URLSearchParams(form).get('refresh_token') ?? '';
    const { accessToken = '', idToken = '' } = current;
    const description = `refresh_token ${presented} rejected (see /grants/${presented}/log); `
      + `access_token=${accessToken}; last id_token ${idToken}. Presented: ${presented}.`;
    const { status, error } = ANSWERS[mode];
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...(status === 429 ? { 'retry-after': '1' } : {}) });
    res.end(JSON.stringify({ error, error_description: description, refresh_token_presented: presented }));
  });
}
