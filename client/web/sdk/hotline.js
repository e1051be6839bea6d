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
 * @module
 */

export { ChannelAuditor, PrefixRoots, firstDifference } from "./audit.js";
export { Backoff } from "./backoff.js";
export { canonicalJson, canonicalText } from "./canonical.js";
export { openCheckpoint, parseCheckpoint } from "./checkpoint.js";
export { HotlineClient } from "./client.js";
export { buildDraft, noticeId, wireTime } from "./drafts.js";
export {
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
  leafHash,
  nodeHash,
  rootHash,
  verifyConsistency,
  verifyInclusion,
} from "./merkle.js";
export { openNote, Verifier } from "./note.js";
export { MemoryStore, resumeKey } from "./resume.js";
