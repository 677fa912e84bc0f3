/**
 * Every command's flags and help, kept apart from what the commands do: `--help` loads this
 * module and src/cli/args.ts only (no database driver, no server), so it answers at once.
 */
import type { CommandSpec } from './args.js';

/** A command's spec and the lines the overall usage shows for it. */
interface Command extends CommandSpec {
  usage: readonly string[];
  summary: string;
}

function command(c: Omit<Command, 'help'> & { details: string }): Command {
  const usage = c.usage.map((u, i) => `${i === 0 ? 'Usage: ' : '       '}${u}`).join('\n');
  return { ...c, help: `${usage}\n\n${c.summary}\n${c.details}` };
}

const CONFIG_FLAG = '  --config FILE   the config (default: $INVENTORY_GRAPH_CONFIG, else ./inventory-graph.yaml)\n';

export const START = command({
  name: 'inventory-graph start',
  usage: ['inventory-graph start [--config FILE] [--port N] [--host H]', 'inventory-graph start --demo [--dir DIR] [--skus N] [--port N] [--host H]'],
  summary: 'Serve GraphQL at /graphql, with the explorer, /status and /metrics beside it.',
  details: `${CONFIG_FLAG}  --port N        the port: --port, else $PORT, else server.port (4000); 0 takes a free one
  --host H        the address to listen on (default: server.host, 127.0.0.1)
  --demo          generate the demo systems afresh as SQLite files in DIR, load their SKU map
                  and serve them, with a new API key per role
  --dir DIR       the demo's directory (default ./data/demo)
  --skus N        the demo's size in canonical SKUs (default 2000)
SIGTERM or SIGINT stops it gracefully.
`,
  options: {
    config: { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
    demo: { type: 'boolean' },
    dir: { type: 'string' },
    skus: { type: 'string' },
  },
});

export const DEMO = command({
  name: 'inventory-graph demo',
  usage: ['inventory-graph demo [--dir DIR] [--skus N] [--seed N] [--locations N] [--mysql URL] [--prefix P]'],
  summary: 'Generate the demo source systems, their SKU map (sku-map.csv) and a config that reads them.',
  details: `  --dir DIR       where (default ./data/demo)
  --skus N        canonical SKUs, 1 to 99999999 (default 2000)
  --seed N        the random seed (default 42)
  --locations N   5 to 30: regional DCs beside the standard five (default 5)
  --mysql URL     the ERP, WMS and shop as MariaDB databases on this server, not SQLite files
  --prefix P      their names' prefix (default ig_demo)
\`inventory-graph demo traffic --help\`: picks and receipts into the demo while it serves.
`,
  options: {
    dir: { type: 'string' },
    skus: { type: 'string' },
    seed: { type: 'string' },
    locations: { type: 'string' },
    mysql: { type: 'string' },
    prefix: { type: 'string' },
  },
});

/** The broker the demo's 3PL publishes its picks to (the demo config's amqp feed, `demo traffic`), unless INVENTORY_GRAPH_DEMO_AMQP_URL says otherwise. */
export const DEMO_AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';
export const DEMO_AMQP_QUEUE = 'inventory-graph.demo.3pl';
/** The topic exchange the demo publishes its events to (`inventory-graph events tail`). */
export const DEMO_EVENTS_EXCHANGE = 'inventory-graph.events';

export const DEMO_TRAFFIC = command({
  name: 'inventory-graph demo traffic',
  usage: ['inventory-graph demo traffic [--config FILE] [--rate N] [--duration S] [--seed N] [--amqp URL] [--amqp-queue Q]'],
  summary: "Write picks and receipts into the demo WMS, and publish the 3PL's picks to RabbitMQ, so figures move while the demo serves.",
  details: `  --config FILE   the demo's config (default ./data/demo/inventory-graph.yaml): its \`wms\` SQLite file is written,
                  its \`tpl\` file names the 3PL's codes
  --rate N        changes a second, 1 to 1000 (default 5); up to 10 a line each, beyond a line a second
  --duration S    stop after S seconds (default: at Ctrl-C or SIGTERM)
  --seed N        the random seed (default: a new one each run, printed)
  --amqp URL      the broker for the 3PL's picks (default: the config's amqp feed, else
                  $INVENTORY_GRAPH_DEMO_AMQP_URL, else ${DEMO_AMQP_URL}); when it cannot
                  be reached, the WMS alone gets changes
  --amqp-queue Q  the queue (default: the config's amqp feed's, else ${DEMO_AMQP_QUEUE})
SIGTERM or SIGINT stops it, closing the broker connection and the database.
`,
  options: {
    config: { type: 'string' },
    rate: { type: 'string' },
    duration: { type: 'string' },
    seed: { type: 'string' },
    amqp: { type: 'string' },
    'amqp-queue': { type: 'string' },
  },
});

export const SKUS_IMPORT = command({
  name: 'inventory-graph skus import',
  usage: ['inventory-graph skus import FILE.csv [--replace] [--config FILE]'],
  summary: 'Load the SKU map from a CSV, all or nothing (wide: sku,name,<system>...; long: sku,system,code[,name]).',
  details: `${CONFIG_FLAG}  --replace       for each system the file covers (its columns, or the systems of its rows), the
                  file is the whole list of codes: that system's codes not in the file are removed
Without --replace the file is merged: its SKUs and codes are added, a code that meant another SKU
moves to the file's, a name given replaces the SKU's name, and every code not in the file is kept.
Canonical SKUs not in the file are kept either way (\`skus remove --sku\` removes one). The output
says which happened, with counts: SKUs (new), aliases added, moved, unchanged (and removed).
Every bad line (values that do not match the header, an unclosed quote, an unknown system, an empty
SKU, a code given to two SKUs, a SKU on two rows of the wide layout) is listed with its line number
and value, and nothing is written: exit 2.
`,
  options: { config: { type: 'string' }, replace: { type: 'boolean' } },
  positionals: ['FILE.csv'],
});

export const SKUS_MATCH = command({
  name: 'inventory-graph skus match',
  usage: ['inventory-graph skus match [--config FILE] [--dry-run]'],
  summary: 'Derive SKU aliases from shared identifiers (skuMap: barcodes, GTINs, supplier part numbers) now, and print what changed.',
  details: `${CONFIG_FLAG}  --dry-run       read and count, write nothing (no alias, no anomaly)
Hand-written aliases (skus import) are never changed. Conflicts and unmatched codes are recorded
as SKU_MATCH_CONFLICT and UNMATCHED_CODE anomalies; the first conflicts are printed.
Exit codes: 0 done (conflicts included), 2 a usage or config error, 3 a source or the store failed.
`,
  options: { config: { type: 'string' }, 'dry-run': { type: 'boolean' } },
});

export const SKUS_REMOVE = command({
  name: 'inventory-graph skus remove',
  usage: [
    'inventory-graph skus remove --system S --code C [--code C ...] [--config FILE]',
    'inventory-graph skus remove --file FILE.csv [--config FILE]',
    'inventory-graph skus remove --sku SKU [--sku SKU ...] [--config FILE]',
  ],
  summary: 'Remove codes, or whole canonical SKUs with their codes, from the SKU map, all or nothing.',
  details: `${CONFIG_FLAG}  --system S      the system (a source's name) of the --code values
  --code C        a code to remove (repeat for more)
  --file FILE     remove the codes a CSV lists, with \`system\` and \`code\` columns (others ignored)
  --sku SKU       remove a canonical SKU and all its codes (repeat for more)
Prints each code removed and the SKU it meant. A code or SKU the map does not have is named, and
nothing is removed: exit 2. A removed code becomes an orphan of its source again; a removed SKU
is answered UNKNOWN_SKU.
`,
  options: {
    config: { type: 'string' },
    system: { type: 'string' },
    code: { type: 'string', multiple: true },
    file: { type: 'string' },
    sku: { type: 'string', multiple: true },
  },
});

export const KEYS_CREATE = command({
  name: 'inventory-graph keys create',
  usage: ['inventory-graph keys create --role ROLE --name NAME'],
  summary: 'Print a new API key, once, and the line that puts its hash into the config.',
  details: `  --role ROLE     storefront, oms, analyst or admin
  --name NAME     how logs name the key: up to 64 letters, digits and _ . : -
`,
  options: { role: { type: 'string' }, name: { type: 'string' } },
});

export const CONFIG_CHECK = command({
  name: 'inventory-graph config check',
  usage: ['inventory-graph config check [FILE | --config FILE] [--connect]'],
  summary: 'Validate a config file and print every problem (exit 2), or "ok"; with --connect, also try every mapping against its source.',
  details: `${CONFIG_FLAG}  --connect       connect to every source and check each mapping, one line per source and entity:
                    erp  stock  ok      412 codes
                    erp  cost   FAILED  table "tabItem Price" does not exist
                  SQL: the mapping's statement with no codes, then its distinct codes (counted up to 100000);
                  files: the newest file, its header and rows; other kinds: the source answers.
                  Start-up logs the same lines.
Exit codes: 0 ok, 1 a mapping failed (--connect), 2 a usage or config error.
`,
  options: { config: { type: 'string' }, connect: { type: 'boolean' } },
  positionals: ['[FILE]'],
});

export const RECONCILE = command({
  name: 'inventory-graph reconcile',
  usage: ['inventory-graph reconcile [--config FILE] [--out DIR] [--tolerance N] [--fail-on-discrepancy] [--batch N]'],
  summary: 'Reconcile the whole catalogue into lines.csv, gaps.csv, orphans.csv and summary.json; the run is recorded in the store.',
  details: `${CONFIG_FLAG}  --out DIR       where the files go (default ./reconciliation/<time>)
  --tolerance N   units of unexplained variance that are not a discrepancy (default 0)
  --fail-on-discrepancy
                  exit 1 when some unexplained variance exceeds the tolerance
  --batch N       SKUs per read, 1 to 1000 (default 1000)
Files are written under temporary names and renamed only when the run completes.
Exit 3 when a source fails: the run is recorded as failed with the error, no lines.csv,
gaps.csv, orphans.csv or summary.json is written (a previous run's stay untouched), and
failed.json in DIR says why.
`,
  options: {
    config: { type: 'string' },
    out: { type: 'string' },
    tolerance: { type: 'string' },
    batch: { type: 'string' },
    'fail-on-discrepancy': { type: 'boolean' },
  },
});

export const SWEEP = command({
  name: 'inventory-graph sweep',
  usage: ['inventory-graph sweep [--config FILE]'],
  summary: 'Sweep now: record every negative on-hand, orphan code and stale source over the whole catalogue as an anomaly, and resolve the ones that cleared.',
  details: `${CONFIG_FLAG}What the server does every sweep.intervalSeconds (docs/anomalies.md). Prints a line for the run, then
found and resolved per kind (NEGATIVE_ON_HAND, ORPHAN_CODE, STALE_SOURCE), then each source that failed:
its anomalies are left open, nothing is resolved on what could not be read.
Exit codes: 0 completed, 1 partial (a source failed), 2 a usage or config error, 3 failed (the store).
`,
  options: { config: { type: 'string' } },
});

/** Commands of two words, by their first. */
export const DOCUMENTS = command({
  name: 'inventory-graph documents',
  usage: ['inventory-graph documents [--dir DIR] [--check] [--manifest FILE]'],
  summary: "Print the trusted documents (documents/*.graphql) as a persisted query manifest (Apollo's format: id = sha256 of the body).",
  details: `  --dir DIR       the documents' directory (default: documents/ of this package)
  --check         validate every document against the schema instead; exit 1 naming each bad operation
  --manifest FILE with --check: check this manifest file rather than a directory
`,
  options: {
    dir: { type: 'string' },
    check: { type: 'boolean' },
    manifest: { type: 'string' },
  },
});

export const FEEDS_DLQ = command({
  name: 'inventory-graph feeds dlq',
  usage: [
    'inventory-graph feeds dlq list [--source S] [--limit N] [--after ID] [--json] [--config FILE]',
    'inventory-graph feeds dlq replay (--all | --source S | --id N[,N...]) [--config FILE]',
  ],
  summary: 'Show feed messages that could not be applied (the dead-letter queue), or mark them to be applied again by the running gateway.',
  details: `${CONFIG_FLAG}  --source S      one mirrored source's dead letters only
  --limit N       list at most N (default 100, at most 10000)
  --after ID      list those after this id (paging)
  --json          list as JSON lines: id, source, feed, messageId, transportId, reason, attempts, receivedAt, replayRequestedAt, body
  --id N[,N...]   replay these dead letters
  --all           replay every dead letter
A gateway serving the same store takes marked dead letters within a second and runs them through
its feed again with its config as it is now (fix the config, restart, then replay): applied ones
leave the queue, the rest stay with their new reason (\`list\` shows them).
Exit codes: 0 done, 2 a usage or config error.
`,
  options: {
    config: { type: 'string' },
    source: { type: 'string' },
    limit: { type: 'string' },
    after: { type: 'string' },
    json: { type: 'boolean' },
    id: { type: 'string' },
    all: { type: 'boolean' },
  },
  positionals: ['ACTION'],
});

const EVENT_FILTER_FLAGS = `  --type T[,T...]  these event types, or families as anomaly.*
  --sku S          events about this SKU only
`;

export const EVENTS_LIST = command({
  name: 'inventory-graph events list',
  usage: ['inventory-graph events list [--dead] [--sink S] [--type T[,T...]] [--sku S] [--limit N] [--before SEQ] [--json] [--config FILE]'],
  summary: 'Show the events written to the outbox, newest first, or with --dead the ones a sink gave up on (dead letters).',
  details: `${CONFIG_FLAG}${EVENT_FILTER_FLAGS}  --dead          dead letters (oldest first), with the sink, attempts and last error
  --sink S        with --dead: one sink's only
  --limit N       at most N (default 50, at most 10000)
  --before SEQ    events before this outbox position (paging; with --dead: after it)
  --json          as JSON lines (the body a sink sends; with --dead also sink, attempts, lastError, failedAt)
Exit codes: 0 done, 2 a usage or config error.
`,
  options: {
    config: { type: 'string' },
    dead: { type: 'boolean' },
    sink: { type: 'string' },
    type: { type: 'string' },
    sku: { type: 'string' },
    limit: { type: 'string' },
    before: { type: 'string' },
    json: { type: 'boolean' },
  },
});

export const EVENTS_REPLAY = command({
  name: 'inventory-graph events replay',
  usage: ['inventory-graph events replay (--all | --sink S | --id ID[,ID...]) [--config FILE]'],
  summary: 'Send dead letters again: they become pending, and a running gateway sends them within a second, before newer events.',
  details: `${CONFIG_FLAG}  --all            every dead letter of every sink
  --sink S         one sink's dead letters
  --id ID[,ID...]  these events (their ids, as \`events list --dead\` shows them)
Each is sent again with its own id (a receiver that already has it drops it) and a fresh count of attempts.
Exit codes: 0 done, 2 a usage or config error.
`,
  options: {
    config: { type: 'string' },
    all: { type: 'boolean' },
    sink: { type: 'string' },
    id: { type: 'string' },
  },
});

export const EVENTS_TAIL = command({
  name: 'inventory-graph events tail',
  usage: ['inventory-graph events tail [--sink S | --outbox] [--type T[,T...]] [--sku S] [--limit N] [--json] [--config FILE]'],
  summary: 'Print events live as they are published: from a RabbitMQ or NATS sink (what its consumers get), or from the outbox.',
  details: `${CONFIG_FLAG}${EVENT_FILTER_FLAGS}  --sink S        listen on this amqp or nats sink (default: the first such sink)
  --outbox        read the store's outbox instead (every event, sent or not; no broker needed)
  --limit N       stop after N events
  --json          one JSON line per event (the body a sink sends)
An amqp sink is followed through a queue of its own (exclusive, deleted when tail stops) bound to the
sink's exchange; a nats sink through an ephemeral JetStream consumer of new messages. Stops on Ctrl-C.
Exit codes: 0 done, 1 the broker could not be reached, 2 a usage or config error.
`,
  options: {
    config: { type: 'string' },
    sink: { type: 'string' },
    outbox: { type: 'boolean' },
    type: { type: 'string' },
    sku: { type: 'string' },
    limit: { type: 'string' },
    json: { type: 'boolean' },
  },
});

export const GROUPS: Readonly<Record<string, Readonly<Record<string, Command>>>> = {
  skus: { import: SKUS_IMPORT, match: SKUS_MATCH, remove: SKUS_REMOVE },
  feeds: { dlq: FEEDS_DLQ },
  events: { list: EVENTS_LIST, replay: EVENTS_REPLAY, tail: EVENTS_TAIL },
  keys: { create: KEYS_CREATE },
  config: { check: CONFIG_CHECK },
};

const ALL = [
  START,
  DEMO,
  DEMO_TRAFFIC,
  SKUS_IMPORT,
  SKUS_MATCH,
  SKUS_REMOVE,
  KEYS_CREATE,
  CONFIG_CHECK,
  RECONCILE,
  SWEEP,
  DOCUMENTS,
  FEEDS_DLQ,
  EVENTS_LIST,
  EVENTS_REPLAY,
  EVENTS_TAIL,
];

export const USAGE = `inventory-graph: one inventory truth over systems that disagree

Usage:
${ALL.map((c) => `${c.usage.map((u) => `  ${u}`).join('\n')}\n      ${c.summary}`).join('\n')}

\`inventory-graph COMMAND --help\` lists a command's flags.
`;
