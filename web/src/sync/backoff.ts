/**
 * Reconnect timing. Full jitter ("Exponential Backoff and Jitter", AWS Architecture Blog): the
 * delay is uniform in [0, min(cap, base * 2^attempt)), so thousands of clients dropped at the same
 * moment (a deploy, a network blip) spread their reconnects instead of stampeding the gateway
 * (FM-1.6).
 */
export interface BackoffPolicy {
  /** Upper bound of the first retry's delay. */
  readonly baseMs: number;
  /** Upper bound of any retry's delay. */
  readonly capMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 500, capMs: 30_000 };

/** API Gateway closes every WebSocket after 2 hours, whatever its traffic. */
export const API_GATEWAY_MAX_CONNECTION_MS = 2 * 60 * 60 * 1000;

export function fullJitterDelay(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, Math.min(attempt, 30)));
  return Math.floor(random() * ceiling);
}

/**
 * When to reconnect on purpose, before the gateway's maximum connection age cuts the socket
 * mid-edit: somewhere between 85 % and 95 % of the maximum age (102 to 114 minutes for API
 * Gateway), jittered so a room that connected together does not reconnect together.
 */
export function plannedReconnectDelay(maxConnectionMs: number = API_GATEWAY_MAX_CONNECTION_MS, random: () => number = Math.random): number {
  return Math.floor(maxConnectionMs * (0.85 + 0.1 * random()));
}
