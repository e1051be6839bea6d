/**
 * What a subscription keeps between runs, in a store the caller gives (`localStorage` in the
 * console, a `MemoryStore` in Node and tests): the browser's counterpart of the Python client's
 * resume file (`client/resume.py`). One entry per server and channel:
 *
 *     {"after": 41,
 *      "audit": {"log_key": "hotline.localhost+1a2b3c4d+AW…",
 *                "checkpoint": "<the last signed checkpoint verified>",
 *                "range": {"size": 41, "hashes": ["…"]}}}
 *
 * `after` is the last event handled; `audit` is what was verified: the log's key (so a later
 * change of key is noticed, not trusted afresh), the last checkpoint, and the compact range
 * of the events handled.
 * @module
 */

import { HotlineError } from "./errors.js";

/**
 * Anything with `getItem` and `setItem` as `localStorage` has them.
 * @typedef {{getItem(key: string): string | null, setItem(key: string, value: string): void}} Store
 */

/**
 * @typedef {object} AuditState
 * @property {string} [log_key] the log's verifier key the checkpoint was verified with
 * @property {string | null} [checkpoint] the last signed checkpoint note verified
 * @property {{size: number, hashes: string[]}} [range] the compact range of the events handled
 */

/** A `Store` in memory, for Node and tests: `localStorage`'s two methods over a `Map`. */
export class MemoryStore {
  constructor() {
    /** @type {Map<string, string>} */
    this.items = new Map();
  }

  /**
   * @param {string} key
   * @returns {string | null}
   */
  getItem(key) {
    return this.items.get(key) ?? null;
  }

  /**
   * @param {string} key
   * @param {string} value
   */
  setItem(key, value) {
    this.items.set(key, String(value));
  }

  /** @param {string} key */
  removeItem(key) {
    this.items.delete(key);
  }
}

/**
 * The key of a subscription's entry: the server as the client addresses it, and the channel.
 * Keyed by the server rather than by the key it serves, so that a server that changes its key
 * meets the key remembered, as the Python client's resume file holds it, instead of starting
 * afresh on trust.
 * @param {string} baseUrl
 * @param {string} channel
 * @returns {string}
 */
export function resumeKey(baseUrl, channel) {
  return `hotline:${baseUrl.replace(/\/+$/, "")}:${channel}`;
}

/**
 * What the store holds under `key`; nothing held means nothing handled yet.
 * @param {Store} store
 * @param {string} key
 * @returns {{after: number | null, audit: AuditState}}
 * @throws {HotlineError} the entry is not one this client wrote
 */
export function loadResume(store, key) {
  const text = store.getItem(key);
  if (text === null || text === undefined) return { after: null, audit: {} };
  /** @type {any} */
  let found;
  try {
    found = JSON.parse(text);
  } catch (error) {
    throw new HotlineError(`cannot read the stored state ${key}: ${error}`);
  }
  const after = found?.after;
  if (!Number.isInteger(after) || after < 0) {
    throw new HotlineError(`the stored state ${key} is not one this client wrote`);
  }
  const audit = found.audit;
  return { after, audit: audit && typeof audit === "object" && !Array.isArray(audit) ? audit : {} };
}

/**
 * Rewrite the entry under `key`.
 * @param {Store} store
 * @param {string} key
 * @param {number} after the last event handled
 * @param {AuditState | null} audit what was verified, if the subscription verifies
 */
export function saveResume(store, key, after, audit) {
  /** @type {{after: number, audit?: AuditState}} */
  const content = { after };
  if (audit !== null) content.audit = audit;
  store.setItem(key, JSON.stringify(content));
}
