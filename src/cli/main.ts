/**
 * The `inventory-graph` command. Each subcommand returns an exit code: 0 done; 2 a mistake on
 * the command line (one line naming it) or a bad config or SKU file (every problem), with
 * nothing served or written; a command's own codes beside (see each `--help`).
 *
 * Commands are loaded when run, so `--help` (src/cli/commands.ts) loads no driver nor server.
 */
import { runCommand } from './args.js';
import {
  CONFIG_CHECK,
  DEMO,
  DEMO_TRAFFIC,
  DOCUMENTS,
  EVENTS_LIST,
  EVENTS_REPLAY,
  EVENTS_TAIL,
  FEEDS_DLQ,
  GROUPS,
  KEYS_CREATE,
  RECONCILE,
  SKUS_IMPORT,
  SKUS_MATCH,
  SKUS_REMOVE,
  START,
  SWEEP,
  USAGE,
} from './commands.js';

export async function main(argv: string[]): Promise<number> {
  const [cmd, sub] = argv;
  try {
    switch (cmd) {
      case undefined:
        process.stdout.write(USAGE);
        return 2;
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return 0;
      case 'start':
        return await runCommand(START, argv.slice(1), async (a) => (await import('./start.js')).startCommand(a));
      case 'demo':
        if (sub === 'traffic') return await runCommand(DEMO_TRAFFIC, argv.slice(2), async (a) => (await import('./demo-traffic.js')).demoTrafficCommand(a));
        return await runCommand(DEMO, argv.slice(1), async (a) => (await import('./demo-data.js')).runDemo(a));
      case 'reconcile':
        return await runCommand(RECONCILE, argv.slice(1), async (a) => (await import('./reconcile.js')).reconcileCommand(a));
      case 'sweep':
        return await runCommand(SWEEP, argv.slice(1), async (a) => (await import('./sweep.js')).sweepCommand(a));
      case 'documents':
        return await runCommand(DOCUMENTS, argv.slice(1), async (a) => (await import('./documents.js')).documentsCommand(a));
    }
    const group = Object.hasOwn(GROUPS, cmd) ? GROUPS[cmd] : undefined;
    if (group === undefined) {
      process.stderr.write(`inventory-graph: unknown command ${JSON.stringify(cmd)}; see inventory-graph --help\n`);
      return 2;
    }
    const subs = Object.keys(group);
    if (sub === '--help' || sub === '-h') {
      process.stdout.write(
        `${Object.values(group)
          .map((c) => c.help.trimEnd())
          .join('\n\n')}\n`,
      );
      return 0;
    }
    switch (sub !== undefined && Object.hasOwn(group, sub) ? group[sub] : undefined) {
      case SKUS_IMPORT:
        return await runCommand(SKUS_IMPORT, argv.slice(2), async (a) => (await import('./sku-import.js')).skusImportCommand(a));
      case SKUS_MATCH:
        return await runCommand(SKUS_MATCH, argv.slice(2), async (a) => (await import('./sku-match.js')).skusMatchCommand(a));
      case SKUS_REMOVE:
        return await runCommand(SKUS_REMOVE, argv.slice(2), async (a) => (await import('./sku-remove.js')).skusRemoveCommand(a));
      case FEEDS_DLQ:
        return await runCommand(FEEDS_DLQ, argv.slice(2), async (a) => (await import('./feeds.js')).feedsDlqCommand(a));
      case EVENTS_LIST:
        return await runCommand(EVENTS_LIST, argv.slice(2), async (a) => (await import('./events.js')).eventsListCommand(a));
      case EVENTS_REPLAY:
        return await runCommand(EVENTS_REPLAY, argv.slice(2), async (a) => (await import('./events.js')).eventsReplayCommand(a));
      case EVENTS_TAIL:
        return await runCommand(EVENTS_TAIL, argv.slice(2), async (a) => (await import('./events.js')).eventsTailCommand(a));
      case KEYS_CREATE:
        return await runCommand(KEYS_CREATE, argv.slice(2), async (a) => (await import('./keys.js')).keysCreateCommand(a));
      case CONFIG_CHECK:
        return await runCommand(CONFIG_CHECK, argv.slice(2), async (a) => (await import('./config-check.js')).configCheckCommand(a));
    }
    process.stderr.write(
      `inventory-graph ${cmd}: ${sub === undefined ? 'needs a command' : `unknown command ${JSON.stringify(sub)}`} (${subs.join(', ')}); see inventory-graph ${cmd} --help\n`,
    );
    return 2;
  } catch (e) {
    // a config or a SKU file with problems: every one, each on its line
    const { ConfigError } = await import('../config/index.js');
    const { SkuImportError } = await import('./sku-import.js');
    if (e instanceof ConfigError || e instanceof SkuImportError) {
      process.stderr.write(`${e.message}\n`);
      return 2;
    }
    throw e;
  }
}
