import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** One host of the lab: its own network namespace, one address on the lab's switch. */
export interface LabHost {
  name: string;
  netns: string;
  address: string;
  /** The switch end of its cable: set down to cut the host off, up to heal. */
  port: string;
}

/**
 * Hosts on a private switch, each in a network namespace the test creates: a bridge in
 * a hub namespace, one veth cable per host. Nothing is added to the machine's own
 * network; `dispose()` (in `finally`) deletes every namespace, and their links with them.
 */
export interface NetnsLab {
  hosts: LabHost[];
  host(name: string): LabHost;
  /** The argv prefix that runs a command inside a host's namespace. */
  exec(name: string): string[];
  /** Cut a host off the switch (its cable's switch end down): a network partition. */
  cut(name: string): Promise<void>;
  heal(name: string): Promise<void>;
  dispose(): Promise<void>;
}

async function ip(...args: string[]): Promise<void> {
  await run('ip', args);
}

export async function netnsLab(names: readonly string[]): Promise<NetnsLab> {
  const tag = randomBytes(3).toString('hex');
  // A /24 of the private 10.231.0.0/16, chosen per lab so that two labs never share one.
  const subnet = `10.231.${randomBytes(1)[0]! % 250}`;
  const hub = `pl-${tag}-hub`;
  const created: string[] = [];
  const hosts: LabHost[] = names.map((name, i) => ({
    name,
    netns: `pl-${tag}-${name}`,
    address: `${subnet}.${i + 1}`,
    port: `p${tag}${i}`,
  }));
  const lab: NetnsLab = {
    hosts,
    host(name) {
      const found = hosts.find((h) => h.name === name);
      if (!found) throw new Error(`no host ${name} in the lab`);
      return found;
    },
    exec: (name) => ['ip', 'netns', 'exec', lab.host(name).netns],
    cut: (name) => ip('-n', hub, 'link', 'set', lab.host(name).port, 'down'),
    heal: (name) => ip('-n', hub, 'link', 'set', lab.host(name).port, 'up'),
    async dispose() {
      for (const netns of created.reverse()) await ip('netns', 'del', netns).catch(() => {});
    },
  };
  try {
    await ip('netns', 'add', hub);
    created.push(hub);
    await ip('-n', hub, 'link', 'add', 'br0', 'type', 'bridge');
    await ip('-n', hub, 'link', 'set', 'br0', 'up');
    for (const [i, host] of hosts.entries()) {
      await ip('netns', 'add', host.netns);
      created.push(host.netns);
      const nic = `e${tag}${i}`;
      await ip(
        'link',
        'add',
        nic,
        'netns',
        host.netns,
        'type',
        'veth',
        'peer',
        'name',
        host.port,
        'netns',
        hub,
      );
      await ip('-n', host.netns, 'addr', 'add', `${host.address}/24`, 'dev', nic);
      await ip('-n', host.netns, 'link', 'set', nic, 'up');
      await ip('-n', host.netns, 'link', 'set', 'lo', 'up');
      await ip('-n', hub, 'link', 'set', host.port, 'master', 'br0', 'up');
    }
    return lab;
  } catch (err) {
    await lab.dispose();
    throw err;
  }
}
