/**
 * Wraps the runtime's fetch so that every request it makes — manifest, keys, artifacts, reference
 * profiles, telemetry — carries no cookies or HTTP credentials and no `Referer`: the server learns
 * nothing the runtime does not put in the request itself (which page, which user session).
 */
export function privateFetch(fetchImpl: typeof fetch): typeof fetch {
  return function privateRequest(input: RequestInfo | URL, init?: RequestInit) {
    return fetchImpl(input, { ...init, credentials: 'omit', referrerPolicy: 'no-referrer' });
  };
}
