/**
 * Signed webhook delivery: an HTTP POST of a JSON body, signed with HMAC-SHA256 over
 * `${timestamp}.${body}` with a shared secret, retried with exponential backoff a bounded number of
 * times, each try bounded by a timeout. The secret and the URL's path and query (chat webhooks
 * carry tokens there) are never logged.
 */
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Logger } from '../core/logger.js';
import { urlOrigin } from '../core/redact.js';

/** Header names of a Kairos webhook request. */
export const WEBHOOK_HEADERS = {
  /** Unix time in seconds when this try was sent (part of the signed text). */
  timestamp: 'x-kairos-timestamp',
  /** `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`. */
  signature: 'x-kairos-signature',
  /** Same id on every try of one alert, so a receiver can drop duplicates. */
  delivery: 'x-kairos-delivery',
  /** The alert event (failed, disabled, late, expired, missed, broken). */
  event: 'x-kairos-event',
} as const;

/** One webhook delivery. */
export interface WebhookRequest {
  url: string;
  secret: string;
  /** JSON-serialisable body. */
  body: unknown;
  event: string;
  /** Retries after the first try. @default 3 */
  retries?: number;
  /** Timeout of each try, ms. @default 5000 */
  timeoutMs?: number;
  /** First backoff delay, ms; doubles each retry, capped at 60 s. @default 1000 */
  backoffMs?: number;
}

/** The signature header value for `body` sent at `timestamp` (Unix seconds). */
export function signWebhook(secret: string, timestamp: number | string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * Check a received webhook: the signature matches and the timestamp is within `toleranceSec` of
 * now (refuses replays of old requests). For receivers written in Node.
 */
export function verifyWebhook(secret: string, headers: { timestamp?: string | null; signature?: string | null }, body: string, toleranceSec = 300, nowMs = Date.now()): boolean {
  const { timestamp, signature } = headers;
  if (!timestamp || !signature || !/^\d+$/.test(timestamp)) return false;
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > toleranceSec) return false;
  const expected = Buffer.from(signWebhook(secret, timestamp, body));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** The part of a URL that is safe to log: scheme, host and port. */
export function loggableUrl(url: string): string {
  return urlOrigin(url) ?? '(invalid URL)';
}

/** Whether a response status is worth another try (server trouble, rate limits, timeouts). */
function retryable(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

/**
 * Deliver one webhook; resolves true once a 2xx answer arrives, false when every try failed or a
 * non-retryable status (e.g. 400, 401) came back. Never throws.
 */
export async function sendWebhook(request: WebhookRequest, logger: Logger): Promise<boolean> {
  const body = JSON.stringify(request.body);
  const retries = request.retries ?? 3;
  const delivery = randomUUID();
  const where = loggableUrl(request.url);
  for (let attempt = 0; attempt <= retries; attempt++) {
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min((request.backoffMs ?? 1000) * 2 ** (attempt - 1), 60_000)));
    const timestamp = Math.floor(Date.now() / 1000);
    let status = 0;
    let problem = '';
    try {
      const response = await fetch(request.url, {
        method: 'POST',
        body,
        redirect: 'error',
        signal: AbortSignal.timeout(request.timeoutMs ?? 5000),
        headers: {
          'content-type': 'application/json',
          'user-agent': 'kairos-alerts',
          [WEBHOOK_HEADERS.timestamp]: String(timestamp),
          [WEBHOOK_HEADERS.signature]: signWebhook(request.secret, timestamp, body),
          [WEBHOOK_HEADERS.delivery]: delivery,
          [WEBHOOK_HEADERS.event]: request.event,
        },
      });
      await response.arrayBuffer().catch(() => undefined); // free the connection
      status = response.status;
      if (response.ok) return true;
      problem = `HTTP ${status}`;
    } catch (error) {
      problem = error instanceof Error ? (error.name === 'TimeoutError' ? `timed out after ${request.timeoutMs ?? 5000} ms` : error.message) : String(error);
    }
    const again = attempt < retries && (status === 0 || retryable(status));
    logger.warn({ webhook: where, delivery, attempt: attempt + 1, problem }, again ? 'alert webhook failed; retrying' : 'alert webhook failed; giving up');
    if (!again) return false;
  }
  return false;
}
