/**
 * What every view of the console is given: who is signed in, the channel on screen, its
 * notices, and the few things a view may ask of the console.
 * @module
 */

/**
 * The operator a token belongs to (`GET /api/v1/me`).
 * @typedef {object} Me
 * @property {{id: string, name: string}} operator
 * @property {"operator" | "observer" | "admin"} role
 * @property {{id: string, name: string}} party
 */

/**
 * A channel as one of its parties sees it (`GET /api/v1/channels/{id}`).
 * @typedef {object} Channel
 * @property {string} id
 * @property {{id: string, name: string}[]} parties
 * @property {import("../sdk/client.js").Policy} policy the policy in force when the console
 *   opened the channel (the log's `channel.policy_changed` events say what changed since)
 * @property {number} head
 */

/**
 * @typedef {object} Context
 * @property {import("../sdk/hotline.js").HotlineClient} client the REST client
 * @property {Me} me
 * @property {Channel} channel
 * @property {import("./notices.js").NoticeBook} book the channel's notices, from its log
 * @property {() => boolean} stopped whether verification failed: then nothing may be done
 * @property {(message: string) => void} announce say something to screen readers (politely)
 * @property {() => number} now the time, in milliseconds since the epoch
 */

/**
 * A party's display name, or its id if the channel does not name it.
 * @param {Channel} channel
 * @param {string} party
 * @returns {string}
 */
export function partyName(channel, party) {
  return channel.parties.find((p) => p.id === party)?.name ?? party;
}

/**
 * The other party of the channel, seen from `party`.
 * @param {Channel} channel
 * @param {string} party
 * @returns {{id: string, name: string}}
 */
export function otherParty(channel, party) {
  return channel.parties.find((p) => p.id !== party) ?? { id: "?", name: "the other party" };
}

/**
 * Which of the channel's two parties this is, for colours and shapes: "a" or "b".
 * @param {Channel} channel
 * @param {string} party
 * @returns {"a" | "b"}
 */
export function partySide(channel, party) {
  return channel.parties[0]?.id === party ? "a" : "b";
}
