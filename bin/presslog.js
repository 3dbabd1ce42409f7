#!/usr/bin/env node
// The installed `presslog` command (npm link, npm install -g): presslog is TypeScript run
// by tsx, so register tsx's loader in this process and load the CLI's composition root.
import { register } from 'tsx/esm/api';

register();
await import('../scripts/presslog.ts');
