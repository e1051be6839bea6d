/**
 * Signed notes (https://c2sp.org/signed-note) with Ed25519 keys: opening them, in the browser.
 *
 * The browser's half of `client/protocol/note.py` (which also signs): the same format, the
 * same refusals, checked against the same vectors (`tests/vectors/notes.json`). A signed
 * note is a text, a blank line, and one or more signature lines:
 *
 *     hotline.localhost/water-roads
 *     3
 *     rra8/idLcKFPsGel5VeCZNsPqbUa9eC6FZFY8yngbnc=
 *
 *     — hotline.localhost 90zCU2...
 *
 * A signature line is an em dash (U+2014), a space, the key's name, a space, and the base64
 * of the 4-byte key ID followed by the 64-byte Ed25519 signature of the text (everything up
 * to the last blank line, its final newline included). A verifier key is a string in the
 * format of Go's `golang.org/x/mod/sumdb/note`:
 *
 *     <name>+<key ID>+<base64(0x01 || 32-byte public key)>
 *     key ID = SHA-256(name || 0x0A || 0x01 || public key)[:4], written as 8 hex digits
 *
 * Opening follows the spec: signatures by unknown keys are passed over (so a log can rotate
 * its key and others can cosign), every signature by a known key must verify, and at least
 * one must be there. Every refusal is a `NoteError`.
 * @module
 */

import { concat, fromBase64, fromHex, isWellFormed, toBase64, toHex, utf8 } from "./bytes.js";
import { ed25519Verify, sha256 } from "./crypto.js";
import { NoteError } from "./errors.js";

const ED25519 = 0x01;
const SIGNATURE_PREFIX = "\u2014 ";
const KEY_ID_HEX = /^[0-9a-f]{8}$/;
// The spec asks verifiers to accept at least 16 signatures; Go's limit is 100.
const MAX_SIGNATURES = 100;
// What Python's str.isspace() calls a space (JavaScript's \s differs in U+0085 and U+FEFF).
const SPACE = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;
const CONTROL_BUT_NEWLINE = /[\x00-\x09\x0b-\x1f]/;

/**
 * @param {string} name
 * @throws {NoteError} not a key name
 */
function checkName(name) {
  if (
    typeof name !== "string" ||
    name === "" ||
    name.includes("+") ||
    SPACE.test(name) ||
    CONTROL_BUT_NEWLINE.test(name) ||
    !isWellFormed(name)
  ) {
    throw new NoteError(
      `${JSON.stringify(name)} is not a key name: it must be non-empty, without spaces or +`,
    );
  }
}

/**
 * The bytes of canonical base64, or null.
 * @param {string} text
 * @returns {Uint8Array | null}
 */
function decodeBase64(text) {
  try {
    return fromBase64(text);
  } catch {
    return null;
  }
}

/**
 * @param {string} name
 * @param {Uint8Array} publicKey
 * @returns {Promise<Uint8Array>} the key ID: the first 4 bytes of SHA-256(name \n 0x01 key)
 */
async function keyIdOf(name, publicKey) {
  const digest = await sha256(concat(utf8(name), new Uint8Array([0x0a, ED25519]), publicKey));
  return digest.slice(0, 4);
}

/** An Ed25519 public key and its name: what opens the notes its signer signs. */
export class Verifier {
  /** @type {Promise<Verifier> | null} */
  #checked = null;

