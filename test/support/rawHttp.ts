// HTTP requests as a browser, or a hostile page steering one, sends them to a 127.0.0.1 listener: any
// method, any Host header (DNS rebinding), the path sent verbatim. fetch cannot set Host; node:http can.
import { request } from 'node:http';

export interface Answer { status: number; body: string }

export function send(target: string, init: { method?: string; host?: string } = {}): Promise<Answer> {
  const url = new URL(target);
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1', port: url.port, path: `${url.pathname}${url.search}`,
      method: init.method ?? 'GET', headers: { host: init.host ?? url.host },
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { body += chunk; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** True while something accepts connections on the port. */
export async function isListening(port: string | number): Promise<boolean> {
  return await send(`http://127.0.0.1:${port}/`).then(() => true, () => false);
}
