/**
 * Checking a channel's log against the server's signed checkpoints: `client/audit.py`, line
 * for line, in the browser.
 *
 * `ChannelAuditor` is what a live subscription uses to refuse a log the server rewrote. It
 * keeps the last checkpoint it verified and the `CompactRange` of the events it has seen, and
 * for each new signed checkpoint it
 *
 * - checks the signature with the log's verifier key, and that the origin is this channel's;
 * - rebuilds the checkpoint's root from the remembered range plus the new events: if it
 *   matches, every new event is in the log *and* the new log extends the old one;
 * - if it does not match, asks the server for consistency proofs to find the first event that
 *   differs (a bisection: O(log n) proofs), and rejects with `LogTampered`;
 * - compares a checkpoint that comes without new events (on subscribing) with the one it
 *   remembers, through a consistency proof, and rejects with `SplitView` when the two cannot
 *   both be true.
 *
 * All network reads go through a `ProofSource` handed in, so the logic can be tested without
 * a server. Hashing is WebCrypto's, so every step that hashes returns a Promise.
 * @module
 */

import { equal } from "./bytes.js";
import { openCheckpoint } from "./checkpoint.js";
import { CheckpointError, LogTampered, NoteError, ProofError, SplitView } from "./errors.js";
import { CompactRange, eventHash, origin } from "./log.js";
import { nodeHash, verifyConsistency } from "./merkle.js";
import { Verifier } from "./note.js";

/**
 * `await fetch(oldSize, size)`: the server's consistency proof between two tree sizes.
 * @typedef {(oldSize: number, size: number) => Promise<Uint8Array[]>} ProofSource
 */

/** @typedef {import("./checkpoint.js").Checkpoint} Checkpoint */

/**
 * The range `range` grows to with `leaves` appended, as `CompactRange.extend` would make it, but
 * hashed a tree level at a time: the nodes of one level do not depend on one another, so
 * WebCrypto computes them side by side, in about log2(leaves) rounds instead of one per leaf.
 * @param {CompactRange} range
 * @param {Uint8Array[]} leaves
 * @returns {Promise<CompactRange>} a new range; `range` is left as it is
 */
export async function appendAll(range, leaves) {
  const start = range.size;
  const end = start + leaves.length;
  /** The range's subtree at `level`, by the bit of its size (largest first in `hashes`). */
  const old = new Map();
  for (let level = 52, i = 0; level >= 0; level -= 1) {
    if (Math.floor(start / 2 ** level) % 2 === 1) old.set(level, range.hashes[i++]);
  }
  /** @type {Map<number, Uint8Array[]>} by level, the nodes that hold a new leaf, from `first` */
  const levels = new Map([[0, leaves]]);
  for (let level = 1; 2 ** level <= end; level += 1) {
    const below = /** @type {Uint8Array[]} */ (levels.get(level - 1));
    const firstBelow = Math.floor(start / 2 ** (level - 1));
    const first = Math.floor(start / 2 ** level);
    const last = Math.floor(end / 2 ** level); // exclusive
    /** @param {number} index a node's index one level down */
    const child = (index) => (index < firstBelow ? old.get(level - 1) : below[index - firstBelow]);
    const made = [];
    for (let index = first; index < last; index += 1) {
      made.push(nodeHash(/** @type {Uint8Array} */ (child(2 * index)), /** @type {Uint8Array} */ (child(2 * index + 1))));
    }
    levels.set(level, await Promise.all(made));
  }
  const hashes = [];
  for (let level = 52; level >= 0; level -= 1) {
    if (Math.floor(end / 2 ** level) % 2 === 0) continue;
    const index = Math.floor(end / 2 ** level) - 1;
    const first = Math.floor(start / 2 ** level);
    hashes.push(index < first ? old.get(level) : /** @type {Uint8Array[]} */ (levels.get(level))[index - first]);
  }
  return new CompactRange(end, /** @type {Uint8Array[]} */ (hashes));
}

