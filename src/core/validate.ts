/**
 * Input checks shared by every entry point. Each throws a KairosValidationError that says what was
 * expected and what was given, before anything is written.
 */
import { KairosValidationError, describeValue } from './errors.js';

const NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.:\-/@ ]*$/;

/** What a name may be, in the words every refusal uses. */
export const NAME_RULE = '1-200 characters of letters, digits, spaces and _ . : - / @ (not starting with a symbol or space)';

/**
 * The name rule of tasks, jobs, queues, labels and node names: {@link NAME_RULE}. The one copy in
 * TypeScript (the API, the YAML configuration and alert rules use it); the SQL API's
 * `api_check_name` is the other, in the database, and test/core/name-rule.test.ts holds the two
 * to the same answers on random strings.
 */
export function isName(value: string): boolean {
  return value.length > 0 && value.length <= 200 && NAME_PATTERN.test(value) && value.trim() === value;
}

/** Check a task, job or queue name ({@link isName}). */
export function assertName(value: unknown, field: string): string {
  // Say "lone surrogate" or "NUL" rather than only "letters, digits…": the likelier mistake.
  if (typeof value === 'string') assertText(value, field);
  if (typeof value !== 'string' || !isName(value)) {
    throw new KairosValidationError(field, `Expected \`${field}\` to be ${NAME_RULE}, got ${describeValue(value)}`);
  }
  return value;
}

/** True when `value` reaches PostgreSQL unchanged (see {@link assertText}). */
function isStorableText(value: string): boolean {
  return !value.includes('\u0000') && value.isWellFormed();
}

/**
 * Check that a string reaches PostgreSQL exactly as given: no NUL (text and jsonb cannot store
 * it) and no lone surrogate (node-postgres would send U+FFFD in its place, so two different
 * strings would be stored as one, e.g. the keys 'a\uD800' and 'a\uFFFD'). The one owner of this
 * rule: payload strings, keys, names, queues, tags and lock names all go through it.
 */
export function assertText(value: string, field: string): string {
  if (isStorableText(value)) return value;
  if (value.includes('\u0000')) {
    throw new KairosValidationError(field, `Expected \`${field}\` to contain no NUL (\\u0000) characters (PostgreSQL cannot store them), got a string with one`);
  }
  throw new KairosValidationError(field, `Expected \`${field}\` to be valid Unicode, got a string with a lone surrogate (invalid UTF-16)`);
}

/**
 * Check an optional job key (dedup key): a non-empty string of at most 500 characters that
 * PostgreSQL stores unchanged (see {@link assertText}).
 */
export function assertKey(value: unknown, field = 'key'): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value.length === 0 || value.length > 500) {
    throw new KairosValidationError(field, `Expected \`${field}\` to be a non-empty string of at most 500 characters, got ${describeValue(value)}`);
  }
  return assertText(value, field);
}

/** Check an integer within bounds. */
export function assertInteger(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new KairosValidationError(field, `Expected \`${field}\` to be an integer from ${min} to ${max}, got ${describeValue(value)}`);
  }
  return value;
}

/** Check a Date (or ISO string) and return a Date. Years 1–9999 only, as PostgreSQL stores them. */
export function assertDate(value: unknown, field: string): Date {
  const date = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : undefined;
  if (!date || Number.isNaN(date.getTime()) || date.getUTCFullYear() < 1 || date.getUTCFullYear() > 9999) {
    throw new KairosValidationError(field, `Expected \`${field}\` to be a valid Date or ISO 8601 string between years 1 and 9999, got ${describeValue(value)}`);
  }
  return date;
}

/** Check that `value` is one of `allowed`. */
export function assertOneOf<T extends string>(value: unknown, field: string, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new KairosValidationError(field, `Expected \`${field}\` to be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${describeValue(value)}`);
  }
  return value as T;
}

/**
 * The known key `name` most likely meant, or undefined: the same key in another spelling
 * (`pollInterval` for `poll_interval`, `timeZone` for `timezone`), else the nearest within two
 * edits (one for names of up to three characters), a swap of two neighbours counting as one.
 */
export function closestKey(name: string, known: readonly string[]): string | undefined {
  const plain = (key: string): string => key.replace(/[_-]/g, '').toLowerCase();
  const same = known.find((k) => plain(k) === plain(name));
  if (same !== undefined) return same;
  const limit = name.length <= 3 ? 1 : 2;
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const key of known) {
    const d = editDistance(key, name);
    if (d < bestDistance) [best, bestDistance] = [key, d];
  }
  return best;
}

/** `; did you mean \`x\`?` for the key `name` most likely meant, else `; known <noun>: a, b, …`. */
export function didYouMean(name: string, known: readonly string[], noun = 'options'): string {
  const close = closestKey(name, known);
  return close !== undefined ? `; did you mean \`${close}\`?` : `; known ${noun}: ${known.join(', ')}`;
}

