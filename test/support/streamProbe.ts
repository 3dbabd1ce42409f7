/**
 * Run as a program inside a lab host's network namespace (where the test process cannot
 * reach): `node --import tsx test/support/streamProbe.ts <servers> <stream>` prints the
 * stream's leader, its replicas' state and how many messages and distinct Nats-Msg-Id
 * it holds, as JSON.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { messageIds } from './natsCluster.ts';

export interface StreamProbe {
  leader?: string;
  replicas: { name: string; current: boolean; lag: number }[];
  messages: number;
  unique: number;
}

const [servers, stream] = process.argv.slice(2);
if (!servers || !stream) throw new Error('usage: streamProbe.ts <servers> <stream>');
const nc = await connect({ servers: servers.split(','), timeout: 2_000 });
try {
  const info = await (await jetstreamManager(nc, { timeout: 5_000 })).streams.info(stream);
  const ids = await messageIds(servers, stream);
  const probe: StreamProbe = {
    leader: info.cluster?.leader,
    replicas: (info.cluster?.replicas ?? []).map((r) => ({
      name: r.name,
      current: r.current,
      lag: r.lag ?? 0,
    })),
    ...ids,
  };
  process.stdout.write(`${JSON.stringify(probe)}\n`);
} finally {
  await nc.close();
}