/** Roots of every prefix of a run of leaves, each in O(snapshot spacing) hashing. */
export class PrefixRoots {
  /**
   * @param {CompactRange} start the range before the first leaf
   * @param {Uint8Array[]} leaves the leaf hashes that follow it
   * @param {{every?: number}} [options] how many leaves apart to keep a snapshot of the range
   * @returns {Promise<PrefixRoots>}
   */
  static async build(start, leaves, { every = 1024 } = {}) {
    /** @type {CompactRange[]} */
    const snapshots = [];
    const running = start.clone();
    for (const [offset, leaf] of leaves.entries()) {
      if (offset % every === 0) snapshots.push(running.clone());
      await running.append(leaf);
    }
    return new PrefixRoots(start.size, leaves, every, snapshots, running);
  }

  /**
   * Use `PrefixRoots.build`.
   * @param {number} startSize
   * @param {Uint8Array[]} leaves
   * @param {number} every
   * @param {CompactRange[]} snapshots
   * @param {CompactRange} end
   */
  constructor(startSize, leaves, every, snapshots, end) {
    this.startSize = startSize;
    this._leaves = leaves;
    this._every = every;
    this._snapshots = snapshots;
    /** The range with every leaf. */
    this.end = end;
  }

  /** The size of the tree with every leaf. */
  get endSize() {
    return this.end.size;
  }

  /**
   * The root of the first `size` leaves of the whole tree.
   * @param {number} size
   * @returns {Promise<Uint8Array>}
   */
  async root(size) {
    const offset = size - this.startSize;
    if (!(offset >= 0 && offset <= this._leaves.length)) {
      throw new RangeError(`no prefix of size ${size} here`);
    }
    if (offset === this._leaves.length) return this.end.root();
    const base = Math.floor(offset / this._every);
    const built = this._snapshots[base].clone();
    for (const leaf of this._leaves.slice(base * this._every, offset)) await built.append(leaf);
    return built.root();
  }
}

/**
 * The first event (seq) where these leaves and the signed tree part ways.
 *
 * The leaves up to `roots.startSize` are known to agree. A consistency proof from k to the
 * checkpoint's size holds exactly when the server's first k leaves are ours, so the first k
 * where it fails is found by bisection.
 * @param {PrefixRoots} roots
 * @param {Checkpoint} checkpoint
 * @param {ProofSource} fetch
 * @returns {Promise<number>}
 */
export async function firstDifference(roots, checkpoint, fetch) {
  let good = roots.startSize;
  let bad = roots.endSize;
  while (bad - good > 1) {
    const middle = Math.floor((good + bad) / 2);
    const proof = await fetch(middle, checkpoint.size);
    try {
      await verifyConsistency(
        middle,
        checkpoint.size,
        proof,
        await roots.root(middle),
        checkpoint.rootHash,
      );
      good = middle;
    } catch (error) {
      if (!(error instanceof ProofError)) throw error;
      bad = middle;
    }
  }
  return bad;
}

/**
 * @typedef {{seq: number, leaf: Uint8Array, payload: any}} Pending
 * @typedef {{seq: number, event: Record<string, any>, payload: any}} Unhashed
 */

/**
 * @typedef {object} AuditorOptions
 * @property {CompactRange} [handled] the range of the events already handled, if any
 * @property {string | null} [checkpoint] the last checkpoint note verified, if any
 * @property {string[]} [previousKeys] keys that may open `checkpoint` only, and nothing after
 *   it: the log's keys before a rotation the caller has accepted
 */

