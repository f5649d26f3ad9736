/**
 * Keeping secrets out of logs and messages: the one place that knows where a URL carries them.
 * In core so every layer (store, observability, the CLI and the dashboard) can use it.
 */

/**
 * A connection string with its password replaced by `***`, wherever it is given: in the user info
 * (`postgres://u:pw@host`) or in a parameter whose name contains "pass" (`?password=pw`). Strings
 * that do not parse as URLs (libpq's `key=value` form) are masked by pattern instead.
 */
export function redactConnectionString(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    for (const name of [...parsed.searchParams.keys()]) if (/pass/i.test(name)) parsed.searchParams.set(name, '***');
    return parsed.toString();
  } catch {
    return url.replace(/(^|\/\/)([^:@/\s]*):[^@/\s]*@/, '$1$2:***@').replace(/(\w*pass\w*=)[^&\s]*/gi, '$1***');
  }
}

/** Scheme, host and port of a URL, the part safe to log (tokens travel in paths); undefined when it does not parse. */
export function urlOrigin(url: string): string | undefined {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

/** The password in a URL's user info, decoded (empty when none or unparsable), so it can be scrubbed from output. */
export function urlPassword(url: string | undefined): string {
  try {
    return url ? decodeURIComponent(new URL(url).password) : '';
  } catch {
    return '';
  }
}
