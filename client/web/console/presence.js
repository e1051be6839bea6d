/**
 * Who of each party has the channel open right now, as the server's `presence` messages
 * say. Presence is not in the log and is not verified: it is a courtesy, shown as such.
 * @module
 */

import { partySide } from "./context.js";
import { h, replace } from "./dom.js";

/** The presence panel. */
export class PresenceView {
  /**
   * @param {HTMLElement} root
   */
  constructor(root) {
    this.root = root;
    /** @type {Record<string, string[]>} by party id, the operators online */
    this.online = {};
  }

  /**
   * Take a `presence` message's map.
   * @param {unknown} online by party id, a list of operator ids
   */
  update(online) {
    /** @type {Record<string, string[]>} */
    const clean = {};
    if (typeof online === "object" && online !== null) {
      for (const [party, operators] of Object.entries(online)) {
        if (Array.isArray(operators)) clean[party] = operators.filter((o) => typeof o === "string");
      }
    }
    this.online = clean;
  }

  /** Forget everyone: the connection that told us is gone. */
  clear() {
    this.online = {};
  }

  /**
   * @param {import("./context.js").Channel | null} channel
   * @param {boolean} live whether the connection that reports presence is up
   */
  render(channel, live) {
    this.root.hidden = !channel;
    if (!channel) {
      replace(this.root);
      return;
    }
    replace(
      this.root,
      h("h2", { id: "presence-title" }, "Online now"),
      h(
        "ul",
        { class: "presence", "aria-labelledby": "presence-title" },
        channel.parties.map((party) => {
          const here = this.online[party.id] ?? [];
          return h(
            "li",
            { class: `side-${partySide(channel, party.id)}`, "data-party": party.id },
            h("span", { class: here.length ? "dot on" : "dot", "aria-hidden": "true" }),
            h("span", { class: "party" }, party.name),
            ": ",
            h(
              "span",
              { class: "who" },
              !live ? "unknown (not connected)" : here.length ? here.join(", ") : "nobody",
            ),
          );
        }),
      ),
    );
  }
}
