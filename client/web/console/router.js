/**
 * The console's views, named in the address's fragment: `#inbox`, `#compose`,
 * `#compose/<notice id>` (an update of that notice), `#notice/<id>`, `#log`, `#timeline`,
 * `#policy`.
 *
 * The fragment is never sent to the server, so nothing about what an operator looks at
 * leaves the browser; and the back button, bookmarks and new tabs work as people expect.
 * @module
 */

/** @typedef {"inbox" | "compose" | "notice" | "log" | "timeline" | "policy"} ViewName */
/** @typedef {{view: ViewName, id: string | null}} Route */

/** @type {readonly ViewName[]} */
export const VIEWS = ["inbox", "compose", "notice", "log", "timeline", "policy"];

/**
 * The route a fragment names; the inbox for an empty or unknown one.
 * @param {string} hash `location.hash`, with its `#`
 * @returns {Route}
 */
export function parseRoute(hash) {
  const [name, ...rest] = hash.replace(/^#/, "").split("/");
  const view = VIEWS.find((v) => v === name);
  if (!view) return { view: "inbox", id: null };
  const id = rest.length ? decodeURIComponent(rest.join("/")) : null;
  if (view === "notice" && !id) return { view: "inbox", id: null };
  return { view, id };
}

/**
 * The fragment of a route, for an `href`.
 * @param {ViewName} view
 * @param {string | null} [id]
 * @returns {string}
 */
export function href(view, id = null) {
  return id ? `#${view}/${encodeURIComponent(id)}` : `#${view}`;
}
