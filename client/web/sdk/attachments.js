/**
 * A notice's files: which kinds the server takes, and the check of a download against the
 * listing its notice carries (the browser's counterpart of `client/attachments.py`).
 *
 * A file is uploaded first (`HotlineClient.uploadAttachment`), and the server answers with
 * its listing: `{sha256, size, media_type, name}`. A notice lists it, and the log keeps the
 * listing for ever. `HotlineClient.downloadAttachment` hands bytes over only once
 * `checkAttachment` has found their SHA-256 (with `crypto.subtle`) and size to be the
 * listed ones: a file altered on the server, or on the way, is refused.
 *
 *     const plan = await hotline.uploadAttachment("water-roads", fileInput.files[0]);
 *     await hotline.send("water-roads", { subject: "Mill Lane: the plan", attachments: [plan] });
 *     const bytes = await hotline.downloadAttachment("water-roads", notice.attachments[0]);
 * @module
 */

import { toHex } from "./bytes.js";
import { sha256 } from "./crypto.js";
import { AttachmentMismatch } from "./errors.js";

/**
 * A file as a notice lists it: what the upload answered.
 * @typedef {object} Attachment
 * @property {string} sha256 64 lower-case hex digits
 * @property {number} size in bytes, at least 1
 * @property {string} media_type one of `MEDIA_TYPES`' values
 * @property {string} name what the sender calls it: a label only
 */

/** By file extension (lower case), the media types the server takes. */
export const MEDIA_TYPES = Object.freeze({
  ".pdf": "application/pdf",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".geojson": "application/geo+json",
  ".txt": "text/plain",
});

/** Files a notice may list at most. */
export const MAX_ATTACHMENTS = 10;

/** @type {ReadonlySet<string>} */
const ACCEPTED = new Set(Object.values(MEDIA_TYPES));
const SHA256 = /^[0-9a-f]{64}$/;

/**
 * The media type of a file, from the extension of its name; `null` for one the server
 * does not take.
 * @param {string} name
 * @returns {string | null}
 */
export function mediaTypeOf(name) {
  const dot = name.lastIndexOf(".");
  const suffix = dot < 0 ? "" : name.slice(dot).toLowerCase();
  return Object.hasOwn(MEDIA_TYPES, suffix)
    ? MEDIA_TYPES[/** @type {keyof typeof MEDIA_TYPES} */ (suffix)]
    : null;
}

/**
 * Whether the server takes files of this media type.
 * @param {string} type
 * @returns {boolean}
 */
export function acceptedMediaType(type) {
  return ACCEPTED.has(type);
}

/**
 * A SHA-256 in its one spelling, lower-case hex.
 * @param {unknown} value
 * @returns {string}
 * @throws {TypeError} it is not 64 hex digits
 */
export function sha256Hex(value) {
  const found = typeof value === "string" ? value.toLowerCase() : "";
  if (!SHA256.test(found)) throw new TypeError(`${JSON.stringify(value)} is not a SHA-256`);
  return found;
}

/**
 * Check that `bytes` are the file listed: its SHA-256 and, if given, its size.
 * @param {Uint8Array} bytes
 * @param {{sha256: string, size?: number | null}} listed
 * @returns {Promise<void>}
 * @throws {AttachmentMismatch} they are not
 */
export async function checkAttachment(bytes, { sha256: wanted, size = null }) {
  const found = toHex(await sha256(bytes));
  const info = { sha256: wanted, found, size: bytes.length };
  if (size !== null && bytes.length !== size) {
    throw new AttachmentMismatch(
      `the file ${wanted} has ${bytes.length} bytes, its notice lists ${size}`,
      info,
    );
  }
  if (found !== wanted.toLowerCase()) {
    throw new AttachmentMismatch(
      `the file is not the one its notice lists: its SHA-256 is ${found}, the notice lists ${wanted}`,
      info,
    );
  }
}
