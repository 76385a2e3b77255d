import { toHex, type ReferenceProfileRef } from '@edgeloop/protocol';
import { ReferenceProfile } from '@edgeloop/telemetry';
import { RuntimeError } from '../errors.js';

/**
 * Fetches the reference profile a signed release names (`release.profile`: id, sha256, length,
 * url relative to the server's base URL) and returns it only if its bytes are exactly `length` long
 * and hash to `sha256`: the profile decides what a device summarises, so a server (or anyone on
 * the path) cannot hand a device another one than the release was signed with.
 * Throws RuntimeError `network` (unreachable, 5xx: try again later), `server` (another status, or
 * bytes that match but are no valid profile of that id) or `integrity` (length or sha256 mismatch).
 */
export async function fetchSignedProfile(ref: ReferenceProfileRef, baseUrl: URL, fetchImpl: typeof fetch): Promise<ReferenceProfile> {
  const url = new URL(ref.url, baseUrl).href;
  let response: Response;
  try {
    response = await fetchImpl(url, { credentials: 'omit', referrerPolicy: 'no-referrer' });
  } catch (error) {
    throw new RuntimeError('network', `could not fetch the reference profile ${ref.id} from ${url}: ${(error as Error).message}`, { cause: error });
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    throw new RuntimeError(response.status >= 500 ? 'network' : 'server', `GET ${url} answered ${response.status}; expected reference profile ${ref.id}`);
  }
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > ref.length) {
    await response.body.cancel();
    throw new RuntimeError('integrity', `${url} announces ${declared} bytes but the signed release states ${ref.length}; the profile was not used`);
  }
  const bytes = new Uint8Array(ref.length);
  let received = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (received + value.byteLength > ref.length) {
      await reader.cancel();
      throw new RuntimeError('integrity', `${url} sent more than the ${ref.length} bytes the signed release states; the profile was not used`);
    }
    bytes.set(value, received);
    received += value.byteLength;
  }
  if (received !== ref.length) {
    throw new RuntimeError('integrity', `${url} sent ${received} bytes but the signed release states ${ref.length}; the profile was not used`);
  }
  const digest = toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)));
  if (digest !== ref.sha256) {
    throw new RuntimeError('integrity', `sha256 mismatch for ${url}: the signed release says ${ref.sha256}, the bytes hash to ${digest}; the profile was not used`, {
      details: { expected: ref.sha256, actual: digest },
    });
  }
  let profile: ReferenceProfile;
  try {
    profile = ReferenceProfile.fromJSON(JSON.parse(new TextDecoder().decode(bytes)));
  } catch (error) {
    throw new RuntimeError('server', `the reference profile at ${url} matches its signed hash but is not a valid profile: ${(error as Error).message}`, { cause: error });
  }
  if (profile.id !== ref.id) throw new RuntimeError('server', `the reference profile at ${url} is "${profile.id}" but the signed release names "${ref.id}"`);
  return profile;
}

/** Verified profiles by sha256, for this runtime's life; a failed fetch is not remembered (tried again at the next load). */
export class ProfileCache {
  readonly #profiles = new Map<string, Promise<ReferenceProfile>>();
  readonly #baseUrl: URL;
  readonly #fetch: typeof fetch;

  constructor(baseUrl: URL, fetchImpl: typeof fetch) {
    this.#baseUrl = baseUrl;
    this.#fetch = fetchImpl;
  }

  get(ref: ReferenceProfileRef): Promise<ReferenceProfile> {
    let profile = this.#profiles.get(ref.sha256);
    if (!profile) {
      profile = fetchSignedProfile(ref, this.#baseUrl, this.#fetch);
      this.#profiles.set(ref.sha256, profile);
      profile.catch(() => this.#profiles.delete(ref.sha256));
    }
    return profile;
  }
}
