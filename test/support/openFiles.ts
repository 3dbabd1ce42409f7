import { readdirSync, readlinkSync } from 'node:fs';

/**
 * How many descriptors this process holds open on the projection state's temporary files
 * (`presslog-state-<pid>-…`, unlinked as soon as they are open). Counted by what each
 * descriptor points at, so the test runner's own pipes and sockets opening or closing
 * meanwhile do not count.
 */
export function openStateFiles(): number {
  const marker = `/presslog-state-${process.pid}-`;
  let open = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).includes(marker)) open++;
    } catch {
      // Closed between the listing and the look (readdirSync's own descriptor, for one).
    }
  }
  return open;
}
