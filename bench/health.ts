/**
 * Health-check benchmark: a running 3-node LocalCluster (etcd + three agents as separate
 * processes), and load on the REST API's health checks, which answer from the in-memory node
 * report. Per repetition:
 *
 *  - throughput and latency at 16 keep-alive connections for 10 s (wrk, `done()` Lua hook for
 *    p50/p99): leader GET /primary, replica GET /replica, leader HEAD /primary, leader OPTIONS /
 *    (what HAProxy's `option httpchk` sends), plus the CPU the target agent, the load generator and
 *    the whole machine used meanwhile (/proc);
 *  - single-request latency: one keep-alive socket (node:http), 200 warm-up then 2,000 sequential
 *    requests, timed with process.hrtime.bigint();
 *  - the same load against two trivial servers on the same machine, as a ceiling: fastify (the
 *    agents' framework) and bare node:http, each answering GET /primary with the leader's own
 *    /primary body as a constant.
 *
 *   npx tsx bench/health.ts [--reps N] [--duration S] [--connections C]
 *
 * wrk comes from the Debian package (installed with apt-get when missing); if that fails, a Node
 * load generator (node:http keep-alive agent, C sockets) stands in and the JSON says so.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ClusterNode, LocalCluster } from '../src/local/cluster.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SCOPE = 'benchhealth';
const BOOTSTRAP_TIMEOUT_MS = 120_000;
const WARMUP_REQUESTS = 200;
const SINGLE_REQUESTS = 2000;
const WRK_THREADS = 2;
/** Patroni 3.0.2 on the same kind of machine (2 cores), from the issue. */
const PATRONI = { rps: 1040, p99Ms: 200, singleP50Ms: 0.8 };
const GOAL = { rpsRatio: 20, p99Ms: 5, singleP50Ms: 0.3 };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// CPU accounting from /proc: a process's utime+stime, our reaped children's (wrk), the machine's.

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

function statFields(path: string): string[] | null {
  try {
    const s = readFileSync(path, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on
  } catch {
    return null;
  }
}

/** CPU seconds of a process (utime + stime). */
function procCpuS(pid: number): number | null {
  const f = statFields(`/proc/${pid}/stat`);
  return f ? (Number(f[11]) + Number(f[12])) / CLK_TCK : null;
}

/** CPU seconds of this process's reaped children (cutime + cstime): wrk once it has exited. */
function childrenCpuS(): number {
  const f = statFields('/proc/self/stat')!;
  return (Number(f[13]) + Number(f[14])) / CLK_TCK;
}

/** Machine-wide busy and total jiffies (all cores). */
function machineJiffies(): { busy: number; total: number } {
  const cpuLine = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number);
  const total = cpuLine.reduce((a, b) => a + b, 0);
  const idle = (cpuLine[3] ?? 0) + (cpuLine[4] ?? 0);
  return { busy: total - idle, total };
}

// ---------------------------------------------------------------------------------------------
// Load generators.

type Tool = 'wrk' | 'node' | 'raw';

interface LoadResult {
  tool: Tool;
  requests: number;
  durationS: number;
  rps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Non-2xx/3xx answers, connect/read/write errors and timeouts. */
  errors: number;
  errorDetail: Record<string, number>;
}

const WRK_LUA = `
wrk.method = os.getenv("WRK_METHOD") or "GET"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"durationUs":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50Us":%d,"p90Us":%d,"p99Us":%d,"maxUs":%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
`;

let wrkAvailable = false;

function ensureWrk(): boolean {
  const has = () => {
    try {
      execFileSync('wrk', ['--version'], { stdio: 'ignore' });
      return true;
    } catch (err) {
      // wrk --version exits 1 after printing its version
      return (err as { status?: number }).status === 1;
    }
  };
  if (has()) return true;
  // One place knows what to install and how: the same script as the demo and the tests.
  console.log('wrk not found: running scripts/install-deps.sh --bench');
  try {
    execFileSync('bash', [resolve(REPO, 'scripts/install-deps.sh'), '--bench'], { stdio: 'inherit' });
  } catch (err) {
    console.log(`  install-deps.sh --bench failed: ${(err as Error).message.split('\n')[0]}`);
  }
  const ok = has();
  console.log(ok ? 'wrk installed' : 'wrk unavailable: falling back to the Node load generator');
  return ok;
}

