/**
 * Hotline's browser SDK, one import away: `import { HotlineClient } from "/sdk/hotline.js"`.
 *
 * Plain ES modules with relative imports, so the server can serve them from any path and a page
 * on another origin can import them; nothing is built, nothing fetched at run time. The same
 * modules run in Node 20 (with `--experimental-websocket`, or a `WebSocket` passed in).
 *
 *     const hotline = new HotlineClient({ baseUrl: "http://127.0.0.1:8000", token });
 *     const live = hotline.subscribe("water-roads", {
 *       store: localStorage,
 *       onEvent: (event) => console.log(event.seq, event.type),  // each verified, once, in order
 *     });
 *     await hotline.send("water-roads", { subject: "Hydrant flushing, Elm Street" });
 *
 * Every public name of every module is here but the socket's own plumbing (`socket.js`),
 * which the subscription uses and nothing else should; tests/js/hotline.test.js checks it.
 * @module
 */

export {
  MAX_ATTACHMENTS,
  MEDIA_TYPES,
  acceptedMediaType,
  checkAttachment,
  mediaTypeOf,
  sha256Hex,
} from "./attachments.js";
export { ChannelAuditor, PrefixRoots, appendAll, firstDifference } from "./audit.js";
export { Backoff, sleep } from "./backoff.js";
export {
  concat,
  equal,
  fromBase64,
  fromHex,
  isWellFormed,
  toBase64,
  toHex,
  utf8,
} from "./bytes.js";
export { canonicalJson, canonicalText } from "./canonical.js";
export { MAX_SIZE, formatCheckpoint, openCheckpoint, parseCheckpoint } from "./checkpoint.js";
export { HotlineClient } from "./client.js";
export {
  chooseEd25519,
  ed25519Implementation,
  ed25519Verify,
  setEd25519Implementation,
  sha256,
  webCryptoHasEd25519,
} from "./crypto.js";
export {
  MAX_AREA,
  MAX_BODY,
  MAX_REASON,
  MAX_SUBJECT,
  PRIORITIES,
  buildCancellation,
  buildDecision,
  buildDraft,
  noticeId,
  wireTime,
} from "./drafts.js";
export {
  AttachmentMismatch,
  CheckpointError,
  ConnectionClosed,
  HotlineError,
  LogTampered,
  NoteError,
  ProblemError,
  ProofError,
  SplitView,
  Unreachable,
} from "./errors.js";
export { Subscription, wsUrl } from "./live.js";
export { CompactRange, eventHash, origin } from "./log.js";
export {
  EMPTY_ROOT,
  HASH_SIZE,
  leafHash,
  nodeHash,
  rootHash,
  verifyConsistency,
  verifyInclusion,
} from "./merkle.js";
export { EVENT_TYPES, parseServerMessage } from "./messages.js";
export { Verifier, openNote } from "./note.js";
export { MemoryStore, loadResume, resumeKey, saveResume } from "./resume.js";
export {
  OPTIONAL_SIGNED_FIELDS,
  SIGNED_FIELDS,
  eventContent,
  noticeContent,
  signedContent,
} from "./signatures.js";
export { MAX_MESSAGE_BYTES } from "./socket.js";
