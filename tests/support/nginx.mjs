// Debian's nginx as a test peer: started by the test on 127.0.0.1 on a free port, in the foreground,
// with every path (pid, logs, temporary bodies) inside `workDir`, from a config the caller writes
// for the `http` block. Used by the benchmark (WebDAV PUT, tests/bench/lib/ingest.mjs) and by the
// scale-out test and benchmark (a load balancer before several instances: balancerConfig,
// tests/scaleout/three_instances.test.mjs, tests/bench/lib/scaleout.mjs).
//   startNginx(workDir, (port) => `server { listen 127.0.0.1:${port}; ... }`)
// resolves once the port answers; stop() sends SIGTERM (SIGKILL after 10 s).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, sleep, startProcess } from '../bench/lib/common.mjs';

export async function startNginx(workDir, httpConfig) {
  const temp = join(workDir, 'body-temp');
  for (const d of [temp, join(workDir, 'logs')]) mkdirSync(d, { recursive: true });
  const port = await freePort();
  // `user root` only so that workers may write into the test's folders when run as root.
  const config = `
${process.getuid?.() === 0 ? 'user root;' : ''}
worker_processes auto;
daemon off;
master_process on;
pid ${join(workDir, 'nginx.pid')};
error_log ${join(workDir, 'logs', 'error.log')} warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${temp};
  proxy_temp_path ${join(workDir, 'proxy-temp')};
  fastcgi_temp_path ${join(workDir, 'fastcgi-temp')};
  uwsgi_temp_path ${join(workDir, 'uwsgi-temp')};
  scgi_temp_path ${join(workDir, 'scgi-temp')};
${httpConfig(port)}
}
`;
  const confPath = join(workDir, 'nginx.conf');
  writeFileSync(confPath, config);
  const proc = await startProcess('nginx', ['-p', workDir, '-c', confPath], { ready: null, name: 'nginx' });
  // nginx prints nothing when it starts: wait until the port answers (bounded).
  const url = `http://127.0.0.1:${port}/`;
  for (let i = 0; ; ++i) {
    try {
      await fetch(url);
      break;
    } catch {
      if (i > 100 || proc.child.exitCode !== null) throw new Error(`nginx did not start: ${proc.output()}`);
      await sleep(100);
    }
  }
  return { ...proc, url, port, config };
}

// nginx before the instances: round-robin without stickiness; bodies of any size streamed to the
// instance as they arrive (no buffering in either direction); an instance that fails one request
// is left out for a while, and a request that could not reach it goes to the next one.
export const balancerConfig = (ports) => (port) => `
  upstream instances {
    zone instances 64k;
${ports.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=30s;`).join('\n')}
  }
  server {
    listen 127.0.0.1:${port};
    client_max_body_size 0;
    location / {
      proxy_pass http://instances;
      proxy_http_version 1.1;
      proxy_request_buffering off;
      proxy_buffering off;
      proxy_set_header Host $http_host;
      proxy_next_upstream error timeout;
      proxy_next_upstream_tries 3;
      proxy_connect_timeout 2s;
      proxy_read_timeout 120s;
      proxy_send_timeout 120s;
    }
  }`;
