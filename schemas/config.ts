import { ConfigError } from './errors.ts';
import { createNames, NAMESPACE_PATTERN, type Names } from './names.ts';

/** Everything presslog reads from the environment, validated once and frozen. */
export interface Config {
  readonly namespace: string;
  readonly names: Names;
  readonly nats: {
    readonly url: string;
    readonly user?: string;
    readonly password?: string;
    readonly token?: string;
    readonly credsFile?: string;
  };
  readonly elasticsearch: {
    readonly url: string;
    /** Longest any one Elasticsearch request may take before it fails and is retried or reported (ms). */
    readonly requestTimeoutMs: number;
    readonly apiKey?: string;
    readonly username?: string;
    readonly password?: string;
    /**
     * The client's OpenTelemetry spans: on where tracing is configured (`OTEL_EXPORTER_OTLP_ENDPOINT`,
     * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or an `OTEL_TRACES_EXPORTER` other than `none`) or asked for
     * (`OTEL_ELASTICSEARCH_ENABLED=true`), else off: the client's default is on, a cost on every request
     * even with nothing to export.
     */
    readonly openTelemetry: boolean;
  };
  readonly redis: { readonly url: string };
  /** The search API's settings. */
  readonly api: {
    /** Key that signs search cursors; unset: a random secret kept in NATS KV per namespace. */
    readonly cursorSecret?: string;
    /** Longest an API request may take before it is answered 504 (ms). */
    readonly timeoutMs: number;
    /** Requests a client (IP address) may make per minute; 0 turns the limit off. */
    readonly rateLimitPerMinute: number;
  };
  /** `/readyz` fails when a projection is more than this many events behind the log (`PRESSLOG_READY_MAX_LAG`). */
  readonly readyMaxLag: number;
  /**
   * Replicas of everything presslog creates on NATS (the content stream, KV buckets,
   * object stores): 1 on one server, 3 or 5 on a JetStream cluster.
   */
  readonly replicas: 1 | 3 | 5;
  /** Where image originals and renditions are kept: a directory (one machine) or the NATS object store. */
  readonly blobStore: 'dir' | 'nats';
  /** The directory of the `dir` blob store. */
  readonly blobDir: string;
  /**
   * The master key that wraps every data key (crypto-shredding). The default path is
   * generated on first use; a path given explicitly must exist.
   */
  readonly masterKey: { readonly file: string; readonly generateIfMissing: boolean };
  /**
   * Store items under opaque ids (`o-` + a keyed hash of the id given), for archives whose
   * ids carry personal names: ids are never erased (see ingest/opaqueIds.ts).
   */
  readonly opaqueIds: boolean;
  /** Where `services up` keeps downloads, data, logs and pid files of the services it starts. */
  readonly servicesDir: string;
  readonly logLevel: string;
}

type Env = Record<string, string | undefined>;

/** Whether OpenTelemetry tracing is configured for this process (see `Config.elasticsearch.openTelemetry`). */
function tracingConfigured(env: Env): boolean {
  const explicit = env.OTEL_ELASTICSEARCH_ENABLED?.trim().toLowerCase();
  if (explicit) return explicit !== 'false';
  const exporter = env.OTEL_TRACES_EXPORTER?.trim().toLowerCase();
  return Boolean(
    env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() ||
      env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() ||
      (exporter && exporter !== 'none'),
  );
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function url(env: Env, variable: string, fallback: string, protocols: readonly string[]): string {
  const raw = env[variable]?.trim() || fallback;
  for (const candidate of raw.split(',')) {
    let parsed: URL;
    try {
      parsed = new URL(candidate.trim());
    } catch {
      throw new ConfigError(variable, `not a URL: ${JSON.stringify(candidate)} (expected e.g. ${fallback})`);
    }
    if (!protocols.includes(parsed.protocol)) {
      throw new ConfigError(
        variable,
        `protocol ${parsed.protocol} is not supported (use ${protocols.map((p) => `${p}//`).join(' or ')})`,
      );
    }
  }
  return raw;
}

function flag(env: Env, variable: string): boolean {
  const value = env[variable]?.trim().toLowerCase();
  if (!value || value === 'false' || value === '0') return false;
  if (value === 'true' || value === '1') return true;
  throw new ConfigError(variable, `must be true or false, got ${JSON.stringify(env[variable])}`);
}

function optional(env: Env, variable: string): string | undefined {
  const value = env[variable];
  return value === undefined || value === '' ? undefined : value;
}

function integer(env: Env, variable: string, fallback: number, min: number, max: number): number {
  const raw = env[variable]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw.replaceAll('_', ''));
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(
      variable,
      `must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`,
    );
  }
  return n;
}

function defaultServicesDir(env: Env): string {
  if (process.getuid?.() === 0) return '/var/lib/presslog';
  const base = env.XDG_STATE_HOME || `${env.HOME ?? '/tmp'}/.local/state`;
  return `${base}/presslog`;
}