/** One channel's audit state: the last verified checkpoint and the events seen. */
export class ChannelAuditor {
  /**
   * An auditor; opening a remembered checkpoint verifies its signature, hence the Promise.
   * @param {string} channel the channel's id
   * @param {string[]} verifierKeys the log's verifier keys (`<name>+<key id>+<base64>`); the
   *   first one's name is the log name in the channel's origin
   * @param {ProofSource} fetch the server's consistency proofs, for pinpointing and catching up
   * @param {AuditorOptions} [options]
   * @returns {Promise<ChannelAuditor>}
   * @throws {LogTampered} the remembered checkpoint is not signed by the keys
   */
  static async create(channel, verifierKeys, fetch, options = {}) {
    const auditor = new ChannelAuditor(channel, verifierKeys, fetch, options.handled);
    const note = options.checkpoint ?? null;
    if (note !== null) {
      auditor.checkpoint = await auditor._openRemembered(note, options.previousKeys ?? []);
      auditor.note = note;
    }
    return auditor;
  }

  /**
   * An auditor from what `state()` returned.
   * @param {string} channel
   * @param {string[]} verifierKeys
   * @param {ProofSource} fetch
   * @param {{checkpoint?: string | null, range?: {size: number, hashes: string[]}}} raw
   * @param {{previousKeys?: string[]}} [options]
   * @returns {Promise<ChannelAuditor>}
   */
  static fromState(channel, verifierKeys, fetch, raw, { previousKeys = [] } = {}) {
    const note = typeof raw.checkpoint === "string" ? raw.checkpoint : null;
    return ChannelAuditor.create(channel, verifierKeys, fetch, {
      handled: CompactRange.fromJSON(raw.range),
      checkpoint: note,
      previousKeys,
    });
  }

  /**
   * Use `ChannelAuditor.create`.
   * @param {string} channel
   * @param {string[]} verifierKeys
   * @param {ProofSource} fetch
   * @param {CompactRange} [handled]
   */
  constructor(channel, verifierKeys, fetch, handled) {
    if (verifierKeys.length === 0) throw new TypeError("an auditor needs the log's verifier key");
    this.channel = channel;
    this._keys = verifierKeys;
    this.origin = origin(Verifier.parse(verifierKeys[0]).name, channel);
    this._fetch = fetch;
    /** The range of the events handled: what a store keeps. */
    this.handled = handled ?? new CompactRange();
    /** Every event received and hashed, verified or not (see `received`). */
    this.seen = this.handled.clone();
    /** @type {Unhashed[]} events received, waiting to be hashed together */
    this._unhashed = [];
    this._verified = this.handled.clone(); // the range at the last verified event
    /** @type {Pending[]} */
    this._pending = [];
    /** @type {Pending[]} */
    this._unhandled = [];
    /** @type {string | null} The last checkpoint note verified. */
    this.note = null;
    /** @type {Checkpoint | null} The last checkpoint verified, parsed. */
    this.checkpoint = null;
  }

  /** How many events were received: those hashed and those waiting to be. */
  get received() {
    return this.seen.size + this._unhashed.length;
  }

  /**
   * Hash the events waiting, all at once, and append them to `seen`. The leaf hashes do not
   * depend on one another, so WebCrypto computes them side by side, and the range grows a
   * level at a time (`appendAll`); nothing is checked any later for it, since no event is
   * released before the checkpoint that covers it.
   */
  async _hashWaiting() {
    const waiting = this._unhashed;
    this._unhashed = [];
    const leaves = await Promise.all(waiting.map((w) => eventHash(w.event)));
    this.seen = await appendAll(this.seen, leaves);
    for (const [i, { seq, payload }] of waiting.entries()) this._pending.push({ seq, leaf: leaves[i], payload });
  }

  // -- state a store keeps -----------------------------------------------------------------

  /**
   * What to remember: the last verified checkpoint and the handled events' range.
   * @returns {{checkpoint: string | null, range: {size: number, hashes: string[]}}}
   */
  state() {
    return { checkpoint: this.note, range: this.handled.toJSON() };
  }

  // -- checkpoints -------------------------------------------------------------------------

