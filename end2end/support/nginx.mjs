// A real nginx for a test, run from the shipped deploy/nginx.conf with only its addresses and
// certificate replaced (see daemon.mjs): HTTPS with a certificate made for the test.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Daemon, engineFields, sbin, shipped, substitute } from './daemon.mjs';
import { freePort } from './server.mjs';

const BINARY = process.env.NGINX_BIN ?? sbin('nginx');

/**
 * The shipped configuration (a file for nginx's `http` block), serving HTTPS on
 * 127.0.0.1:`port` with `cert` and `key`, redirecting from 127.0.0.1:`httpPort`, in front of
 * the `nodes` addresses (`host:port`, as many as its upstream has `server` lines, commented
 * out or not). IPv6 listeners are dropped: a test machine may have no IPv6.
 */
export function configFor({ port, httpPort, cert, key, nodes }) {
  let { file, text } = shipped('nginx.conf');
  const sub = (pattern, replace, count) => (text = substitute(file, text, pattern, replace, count));
  sub(/^(\s*)listen 80;$/, `$1listen 127.0.0.1:${httpPort};`, 1);
  sub(/^(\s*)listen 443 ssl;$/, `$1listen 127.0.0.1:${port} ssl;`, 1);
  sub(/^\s*listen \[::\]:\S+( ssl)?;\n/, '', 2);
  sub(/^(\s*)ssl_certificate +\S+;$/, `$1ssl_certificate ${cert};`, 1);
  sub(/^(\s*)ssl_certificate_key +\S+;$/, `$1ssl_certificate_key ${key};`, 1);
  let next = 0;
  sub(/^(\s*)(?:# )?server \d\S*;$/, (_, indent) => `${indent}server ${nodes[next++]};`, nodes.length);
  return text;
}

export class Nginx extends Daemon {
  /** Runs the shipped configuration in front of `nodes` (`host:port` each), once it listens. */
  static async shipped({ nodes }) {
    const nginx = new Nginx(await freePort());
    const { dir } = nginx;
    const [cert, key] = [path.join(dir, 'cert.pem'), path.join(dir, 'key.pem')];
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1',
    ], { stdio: 'ignore' });
    const site = path.join(dir, 'palaver.conf');
    writeFileSync(site, configFor({ port: nginx.port, httpPort: await freePort(), cert, key, nodes }));
    // What nginx.conf's http block holds around the site's file on a server, in the test's
    // directory; the log names the node of each request.
    const main = path.join(dir, 'nginx.conf');
    writeFileSync(main, `
      pid ${dir}/nginx.pid;
      events {}
      http {
        log_format nodes '$upstream_addr $status $request_method $request_uri';
        access_log ${nginx.log} nodes;
        client_body_temp_path ${dir}/body;
        proxy_temp_path ${dir}/proxy;
        fastcgi_temp_path ${dir}/fastcgi;
        uwsgi_temp_path ${dir}/uwsgi;
        scgi_temp_path ${dir}/scgi;
        include ${site};
      }
    `);
    await nginx.spawn(BINARY, ['-p', `${dir}/`, '-c', main, '-e', 'stderr', '-g', 'daemon off;'], nginx.port);
    return nginx;
  }

  constructor(port) {
    // SIGTERM: the master stops its workers, and at once.
    super('nginx', 'SIGTERM');
    this.port = port;
    this.log = path.join(this.dir, 'access.log');
  }

  get url() {
    return `https://127.0.0.1:${this.port}`;
  }

  /** The requests logged so far, each with the node (`host:port`) that answered it. */
  requests() {
    if (!existsSync(this.log)) return [];
    return readFileSync(this.log, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [node, status, method, path] = line.split(' ');
        return { node, status: Number(status), method, path, ...engineFields(path) };
      });
  }
}