  /**
   * Use `Verifier.parse` or `Verifier.of`, which know the key ID.
   * @param {string} name the key's name, such as `hotline.localhost`
   * @param {Uint8Array} publicKey the 32-byte Ed25519 public key
   * @param {Uint8Array} keyId the 4-byte key ID that signature lines carry
   * @throws {NoteError} the name is not a key name, or the key does not have 32 bytes
   */
  constructor(name, publicKey, keyId) {
    checkName(name);
    if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) {
      throw new NoteError("an Ed25519 public key has 32 bytes");
    }
    if (!(keyId instanceof Uint8Array) || keyId.length !== 4) {
      throw new NoteError("a key ID has 4 bytes");
    }
    /** The key's name. */
    this.name = name;
    /** The 32-byte public key. */
    this.publicKey = Uint8Array.from(publicKey);
    /** The 4-byte key ID (for a parsed key: as the string stated it, until `check`). */
    this.keyId = Uint8Array.from(keyId);
  }

  /**
   * The verifier of a public key called `name`, its key ID computed.
   * @param {string} name
   * @param {Uint8Array} publicKey
   * @returns {Promise<Verifier>}
   * @throws {NoteError} (as a rejection) the name or key is not acceptable
   */
  static async of(name, publicKey) {
    checkName(name);
    return new Verifier(name, publicKey, await keyIdOf(name, publicKey));
  }

  /**
   * Read a verifier key string.
   *
   * Everything about it is checked here but whether its key ID is the key's, which takes a
   * SHA-256 and so a Promise: `check()` does that, and `openNote` checks every key it is
   * given before it reads the note, so a wrong key ID is refused there as in Python.
   * @param {string} verifierKey `<name>+<key ID>+<base64(0x01 || public key)>`
   * @returns {Verifier}
   * @throws {NoteError} the string is not a well-formed Ed25519 verifier key
   */
  static parse(verifierKey) {
    const what = "verifier key";
    if (typeof verifierKey !== "string") throw new NoteError(`malformed ${what}: not a string`);
    // Neither a name nor a key ID holds a '+'; base64 can, so the key comes last.
    const first = verifierKey.indexOf("+");
    const second = first < 0 ? -1 : verifierKey.indexOf("+", first + 1);
    if (second < 0) throw new NoteError(`malformed ${what}: expected <name>+<key ID>+<key>`);
    const name = verifierKey.slice(0, first);
    const keyIdHex = verifierKey.slice(first + 1, second);
    if (!KEY_ID_HEX.test(keyIdHex)) {
      throw new NoteError(`malformed ${what}: the key ID is not 8 lower-case hex digits`);
    }
    const data = decodeBase64(verifierKey.slice(second + 1));
    if (data === null || data.length !== 1 + 32) {
      throw new NoteError(`malformed ${what}: the key is not base64 of 33 bytes`);
    }
    if (data[0] !== ED25519) {
      const algorithm = `0x${data[0].toString(16).padStart(2, "0")}`;
      throw new NoteError(`unsupported ${what}: algorithm ${algorithm} is not Ed25519`);
    }
    return new Verifier(name, data.subarray(1), fromHex(keyIdHex));
  }

  /**
   * Check that the key ID is the key's (once; later calls share the answer).
   * @returns {Promise<Verifier>} this verifier
   * @throws {NoteError} (as a rejection) the key ID does not match the key
   */
  check() {
    this.#checked ??= keyIdOf(this.name, this.publicKey).then((computed) => {
      if (toHex(computed) !== toHex(this.keyId)) {
        throw new NoteError("malformed verifier key: the key ID does not match the key");
      }
      return this;
    });
    return this.#checked;
  }

  /** @returns {string} the verifier key string */
  toString() {
    const key = toBase64(concat(new Uint8Array([ED25519]), this.publicKey));
    return `${this.name}+${toHex(this.keyId)}+${key}`;
  }

  /**
   * Whether `signature` is this key's Ed25519 signature of `message`.
   * @param {Uint8Array} message
   * @param {Uint8Array} signature
   * @returns {Promise<boolean>}
   * @throws {NoteError} (as a rejection) the key ID does not match the key
   */
  async verify(message, signature) {
    await this.check();
    return ed25519Verify(this.publicKey, message, signature);
  }
}

/**
 * The known keys by name and key ID, each checked.
 * @param {string | Verifier | Iterable<string | Verifier>} keys
 * @returns {Promise<Map<string, Verifier>>}
 */
