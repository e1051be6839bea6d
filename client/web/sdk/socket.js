/**
 * One WebSocket connection read like a stream: `await socket.recv()` gives the next message,
 * or rejects with `SocketClosed` once the connection has ended. The browser's event handlers
 * become the sequential reading `client/live.py` does with `websockets`, so the session code
 * can follow it line by line.
 * @module
 */

/**
 * The largest message the client reads: 1 MiB, the default `max_size` of `websockets`, which
 * the Python client uses. A larger message ends the connection (as `websockets` ends it with
 * 1009), unread, and the subscription reconnects and resumes.
 */
export const MAX_MESSAGE_BYTES = 2 ** 20;

/** The connection ended (or never opened); `code` and `reason` are the close frame's. */
export class SocketClosed extends Error {
  /**
   * @param {number} code the close code (1006: no close frame, the connection just broke)
   * @param {string} reason
   */
  constructor(code, reason) {
    super(`the socket closed (${code}${reason ? ` ${reason}` : ""})`);
    this.name = "SocketClosed";
    this.code = code;
    this.reason = reason;
  }
}

/** No message (or no opening) within the time allowed. */
export class SocketTimeout extends Error {
  constructor(/** @type {string} */ message) {
    super(message);
    this.name = "SocketTimeout";
  }
}

/**
 * The WebSocket constructor the SDK uses: the platform's (browsers, Node 22+, Node 20 with
 * `--experimental-websocket`) or one passed in.
 * @typedef {new (url: string) => WebSocket} WebSocketClass
 */

/**
 * UTF-8 byte length of `text`, counted only when it might exceed `limit`: a string of n UTF-16
 * units has at most 3n bytes, so most messages need no counting.
 * @param {string} text
 * @param {number} limit
 */
function exceeds(text, limit) {
  if (text.length * 3 <= limit) return false;
  return new TextEncoder().encode(text).length > limit;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

export class Socket {
  /**
   * @param {WebSocket} ws a socket just made, not yet open
   * @param {number} maxBytes
   */
  constructor(ws, maxBytes) {
    this.ws = ws;
    /** @type {Array<string>} */
    this._messages = [];
    /** @type {SocketClosed | null} */
    this._ended = null;
    /** @type {(() => void) | null} */
    this._wake = null;
    ws.binaryType = "arraybuffer";
    ws.addEventListener("message", (event) => {
      if (this._ended) return;
      const text = typeof event.data === "string" ? event.data : decode(event.data);
      if (exceeds(text, maxBytes)) {
        // Dropped unread, whole: nothing of it may be half-applied.
        this._end(new SocketClosed(1009, `a message over ${maxBytes} bytes`));
        this.close(1000, "message too big");
        return;
      }
      this._messages.push(text);
      this._notify();
    });
    ws.addEventListener("close", (event) => {
      this._end(new SocketClosed(event.code, event.reason));
    });
  }

  /**
   * Open a connection to `url`.
   * @param {WebSocketClass} WebSocketImpl
   * @param {string} url
   * @param {{timeout: number, maxBytes?: number, signal?: AbortSignal}} options `timeout`:
   *   milliseconds to open in; `signal`: gives up opening when aborted
   * @returns {Promise<Socket>}
   * @throws {SocketClosed} it could not be opened, or `signal` was aborted
   * @throws {SocketTimeout} it did not open in time
   */
  static async open(WebSocketImpl, url, { timeout, maxBytes = MAX_MESSAGE_BYTES, signal }) {
    const ws = new WebSocketImpl(url);
    const socket = new Socket(ws, maxBytes);
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let timer;
    const giveUp = () => socket.close(1000, "");
    try {
      await new Promise((resolve, reject) => {
        timer = setTimeout(() => {
          giveUp();
          reject(new SocketTimeout(`the socket did not open within ${timeout} ms`));
        }, timeout);
        ws.addEventListener("open", () => resolve(undefined));
        ws.addEventListener("close", (event) => reject(new SocketClosed(event.code, event.reason)));
        signal?.addEventListener("abort", () => {
          giveUp();
          reject(new SocketClosed(1000, "stopped"));
        });
        if (signal?.aborted) giveUp();
      });
    } finally {
      clearTimeout(timer);
    }
    return socket;
  }

  /**
   * The next message.
   * @param {number} [timeout] milliseconds to wait at most; forever if omitted
   * @returns {Promise<string>}
   * @throws {SocketClosed} the connection ended (any messages before the end come first)
   * @throws {SocketTimeout} nothing came in time
   */
  async recv(timeout) {
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let timer;
    let late = false;
    try {
      while (this._messages.length === 0) {
        if (this._ended) throw this._ended;
        await new Promise((resolve) => {
          this._wake = () => resolve(undefined);
          if (timeout !== undefined && timer === undefined) {
            timer = setTimeout(() => {
              late = true;
              this._notify();
            }, timeout);
          }
        });
        if (late && this._messages.length === 0 && !this._ended) {
          throw new SocketTimeout(`no message within ${timeout} ms`);
        }
      }
      return /** @type {string} */ (this._messages.shift());
    } finally {
      clearTimeout(timer);
    }
  }

  /** @param {string} text */
  send(text) {
    if (this._ended) throw this._ended;
    this.ws.send(text);
  }

  /**
   * Close the connection (if not closed yet); a waiting `recv` rejects at once.
   * @param {number} [code]
   * @param {string} [reason]
   */
  close(code = 1000, reason = "") {
    this._end(new SocketClosed(code, reason));
    if (this.ws.readyState === 0 || this.ws.readyState === 1) {
      try {
        this.ws.close(code, reason);
      } catch {
        this.ws.close(); // a code the platform will not send from a client: close plainly
      }
    }
  }

  /** @param {SocketClosed} ended */
  _end(ended) {
    this._ended ??= ended;
    this._notify();
  }

  _notify() {
    const wake = this._wake;
    this._wake = null;
    wake?.();
  }
}

/**
 * A binary frame's text; one that is not UTF-8 becomes text that is not JSON either, so it is
 * passed over like any garbled message.
 * @param {ArrayBuffer | Blob} data
 */
function decode(data) {
  try {
    return decoder.decode(/** @type {ArrayBuffer} */ (data));
  } catch {
    return "";
  }
}