function wrkVersion(): string | null {
  try {
    return execFileSync('sh', ['-c', 'wrk --version 2>&1 || true'], { encoding: 'utf8' })
      .split('\n')[0]!
      .trim();
  } catch {
    return null;
  }
}

let luaFile = '';
let activeChild: ChildProcess | null = null;

function runWrk(url: string, method: string, connections: number, durationS: number): Promise<LoadResult> {
  return new Promise((res, rej) => {
    const child = spawn(
      'wrk',
      [`-t${WRK_THREADS}`, `-c${connections}`, `-d${durationS}s`, '--timeout', '2s', '-s', luaFile, url],
      { env: { ...process.env, WRK_METHOD: method }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    activeChild = child;
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    child.on('error', rej);
    child.on('exit', (code) => {
      activeChild = null;
      const line = out.split('\n').find((l) => l.startsWith('WRKJSON '));
      if (code !== 0 || !line) return rej(new Error(`wrk exited ${code}: ${out.trim()}`));
      const j = JSON.parse(line.slice(8)) as Record<string, number>;
      const durS = j['durationUs']! / 1e6;
      const errorDetail = {
        non2xx3xx: j['status']!,
        connect: j['connect']!,
        read: j['read']!,
        write: j['write']!,
        timeout: j['timeout']!,
      };
      res({
        tool: 'wrk',
        requests: j['requests']!,
        durationS: durS,
        rps: j['requests']! / durS,
        p50Ms: j['p50Us']! / 1000,
        p90Ms: j['p90Us']! / 1000,
        p99Ms: j['p99Us']! / 1000,
        maxMs: j['maxUs']! / 1000,
        errors: Object.values(errorDetail).reduce((a, b) => a + b, 0),
        errorDetail,
      });
    });
  });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** One request on `agent`; resolves with the status code after the body is drained. */
function request(agent: http.Agent, url: URL, method: string): Promise<number> {
  return new Promise((res, rej) => {
    const req = http.request(
      { agent, host: url.hostname, port: url.port, path: url.pathname, method, timeout: 2000 },
      (r) => {
        r.resume();
        r.on('end', () => res(r.statusCode ?? 0));
        r.on('error', rej);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', rej);
    req.end();
  });
}

/** Fallback when wrk cannot be installed: C closed loops over a keep-alive agent with C sockets. */
async function runNodeLoad(
  url: string,
  method: string,
  connections: number,
  durationS: number,
): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const u = new URL(url);
  const lat: number[] = [];
  const errorDetail = { non2xx3xx: 0, other: 0 };
  const start = process.hrtime.bigint();
  const end = start + BigInt(durationS * 1e9);
  const loop = async () => {
    while (process.hrtime.bigint() < end) {
      const t0 = process.hrtime.bigint();
      try {
        const code = await request(agent, u, method);
        if (code >= 400) errorDetail.non2xx3xx++;
      } catch {
        errorDetail.other++;
      }
      lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  };
  await Promise.all(Array.from({ length: connections }, loop));
  const durS = Number(process.hrtime.bigint() - start) / 1e9;
  agent.destroy();
  lat.sort((a, b) => a - b);
  return {
    tool: 'node',
    requests: lat.length,
    durationS: durS,
    rps: lat.length / durS,
    p50Ms: percentile(lat, 50),
    p90Ms: percentile(lat, 90),
    p99Ms: percentile(lat, 99),
    maxMs: lat.at(-1) ?? Number.NaN,
    errors: errorDetail.non2xx3xx + errorDetail.other,
    errorDetail,
  };
}

/**
 * For HEAD (wrk cannot parse HEAD answers, wg/wrk#198; node:http's client opens a new socket per
 * HEAD answer that has no Content-Length): C raw keep-alive TCP connections in this process, each
 * sending one request and reading the answer — headers only for HEAD, else a Content-Length body.
 */
async function runRawLoad(
  url: string,
  method: string,
  connections: number,
  durationS: number,
): Promise<LoadResult> {
  const u = new URL(url);
  const req = Buffer.from(`${method} ${u.pathname} HTTP/1.1\r\nHost: ${u.host}\r\n\r\n`);
  const lat: number[] = [];
  const errorDetail = { non2xx3xx: 0, other: 0 };
  const start = process.hrtime.bigint();
  const end = start + BigInt(durationS * 1e9);
  const conn = () =>
    new Promise<void>((done) => {
      const sock = net.connect(Number(u.port), u.hostname);
      sock.setNoDelay(true);
      let buf: Buffer = Buffer.alloc(0);
      let t0 = 0n;
      const send = () => {
        if (process.hrtime.bigint() >= end) {
          sock.end();
          return done();
        }
        t0 = process.hrtime.bigint();
        sock.write(req);
      };
      sock.on('connect', send);
      sock.on('error', () => {
        errorDetail.other++;
        done();
      });
      sock.on('data', (d: Buffer) => {
        buf = buf.length ? Buffer.concat([buf, d]) : d;
        const h = buf.indexOf('\r\n\r\n');
        if (h === -1) return;
        const head = buf.subarray(0, h).toString('latin1');
        let bodyLen = 0;
        if (method !== 'HEAD') {
          const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
          if (!m) {
            errorDetail.other++;
            sock.destroy();
            return done();
          }
          bodyLen = Number(m[1]);
        }
        if (buf.length < h + 4 + bodyLen) return;
        lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
        if (!/^HTTP\/1\.[01] [23]/.test(head)) errorDetail.non2xx3xx++;
        buf = buf.subarray(h + 4 + bodyLen);
        send();
      });
    });
  await Promise.all(Array.from({ length: connections }, conn));
  const durS = Number(process.hrtime.bigint() - start) / 1e9;
  lat.sort((a, b) => a - b);
  return {
    tool: 'raw',
    requests: lat.length,
    durationS: durS,
    rps: lat.length / durS,
    p50Ms: percentile(lat, 50),
    p90Ms: percentile(lat, 90),
    p99Ms: percentile(lat, 99),
    maxMs: lat.at(-1) ?? Number.NaN,
    errors: errorDetail.non2xx3xx + errorDetail.other,
    errorDetail,
  };
}

interface CpuShare {
  /** % of one core used by the server process under test (agent or ceiling server). */
  serverPct: number | null;
  /** % of one core used by the load generator (wrk, or this process for the Node generator). */
  loadGenPct: number | null;
  /** % of the whole machine (all cores) busy, and the remainder not explained by the two above. */
  machineBusyPct: number;
  otherPctOfOneCore: number;
}

async function loadWithCpu(
  serverPid: number | null,
  url: string,
  method: string,
  connections: number,
  durationS: number,
  tool: Tool,
): Promise<{ load: LoadResult; cpu: CpuShare }> {
  const t0 = performance.now();
  const s0 = serverPid ? procCpuS(serverPid) : null;
  const c0 = childrenCpuS();
  const own0 = process.cpuUsage();
  const m0 = machineJiffies();
  const load =
    tool === 'wrk'
      ? await runWrk(url, method, connections, durationS)
      : tool === 'raw'
        ? await runRawLoad(url, method, connections, durationS)
        : await runNodeLoad(url, method, connections, durationS);
  const wallS = (performance.now() - t0) / 1000;
  const s1 = serverPid ? procCpuS(serverPid) : null;
  const c1 = childrenCpuS();
  const own = process.cpuUsage(own0);
  const m1 = machineJiffies();
  const serverPct = s0 !== null && s1 !== null ? (100 * (s1 - s0)) / wallS : null;
  // wrk: our reaped child's CPU; the raw and Node generators run in this process.
  const loadGenPct = tool === 'wrk' ? (100 * (c1 - c0)) / wallS : (own.user + own.system) / 1e4 / wallS;
  const machineBusyPct = (100 * (m1.busy - m0.busy)) / (m1.total - m0.total);
  const busyOneCorePct = (machineBusyPct * cpus().length) as number;
  return {
    load,
    cpu: {
      serverPct,
      loadGenPct,
      machineBusyPct,
      otherPctOfOneCore: busyOneCorePct - (serverPct ?? 0) - (loadGenPct ?? 0),
    },
  };
}

interface SingleResult {
  requests: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  non200: number;
}

async function singleLatency(url: string, method = 'GET'): Promise<SingleResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const u = new URL(url);
  let non200 = 0;
  for (let i = 0; i < WARMUP_REQUESTS; i++) await request(agent, u, method);
  const lat: number[] = [];
  for (let i = 0; i < SINGLE_REQUESTS; i++) {
    const t0 = process.hrtime.bigint();
    const code = await request(agent, u, method);
    lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (code !== 200) non200++;
  }
  agent.destroy();
  lat.sort((a, b) => a - b);
  return {
    requests: lat.length,
    p50Ms: percentile(lat, 50),
    p90Ms: percentile(lat, 90),
    p99Ms: percentile(lat, 99),
    maxMs: lat.at(-1)!,
    non200,
  };
}

// ---------------------------------------------------------------------------------------------
// Ceiling servers: trivial fastify and node:http processes answering GET /primary with a constant.

const CEILING_JS = (kind: 'fastify' | 'http', fastifyUrl: string) =>
  kind === 'fastify'
    ? `
import Fastify from ${JSON.stringify(fastifyUrl)};
const body = process.env.BODY;
const app = Fastify({ logger: false });
app.get('/primary', (_req, reply) => reply.type('application/json').send(body));
const addr = await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write('LISTENING ' + new URL(addr).port + '\\n');
`
    : `
import http from 'node:http';
const body = Buffer.from(process.env.BODY);
const server = http.createServer((req, res) => {
  if (req.url === '/primary') {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': body.length });
    res.end(body);
  } else { res.writeHead(404); res.end(); }
});
server.listen(0, '127.0.0.1', () => process.stdout.write('LISTENING ' + server.address().port + '\\n'));
`;

async function startCeiling(
  kind: 'fastify' | 'http',
  workRoot: string,
  body: string,
): Promise<{ child: ChildProcess; url: string }> {
  const file = join(workRoot, `ceiling-${kind}.mjs`);
  const fastifyUrl = new URL(`file://${join(REPO, 'node_modules/fastify/fastify.js')}`).href;
  writeFileSync(file, CEILING_JS(kind, fastifyUrl));
  const child = spawn(process.execPath, [file], {
    env: { ...process.env, BODY: body },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((res, rej) => {
    let out = '';
    const t = setTimeout(() => rej(new Error(`${kind} ceiling did not start`)), 10_000);
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /LISTENING (\d+)/.exec(out);
      if (m) {
        clearTimeout(t);
        res(Number(m[1]));
      }
    });
    child.on('exit', (c) => rej(new Error(`${kind} ceiling exited ${c}`)));
  });
  return { child, url: `http://127.0.0.1:${port}` };
}

function stopChild(child: ChildProcess | null): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((res) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      res();
    }, 3000);
    child.once('exit', () => {
      clearTimeout(t);
      res();
    });
    child.kill('SIGTERM');
  });
}

