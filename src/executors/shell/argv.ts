/**
 * From a shell job's command to what to spawn. The command line is split into argv the way a
 * POSIX shell would for a plain command: quotes and backslashes only. Anything a shell would give
 * another meaning (pipes, redirections, command separators, expansions, comments) is refused
 * rather than passed on literally, because a job that silently runs `grep x | wc` as `grep` with
 * the arguments `x`, `|` and `wc` is worse than one that does not start. Globs (`* ? [`) and `~`
 * are passed literally, as a shell does when nothing matches; that keeps URLs such as
 * `https://x/?a=1` usable without quotes.
 */
import { KairosValidationError, describeValue } from '../../core/errors.js';
import { parseDuration } from '../../core/duration.js';

/** What to run and how; see `runShell` in spawn.ts. */
export interface ShellCommand {
  /** The command line: split into argv (see `splitArgv`), or given to `/bin/sh -c` when `shell`. */
  command: string;
  /** Run through `/bin/sh -c` (pipes, redirections, variables). Default false. */
  shell?: boolean;
  /** Added to the minimal environment (PATH, HOME, LANG, TZ of the agent), overriding it. */
  env?: Record<string, string>;
  /** Working directory; default the agent's. */
  cwd?: string;
  /** Stop the command after this long: SIGTERM to its process group, SIGKILL after `killGraceMs`. */
  timeoutMs?: number;
  /** Time between SIGTERM and SIGKILL. Default 5000. */
  killGraceMs?: number;
  /** Aborting stops the command as a timeout does; the reason is returned as `abortReason`. */
  signal?: AbortSignal;
  /** Bytes kept of the end of each of stdout and stderr. Default 64 KiB. */
  maxOutputBytes?: number;
  /** Written to the command's standard input, which is then closed; without it, stdin is /dev/null. */
  stdin?: string;
}

/** A checked {@link ShellCommand}: the program, its arguments and environment, and the limits. */
export interface SpawnPlan {
  file: string;
  args: string[];
  env: Record<string, string>;
  cwd: string | undefined;
  timeoutMs: number | undefined;
  killGraceMs: number;
  signal: AbortSignal | undefined;
  maxOutputBytes: number;
  stdin: string | undefined;
}

const DEFAULT_KILL_GRACE_MS = 5000;
const DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024;
/** setTimeout fires at once for anything longer (with a warning), so longer waits are refused. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** What the command inherits from the agent; nothing else, so DATABASE_URL, PGPASSWORD … stay out. */
const INHERITED_ENV = ['PATH', 'HOME', 'LANG', 'TZ'] as const;
/** A command without PATH finds nothing; this is the usual default of login shells. */
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Spaces and tabs end a word. A carriage return does too, unlike in a shell, so that a command
 * saved with CRLF line endings does not pass `\r` as the end of its last argument. A newline
 * separates commands and is handled in {@link splitArgv}.
 */
