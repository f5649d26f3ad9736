/**
 * Reading a dashboard request's input without trusting it. The body is read up to a limit and the
 * rest thrown away before anyone answers, so that a client still sending reads the answer rather
 * than a reset connection; forms, queries and paths are decoded strictly (bad percent-encoding,
 * invalid UTF-8 or a NUL is refused, not guessed at); cookies are parsed without ever throwing.
 * Every refusal is a KairosValidationError, which the dashboard answers with a 4xx.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { KairosValidationError, describeValue } from '../core/errors.js';
import { assertText } from '../core/validate.js';

/**
 * Largest body the dashboard reads. Its biggest form, a job with a long SQL command or a task
 * payload, is a few KiB; 256 KiB leaves room for generous ones and keeps a flood of requests cheap.
 */
export const MAX_FORM_BYTES = 256 * 1024;

/**
 * Past the limit, how much more is read (and thrown away) before the connection is cut: enough for
 * a browser's oversized upload to end so it shows the 413; a client sending more gets cut off.
 */
export const MAX_DISCARD_BYTES = 8 * 1024 * 1024;

/** Input refused with a status other than 400: 413 (too large) or 415 (not a form). */
export class RequestRefused extends KairosValidationError {
  constructor(readonly status: number, field: string, message: string) {
    super(field, message);
  }
}

const FORM_TYPE = 'application/x-www-form-urlencoded';
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Whether the request carries a body (a length above 0, or chunks). */
export function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/** Refuse a body that is not a form (checked before reading it). */
export function checkFormType(req: IncomingMessage): void {
  if (!hasBody(req)) return;
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== FORM_TYPE) throw new RequestRefused(415, 'Content-Type', `Expected \`Content-Type\` to be ${FORM_TYPE}, got ${describeValue(req.headers['content-type'] ?? '')}`);
}

function tooLarge(bytes: number | null): RequestRefused {
  return new RequestRefused(413, 'body', `Expected a request body of at most ${MAX_FORM_BYTES} bytes, got ${bytes === null ? 'more' : `${bytes} bytes`}`);
}

/**
 * Read the whole body: kept when `keep` (at most MAX_FORM_BYTES, else 413 once it has ended),
 * thrown away otherwise. A body past the limit by more than MAX_DISCARD_BYTES (or declared so) is
 * not read further: 413 at once, and the answer closes the connection.
 */
export function consumeBody(req: IncomingMessage, res: ServerResponse, keep: boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const stop = (): void => {
      res.setHeader('Connection', 'close');
      req.removeAllListeners('data');
      req.pause();
      reject(tooLarge(null));
    };
    if (Number(req.headers['content-length'] ?? 0) > MAX_FORM_BYTES + MAX_DISCARD_BYTES) return stop();
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_FORM_BYTES + MAX_DISCARD_BYTES) stop();
      else if (keep && size <= MAX_FORM_BYTES) chunks.push(chunk);
    });
    req.once('end', () => (keep && size > MAX_FORM_BYTES ? reject(tooLarge(size)) : resolve(Buffer.concat(chunks))));
    req.once('error', reject);
    // A client that goes away mid-body ends nothing: settle anyway (the answer goes nowhere).
    req.once('close', () => reject(new KairosValidationError('body', 'Expected a complete request body, got a closed connection')));
    req.resume();
  });
}

/** Percent-decode one part of a form, query or path; bad escapes and NULs are refused. */
function decodePart(text: string, what: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(text);
  } catch {
    throw new KairosValidationError(what, `Expected the \`${what}\` to be percent-encoded UTF-8, got malformed percent-encoding in ${describeValue(text)}`);
  }
  return assertText(decoded, what);
}

/** Parse application/x-www-form-urlencoded text (a body or a query string) strictly. */
export function parseForm(input: Buffer | string, what: 'form' | 'query'): URLSearchParams {
  let text: string;
  try {
    text = typeof input === 'string' ? input : STRICT_UTF8.decode(input);
  } catch {
    throw new KairosValidationError(what, `Expected the \`${what}\` to be UTF-8, got invalid bytes`);
  }
  const params = new URLSearchParams();
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const [key, value] = eq < 0 ? [pair, ''] : [pair.slice(0, eq), pair.slice(eq + 1)];
    params.append(decodePart(key.replace(/\+/g, ' '), what), decodePart(value.replace(/\+/g, ' '), what));
  }
  return params;
}

/** Check that a URL path decodes (the routes match it encoded; a path that cannot decode is bad input). */
export function checkPath(path: string): void {
  decodePart(path, 'path');
}

/** Parse the Cookie header. A cookie that cannot be decoded is left out: one we cannot read is one we do not have. */
export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    try {
      out[part.slice(0, eq).trim()] = decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      // Malformed percent-encoding: ignored, as if the browser had not sent it.
    }
  }
  return out;
}
