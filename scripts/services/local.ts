import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensureBinary } from './debian.ts';
import { exists, findExecutable, isExecutable, RunError, run } from './exec.ts';
import type { ServiceName } from './state.ts';

/**
 * The Elasticsearch server run locally, matching the client's minor version. The
 * integ-test zip on Maven Central is the smallest distribution that runs; it lacks
 * most modules (no analysis-common, no rest-root), see the README's design notes.
 */
export const ES_VERSION = '9.4.3';
const ES_ARTIFACT = `org.elasticsearch.distribution.integ-test-zip:elasticsearch:${ES_VERSION}:zip`;
const MAVEN_REPO = join(homedir(), '.m2', 'repository');
const ES_ZIP = join(
  MAVEN_REPO,
  'org/elasticsearch/distribution/integ-test-zip/elasticsearch',
  ES_VERSION,
  `elasticsearch-${ES_VERSION}.zip`,
);
/** Elasticsearch refuses to run as root; as root, we run it as this system user. */
const ES_USER = 'presslog';

/** A server process we launched. */
export interface LocalProcess {
  pid: number;
  /** A word of its command line, checked again before `down` signals the pid. */
  command: string;
  log: string;
}

export interface StartOptions {
  /** `<servicesDir>`: downloads, data, logs and pid files live below it. */
  dir: string;
  /** Interface to bind, taken from the loopback URL. */
  host: string;
  port: number;
  progress: (message: string) => void;
  /** Interrupts downloads and unpacking; a server that is being launched is left to finish. */
  signal?: AbortSignal;
  /** The server's directory below `dir` (default: the service's name); a cluster node has its own. */
  home?: string;
  /** Settings added to (or replacing) the single-node ones: a cluster node's name, ports, peers. */
  settings?: Record<string, string | number | boolean>;
  /** Extra command-line arguments (nats-server's cluster flags). */
  args?: string[];
  /** Where the Elasticsearch distribution is unpacked (default `dir`): a test's cluster reuses the one `services up` made. */
  installDir?: string;
}

const isRoot = () => process.getuid?.() === 0;

/** Wait for a daemon to write its pid file (stale files are removed before it starts). */
async function readPidFile(path: string, timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
    if (pid > 0) return pid;
    if (Date.now() > deadline) throw new Error(`no pid in ${path} after ${timeoutMs} ms`);
    await sleep(100);
  }
}

