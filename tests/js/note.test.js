// Signed notes against the shared vectors (tests/vectors/notes.json, signed through
// client/protocol/note.py with fixed keys), opened with WebCrypto's Ed25519 and with the
// vendored @noble/ed25519 alike; then how the SDK chooses between the two.

import assert from "node:assert/strict";
import { createHash, webcrypto } from "node:crypto";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import {
  chooseEd25519,
  ed25519Implementation,
  setEd25519Implementation,
} from "../../client/web/sdk/crypto.js";
import { NoteError } from "../../client/web/sdk/errors.js";
import { openNote, Verifier } from "../../client/web/sdk/note.js";
import { vectors } from "./support/vectors.js";

const notes = vectors("notes.json");
const LOG = notes.keys.find((/** @type {any} */ key) => key.label === "the log's key").verifier;
const good = notes.notes.find((/** @type {any} */ v) => v.error === null && v.keys[0] === LOG);

/**
 * Run `body` with Ed25519 verified by `implementation`, then go back to choosing.
 * @param {"webcrypto" | "noble"} implementation
 * @param {() => Promise<void>} body
 */
async function using(implementation, body) {
  setEd25519Implementation(implementation);
  try {
    assert.equal(await ed25519Implementation(), implementation);
    await body();
  } finally {
    setEd25519Implementation("auto");
  }
}

/**
 * What opening a note vector gave, in the terms of the vector file.
 * @param {any} vector
 */
async function opened(vector) {
  try {
    return { text: await openNote(vector.note, vector.keys), refused: false };
  } catch (error) {
    assert.ok(error instanceof NoteError, `${vector.name}: not a NoteError: ${error}`);
    return { text: null, refused: true };
  }
}

for (const implementation of /** @type {const} */ (["webcrypto", "noble"])) {
  test(`every note opens or is refused as in Python, Ed25519 by ${implementation}`, async () => {
    await using(implementation, async () => {
      const wrong = [];
      for (const vector of notes.notes) {
        const got = await opened(vector);
        if (got.text !== vector.text || got.refused !== (vector.error !== null)) {
          wrong.push({ name: vector.name, got, error: vector.error });
        }
      }
      assert.deepEqual(wrong, []);
    });
  });
}

test("the note vectors hold good notes and every kind of refusal", () => {
  const errors = new Set(notes.notes.map((/** @type {any} */ v) => v.error));
  for (const kind of [null, "MalformedNoteError", "UnverifiedNoteError", "InvalidSignatureError"]) {
    assert.ok(errors.has(kind), kind ?? "good notes");
  }
});

for (const vector of notes.verifier_keys) {
  test(`verifier key: ${vector.name} ${vector.error ? "is refused" : "is read"}`, async () => {
    if (vector.error === null) {
      const verifier = await Verifier.parse(vector.key).check();
      assert.equal(String(verifier), vector.key);
    } else {
      await assert.rejects(async () => Verifier.parse(vector.key).check(), NoteError);
    }
  });
}

test("a key whose ID is not its own is refused by openNote before the note is read", async () => {
  const [name, keyId, key] = LOG.split("+");
  const wrongId = `${name}+${keyId === "00000000" ? "00000001" : "00000000"}+${key}`;
  const parsed = Verifier.parse(wrongId); // the ID needs a SHA-256: checked when used
  await assert.rejects(parsed.check(), /the key ID does not match the key/);
  await assert.rejects(openNote(good.note, [wrongId, LOG]), /the key ID does not match the key/);
  await assert.rejects(openNote("not even a note", wrongId), /the key ID does not match the key/);
});

test("Verifier.of computes the key ID that a parsed key states", async () => {
  const parsed = Verifier.parse(LOG);
  const made = await Verifier.of(parsed.name, parsed.publicKey);
  assert.equal(String(made), LOG);
  assert.deepEqual(made.keyId, parsed.keyId);
});

test("one key string is one key, not a list of characters", async () => {
  assert.equal(await openNote(good.note, LOG), good.text);
  assert.equal(await openNote(good.note, Verifier.parse(LOG)), good.text);
  assert.equal(await openNote(good.note, new Set([LOG])), good.text);
});

test("WebCrypto verifies Ed25519 on Node 20, so it is what auto chooses", async () => {
  assert.equal(await ed25519Implementation(), "webcrypto");
  assert.equal((await chooseEd25519(webcrypto.subtle)).name, "webcrypto");
});

test("a WebCrypto that refuses Ed25519 gets the vendored noble instead", async () => {
  const refusing = /** @type {SubtleCrypto} */ (
    /** @type {unknown} */ ({
      importKey: async () => {
        throw new DOMException("Unrecognized algorithm name", "NotSupportedError");
      },
    })
  );
  const chosen = await chooseEd25519(refusing);
  assert.equal(chosen.name, "noble");
  const { publicKey } = Verifier.parse(LOG);
  assert.equal(await chosen.verify(publicKey, new Uint8Array(0), new Uint8Array(64)), false);
});

test("a WebCrypto that calls every signature good is not trusted with Ed25519", async () => {
  const gullible = /** @type {SubtleCrypto} */ (
    /** @type {unknown} */ ({ importKey: async () => ({}), verify: async () => true })
  );
  assert.equal((await chooseEd25519(gullible)).name, "noble");
});

test("the vendored noble is the file its README pins", () => {
  const folder = new URL("../../client/web/sdk/vendor/noble-ed25519/", import.meta.url);
  const readme = readFileSync(new URL("README.md", folder), "utf8");
  for (const file of ["index.js", "index.d.ts"]) {
    const digest = createHash("sha256").update(readFileSync(new URL(file, folder))).digest("hex");
    assert.match(readme, new RegExp(`\`${file.replaceAll(".", "\\.")}\`[^]*?sha256 \`${digest}\``));
  }
  assert.match(readme, /@noble\/ed25519` 3\.2\.0/);
  assert.match(readFileSync(new URL("LICENSE", folder), "utf8"), /MIT License/);
});
