/**
 * Where the console keeps its token: in this tab's sessionStorage, and nowhere else.
 *
 * The token is a bearer credential. It never goes into a URL the browser sends: the SDK
 * puts it in an `Authorization` header and in the socket's `hello`. A demo sign-in link
 * carries it in the fragment (`/#token=hl_…`), which browsers keep to themselves; the
 * console reads it once, stores it, and rewrites the address bar without it, so that it
 * is neither bookmarked nor shared by accident.
 * @module
 */

const TOKEN_KEY = "hotline.token";
const CHANNEL_KEY = "hotline.channel";

/**
 * Take a token from the address's fragment, if it carries one, and remove it from the
 * address bar (and the tab's history entry).
 * @param {Location} location
 * @param {History} history
 * @param {Storage} storage
 * @returns {boolean} whether a token was found
 */
export function takeTokenFromFragment(location, history, storage) {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const token = fragment.get("token");
  if (token === null) return false;
  fragment.delete("token");
  const rest = fragment.toString();
  history.replaceState(
    history.state,
    "",
    location.pathname + location.search + (rest ? `#${rest}` : ""),
  );
  if (!token.trim()) return false;
  storage.setItem(TOKEN_KEY, token.trim());
  return true;
}

/**
 * @param {Storage} storage
 * @returns {string | null} the token this tab signed in with
 */
export function storedToken(storage) {
  return storage.getItem(TOKEN_KEY);
}

/**
 * @param {Storage} storage
 * @param {string} token
 */
export function storeToken(storage, token) {
  storage.setItem(TOKEN_KEY, token);
}

/**
 * Forget the token (and the channel chosen with it).
 * @param {Storage} storage
 */
export function forget(storage) {
  storage.removeItem(TOKEN_KEY);
  storage.removeItem(CHANNEL_KEY);
}

/**
 * @param {Storage} storage
 * @returns {string | null} the channel last chosen in this tab
 */
export function storedChannel(storage) {
  return storage.getItem(CHANNEL_KEY);
}

/**
 * @param {Storage} storage
 * @param {string} channel
 */
export function storeChannel(storage, channel) {
  storage.setItem(CHANNEL_KEY, channel);
}
