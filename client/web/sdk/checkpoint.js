/**
 * Checkpoints (https://c2sp.org/tlog-checkpoint): the text a log signs about its tree.
 *
 * The browser's half of `client/protocol/checkpoint.py`. A checkpoint says "the log called
 * *origin* has *size* entries, and this is their Merkle root", as the text of a signed note:
 *
 *     hotline.localhost/water-roads
 *     3
 *     rra8/idLcKFPsGel5VeCZNsPqbUa9eC6FZFY8yngbnc=
 *
 * Line 1 is the origin, line 2 the size in decimal, line 3 the base64 of the 32-byte root
 * hash, each ending with a newline; any further lines are extension lines, kept in order.
 * Every checkpoint has one spelling: a size has no sign and no leading zeros and is at most
 * 2**64 - 1, a root hash only its canonical base64.
 *
 * One difference from Python, on purpose: a size above `Number.MAX_SAFE_INTEGER` (2**53 - 1)
 * is refused here, where Python reads it. JavaScript numbers cannot count that far exactly,
 * so no proof about such a tree could be checked; refusing at once says so plainly.
 * @module
 */

import { fromBase64, toBase64 } from "./bytes.js";
import { CheckpointError } from "./errors.js";
import { openNote } from "./note.js";

/**
 * A log's tree head.
 * @typedef {object} Checkpoint
 * @property {string} origin the log's unique name, such as `hotline.localhost/water-roads`
 * @property {number} size the number of entries in the log
 * @property {Uint8Array} rootHash the RFC 6962 Merkle root of those entries, 32 bytes
 * @property {string[]} extensions extension lines after the root hash, without newlines
 */

/** The largest tree size a checkpoint can state, 2**64 - 1. */
export const MAX_SIZE = 2n ** 64n - 1n;

const SIZE = /^(?:0|[1-9][0-9]*)$/;
const HASH_SIZE = 32;

/**
 * @param {string} what
 * @param {string} line
 * @throws {CheckpointError} the line is empty or holds a control character
 */
function checkLine(what, line) {
  // Signed notes refuse control characters, so a checkpoint holding one could never be
  // signed; and a newline inside a line would shift every line after it.
  if (line === "") throw new CheckpointError(`the ${what} is empty`);
  if (/[\x00-\x1f]/.test(line)) {
    throw new CheckpointError(`the ${what} holds a control character or newline`);
  }
}

/**
 * Read a checkpoint's note text.
 * @param {string} text the text of the checkpoint note, after its signatures were checked
 * @returns {Checkpoint}
 * @throws {CheckpointError} the text is not a well-formed checkpoint, or its size is beyond
 *   `Number.MAX_SAFE_INTEGER`
 */
export function parseCheckpoint(text) {
  if (typeof text !== "string" || !text.endsWith("\n")) {
    throw new CheckpointError("a checkpoint must end with a newline");
  }
  const lines = text.slice(0, -1).split("\n");
  if (lines.length < 3) {
    throw new CheckpointError("a checkpoint needs an origin, a size and a root hash");
  }
  const [origin, size, root, ...extensions] = lines;

  if (!SIZE.test(size)) {
    const spelled = JSON.stringify(size);
    throw new CheckpointError(`the tree size ${spelled} is not a plain decimal number`);
  }
  // Checked before BigInt() so that a huge number costs nothing to refuse.
  if (size.length > MAX_SIZE.toString().length) {
    throw new CheckpointError("the tree size does not fit in 64 bits");
  }
  let rootHash;
  try {
    rootHash = fromBase64(root);
  } catch (error) {
    throw new CheckpointError(`the root hash: ${/** @type {Error} */ (error).message}`);
  }
  checkLine("origin", origin);
  if (BigInt(size) > MAX_SIZE) {
    throw new CheckpointError(`a tree size must be between 0 and 2**64 - 1, not ${size}`);
  }
  if (rootHash.length !== HASH_SIZE) {
    throw new CheckpointError(`a root hash has ${HASH_SIZE} bytes, not ${rootHash.length}`);
  }
  for (const extension of extensions) checkLine("extension line", extension);
  if (BigInt(size) > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new CheckpointError(
      `the tree size ${size} is beyond what JavaScript counts exactly (2**53 - 1)`,
    );
  }
  return { origin, size: Number(size), rootHash, extensions };
}

/**
 * The checkpoint's note text, ending in a newline: the text that was signed.
 * @param {Checkpoint} checkpoint
 * @returns {string}
 */
export function formatCheckpoint({ origin, size, rootHash, extensions }) {
  const lines = [origin, String(size), toBase64(rootHash), ...extensions];
  return lines.map((line) => `${line}\n`).join("");
}

/** @typedef {import("./note.js").Verifier} Verifier */

/**
 * Check a signed checkpoint of the log called `origin` and read it.
 *
 * The origin is checked too: a valid checkpoint of another log (another channel, another
 * server) signed by the same key must not pass for one of this log.
 * @param {string} note the signed note holding the checkpoint
 * @param {string | Verifier | Iterable<string | Verifier>} verifierKeys the keys trusted to
 *   sign for the log (see `openNote`)
 * @param {{origin: string}} options `origin`: the origin the checkpoint must state
 * @returns {Promise<Checkpoint>}
 * @throws {import("./errors.js").NoteError} (as a rejection) the note is malformed or not
 *   validly signed by a trusted key
 * @throws {CheckpointError} (as a rejection) the note text is not a checkpoint, or is one of
 *   another log
 */
export async function openCheckpoint(note, verifierKeys, { origin }) {
  const checkpoint = parseCheckpoint(await openNote(note, verifierKeys));
  if (checkpoint.origin !== origin) {
    throw new CheckpointError(
      `the checkpoint is of ${JSON.stringify(checkpoint.origin)}, not of ${JSON.stringify(origin)}`,
    );
  }
  return checkpoint;
}
