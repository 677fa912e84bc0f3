/**
 * One way to read a command line, for every command: `node:util` parseArgs in strict mode.
 * `--help` or `-h` anywhere (before `--`) prints the command's help and does nothing else; an
 * unknown flag, a flag without its value, a value given to a switch or a stray argument is a
 * UsageError: one line naming it, exit code 2.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A mistake on the command line: printed as one line, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface CommandSpec {
  /** As messages name it: `inventory-graph skus import`. */
  name: string;
  /** What `--help` prints: the usage lines, then what the command does and its flags. */
  help: string;
  /** The flags (`--help` and `-h` are every command's, before these are read). */
  options: NonNullable<ParseArgsConfig['options']>;
  /** Positional arguments, e.g. `['FILE.csv']` (required) or `['[FILE]']` (optional). Defaults to none. */
  positionals?: readonly string[];
}

export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** `--help` or `-h` before any `--`. */
export function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

/**
 * Runs one command: with `--help`, prints its help and returns 0; otherwise `run` gets the
 * parsed command line. A UsageError, thrown by the parse or by `run`, is printed as one line
 * (`inventory-graph start: unknown flag --x; see inventory-graph start --help`): exit code 2.
 */
export async function runCommand(spec: CommandSpec, argv: readonly string[], run: (args: ParsedArgs) => number | Promise<number>): Promise<number> {
  if (wantsHelp(argv)) {
    console.log(spec.help.trimEnd());
    return 0;
  }
  try {
    return await run(parseCommand(spec, argv));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`${spec.name}: ${e.message}; see ${spec.name} --help`);
    return 2;
  }
}

/** The flags and positionals of `argv` as `spec` allows them; throws UsageError. */
export function parseCommand(spec: CommandSpec, argv: readonly string[]): ParsedArgs {
  const names = spec.positionals ?? [];
  let parsed: ParsedArgs;
  try {
    parsed = parseArgs({ args: [...argv], options: spec.options, strict: true, allowPositionals: names.length > 0 }) as ParsedArgs;
  } catch (e) {
    throw new UsageError(describeParseError(e as Error & { code?: string }));
  }
  const required = names.filter((n) => !n.startsWith('['));
  if (parsed.positionals.length < required.length) {
    throw new UsageError(`${required.slice(parsed.positionals.length).join(' ')} is missing`);
  }
  if (parsed.positionals.length > names.length) throw new UsageError(`unexpected argument ${parsed.positionals[names.length]}`);
  return parsed;
}

/** parseArgs's messages, said in one line the way the rest of the command says them. */
function describeParseError(e: Error & { code?: string }): string {
  const quoted = /'([^']+)'/.exec(e.message)?.[1] ?? '';
  const flag = quoted.split(' ')[0] ?? quoted;
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown flag ${flag}`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${flag}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (e.message.includes('does not take an argument')) return `${flag} takes no value`;
      // `--tolerance -3`: parseArgs takes -3 for a flag
      return e.message.includes('ambiguous') ? `${flag} needs a value (one starting with - is written ${flag}=VALUE)` : `${flag} needs a value`;
    default:
      return e.message.split('\n')[0] ?? e.message;
  }
}

/** A whole number from `min` to `max` given as `name`, or undefined when not given; throws UsageError. */
export function wholeNumber(value: string | boolean | undefined, name: string, min: number, max: number): number | undefined {
  if (typeof value !== 'string') return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new UsageError(`${name} must be a whole number from ${min} to ${max}, got "${value}"`);
  }
  return Number(value);
}
