import type { CommandModule } from './cliContext.ts';

/**
 * Every command of the CLI, by name: each module registers the command it is named after.
 * A module is imported only when its command runs (or for the full help, or to name an
 * unknown command): importing all of them pulls in every client library (measured:
 * `presslog reindex --help` 1.4 s and 154 MiB this way, 1.9 s and 179 MiB loading all).
 */
export const commandModules: Readonly<Record<string, () => Promise<CommandModule>>> = {
  services: () => import('./services.ts'),
  init: () => import('./init.ts'),
  sample: () => import('./sample.ts'),
  ingest: () => import('./ingest.ts'),
  history: () => import('./history.ts'),
  erase: () => import('./erase.ts'),
  keys: () => import('./keys.ts'),
  log: () => import('./log.ts'),
  audit: () => import('./audit.ts'),
  show: () => import('./show.ts'),
  stats: () => import('./stats.ts'),
  export: () => import('./export.ts'),
  project: () => import('./project.ts'),
  reindex: () => import('./reindex.ts'),
  status: () => import('./status.ts'),
  search: () => import('./search.ts'),
  alerts: () => import('./alerts.ts'),
  serve: () => import('./serve.ts'),
  start: () => import('./start.ts'),
  bench: () => import('./bench.ts'),
  blobs: () => import('./blobs.ts'),
  images: () => import('./images.ts'),
  workers: () => import('./workers.ts'),
  schemas: () => import('./schemas.ts'),
};

/** The modules a command line needs: the one its first operand names, else all (help, typos). */
export async function commandsFor(firstOperand: string | undefined): Promise<CommandModule[]> {
  if (firstOperand !== undefined && Object.hasOwn(commandModules, firstOperand)) {
    return [await commandModules[firstOperand]!()];
  }
  return Promise.all(Object.values(commandModules).map((load) => load()));
}
