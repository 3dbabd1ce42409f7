import * as bench from './bench.ts';
import type { CommandModule } from './cliContext.ts';
import * as history from './history.ts';
import * as images from './images.ts';
import * as ingest from './ingest.ts';
import * as init from './init.ts';
import * as project from './project.ts';
import * as reindex from './reindex.ts';
import * as sample from './sample.ts';
import * as schemas from './schemas.ts';
import * as search from './search.ts';
import * as serve from './serve.ts';
import * as services from './services.ts';
import * as show from './show.ts';
import * as start from './start.ts';
import * as stats from './stats.ts';
import * as status from './status.ts';
import * as workers from './workers.ts';

/** Every command of the CLI. Add a command by adding a module here. */
export const commands: readonly CommandModule[] = [
  services,
  init,
  sample,
  ingest,
  history,
  show,
  stats,
  project,
  reindex,
  status,
  search,
  serve,
  start,
  bench,
  images,
  workers,
  schemas,
];
