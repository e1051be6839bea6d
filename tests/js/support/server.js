/**
 * A real Hotline server for the SDK's tests: `python -m server demo --json` in a temporary
 * directory of its own (where it makes its log key), on a fresh SQLite file, as the Python e2e
 * tests start it (tests/e2e/conftest.py). Every wait is bounded; a server that cannot start
 * makes the tests skip, saying why.
 *
 * Python is `$HOTLINE_PYTHON`, else `python` on the PATH.
 */

import { spawn, execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const PYTHON = process.env.HOTLINE_PYTHON ?? "python";
const REPOSITORY = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
export const START_TIMEOUT = 30_000;
const STOP_TIMEOUT = 20_000;

/** The child's environment: ours without any HOTLINE_*, logging JSON, importing this checkout. */
function childEnv() {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith("HOTLINE_")),
  );
  const path = env.PYTHONPATH ? `${REPOSITORY}:${env.PYTHONPATH}` : REPOSITORY;
  return { ...env, HOTLINE_LOG_FORMAT: "json", PYTHONPATH: path };
}

/** One run of `python -m server …`, its output drained so that no pipe can fill. */
class ServerProcess {
  /**
   * @param {string[]} args
   * @param {string} cwd
   */
  constructor(args, cwd) {
    this.args = args;
    this.stderr = "";
    this.child = spawn(PYTHON, ["-m", "server", ...args], {
      cwd,
      env: childEnv(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.exited = new Promise((resolve) => {
      this.child.once("exit", (code, signal) => resolve({ code, signal }));
      this.child.once("error", (error) => {
        this.stderr += `${error.message}\n`; // such as spawn python ENOENT
        resolve({ code: null, signal: null, error });
      });
    });
    this.child.stderr.setEncoding("utf8");
    this.child.stderr.on("data", (chunk) => {
      this.stderr += chunk;
    });
    this.child.stdout.setEncoding("utf8");
    let stdout = "";
    /** @type {Promise<string>} the first line on standard output */
    this.firstLine = new Promise((resolve) => {
      this.child.stdout.on("data", (chunk) => {
        stdout += chunk;
        if (stdout.includes("\n")) resolve(stdout.slice(0, stdout.indexOf("\n")));
      });
      this.exited.then(() => resolve(""));
    });
  }

  get running() {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /**
   * Wait for `what`, at most `START_TIMEOUT`; kill the server and throw if it does not come.
   * @template T
   * @param {Promise<T>} promise
   * @param {string} what
   * @returns {Promise<T>}
   */
  async within(promise, what) {
    let timer;
    const late = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the server did not ${what} within 30 s`)), START_TIMEOUT);
    });
    try {
      return await Promise.race([promise, late]);
    } catch (error) {
      await this.stop("SIGKILL");
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Send `signal` and wait for the exit; SIGKILL if it takes too long.
   * @param {NodeJS.Signals} [signal]
   */
  async stop(signal = "SIGTERM") {
    if (this.running) this.child.kill(signal);
    let timer;
    const late = new Promise((resolve) => {
      timer = setTimeout(() => {
        this.child.kill("SIGKILL");
        resolve(undefined);
      }, STOP_TIMEOUT);
    });
    await Promise.race([this.exited, late]);
    clearTimeout(timer);
    return this.exited;
  }

  /** Why it did not start, with the end of what it wrote. */
  failure() {
    const tail = this.stderr.trim().split("\n").slice(-5).join("\n");
    return `\`${PYTHON} -m server ${this.args.join(" ")}\` did not start: ${tail || "no output"}`;
  }
}

/** A directory with one SQLite database and the servers started on it, in turn. */
export class Site {
  /** @param {string} directory */
  constructor(directory) {
    this.directory = directory;
    this.databasePath = join(directory, "hotline.db");
    this.databaseUrl = `sqlite:///${this.databasePath}`;
    /** @type {ServerProcess[]} */
    this.processes = [];
    /** @type {{url: string, channel: string, tokens: Record<string, string>, logKey: string} | null} */
    this.demo = null;
  }

  static async create() {
    return new Site(await mkdtemp(join(tmpdir(), "hotline-js-")));
  }

  /** The port the demo listens on. */
  get port() {
    return Number(new URL(/** @type {any} */ (this.demo).url).port);
  }

  /** @param {string[]} args */
  _spawn(args) {
    const server = new ServerProcess(args, this.directory);
    this.processes.push(server);
    return server;
  }

  /**
   * Start the demo (fresh tokens) and read what it announces.
   * @returns {Promise<{url: string, channel: string, tokens: Record<string, string>, logKey: string}>}
   */
  async startDemo() {
    const server = this._spawn(["demo", "--json", "--port", "0", "--database-url", this.databaseUrl]);
    const line = await server.within(server.firstLine, "announce itself");
    if (!line) throw new Error(server.failure());
    const announced = JSON.parse(line);
    this.demo = {
      url: announced.url,
      channel: announced.channel,
      logKey: announced.log_key,
      tokens: Object.fromEntries(announced.operators.map((/** @type {any} */ o) => [o.id, o.token])),
    };
    return this.demo;
  }

  /**
   * Start `serve` on the same database, port and key file: the demo's tokens stay valid (a
   * demo started again would revoke them).
   */
  async restart() {
    const server = this._spawn([
      "serve",
      "--port",
      String(this.port),
      "--database-url",
      this.databaseUrl,
    ]);
    const serving = new Promise((resolve) => {
      const look = () => {
        if (this._served(server)) resolve(undefined);
      };
      server.child.stderr.on("data", look);
      server.exited.then(() => resolve(undefined));
    });
    await server.within(serving, "say it is serving");
    if (!this._served(server)) throw new Error(server.failure());
  }

  /** @param {ServerProcess} server */
  _served(server) {
    return server.stderr.split("\n").some((line) => {
      try {
        return JSON.parse(line).message === "serving";
      } catch {
        return false;
      }
    });
  }

  /** The server running now, if any. */
  get current() {
    return this.processes.at(-1);
  }

  /** SIGKILL the running server: no shutdown, no last words. */
  async kill() {
    await this.current?.stop("SIGKILL");
  }

  /**
   * Run SQL on the database behind the server's back, as someone with access to it could.
   * @param {string[]} statements
   * @param {Array<string | number>} [params] bound to every statement's `?`s
   */
  async tamper(statements, params = []) {
    const script = [
      "import json, sqlite3, sys",
      "db = sqlite3.connect(sys.argv[1])",
      "for statement in json.loads(sys.argv[2]):",
      "    db.execute(statement, json.loads(sys.argv[3]))",
      "db.commit()",
      "db.close()",
    ].join("\n");
    await new Promise((resolve, reject) => {
      execFile(
        PYTHON,
        ["-c", script, this.databasePath, JSON.stringify(statements), JSON.stringify(params)],
        { timeout: START_TIMEOUT },
        (error, _stdout, stderr) => (error ? reject(new Error(`${error}: ${stderr}`)) : resolve(undefined)),
      );
    });
  }

  /** Stop every server still running, and remove the directory. */
  async close() {
    for (const server of this.processes) await server.stop();
    await rm(this.directory, { recursive: true, force: true });
  }
}

/**
 * A site with the demo running, or the reason there can be none here (for `skip`).
 *
 * With `HOTLINE_REQUIRE_SERVER` set (as in CI), a server that cannot start is an error, not a
 * skip: a skipped test there would hide a failure, as `HOTLINE_REQUIRE_BROWSER` says of the
 * browser tests.
 * @returns {Promise<{site: Site, skip: false} | {site: null, skip: string}>}
 */
export async function startSite() {
  const site = await Site.create();
  try {
    await site.startDemo();
    return { site, skip: false };
  } catch (error) {
    await site.close();
    if (process.env.HOTLINE_REQUIRE_SERVER) throw error;
    return { site: null, skip: `no Hotline server to test against: ${/** @type {Error} */ (error).message}` };
  }
}

/**
 * Things that happen (events, states, errors), kept in order, with a way to wait for the
 * moment they satisfy a condition: checked at each arrival, never by polling a clock.
 * @template T
 */
export class Seen {
  constructor() {
    /** @type {T[]} */
    this.items = [];
    /** @type {Array<() => void>} */
    this._waiters = [];
  }

  /** @param {T} item */
  push(item) {
    this.items.push(item);
    for (const waiter of [...this._waiters]) waiter();
  }

  /**
   * Resolve once `holds(items)` is true, or reject after `timeout` ms.
   * @param {(items: T[]) => boolean} holds
   * @param {string} what
   * @param {number} [timeout]
   * @returns {Promise<T[]>}
   */
  until(holds, what, timeout = 15_000) {
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this._waiters = this._waiters.filter((w) => w !== look);
      };
      const look = () => {
        if (holds(this.items)) {
          done();
          resolve(this.items);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeout} ms waiting for ${what}; saw ${this.items.length}`));
      }, timeout);
      this._waiters.push(look);
      look();
    });
  }
}