  /**
   * The remembered checkpoint: by the log's key, or by one it rotated away from (whose name,
   * and so origin, may differ: the tree is the same).
   * @param {string} note
   * @param {string[]} previousKeys
   * @returns {Promise<Checkpoint>}
   */
  async _openRemembered(note, previousKeys) {
    for (const key of previousKeys) {
      try {
        const name = Verifier.parse(key).name;
        return await openCheckpoint(note, [key], { origin: origin(name, this.channel) });
      } catch (error) {
        if (!(error instanceof NoteError || error instanceof CheckpointError)) throw error;
      }
    }
    return this._open(note);
  }

  /**
   * @param {string} note
   * @returns {Promise<Checkpoint>}
   */
  async _open(note) {
    try {
      return await openCheckpoint(note, this._keys, { origin: this.origin });
    } catch (error) {
      if (!(error instanceof NoteError || error instanceof CheckpointError)) throw error;
      throw new LogTampered(
        `a checkpoint of ${this.channel} is not signed by the log's key: ${error.message} (if ` +
          "the server's operator rotated the key, check the new one and pin it)",
        { channel: this.channel },
      );
    }
  }

  /**
   * Check a checkpoint that arrives without events (on subscribing) against the last.
   * @param {string} note
   * @returns {Promise<void>}
   * @throws {LogTampered} the note is not a valid checkpoint of this channel
   * @throws {SplitView} it contradicts the checkpoint verified before
   */
  async checkCheckpoint(note) {
    const latest = await this._open(note);
    await this._hashWaiting();
    if (this.checkpoint !== null && this.note !== null) {
      const old = this.checkpoint;
      if (
        latest.size < old.size ||
        (latest.size === old.size && !equal(latest.rootHash, old.rootHash))
      ) {
        throw new SplitView(
          `${this.channel}: the server's log of ${latest.size} events is not the log of ` +
            `${old.size} events it signed before: history was rewritten`,
          { channel: this.channel, earlier: this.note, later: note },
        );
      }
      if (latest.size > old.size) {
        await this._provePrefix(old, latest, {
          earlier: this.note,
          later: note,
          why:
            `the log of ${latest.size} events does not extend the one of ${old.size} ` +
            "events signed before: history was rewritten",
        });
      }
    }
    if (latest.size === this.seen.size && !equal(latest.rootHash, await this.seen.root())) {
      throw new LogTampered(`${this.channel}: the events seen do not match the checkpoint`, {
        channel: this.channel,
      });
    }
    if (this.checkpoint === null || latest.size >= this.checkpoint.size) {
      this.checkpoint = latest;
      this.note = note;
    }
  }

  // -- events ------------------------------------------------------------------------------