// ---------------------------------------------------------------------------------------------
// Provenance (as bench/failover.ts).

function gitState(): { head: string | null; dirtySrc: string[] } {
  const git = (args: string[]) => {
    try {
      return execFileSync('git', args, { cwd: REPO, encoding: 'utf8' });
    } catch {
      return null;
    }
  };
  const status = git(['status', '--porcelain', '--', 'src']) ?? '';
  return {
    head: git(['rev-parse', 'HEAD'])?.trim() ?? null,
    dirtySrc: status.split('\n').filter((l) => l.trim() !== ''),
  };
}

function machineInfo(): Record<string, unknown> {
  const version = (cmd: string, args: string[]) => {
    try {
      // spawns: - the absolute paths its callers name
      return execFileSync(cmd, args, { encoding: 'utf8' }).split('\n')[0]!.trim();
    } catch {
      return null;
    }
  };
  let loadavg: string | null = null;
  try {
    loadavg = readFileSync('/proc/loadavg', 'utf8').trim();
  } catch {}
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? null,
    node: process.version,
    postgres: version('/usr/lib/postgresql/15/bin/postgres', ['--version']),
    etcd: version('/usr/bin/etcd', ['--version']),
    loadGenerator: wrkAvailable ? wrkVersion() : 'node:http keep-alive agent (wrk unavailable)',
    loadavgAtStart: loadavg,
  };
}