async function verifiers(keys) {
  // A lone string is also an iterable (of characters): take it as one key.
  const list = typeof keys === "string" || keys instanceof Verifier ? [keys] : [...keys];
  /** @type {Map<string, Verifier>} */
  const known = new Map();
  for (const key of list) {
    const verifier = key instanceof Verifier ? key : Verifier.parse(key);
    await verifier.check();
    const id = `${verifier.name} ${toHex(verifier.keyId)}`;
    const before = known.get(id);
    if (before !== undefined && before.toString() !== verifier.toString()) {
      throw new NoteError(`two different verifier keys share ${verifier.name} and key ID`);
    }
    known.set(id, verifier);
  }
  return known;
}

/**
 * Split a signature line into key name, key ID and signature.
 * @param {string} line
 * @returns {{name: string, keyId: Uint8Array, signature: Uint8Array}}
 * @throws {NoteError} the line is malformed
 */
function parseSignatureLine(line) {
  if (!line.startsWith(SIGNATURE_PREFIX)) {
    throw new NoteError("a signature line must start with an em dash and a space");
  }
  const rest = line.slice(SIGNATURE_PREFIX.length);
  const space = rest.indexOf(" ");
  if (space < 0) throw new NoteError("a signature line must be '\u2014 <name> <signature>'");
  const name = rest.slice(0, space);
  try {
    checkName(name);
  } catch (error) {
    throw new NoteError(`bad signature line: ${/** @type {Error} */ (error).message}`);
  }
  const signature = decodeBase64(rest.slice(space + 1));
  if (signature === null || signature.length < 5) {
    throw new NoteError(`the signature by ${name} is not base64 of a key ID and more`);
  }
  return { name, keyId: signature.subarray(0, 4), signature: signature.subarray(4) };
}

/**
 * Check a signed note's signatures and return its text.
 * @param {string} note the signed note
 * @param {string | Verifier | Iterable<string | Verifier>} verifierKeys the keys to trust: one
 *   or several, as strings or parsed `Verifier`s
 * @returns {Promise<string>} the note text, ending in a newline: safe to use, because a known
 *   key signed it
 * @throws {NoteError} (as a rejection) the note is malformed, no signature is by a known key,
 *   a signature by a known key does not verify, or a verifier key is malformed
 */
export async function openNote(note, verifierKeys) {
  const known = await verifiers(verifierKeys);
  if (typeof note !== "string" || CONTROL_BUT_NEWLINE.test(note) || !isWellFormed(note)) {
    throw new NoteError("a note must be UTF-8 without control characters but newline");
  }
  // The text may hold blank lines itself; the signatures begin after the last one.
  const split = note.lastIndexOf("\n\n");
  if (split < 0) throw new NoteError("a note needs a blank line between text and signatures");
  const text = note.slice(0, split + 1);
  const signatureBlock = note.slice(split + 2);
  if (!signatureBlock.endsWith("\n")) {
    throw new NoteError("a note must end with a newline after its signatures");
  }
  const lines = signatureBlock.slice(0, -1).split("\n");
  if (lines.length > MAX_SIGNATURES) {
    throw new NoteError(`a note may carry at most ${MAX_SIGNATURES} signatures`);
  }

  const message = utf8(text);
  /** @type {string[]} */
  const signers = [];
  let verified = false;
  for (const line of lines) {
    const { name, keyId, signature } = parseSignatureLine(line);
    signers.push(name);
    const verifier = known.get(`${name} ${toHex(keyId)}`);
    if (verifier === undefined) continue;
    if (!(await verifier.verify(message, signature))) {
      throw new NoteError(`the signature by ${name} (${toHex(keyId)}) does not verify`);
    }
    verified = true;
  }
  if (!verified) {
    throw new NoteError(`no signature by a known key (signed by: ${signers.join(", ")})`);
  }
  return text;
}
