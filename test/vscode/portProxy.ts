// What a web workbench does with a 127.0.0.1 URL, as code-server does it:
// - asExternalUri / openExternal map `http://127.0.0.1:N/any?query` to `<workbench>/proxy/N/` and drop
//   the path and query (code-server 4.100: `proxyEndpointTemplate`; 4.139 keeps them);
// - its port proxy forwards `/proxy/N/rest` to `127.0.0.1:N/rest` with the browser's own Host
//   (http-proxy without changeOrigin), status, headers and body passed through.
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface PortProxy {
  /** The workbench's origin, e.g. http://127.0.0.1:8080. */
  origin: string;
  /** asExternalUri of a URL, path and query dropped as code-server 4.100 does. */
  external(url: string): string;
  close(): Promise<void>;
}

const PROXIED = /^\/proxy\/(\d+)(?:\/(.*))?$/s;

export async function startPortProxy(): Promise<PortProxy> {
  const server = createServer((req, res) => {
    const route = PROXIED.exec(req.url ?? '');
    if (!route) {
      res.writeHead(404).end();
      return;
    }
    const upstream = request({ host: '127.0.0.1', port: route[1], path: `/${route[2] ?? ''}`, method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    external(url) {
      const u = new URL(url);
      return /^(127\.0\.0\.1|localhost)$/.test(u.hostname) && u.origin !== origin ? `${origin}/proxy/${u.port}/` : url;
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