/**
 * Refuse an options object with a key that is not one of `known` (e.g. `schedule({ evrey: '1m' })`,
 * which would otherwise store a job that never fires). `known` is a `{ key: true }` record written
 * `satisfies Record<keyof TheOptions, true>`, so that an option added to the interface and not
 * to the record fails the type-check. `where` names the call (`schedule()`); `prefix` is put
 * before the key in the error's field (`items[2].`, `retention.`). Inherited keys are not looked
 * at, as the options are read by name. Non-objects pass: the caller's own check refuses them.
 */
export function assertKnownKeys(value: unknown, known: Readonly<Record<string, true>>, where: string, prefix = ''): void {
  if (value === null || typeof value !== 'object') return;
  for (const key of Object.keys(value)) {
    if (Object.hasOwn(known, key)) continue;
    const field = `${prefix}${key}`;
    throw new KairosValidationError(field, `Unknown option \`${field}\` of ${where}${didYouMean(key, Object.keys(known))}`);
  }
}

/** Optimal string alignment distance (Levenshtein plus swaps of neighbours), for typo suggestions. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i += 1) {
    for (let j = 1; j <= b.length; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** Largest payload accepted, in bytes of JSON. */
export const MAX_PAYLOAD_BYTES = 1024 * 1024;
const MAX_PAYLOAD_DEPTH = 100;

/**
 * Check that a payload survives a trip through jsonb unchanged: plain JSON values only (no
 * undefined, functions, symbols, bigints, non-finite numbers, Dates or class instances), no NUL
 * characters (jsonb cannot store them), no lone surrogates, nesting at most 100 deep, at most 1 MiB.
 * Returns the JSON text to store.
 */
export function serializePayload(value: unknown, field = 'payload', maxBytes = MAX_PAYLOAD_BYTES): string {
  // The quick walk allocates nothing; only a payload it refuses gets the walk that names the path.
  if (!isPlainJson(value, 0)) {
    checkJsonValue(value, field, 0, new Set());
    throw new KairosValidationError(field, `Expected \`${field}\` to be a plain JSON value`);
  }
  const text = JSON.stringify(value);
  // A UTF-16 code unit is at most 3 bytes of UTF-8: most payloads need no byte count.
  const bytes = text.length * 3 <= maxBytes ? 0 : Buffer.byteLength(text, 'utf8');
  if (bytes > maxBytes) {
    throw new KairosValidationError(field, `Expected \`${field}\` to be at most ${maxBytes} bytes of JSON, got ${bytes} bytes`);
  }
  return text;
}

/** True when `value` passes every check of checkJsonValue (which says what is wrong when not). */
function isPlainJson(value: unknown, depth: number): boolean {
  // Deeper than allowed, or circular (which never ends): the slow walk tells which.
  if (depth > MAX_PAYLOAD_DEPTH) return false;
  switch (typeof value) {
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'string':
      return isStorableText(value);
    case 'object': {
      if (value === null) return true;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          const item: unknown = value[i];
          // A hole of a sparse array is skipped, as the precise walk (forEach) skips it.
          if (item === undefined && !(i in value)) continue;
          if (!isPlainJson(item, depth + 1)) return false;
        }
        return true;
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) return false;
      const record = value as Record<string, unknown>;
      for (const key of Object.keys(record)) {
        const item = record[key];
        if (!isStorableText(key) || (item !== undefined && !isPlainJson(item, depth + 1))) return false;
      }
      return true;
    }
    default:
      return false;
  }
}


function checkJsonValue(value: unknown, path: string, depth: number, seen: Set<object>): void {
  if (depth > MAX_PAYLOAD_DEPTH) {
    throw new KairosValidationError(path, `Expected \`payload\` to be nested at most ${MAX_PAYLOAD_DEPTH} levels deep, got deeper at \`${path}\``);
  }
  if (value === null || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new KairosValidationError(path, `Expected \`${path}\` to be a finite number (JSON has no NaN or Infinity), got ${String(value)}`);
    return;
  }
  if (typeof value === 'string') {
    assertText(value, path);
    return;
  }
  if (typeof value !== 'object') {
    throw new KairosValidationError(path, `Expected \`${path}\` to be a JSON value, got ${describeValue(value)} (${typeof value})`);
  }
  if (seen.has(value)) throw new KairosValidationError(path, `Expected \`${path}\` to be JSON, got a circular reference`);
  seen.add(value);
  if (Array.isArray(value)) {
    value.forEach((item, i) => checkJsonValue(item, `${path}[${i}]`, depth + 1, seen));
  } else {
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) {
      throw new KairosValidationError(path, `Expected \`${path}\` to be a plain object, array or JSON primitive, got an instance of ${(value as object).constructor?.name ?? 'a class'} (convert Dates to ISO strings)`);
    }
    for (const [key, item] of Object.entries(value)) {
      assertText(key, `${path} key`);
      if (item === undefined) continue; // JSON.stringify drops it, as users expect
      checkJsonValue(item, `${path}.${key}`, depth + 1, seen);
    }
  }
  seen.delete(value);
}
