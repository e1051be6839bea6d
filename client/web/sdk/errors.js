/**
 * Everything the JavaScript SDK throws, under one root (as `client/errors.py` in Python):
 *
 *     HotlineError            the root: catch it to catch them all
 *     ├── ProblemError        the server refused a request (.status, .code, .detail, .problem)
 *     ├── Unreachable         the server could not be reached over HTTP
 *     ├── AttachmentMismatch  a downloaded file is not the one the notice lists (.sha256, .found)
 *     ├── ConnectionClosed    the server closed the live socket for good (.code, .reason)
 *     ├── ProofError          a Merkle proof does not hold, or claims the impossible
 *     ├── NoteError           a signed note is malformed or not validly signed
 *     ├── CheckpointError     a checkpoint text is malformed, or is of another log
 *     ├── LogTampered         an event or checkpoint does not match the signed log (.seq)
 *     └── SplitView           two signed checkpoints that cannot both be true
 *
 * The same refusal gets the same `code` whether it came as a REST problem response
 * (RFC 9457) or as a WebSocket `error` message; docs/reference/errors.md lists them.
 * @module
 */

/** The root of every error the SDK throws. */
export class HotlineError extends Error {
  /**
   * @param {string} message
   * @param {ErrorOptions} [options]
   */
  constructor(message, options) {
    super(message, options);
    this.name = new.target.name;
    /**
     * The notice the failed call was about, when there was one. After a failed `send` it
     * is the id to send again with (the SDK chose it if the draft had none): a retry with
     * it is then safe, as the server answers a repeat with the original.
     * @type {string | null}
     */
    this.noticeId = null;
    /**
     * After a failed `proposePolicy`, the proposal's id to propose again with: a repeat
     * with it is safe, as with a notice's id.
     * @type {string | null}
     */
    this.proposalId = null;
  }
}

/** The server refused a request: an RFC 9457 problem, or a socket `error` message. */
export class ProblemError extends HotlineError {
  /**
   * @param {Record<string, any>} problem the decoded problem-details object
   * @param {number} [status] the HTTP status, when the object itself lacks one
   */
  constructor(problem, status) {
    const found = typeof problem.status === "number" ? problem.status : (status ?? 0);
    const code = String(problem.code ?? `http-${found}`);
    const detail = String(problem.detail ?? problem.title ?? "the server refused");
    super(`${detail} (${found} ${code})`);
    /** The HTTP status (a socket `error` message carries the same one). */
    this.status = found;
    /** A stable, machine-readable slug such as `not-found` or `already-decided`. */
    this.code = code;
    /** What went wrong this time, in words. */
    this.detail = detail;
    /** @type {string | undefined} The problem's title. */
    this.title = problem.title;
    /** @type {Array<Record<string, any>>} Field errors, one per field (empty when none). */
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
    /** The whole problem object, extension members (such as `decision`) included. */
    this.problem = problem;
  }
}

/** The server did not answer over HTTP: refused, timed out, or the network failed. */
export class Unreachable extends HotlineError {}

/**
 * A downloaded file's bytes are not those its notice lists: another SHA-256, or another size.
 * The bytes are never handed over.
 */
export class AttachmentMismatch extends HotlineError {
  /**
   * @param {string} message
   * @param {{sha256: string, found: string, size: number}} info the hash asked for (the
   *   listed one), the hash of the bytes received, and how many there were
   */
  constructor(message, { sha256, found, size }) {
    super(message);
    this.sha256 = sha256;
    this.found = found;
    this.size = size;
  }
}

/** The server closed the live socket for a reason that reconnecting would not fix. */
export class ConnectionClosed extends HotlineError {
  /**
   * @param {string} message
   * @param {{code: number, reason?: string}} info the close code (4401: token unknown or revoked)
   */
  constructor(message, { code, reason = "" }) {
    super(message);
    this.code = code;
    this.reason = reason;
  }
}

/** A Merkle proof does not hold, or the claim it is checked against is impossible. */
export class ProofError extends HotlineError {}

/** A signed note is malformed, signed by no known key, or carries a bad signature. */
export class NoteError extends HotlineError {}

/** A checkpoint text is malformed, or states another log's origin. */
export class CheckpointError extends HotlineError {}

/** An event, or a checkpoint, does not match what the server signed. */
export class LogTampered extends HotlineError {
  /**
   * @param {string} message
   * @param {{channel: string, seq?: number | null}} info the first event that differs, if known
   */
  constructor(message, { channel, seq = null }) {
    super(message);
    this.channel = channel;
    this.seq = seq;
  }
}

/** The server signed two checkpoints of a channel that cannot both be true: keep both. */
export class SplitView extends HotlineError {
  /**
   * @param {string} message
   * @param {{channel: string, earlier: string, later: string}} info the two signed notes
   */
  constructor(message, { channel, earlier, later }) {
    super(message);
    this.channel = channel;
    this.earlier = earlier;
    this.later = later;
  }
}
