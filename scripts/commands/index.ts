import type { CommandModule } from './cliContext.ts';
import * as bench from './bench.ts';
import * as history from './history.ts';
import * as images from './images.ts';
import * as init from './init.ts';
import * as search from './search.ts';
import * as serve from './serve.ts';
import * as services from './services.ts';
import * as show from './show.ts';
import * as stats from './stats.ts';
import * as workers from './workers.ts';

/** Every command of the CLI. Add a command by adding a module here. */
export const commands: readonly CommandModule[] = [services, init, history, show, stats, search, serve, bench, images, workers];