const BLANKS = new Set([' ', '\t', '\r']);
/** Unquoted, these are shell operators. */
const OPERATORS = new Set(['|', '&', ';', '<', '>', '(', ')']);
/** After `$`, these start an expansion: `$(…)`, `${…}`, `$NAME`, `$1`, `$@`, `$?` … */
const EXPANSION_START = /^[A-Za-z0-9_({@*#?$!-]$/;
/** Inside double quotes, a backslash escapes only these (POSIX); before anything else it is kept. */
const DOUBLE_QUOTE_ESCAPABLE = new Set(['$', '`', '"', '\\', '\n']);
const SHELL_HINT = 'set `shell: true` to run the command through /bin/sh, or use';

/**
 * Check every option of `cmd` and turn it into a {@link SpawnPlan}: argv from {@link splitArgv} (or
 * `/bin/sh -c command` when `shell`), the environment (PATH, HOME, LANG, TZ of the agent, PATH
 * defaulted, then `cmd.env`), durations through `parseDuration`, and the defaults.
 *
 * @throws {KairosValidationError} naming the option that is wrong.
 */
export function planCommand(cmd: ShellCommand): SpawnPlan {
  if (typeof cmd !== 'object' || cmd === null) throw invalid('command', 'an object with a `command` string', cmd);
  const { command, shell = false, env = {}, cwd, stdin, signal } = cmd;
  if (typeof shell !== 'boolean') throw invalid('shell', 'a boolean', shell);
  if (shell && (typeof command !== 'string' || command.trim() === '' || command.includes('\u0000'))) {
    throw invalid('command', 'a non-empty command line without NUL bytes', command);
  }
  const argv = shell ? ['/bin/sh', '-c', command] : splitArgv(command);
  if (typeof env !== 'object' || env === null || Array.isArray(env)) throw invalid('env', 'an object of strings', env);
  for (const [name, value] of Object.entries(env)) {
    if (!/^[^=\0]+$/.test(name)) throw invalid('env', 'variable names without `=` or NUL', name);
    if (typeof value !== 'string' || value.includes('\u0000')) throw invalid(`env.${name}`, 'a string without NUL bytes', value);
  }
  if (cwd !== undefined && (typeof cwd !== 'string' || cwd === '' || cwd.includes('\u0000'))) throw invalid('cwd', 'a directory path', cwd);
  if (stdin !== undefined && typeof stdin !== 'string') throw invalid('stdin', 'a string', stdin);
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalid('signal', 'an AbortSignal', signal);
  const maxOutputBytes = cmd.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  if (!Number.isSafeInteger(maxOutputBytes) || maxOutputBytes < 0 || maxOutputBytes > 2 ** 30) {
    throw invalid('maxOutputBytes', 'an integer from 0 to 1073741824', maxOutputBytes);
  }
  if (argv.length === 0 || argv[0] === '') throw invalid('command', 'a command line whose first word names a program', command);
  const inherited: Record<string, string> = { PATH: DEFAULT_PATH };
  for (const name of INHERITED_ENV) {
    const value = process.env[name];
    if (value !== undefined) inherited[name] = value;
  }
  return {
    file: argv[0] as string,
    args: argv.slice(1),
    env: { ...inherited, ...env },
    cwd,
    timeoutMs: cmd.timeoutMs === undefined ? undefined : parseDuration(cmd.timeoutMs, 'timeoutMs', { maxMs: MAX_TIMER_MS }),
    killGraceMs: parseDuration(cmd.killGraceMs ?? DEFAULT_KILL_GRACE_MS, 'killGraceMs', { minMs: 0, maxMs: MAX_TIMER_MS }),
    signal,
    maxOutputBytes,
    stdin,
  };
}

function invalid(field: string, expected: string, value: unknown): KairosValidationError {
  return new KairosValidationError(field, `Expected \`${field}\` to be ${expected}, got ${describeValue(value)}`);
}

/**
 * Split `command` into an argv array with POSIX-shell quoting: `'…'` keeps everything literally,
 * `"…"` keeps everything but `\$ \` \" \\` escapes, an unquoted backslash escapes the next
 * character, backslash-newline continues the line, `''` and `""` make empty arguments, and adjacent
 * pieces join into one word (`a'b'"c"` is `abc`). Words are separated by spaces and tabs.
 *
 * @throws {KairosValidationError} (field `command`) for an empty command, a NUL byte, an unclosed
 * quote, a trailing backslash, or shell syntax this splitter does not interpret — unquoted
 * `| & ; < > ( )`, a newline between words, `#` starting a word, backquotes, and `$` expansions
 * (also inside double quotes, where a shell would expand them); the message says to set
 * `shell: true`.
 */
export function splitArgv(command: string): string[] {
  if (typeof command !== 'string' || command.trim() === '' || command.includes('\u0000')) {
    throw new KairosValidationError('command', `Expected \`command\` to be a non-empty command line without NUL bytes, got ${describeValue(command)}`);
  }
  const words: string[] = [];
  let word = '';
  // True once the current word has begun, even if it is still empty: `''` is an argument.
  let started = false;
  let pendingNewline = -1;
  const end = (): void => {
    if (started) words.push(word);
    word = '';
    started = false;
  };
  let i = 0;
  while (i < command.length) {
    const c = command[i] as string;
    if (BLANKS.has(c) || c === '\n') {
      // A newline between two words would start a second command in a shell; leading and trailing
      // newlines (a YAML block scalar ends with one) are harmless, so only refuse it when a word follows.
      if (c === '\n' && words.length + (started ? 1 : 0) > 0 && pendingNewline < 0) pendingNewline = i;
      end();
      i += 1;
      continue;
    }
    if (pendingNewline >= 0) refuseSyntax(command, pendingNewline, 'newline (a second command)');
    if (c === "'") {
      const close = command.indexOf("'", i + 1);
      if (close < 0) refuseUnclosed(command, i, "'");
      word += command.slice(i + 1, close);
      started = true;
      i = close + 1;
    } else if (c === '"') {
      const [text, next] = readDoubleQuoted(command, i);
      word += text;
      started = true;
      i = next;
    } else if (c === '\\') {
      if (i + 1 >= command.length) refuse(command, `a trailing backslash at column ${i + 1} escapes nothing`);
      if (command[i + 1] === '\n') {
        i += 2; // line continuation: the backslash and the newline disappear
        continue;
      }
      const escaped = String.fromCodePoint(command.codePointAt(i + 1) as number);
      word += escaped;
      started = true;
      i += 1 + escaped.length;
    } else {
      checkUnquoted(command, i, started);
      word += c;
      started = true;
      i += 1;
    }
  }
  end();
  return words;
}

/** Read `"…"` starting at the opening quote; returns the text and the index after the closing quote. */
function readDoubleQuoted(command: string, open: number): [string, number] {
  let text = '';
  let i = open + 1;
  while (i < command.length) {
    const c = command[i] as string;
    if (c === '"') return [text, i + 1];
    if (c === '\\' && i + 1 < command.length && DOUBLE_QUOTE_ESCAPABLE.has(command[i + 1] as string)) {
      if (command[i + 1] !== '\n') text += command[i + 1];
      i += 2;
      continue;
    }
    if (c === '`' || (c === '$' && EXPANSION_START.test(command[i + 1] ?? ''))) {
      const what = c === '`' ? 'backquote' : `\`$${command[i + 1]}\` expansion`;
      refuse(command, `${what} inside double quotes at column ${i + 1} (this splitter does not expand it); ${SHELL_HINT} single quotes or a backslash to make it literal`);
    }
    text += c;
    i += 1;
  }
  return refuseUnclosed(command, open, '"');
}

/** Refuse an unquoted character that a shell would treat as syntax. */
function checkUnquoted(command: string, i: number, inWord: boolean): void {
  const c = command[i] as string;
  if (OPERATORS.has(c)) refuseSyntax(command, i, `\`${c}\``);
  if (c === '`') refuseSyntax(command, i, 'backquote');
  if (c === '$' && EXPANSION_START.test(command[i + 1] ?? '')) refuseSyntax(command, i, `\`$${command[i + 1]}\` expansion`);
  if (c === '#' && !inWord) refuseSyntax(command, i, '`#` (a shell comment)');
}

function refuseSyntax(command: string, index: number, what: string): never {
  return refuse(command, `unquoted ${what} at column ${index + 1}; ${SHELL_HINT} quotes to make it literal`);
}

function refuseUnclosed(command: string, index: number, quote: string): never {
  return refuse(command, `the ${quote} opened at column ${index + 1} is never closed`);
}

function refuse(command: string, detail: string): never {
  throw new KairosValidationError(
    'command',
    `Expected \`command\` to be a plain command line (quotes and backslashes only), got ${describeValue(command)}: ${detail}`,
  );
}