/** Read and validate the configuration; throws ConfigError naming the bad variable. */
export function loadConfig(env: Env = process.env): Config {
  const namespace = env.PRESSLOG_NAMESPACE?.trim() || 'presslog';
  if (!NAMESPACE_PATTERN.test(namespace)) {
    throw new ConfigError(
      'PRESSLOG_NAMESPACE',
      `${JSON.stringify(namespace)} must be 1-40 characters of [a-z0-9-], starting with a letter or digit`,
    );
  }
  const logLevel = env.PRESSLOG_LOG_LEVEL?.trim() || 'info';
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError('PRESSLOG_LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`);
  }
  const esUser = optional(env, 'ELASTICSEARCH_USERNAME');
  const esPassword = optional(env, 'ELASTICSEARCH_PASSWORD');
  if ((esUser === undefined) !== (esPassword === undefined)) {
    throw new ConfigError(
      esUser === undefined ? 'ELASTICSEARCH_USERNAME' : 'ELASTICSEARCH_PASSWORD',
      'ELASTICSEARCH_USERNAME and ELASTICSEARCH_PASSWORD go together',
    );
  }
  const cursorSecret = optional(env, 'PRESSLOG_CURSOR_SECRET');
  if (cursorSecret !== undefined && cursorSecret.length < 32) {
    throw new ConfigError(
      'PRESSLOG_CURSOR_SECRET',
      'must be at least 32 characters (e.g. `openssl rand -hex 32`)',
    );
  }
  const replicas = env.PRESSLOG_REPLICAS?.trim() || '1';
  if (!['1', '3', '5'].includes(replicas)) {
    throw new ConfigError(
      'PRESSLOG_REPLICAS',
      `must be 1, 3 or 5 (an odd number of JetStream replicas), got ${JSON.stringify(replicas)}`,
    );
  }
  const blobStore = env.PRESSLOG_BLOB_STORE?.trim() || 'dir';
  if (blobStore !== 'dir' && blobStore !== 'nats') {
    throw new ConfigError(
      'PRESSLOG_BLOB_STORE',
      `must be dir (a directory, PRESSLOG_BLOB_DIR) or nats (the JetStream object store every host sees), got ${JSON.stringify(blobStore)}`,
    );
  }
  return Object.freeze({
    namespace,
    names: createNames(namespace),
    nats: Object.freeze({
      url: url(env, 'NATS_URL', 'nats://127.0.0.1:4222', ['nats:', 'tls:', 'ws:', 'wss:']),
      user: optional(env, 'NATS_USER'),
      password: optional(env, 'NATS_PASSWORD'),
      token: optional(env, 'NATS_TOKEN'),
      credsFile: optional(env, 'NATS_CREDS'),
    }),
    elasticsearch: Object.freeze({
      url: url(env, 'ELASTICSEARCH_URL', 'http://127.0.0.1:9200', ['http:', 'https:']),
      requestTimeoutMs: integer(env, 'ELASTICSEARCH_REQUEST_TIMEOUT_MS', 30_000, 100, 3_600_000),
      apiKey: optional(env, 'ELASTICSEARCH_API_KEY'),
      username: esUser,
      password: esPassword,
      openTelemetry: tracingConfigured(env),
    }),
    redis: Object.freeze({ url: url(env, 'REDIS_URL', 'redis://127.0.0.1:6379', ['redis:', 'rediss:']) }),
    api: Object.freeze({
      cursorSecret,
      timeoutMs: integer(env, 'PRESSLOG_API_TIMEOUT_MS', 10_000, 100, 600_000),
      rateLimitPerMinute: integer(env, 'PRESSLOG_API_RATE_LIMIT', 600, 0, 1_000_000),
    }),
    readyMaxLag: integer(env, 'PRESSLOG_READY_MAX_LAG', 1000, 0, Number.MAX_SAFE_INTEGER),
    replicas: Number(replicas) as 1 | 3 | 5,
    blobStore,
    blobDir: env.PRESSLOG_BLOB_DIR?.trim() || `var/${namespace}/blobs`,
    masterKey: Object.freeze({
      file: env.PRESSLOG_MASTER_KEY_FILE?.trim() || `var/${namespace}/master.key`,
      generateIfMissing: !env.PRESSLOG_MASTER_KEY_FILE?.trim(),
    }),
    opaqueIds: flag(env, 'PRESSLOG_OPAQUE_IDS'),
    servicesDir: env.PRESSLOG_SERVICES_DIR?.trim() || defaultServicesDir(env),
    logLevel,
  });
}

/** The configuration with secrets masked, for `status` output and logs. */
export function redactConfig(config: Config): Record<string, unknown> {
  const mask = (v: string | undefined) => (v === undefined ? undefined : '***');
  const maskUrl = (raw: string) =>
    raw
      .split(',')
      .map((u) => {
        const parsed = new URL(u.trim());
        if (parsed.password) parsed.password = '***';
        return parsed.toString();
      })
      .join(',');
  return {
    namespace: config.namespace,
    nats: {
      url: maskUrl(config.nats.url),
      user: config.nats.user,
      password: mask(config.nats.password),
      token: mask(config.nats.token),
      credsFile: config.nats.credsFile,
    },
    elasticsearch: {
      url: maskUrl(config.elasticsearch.url),
      requestTimeoutMs: config.elasticsearch.requestTimeoutMs,
      apiKey: mask(config.elasticsearch.apiKey),
      username: config.elasticsearch.username,
      password: mask(config.elasticsearch.password),
    },
    redis: { url: maskUrl(config.redis.url) },
    api: { ...config.api, cursorSecret: mask(config.api.cursorSecret) },
    readyMaxLag: config.readyMaxLag,
    replicas: config.replicas,
    blobStore: config.blobStore,
    blobDir: config.blobDir,
    masterKeyFile: config.masterKey.file,
    servicesDir: config.servicesDir,
    logLevel: config.logLevel,
  };
}
