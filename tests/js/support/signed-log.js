/**
 * A server's log in memory, for testing the auditor without a server (as tests/unit/test_audit.py
 * does in Python): its events, checkpoints signed here with Ed25519 keys made by node:crypto,
 * and RFC 9162 consistency proofs computed from its leaves.
 */

import { createHash, generateKeyPairSync, sign } from "node:crypto";

import { formatCheckpoint } from "../../../client/web/sdk/checkpoint.js";
import { eventHash, origin } from "../../../client/web/sdk/log.js";
import { rootHash } from "../../../client/web/sdk/merkle.js";

export const CHANNEL = "water-roads";

/**
 * A signing key called `name`, and its verifier key string (`<name>+<key id>+<base64>`).
 * @param {string} name
 */
export function generateKey(name) {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const raw = Buffer.from(/** @type {string} */ (publicKey.export({ format: "jwk" }).x), "base64url");
  const typed = Buffer.concat([Buffer.from([0x01]), raw]);
  const keyId = createHash("sha256")
    .update(Buffer.concat([Buffer.from(`${name}\n`), typed]))
    .digest()
    .subarray(0, 4);
  return {
    name,
    verifier: `${name}+${keyId.toString("hex")}+${typed.toString("base64")}`,
    /** @param {string} text the note's text, ending in a newline */
    signNote(text) {
      const signature = sign(null, Buffer.from(text, "utf8"), privateKey);
      return `${text}\n\u2014 ${name} ${Buffer.concat([keyId, signature]).toString("base64")}\n`;
    },
  };
}

/**
 * @param {number} seq
 * @param {string} [subject]
 */
export function event(seq, subject = "Hydrant test") {
  return { channel: CHANNEL, seq, type: "notice.sent", data: { subject } };
}

/** @param {number} n the largest power of two smaller than `n` (n > 1) */
function split(n) {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * RFC 9162 §2.1.4.1: the proof that the tree of `leaves` extends its first `m` leaves.
 * @param {number} m
 * @param {Uint8Array[]} leaves
 * @param {boolean} [whole] whether `m` leaves are a subtree the verifier already holds
 * @returns {Promise<Uint8Array[]>}
 */
async function subproof(m, leaves, whole = true) {
  const n = leaves.length;
  if (m === n) return whole ? [] : [await rootHash(leaves)];
  const k = split(n);
  if (m <= k) return [...(await subproof(m, leaves.slice(0, k), whole)), await rootHash(leaves.slice(k))];
  return [...(await subproof(m - k, leaves.slice(k), false)), await rootHash(leaves.slice(0, k))];
}

/** A server's log: its events, its signed checkpoints, its consistency proofs. */
export class SignedLog {
  /**
   * @param {Array<Record<string, any>>} events
   * @param {{signNote(text: string): string, name: string}} key
   */
  constructor(events, key) {
    this.events = events;
    this.key = key;
    /** @type {Array<[number, number]>} the proofs asked for */
    this.asked = [];
    /** The auditor's `ProofSource`. */
    this.consistency = async (/** @type {number} */ old, /** @type {number} */ size) => {
      this.asked.push([old, size]);
      const leaves = (await this.leaves()).slice(0, size);
      return old === 0 || old === size ? [] : subproof(old, leaves);
    };
  }

  leaves() {
    return Promise.all(this.events.map((e) => eventHash(e)));
  }

  /**
   * The signed checkpoint of the first `size` events.
   * @param {number} size
   * @param {{signNote(text: string): string, name: string}} [key]
   */
  async checkpoint(size, key = this.key) {
    const root = await rootHash((await this.leaves()).slice(0, size));
    const text = formatCheckpoint({ origin: origin(key.name, CHANNEL), size, rootHash: root, extensions: [] });
    return key.signNote(text);
  }
}