  /**
   * Take the next event; resolve to the payloads that are now verified, in order.
   * @param {Record<string, any>} event the event as received (decoded JSON)
   * @param {any} payload what to hand back once the event is verified
   * @param {string | null} [checkpoint] the signed checkpoint that came with it, if any
   * @returns {Promise<any[]>}
   * @throws {LogTampered} an event is missing, or the events do not match the checkpoint
   * @throws {SplitView} the checkpoint contradicts one verified before
   */
  async add(event, payload, checkpoint = null) {
    const seq = event.seq;
    const expected = this.received + 1;
    if (!Number.isInteger(seq) || seq !== expected) {
      throw new LogTampered(
        `${this.channel}: expected event ${expected}, got ${seq}: an event is missing or out of order`,
        { channel: this.channel, seq: expected },
      );
    }
    this._unhashed.push({ seq, event, payload });
    if (checkpoint === null && (this.checkpoint === null || this.checkpoint.size !== this.received)) {
      return [];
    }
    /** @type {Checkpoint} */
    let signed;
    /** @type {string} */
    let note;
    if (checkpoint === null) {
      // The events reached the checkpoint already trusted: check against it as is (it may
      // be one a previous key signed, which the current keys cannot open).
      signed = /** @type {Checkpoint} */ (this.checkpoint);
      note = /** @type {string} */ (this.note);
    } else {
      signed = await this._open(checkpoint);
      note = checkpoint;
    }
    if (signed.size !== seq) {
      throw new LogTampered(
        `${this.channel}: event ${seq} came with a checkpoint of ${signed.size} events`,
        { channel: this.channel, seq },
      );
    }
    const old = this.checkpoint;
    // A batch behind the trusted checkpoint needs a consistency proof (below): asked for now,
    // it travels while the batch is hashed, and a catch-up waits one round trip less a page.
    const proof = old !== null && signed.size < old.size ? this._fetch(signed.size, old.size) : null;
    proof?.catch(() => {}); // awaited below, unless the events fail first and make it moot
    await this._hashWaiting();
    if (!equal(await this.seen.root(), signed.rootHash)) {
      const leaves = this._pending.map((p) => p.leaf);
      const roots = await PrefixRoots.build(this._verified, leaves);
      const first = await firstDifference(roots, signed, this._fetch);
      throw new LogTampered(
        `${this.channel}: event ${first} is not the event the server's log holds ` +
          `(checkpoint of ${signed.size} events)`,
        { channel: this.channel, seq: first },
      );
    }
    if (old !== null && old.size === signed.size && !equal(old.rootHash, signed.rootHash)) {
      throw new SplitView(`${this.channel}: two checkpoints of ${signed.size} events differ`, {
        channel: this.channel,
        earlier: /** @type {string} */ (this.note),
        later: note,
      });
    }
    if (old !== null && signed.size < old.size) {
      // A batch that ends before the checkpoint already trusted (catching up, or resuming):
      // its own signed root must be a prefix of the trusted one, or a server could replay a
      // forked past under a checkpoint made for the purpose.
      await this._provePrefix(signed, old, {
        earlier: /** @type {string} */ (this.note),
        later: note,
        why:
          `the checkpoint of ${signed.size} events is not a prefix of the one of ` +
          `${old.size} events verified before`,
        proof: proof ?? undefined,
      });
    }
    if (old === null || signed.size >= old.size) {
      this.checkpoint = signed;
      this.note = note;
    }
    this._verified = this.seen.clone();
    const released = this._pending;
    this._pending = [];
    this._unhandled.push(...released);
    return released.map((p) => p.payload);
  }

  /**
   * Check with the server's consistency proof that `shorter`'s log begins `longer`'s; if not,
   * reject with `SplitView` holding the note verified earlier and the later one.
   * @param {Checkpoint} shorter
   * @param {Checkpoint} longer
   * @param {{earlier: string, later: string, why: string, proof?: Promise<Uint8Array[]>}} context
   *   `proof`: the proof, if asked for already
   */
  async _provePrefix(shorter, longer, { earlier, later, why, proof }) {
    const hashes = await (proof ?? this._fetch(shorter.size, longer.size));
    try {
      await verifyConsistency(
        shorter.size,
        longer.size,
        hashes,
        shorter.rootHash,
        longer.rootHash,
      );
    } catch (error) {
      if (!(error instanceof ProofError)) throw error;
      throw new SplitView(`${this.channel}: ${why}`, { channel: this.channel, earlier, later });
    }
  }

  /**
   * The consumer is done with every verified event up to `seq`.
   * @param {number} seq
   * @returns {Promise<void>}
   */
  async markHandled(seq) {
    const last = this._unhandled.at(-1);
    if (last !== undefined && last.seq <= seq && last.seq === this._verified.size) {
      // Everything verified is handled: the handled range is the verified one, copied in
      // O(log n) instead of rebuilt leaf by leaf (a catch-up hashes each event once, not twice).
      this.handled = this._verified.clone();
      this._unhandled = [];
      return;
    }
    while (this._unhandled.length > 0 && this._unhandled[0].seq <= seq) {
      await this.handled.append(/** @type {Pending} */ (this._unhandled.shift()).leaf);
    }
  }
}
