/**
 * How long to wait before trying again, for REST retries and socket reconnections: the
 * same rule as `client/backoff.py`.
 * @module
 */

/** Exponential, capped, with full jitter. */
export class Backoff {
  /**
   * Full jitter (a uniform draw between zero and the exponential bound) keeps a crowd of
   * clients that lost the same server from all coming back at the same instant.
   *
   * @param {{base?: number, cap?: number, factor?: number}} [options] `base`: the bound after
   *   the first failure, in milliseconds (100); `cap`: the largest bound (5000); `factor`: how
   *   much the bound grows after each further failure (2)
   */
  constructor({ base = 100, cap = 5000, factor = 2 } = {}) {
    if (!(base >= 0 && cap >= 0 && factor >= 1)) {
      throw new RangeError("a back-off needs base >= 0, cap >= 0 and factor >= 1");
    }
    /** @readonly */
    this.base = base;
    /** @readonly */
    this.cap = cap;
    /** @readonly */
    this.factor = factor;
  }

  /**
   * Milliseconds to wait before retry number `attempt` (counting from 0).
   * @param {number} attempt
   * @returns {number}
   */
  delay(attempt) {
    const bound = Math.min(this.cap, this.base * this.factor ** Math.min(attempt, 64));
    return Math.random() * bound;
  }
}

/**
 * Wait `ms` milliseconds, or less if `signal` aborts first (then resolve early, not reject:
 * whoever aborted knows why, and the waiter only needs to wake).
 * @param {number} ms
 * @param {AbortSignal} [signal]
 * @returns {Promise<void>}
 */
export function sleep(ms, signal) {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