/** Processes using the most CPU right now (other work sharing the machine). */
function topProcesses(): string[] {
  try {
    return execFileSync('ps', ['-eo', 'pid,pcpu,etime,comm', '--sort=-pcpu'], { encoding: 'utf8' })
      .split('\n')
      .slice(0, 8)
      .map((l) => l.trim());
  } catch {
    return [];
  }
}

// ---------------------------------------------------------------------------------------------
// Summary.

function median(xs: number[]): number | null {
  const v = xs.filter((x) => Number.isFinite(x));
  if (v.length === 0) return null;
  const s = [...v].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const fmt = (x: number | null | undefined, digits = 2) =>
  x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(digits);

interface LoadCase {
  id: string;
  label: string;
  target: 'leader' | 'replica' | 'fastify' | 'http';
  method: string;
  path: string;
  /** Load generator; default wrk. wrk cannot do HEAD (wg/wrk#198: its parser waits for a body). */
  tool?: 'raw';
}

const LOAD_CASES: LoadCase[] = [
  {
    id: 'leader-get-primary',
    label: 'leader GET /primary',
    target: 'leader',
    method: 'GET',
    path: '/primary',
  },
  {
    id: 'replica-get-replica',
    label: 'replica GET /replica',
    target: 'replica',
    method: 'GET',
    path: '/replica',
  },
  {
    id: 'leader-head-primary',
    label: 'leader HEAD /primary (raw-socket load generator)',
    target: 'leader',
    method: 'HEAD',
    path: '/primary',
    tool: 'raw',
  },
  {
    id: 'leader-get-primary-node',
    label: 'leader GET /primary (raw-socket load generator, HEAD baseline)',
    target: 'leader',
    method: 'GET',
    path: '/primary',
    tool: 'raw',
  },
  { id: 'leader-options-root', label: 'leader OPTIONS /', target: 'leader', method: 'OPTIONS', path: '/' },
  {
    id: 'ceiling-fastify',
    label: 'ceiling: fastify hello-world GET /primary',
    target: 'fastify',
    method: 'GET',
    path: '/primary',
  },
  {
    id: 'ceiling-http',
    label: 'ceiling: bare node:http GET /primary',
    target: 'http',
    method: 'GET',
    path: '/primary',
  },
];

const SINGLE_CASES: LoadCase[] = [
  LOAD_CASES[0]!,
  LOAD_CASES[1]!,
  LOAD_CASES.find((c) => c.id === 'ceiling-fastify')!,
  LOAD_CASES.find((c) => c.id === 'ceiling-http')!,
];

interface LoadRun {
  case: string;
  rep: number;
  load: LoadResult;
  cpu: CpuShare;
  /** /proc/loadavg right after the run: other work on the machine. */
  loadavg: string;
}

interface SingleRun {
  case: string;
  rep: number;
  single: SingleResult;
}

function summaryTables(loads: LoadRun[], singles: SingleRun[], reps: number): string {
  const lines: string[] = [];
  const head = [
    'case',
    'req/s',
    'vs Patroni',
    'p50 ms',
    'p99 ms',
    'errors',
    'server CPU %',
    'load gen CPU %',
    'machine busy %',
    'req/s per rep',
  ];
  lines.push(`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`);
  for (const c of LOAD_CASES) {
    const rs = loads.filter((r) => r.case === c.id);
    if (rs.length === 0) continue;
    const rps = median(rs.map((r) => r.load.rps));
    lines.push(
      `| ${c.label} | ${fmt(rps, 0)} | ${rps === null ? '—' : `${(rps / PATRONI.rps).toFixed(1)}×`} | ` +
        `${fmt(median(rs.map((r) => r.load.p50Ms)))} | ${fmt(median(rs.map((r) => r.load.p99Ms)))} | ` +
        `${rs.reduce((a, r) => a + r.load.errors, 0)} | ` +
        `${fmt(median(rs.map((r) => r.cpu.serverPct ?? Number.NaN)), 0)} | ` +
        `${fmt(median(rs.map((r) => r.cpu.loadGenPct ?? Number.NaN)), 0)} | ` +
        `${fmt(median(rs.map((r) => r.cpu.machineBusyPct)), 0)} | ` +
        `${rs.map((r) => r.load.rps.toFixed(0)).join(', ')} |`,
    );
  }
  lines.push('');
  const head2 = [
    'case (1 connection, sequential)',
    'p50 ms',
    'vs Patroni p50',
    'p90 ms',
    'p99 ms',
    'non-200',
    'p50 per rep',
  ];
  lines.push(`| ${head2.join(' | ')} |`, `|${head2.map(() => '---').join('|')}|`);
  for (const c of SINGLE_CASES) {
    const rs = singles.filter((r) => r.case === c.id);
    if (rs.length === 0) continue;
    const p50 = median(rs.map((r) => r.single.p50Ms));
    lines.push(
      `| ${c.label} | ${fmt(p50, 3)} | ${p50 === null ? '—' : `${(PATRONI.singleP50Ms / p50).toFixed(1)}× faster`} | ` +
        `${fmt(median(rs.map((r) => r.single.p90Ms)), 3)} | ${fmt(median(rs.map((r) => r.single.p99Ms)), 3)} | ` +
        `${rs.reduce((a, r) => a + r.single.non200, 0)} | ${rs.map((r) => r.single.p50Ms.toFixed(3)).join(', ')} |`,
    );
  }
  lines.push('', `Medians of ${reps} repetitions.`);
  return lines.join('\n');
}

function goals(loads: LoadRun[], singles: SingleRun[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const id of ['leader-get-primary', 'replica-get-replica']) {
    const rs = loads.filter((r) => r.case === id);
    const ss = singles.filter((r) => r.case === id);
    const rps = median(rs.map((r) => r.load.rps));
    const p99 = median(rs.map((r) => r.load.p99Ms));
    const p50 = median(ss.map((r) => r.single.p50Ms));
    out[id] = {
      rpsRatioVsPatroni: rps === null ? null : rps / PATRONI.rps,
      rpsGoalMet: rps !== null && rps >= GOAL.rpsRatio * PATRONI.rps,
      p99Ms: p99,
      p99GoalMet: p99 !== null && p99 <= GOAL.p99Ms,
      singleP50Ms: p50,
      singleP50GoalMet: p50 !== null && p50 <= GOAL.singleP50Ms,
    };
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Main.

function parseArgs(argv: string[]): { reps: number; durationS: number; connections: number } {
  let reps = 3;
  let durationS = 10;
  let connections = 16;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--reps') reps = Number(argv[++i]);
    else if (argv[i] === '--duration') durationS = Number(argv[++i]);
    else if (argv[i] === '--connections') connections = Number(argv[++i]);
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!Number.isInteger(reps) || reps < 1) throw new Error('--reps must be a positive integer');
  if (!Number.isInteger(durationS) || durationS < 1) throw new Error('--duration must be whole seconds ≥ 1');
  if (!Number.isInteger(connections) || connections < 1) throw new Error('--connections must be ≥ 1');
  return { reps, durationS, connections };
}

let activeCluster: LocalCluster | null = null;
const ceilings: ChildProcess[] = [];

function onInterrupt(): void {
  let interrupted = false;
  process.on('SIGINT', () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    console.error(
      '\ninterrupted: stopping the load generator, ceiling servers and cluster (Ctrl-C again to abandon)',
    );
    activeChild?.kill('SIGTERM');
    const stopping = Promise.all([
      ...ceilings.map((c) => stopChild(c)),
      activeCluster?.stop() ?? Promise.resolve(),
    ]);
    void stopping.finally(() => process.exit(130));
  });
}

async function main(): Promise<void> {
  const { reps, durationS, connections } = parseArgs(process.argv.slice(2));
  onInterrupt();
  wrkAvailable = ensureWrk();
  const workRoot = mkdtempSync(join(tmpdir(), 'pgwarden-bench-health-'));
  chmodSync(workRoot, 0o755); // the agents run as the postgres OS user
  luaFile = join(workRoot, 'report.lua');
  writeFileSync(luaFile, WRK_LUA);
  console.log(`node logs under ${workRoot}`);
  const startedAt = new Date();
  const gitAtStart = gitState();
  const machine = machineInfo();
  const busyAtStart = topProcesses();
  const loads: LoadRun[] = [];
  const singles: SingleRun[] = [];
  let leader: ClusterNode | null = null;
  let replica: ClusterNode | null = null;
  let bootstrapS: number | null = null;
  let failure: string | undefined;

  const cluster = new LocalCluster({ dir: join(workRoot, 'cluster'), nodes: 3, scope: SCOPE });
  activeCluster = cluster;
  try {
    await cluster.init();
    const t0 = performance.now();
    await cluster.startAll();
    const ready = await cluster.waitUntilReady({ timeoutMs: BOOTSTRAP_TIMEOUT_MS });
    if (!ready) throw new Error(`cluster not ready within ${BOOTSTRAP_TIMEOUT_MS / 1000} s`);
    bootstrapS = (performance.now() - t0) / 1000;
    leader = cluster.nodes.find((n) => n.status?.role === 'master')!;
    replica = cluster.nodes.find((n) => n.status?.role === 'replica')!;
    console.log(
      `ready in ${bootstrapS.toFixed(1)} s: leader ${leader.name} ${leader.apiUrl}, replica ${replica.name} ${replica.apiUrl}`,
    );
    const body = await (await fetch(`${leader.apiUrl}/primary`)).text();
    for (const [n, path] of [
      [leader, '/primary'],
      [replica, '/replica'],
    ] as const) {
      const res = await fetch(`${n.apiUrl}${path}`);
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`${n.name} ${path} answered ${res.status}, expected 200`);
    }

    const fastify = await startCeiling('fastify', workRoot, body);
    ceilings.push(fastify.child);
    const bare = await startCeiling('http', workRoot, body);
    ceilings.push(bare.child);
    const target = (t: LoadCase['target']) =>
      t === 'leader'
        ? { url: leader!.apiUrl, pid: cluster.agentPid(leader!.name) }
        : t === 'replica'
          ? { url: replica!.apiUrl, pid: cluster.agentPid(replica!.name) }
          : t === 'fastify'
            ? { url: fastify.url, pid: fastify.child.pid ?? null }
            : { url: bare.url, pid: bare.child.pid ?? null };

    // Repetitions outermost, so slow drifts in background load spread over all cases.
    for (let rep = 1; rep <= reps; rep++) {
      for (const c of LOAD_CASES) {
        const { url, pid } = target(c.target);
        const tool = c.tool ?? (wrkAvailable ? 'wrk' : 'node');
        const { load, cpu } = await loadWithCpu(
          pid,
          `${url}${c.path}`,
          c.method,
          connections,
          durationS,
          tool,
        );
        loads.push({ case: c.id, rep, load, cpu, loadavg: readFileSync('/proc/loadavg', 'utf8').trim() });
        console.log(
          `[rep ${rep}/${reps}] ${c.label}: ${load.rps.toFixed(0)} req/s, p50 ${fmt(load.p50Ms)} ms, ` +
            `p99 ${fmt(load.p99Ms)} ms, errors ${load.errors}; CPU server ${fmt(cpu.serverPct, 0)} %, ` +
            `load gen ${fmt(cpu.loadGenPct, 0)} %, machine ${fmt(cpu.machineBusyPct, 0)} %`,
        );
        await sleep(500);
      }
      for (const c of SINGLE_CASES) {
        const { url } = target(c.target);
        const single = await singleLatency(`${url}${c.path}`);
        singles.push({ case: c.id, rep, single });
        console.log(
          `[rep ${rep}/${reps}] single ${c.label}: p50 ${fmt(single.p50Ms, 3)} ms, p99 ${fmt(single.p99Ms, 3)} ms`,
        );
      }
    }
    const still = await cluster.poll();
    if (still.find((n) => n.name === leader!.name)?.status?.role !== 'master')
      throw new Error(`${leader.name} is no longer the leader at the end: results are suspect`);
  } catch (err) {
    failure = (err as Error).message;
    console.error(`FAILED: ${failure}`);
  } finally {
    activeChild?.kill('SIGTERM');
    for (const c of ceilings) await stopChild(c);
    await cluster.stop().catch((err) => console.error(`stop: ${(err as Error).message}`));
    activeCluster = null;
    for (const n of cluster.nodes) rmSync(dirname(n.dataDir), { recursive: true, force: true });
  }

  const table = summaryTables(loads, singles, reps);
  console.log(`\n${table}\n`);
  const goalCheck = goals(loads, singles);
  console.log(JSON.stringify(goalCheck, null, 2));
  const outDir = join(REPO, 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  const day = startedAt.toISOString().slice(0, 10);
  let out = resolve(outDir, `health-${day}.json`);
  if (existsSync(out)) {
    const hhmm = startedAt.toISOString().slice(11, 16).replace(':', '');
    out = resolve(outDir, `health-${day}-${hhmm}.json`);
  }
  const doc = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine,
    busiestProcessesAtStart: busyAtStart,
    code: { atStart: gitAtStart, atEnd: gitState() },
    method: {
      nodes: 3,
      reps,
      durationS,
      connections,
      wrkThreads: wrkAvailable ? WRK_THREADS : null,
      loadGenerator: wrkAvailable
        ? 'wrk; HEAD (and its GET baseline) with raw keep-alive sockets in this process, as wrk cannot parse HEAD answers'
        : 'node',
      singleRequest: {
        warmup: WARMUP_REQUESTS,
        requests: SINGLE_REQUESTS,
        client: 'node:http keep-alive agent, 1 socket',
      },
      sameCores:
        'load generator, cluster (etcd, 3 agents, 3 PostgreSQL) and ceiling servers share the same cores',
      cpuPct: 'per process: % of one core over the run (utime+stime from /proc); machine: % of all cores',
    },
    patroni302: PATRONI,
    goal: GOAL,
    bootstrapS,
    leader: leader?.name ?? null,
    replica: replica?.name ?? null,
    failure,
    loads,
    singles,
    goals: goalCheck,
    table,
  };
  writeFileSync(out, `${JSON.stringify(doc, null, 2)}\n`);
  console.log(`raw results: ${out}`);
  if (failure) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
