/**
 * SHA-256 and Ed25519 verification, through the platform's WebCrypto (`crypto.subtle`).
 *
 * Chromium, Firefox, Safari and Node 20 all verify Ed25519 in WebCrypto. Where a browser
 * does not, the SDK falls back to `@noble/ed25519`, vendored at a pinned version in
 * `vendor/noble-ed25519/` (see its README) and loaded only then: never fetched from
 * elsewhere. Both check signatures as RFC 8032 does; noble is asked for its strict mode
 * (`zip215: false`), the closest to OpenSSL, which the Python side uses.
 *
 * WebCrypto exists only in secure contexts: a page served over `https:`, or from
 * `localhost` / `127.0.0.1`. Elsewhere `crypto.subtle` is missing and every hash fails
 * with a `HotlineError` that says so.
 * @module
 */

import { fromHex } from "./bytes.js";
import { HotlineError } from "./errors.js";

/**
 * Verifies one Ed25519 signature; resolves to `false` for any signature that does not hold.
 * @typedef {(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array)
 *   => Promise<boolean>} Ed25519Verify
 */

/** @typedef {"auto" | "webcrypto" | "noble"} Ed25519Implementation */

// RFC 8032 §7.1, test 1: a public key, and its signature of the empty message. Verifying
// it shows that this WebCrypto really knows Ed25519, not only its name.
const PROBE_KEY = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
const PROBE_SIGNATURE =
  "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155" +
  "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";

/**
 * The platform's `SubtleCrypto`.
 * @returns {SubtleCrypto}
 * @throws {HotlineError} there is none: not a secure context, or too old a platform
 */
function subtle() {
  const found = globalThis.crypto?.subtle;
  if (found === undefined) {
    throw new HotlineError(
      "WebCrypto (crypto.subtle) is missing: serve the page over https: or from localhost",
    );
  }
  return found;
}

/**
 * A copy of `bytes` that WebCrypto takes as it is (its own `ArrayBuffer`, nothing shared).
 * @param {Uint8Array} bytes
 * @returns {Uint8Array<ArrayBuffer>}
 */
function own(bytes) {
  return new Uint8Array(bytes);
}

/**
 * SHA-256 of `bytes`.
 * @param {Uint8Array} bytes
 * @returns {Promise<Uint8Array>}
 */
export async function sha256(bytes) {
  return new Uint8Array(await subtle().digest("SHA-256", own(bytes)));
}

/**
 * Ed25519 verification through a WebCrypto `SubtleCrypto`.
 * @param {SubtleCrypto} crypto
 * @returns {Ed25519Verify}
 */
function webCryptoVerify(crypto) {
  return async (publicKey, message, signature) => {
    if (publicKey.length !== 32 || signature.length !== 64) return false;
    try {
      const key = await crypto.importKey("raw", own(publicKey), { name: "Ed25519" }, false, [
        "verify",
      ]);
      return await crypto.verify({ name: "Ed25519" }, key, own(signature), own(message));
    } catch {
      return false; // a key that is no curve point, say: nothing it could sign holds
    }
  };
}

/** @type {Ed25519Verify} */
async function nobleVerify(publicKey, message, signature) {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  const noble = await import("./vendor/noble-ed25519/index.js");
  try {
    return await noble.verifyAsync(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

/**
 * Whether a `SubtleCrypto` verifies Ed25519: it must accept RFC 8032's test signature, and
 * refuse it with one bit changed.
 * @param {SubtleCrypto} crypto
 * @returns {Promise<boolean>}
 */
export async function webCryptoHasEd25519(crypto) {
  const verify = webCryptoVerify(crypto);
  const key = fromHex(PROBE_KEY);
  const signature = fromHex(PROBE_SIGNATURE);
  const changed = Uint8Array.from(signature, (byte, i) => (i === 0 ? byte ^ 1 : byte));
  const message = new Uint8Array(0);
  return (await verify(key, message, signature)) && !(await verify(key, message, changed));
}

/**
 * Which implementation verifies Ed25519 here: WebCrypto's when it has one, else noble's.
 * @param {SubtleCrypto} crypto
 * @returns {Promise<{name: "webcrypto" | "noble", verify: Ed25519Verify}>}
 */
export async function chooseEd25519(crypto) {
  if (await webCryptoHasEd25519(crypto)) {
    return { name: "webcrypto", verify: webCryptoVerify(crypto) };
  }
  return { name: "noble", verify: nobleVerify };
}

/** @type {Ed25519Implementation} */
let wanted = "auto";
/** @type {Promise<{name: "webcrypto" | "noble", verify: Ed25519Verify}> | null} */
let chosen = null;

/**
 * Choose how Ed25519 is verified: `"auto"` (the default: WebCrypto where it works, else
 * noble), or force `"webcrypto"` or `"noble"`. For tests of both paths, and for a page that
 * distrusts its platform.
 * @param {Ed25519Implementation} implementation
 * @returns {Ed25519Implementation} the one chosen before
 */
export function setEd25519Implementation(implementation) {
  if (!["auto", "webcrypto", "noble"].includes(implementation)) {
    throw new TypeError(`unknown Ed25519 implementation ${JSON.stringify(implementation)}`);
  }
  const before = wanted;
  wanted = implementation;
  chosen = null;
  return before;
}

/** @returns {Promise<{name: "webcrypto" | "noble", verify: Ed25519Verify}>} */
function implementation() {
  if (chosen === null) {
    if (wanted === "noble") chosen = Promise.resolve({ name: "noble", verify: nobleVerify });
    else if (wanted === "webcrypto") {
      chosen = Promise.resolve({ name: "webcrypto", verify: webCryptoVerify(subtle()) });
    } else chosen = chooseEd25519(subtle());
  }
  return chosen;
}

/**
 * The name of the implementation that verifies Ed25519 signatures here.
 * @returns {Promise<"webcrypto" | "noble">}
 */
export async function ed25519Implementation() {
  return (await implementation()).name;
}

/**
 * Whether `signature` is the Ed25519 signature of `message` by `publicKey` (32 bytes).
 * @param {Uint8Array} publicKey
 * @param {Uint8Array} message
 * @param {Uint8Array} signature
 * @returns {Promise<boolean>} `false` for every signature that does not hold, malformed or not
 */
export async function ed25519Verify(publicKey, message, signature) {
  return (await implementation()).verify(publicKey, message, signature);
}