async function startNats({ dir, host, port, progress, ...options }: StartOptions): Promise<LocalProcess> {
  const bin = await ensureBinary('nats-server', 'nats-server', progress, ', or start Docker');
  const home = join(dir, options.home ?? 'nats');
  await mkdir(join(home, 'data'), { recursive: true });
  const log = join(home, 'nats.log');
  const args = [
    '-js',
    '-a',
    host,
    '-p',
    String(port),
    '-sd',
    join(home, 'data'),
    '-l',
    log,
    ...(options.args ?? []),
  ];
  progress(`starting nats-server on ${host}:${port}`);
  // nats-server does not daemonize itself: detach it so it outlives this command.
  const child = spawn(bin, [...args, '-P', join(home, 'nats.pid')], { detached: true, stdio: 'ignore' });
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${bin}`);
  return { pid: child.pid, command: 'nats-server', log };
}

async function startRedis({ dir, host, port, progress }: StartOptions): Promise<LocalProcess> {
  const bin = await ensureBinary('redis-server', 'redis-server', progress, ', or start Docker');
  const home = join(dir, 'redis');
  await mkdir(join(home, 'data'), { recursive: true });
  const log = join(home, 'redis.log');
  const pidFile = join(home, 'redis.pid');
  await rm(pidFile, { force: true });
  progress(`starting redis-server on ${host}:${port}`);
  const settings = {
    bind: host,
    port,
    daemonize: 'yes',
    pidfile: pidFile,
    logfile: log,
    dir: join(home, 'data'),
    // BullMQ's jobs live in Redis and must survive a restart.
    appendonly: 'yes',
  };
  await run(
    bin,
    Object.entries(settings).flatMap(([name, value]) => [`--${name}`, String(value)]),
  );
  return { pid: await readPidFile(pidFile), command: 'redis-server', log };
}

/** The newest JDK under /usr/lib/jvm that Elasticsearch 9 accepts (21+), Temurin first. */
async function findJavaHome(): Promise<string> {
  const root = '/usr/lib/jvm';
  const candidates = (await readdir(root).catch(() => []))
    .map((name) => ({ name, major: Number(/\d+/.exec(name)?.[0] ?? 0) }))
    .filter((c) => c.major >= 21)
    .sort(
      (a, b) =>
        Number(b.name.startsWith('temurin')) - Number(a.name.startsWith('temurin')) || b.major - a.major,
    );
  for (const { name } of candidates) {
    if (await isExecutable(join(root, name, 'bin', 'java'))) return join(root, name);
  }
  throw new Error(`no JDK 21+ under ${root} (Elasticsearch ${ES_VERSION} needs one; install Temurin)`);
}

/** Download the zip into the Maven cache (once) and unpack it into servicesDir (once). */
async function installElasticsearch({ dir, progress, signal, installDir }: StartOptions): Promise<string> {
  const home = join(installDir ?? dir, `elasticsearch-${ES_VERSION}`);
  if (await isExecutable(join(home, 'bin', 'elasticsearch'))) return home;
  if (!(await exists(ES_ZIP))) {
    const mvn = await findExecutable('mvn');
    if (!mvn) throw new Error(`mvn is not installed; it downloads ${ES_ARTIFACT} from Maven Central`);
    progress(`downloading ${ES_ARTIFACT} from Maven Central`);
    // Name the repository: Java's user.home (passwd) and Node's ($HOME) may differ.
    const args = ['-q', '-B', 'dependency:get', `-Dartifact=${ES_ARTIFACT}`, '-Dtransitive=false'];
    await run(mvn, [...args, `-Dmaven.repo.local=${MAVEN_REPO}`], { timeoutMs: 20 * 60_000, signal });
  }
  progress(`unpacking ${ES_ZIP}`);
  // Unpack beside the target and rename, so an interrupted unzip never looks installed.
  const scratch = await mkdtemp(join(dir, '.unzip-'));
  try {
    await run('unzip', ['-q', ES_ZIP, '-d', scratch], { timeoutMs: 5 * 60_000, signal });
    await rename(join(scratch, `elasticsearch-${ES_VERSION}`), home);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return home;
}

async function ensureEsUser(): Promise<void> {
  const known = await run('id', ['-u', ES_USER]).then(
    () => true,
    () => false,
  );
  if (known) return;
  await run('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', ES_USER]);
}

async function startElasticsearch(options: StartOptions): Promise<LocalProcess> {
  const { dir, host, port, progress } = options;
  const [install, javaHome] = await Promise.all([installElasticsearch(options), findJavaHome()]);
  const home = join(dir, options.home ?? 'elasticsearch');
  const logs = join(home, 'logs');
  const pidFile = join(home, 'elasticsearch.pid');
  await mkdir(join(home, 'data'), { recursive: true });
  await mkdir(logs, { recursive: true });
  await rm(pidFile, { force: true });
  const clustered = options.settings?.['discovery.seed_hosts'] !== undefined;
  const settings: Record<string, string | number | boolean> = {
    ...(clustered ? {} : { 'discovery.type': 'single-node' }),
    // A development node on loopback; docker-compose.yml says how to turn security on.
    'xpack.security.enabled': false,
    'network.host': host,
    'http.port': port,
    'path.data': join(home, 'data'),
    'path.logs': logs,
    // A nearly full development disk would otherwise leave new shards unassigned (red).
    'cluster.routing.allocation.disk.threshold_enabled': false,
    ...options.settings,
  };
  const argv = [
    join(install, 'bin', 'elasticsearch'),
    ...['-d', '-p', pidFile],
    ...Object.entries(settings).map(([name, value]) => `-E${name}=${value}`),
  ];
  let command = argv;
  if (isRoot()) {
    await ensureEsUser();
    // It writes its keystore into the install's config dir, and data, logs and pid file below home.
    await run('chown', ['-R', `${ES_USER}:${ES_USER}`, install, home]);
    command = ['setpriv', `--reuid=${ES_USER}`, `--regid=${ES_USER}`, '--clear-groups', ...argv];
  }
  progress(`starting Elasticsearch ${ES_VERSION} on ${host}:${port} with ${javaHome}`);
  const log = join(logs, 'elasticsearch.log');
  // A clean environment: an inherited ES_PATH_CONF or JAVA_TOOL_OPTIONS would change the node.
  const env = {
    PATH: process.env.PATH,
    LANG: 'C.UTF-8',
    ES_JAVA_HOME: javaHome,
    // A cluster node on this machine gets the low end: three of them share it.
    ES_JAVA_OPTS: clustered ? '-Xms512m -Xmx512m' : '-Xms512m -Xmx1g',
  };
  // With -d the launcher returns once the node has started (or failed, with the reason).
  await run(command[0]!, command.slice(1), { env, timeoutMs: 180_000 }).catch((err: Error) => {
    // Its output is a page of INFO lines and stack frames; the reason is in the ERROR and "Caused by" lines.
    const output = err instanceof RunError ? err.output : err.message;
    const reasons = output
      .split('\n')
      .filter((line) => /\]\[ERROR\s*\]|^Caused by: /.test(line))
      .map((line) => line.replace(/^\[[^\]]*\]\[ERROR\s*\]\[[^\]]*\] (\[[^\]]*\] )?/, '').slice(0, 300));
    const why = reasons.length > 0 ? reasons.slice(0, 4).join('\n  ') : err.message;
    throw new Error(`Elasticsearch failed to start (see ${log}):\n  ${why}`, { cause: err });
  });
  return { pid: await readPidFile(pidFile), command: 'org.elasticsearch', log };
}

/** Start one service from the binaries on this machine; the caller waits until it answers. */
export const startLocal: Record<ServiceName, (options: StartOptions) => Promise<LocalProcess>> = {
  nats: startNats,
  redis: startRedis,
  elasticsearch: startElasticsearch,
};
