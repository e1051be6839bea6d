/**
 * The console's entry point: signs in, opens a channel's verified event stream, folds it
 * into notices, and shows the view the address names.
 *
 * State flows one way. Events arrive from the SDK only once verified; `NoticeBook` folds
 * them; the visible view is redrawn from the book. Actions (send, acknowledge, object,
 * cancel) go to the server over REST and change nothing here: their effect comes back as
 * events like any other. When verification fails, the console stops: the feed is closed,
 * every action is withdrawn, and a red banner says what happened.
 * @module
 */

import { ConnectionClosed, HotlineClient, ProblemError } from "../sdk/hotline.js";
import { announcement } from "./announcements.js";
import { CheckPanel } from "./check-panel.js";
import { ComposeView } from "./compose.js";
import { byId, h, replace } from "./dom.js";
import { Feed } from "./feed.js";
import { InboxView } from "./inbox.js";
import { LogView } from "./log-view.js";
import { NoticeBook } from "./notices.js";
import { NoticeView } from "./notice-view.js";
import { PolicyView } from "./policy-view.js";
import { PresenceView } from "./presence.js";
import { href, parseRoute, VIEWS } from "./router.js";
import * as session from "./session.js";
import { SignInView } from "./signin.js";
import { TimelineView } from "./timeline.js";

/** @typedef {import("./context.js").Context} Context */
/** @typedef {import("./context.js").Channel} Channel */
/** @typedef {import("./context.js").Me} Me */
/** @typedef {{render(): void, show?(id: string | null): void}} View */

const TICK_MS = 30_000; // deadlines are shown to the minute: redraw them this often

const INSECURE =
  "This page was not opened over https: or from this machine, so the browser offers it no " +
  "WebCrypto and the console cannot verify the log. Open it over https:, or at localhost.";

const STATUS_WORDS = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  offline: "Offline",
  stopped: "Stopped",
};

class ConsoleApp {
  constructor() {
    this.page = {
      header: byId("session", HTMLElement),
      who: byId("who", HTMLElement),
      channelSelect: byId("channel-select", HTMLSelectElement),
      connection: byId("connection", HTMLElement),
      signOut: byId("sign-out", HTMLButtonElement),
      nav: byId("toolbar", HTMLElement),
      stopped: byId("stopped", HTMLElement),
      problems: byId("problems", HTMLElement),
      presence: byId("presence", HTMLElement),
      checks: byId("checks", HTMLElement),
      announcer: byId("announcer", HTMLElement),
    };
    /** @type {Record<string, HTMLElement>} */
    this.sections = Object.fromEntries(
      ["signin", ...VIEWS].map((name) => [name, byId(`view-${name}`, HTMLElement)]),
    );
    this.signIn = new SignInView(this.sections.signin, (token) => this.start(token));
    this.presence = new PresenceView(this.page.presence);
    /** @type {{client: HotlineClient, me: Me, channels: Channel[]} | null} */
    this.session = null;
    /**
     * The channel on screen; `head` is the log's head when its feed first went live: later
     * events are news, earlier ones history.
     * @type {{context: Context, views: Record<string, View>, checks: CheckPanel, feed: Feed,
     *   head: number | null} | null}
     */
    this.open = null;
    this.stopped = false;
    this.live = false;
    this.pending = false;
    /** @type {ReturnType<typeof setInterval> | undefined} */
    this.ticker = undefined;
    this.page.signOut.addEventListener("click", () => this.signOut(""));
    this.page.channelSelect.addEventListener("change", () =>
      this.openChannel(this.page.channelSelect.value),
    );
    window.addEventListener("hashchange", () => {
      // A sign-in link followed from this very page changes only the fragment.
      if (new URLSearchParams(location.hash.slice(1)).has("token")) {
        this.signOut("");
        void this.boot();
      } else {
        this.route(true);
      }
    });
    window.addEventListener("offline", () => {
      if (!this.open || this.stopped) return;
      this.open.feed.pause();
      this.connection("offline", "this browser has no network; events will follow when it is back");
    });
    window.addEventListener("online", () => {
      if (this.open && !this.stopped) this.open.feed.resume(this.open.context.book.lastSeq);
    });
  }

  async boot() {
    session.takeTokenFromFragment(location, history, sessionStorage);
    if (!window.isSecureContext) return this.showSignIn(INSECURE);
    const token = session.storedToken(sessionStorage);
    if (!token) return this.showSignIn("");
    try {
      await this.start(token);
    } catch (error) {
      // A refused token is forgotten; one the server was not there to judge is kept, so
      // that a reload once it is back signs in again.
      if (error instanceof SignInRefused) session.forget(sessionStorage);
      this.showSignIn(error instanceof Error ? error.message : String(error));
    }
  }

  /**
   * Sign in with a token: ask the server who it is, then open the first channel.
   * @param {string} token
   * @throws {Error} the token was refused, or the server could not be reached
   */
  async start(token) {
    if (!window.isSecureContext) throw new Error(INSECURE);
    const client = new HotlineClient({ baseUrl: location.origin, token });
    let me, channels;
    try {
      [me, channels] = /** @type {[import("./context.js").Me, Channel[]]} */ (
        await Promise.all([client.me(), client.channels()])
      );
    } catch (error) {
      throw signInProblem(error);
    }
    session.storeToken(sessionStorage, token);
    this.session = { client, me, channels };
    this.stopped = false;
    replace(
      this.page.who,
      h("span", { class: "operator" }, me.operator.name),
      ` · ${me.party.name} · ${me.role}`,
    );
    replace(
      this.page.channelSelect,
      channels.map((c) =>
        h("option", { value: c.id }, `${c.parties.map((p) => p.name).join(" ↔ ")} (${c.id})`),
      ),
    );
    this.page.header.hidden = false;
    this.page.nav.hidden = false;
    this.sections.signin.hidden = true;
    this.ticker = setInterval(() => this.scheduleRender(), TICK_MS);
    // A link from a mail names its channel (`?channel=`); else the one this tab had open.
    const linked = new URLSearchParams(location.search).get("channel");
    const remembered = session.storedChannel(sessionStorage);
    const first =
      channels.find((c) => c.id === linked) ??
      channels.find((c) => c.id === remembered) ??
      channels[0];
    if (!first) {
      replace(this.page.problems, h("p", {}, `${me.party.name} is a party to no channel yet.`));
      return;
    }
    this.page.channelSelect.value = first.id;
    this.openChannel(first.id);
  }

  /**
   * Show one channel: a fresh book, fresh views, and its event stream from event 1.
   * @param {string} id
   */
  openChannel(id) {
    const current = this.session;
    const channel = current?.channels.find((c) => c.id === id);
    if (!current || !channel) return;
    this.open?.feed.close();
    session.storeChannel(sessionStorage, id);
    replace(this.page.problems);
    const book = new NoticeBook(channel.id);
    /** @type {Context} */
    const context = {
      client: current.client,
      me: current.me,
      channel,
      book,
      stopped: () => this.stopped,
      announce: (message) => this.announce(message),
      now: () => Date.now(),
    };
    const s = this.sections;
    /** @type {Record<string, View>} */
    const views = {
      inbox: new InboxView(s.inbox, context),
      compose: new ComposeView(s.compose, context, (noticeId) => {
        location.hash = href("notice", noticeId);
      }),
      notice: new NoticeView(s.notice, context),
      log: new LogView(s.log, context),
      timeline: new TimelineView(s.timeline, context),
      policy: new PolicyView(s.policy, context),
    };
    const checks = new CheckPanel(this.page.checks, context);
    const feed = new Feed(current.client, channel.id, {
      onEvent: (event) => this.take(event),
      onPresence: (online) => {
        this.presence.update(online);
        this.scheduleRender();
      },
      onStatus: (state, detail, head) => {
        if (state === "live" && this.open && this.open.head === null) this.open.head = head;
        this.connection(state, detail);
      },
      onTampered: (error) => this.stop(error),
      onEnded: (error) => this.ended(error),
    });
    this.open = { context, views, checks, feed, head: null };
    this.route(false);
  }

  /**
   * One verified event: fold it, redraw soon, and announce it if it is news.
   * @param {unknown} event
   */
  take(event) {
    const open = this.open;
    if (!open || this.stopped) return;
    const { book, channel, me } = open.context;
    const entry = book.apply(event);
    if (entry.effect === "unreadable") {
      this.page.problems.appendChild(
        h(
          "p",
          {},
          `Event ${entry.event.seq} (${entry.event.type}) could not be read: ${entry.problem}. ` +
            "It is shown in the log and changed nothing.",
        ),
      );
    }
    // The catch-up after opening is history, not news: announce only what is newer.
    if (open.head !== null && entry.event.seq > open.head) {
      const sentence = announcement(entry, book, channel, me.party.id);
      if (sentence) this.announce(sentence);
    }
    this.scheduleRender();
  }

  /**
   * @param {import("./feed.js").FeedState} state
   * @param {string} detail
   */
  connection(state, detail) {
    this.live = state === "live";
    if (!this.live) this.presence.clear();
    this.page.connection.dataset.state = state;
    replace(
      this.page.connection,
      STATUS_WORDS[state] ?? state,
      detail && state !== "live" ? ` (${detail})` : "",
    );
    this.scheduleRender();
  }

  /**
   * Verification failed: stop for good and say so.
   * @param {Error} error a LogTampered or a SplitView
   */
  stop(error) {
    this.stopped = true;
    this.open?.feed.close();
    this.connection("stopped", "verification failed");
    const seq = /** @type {{seq?: unknown}} */ (error).seq;
    replace(
      this.page.stopped,
      h(
        "h2",
        {},
        error.name === "SplitView"
          ? "The server's history was rewritten"
          : "The channel's log failed verification",
      ),
      h("p", {}, error.message),
      typeof seq === "number" &&
        h("p", {}, `The first event that differs from the signed log is event ${seq}.`),
      h(
        "p",
        {},
        "The console has stopped: nothing can be sent, acknowledged or cancelled from it, and " +
          "nothing more is received. What it showed before is kept for evidence. Tell the " +
          "server's operator and the other party. (If this server's database was reset on " +
          "purpose, as with a fresh demo, this browser remembers the old log: clear this " +
          "site's stored data to start again.)",
      ),
    );
    this.page.stopped.hidden = false;
    this.page.channelSelect.disabled = true; // another channel of the same server: no
    this.scheduleRender();
  }

  /**
   * The stream ended for a reason other than tampering.
   * @param {Error} error
   */
  ended(error) {
    if (error instanceof ConnectionClosed && error.code === 4401) {
      this.signOut("The server no longer accepts this token (unknown or revoked): signed out.");
      return;
    }
    this.connection("stopped", error.message);
    this.page.problems.appendChild(h("p", {}, `The live connection ended: ${error.message}`));
  }

  /**
   * Show the view the address names; move the focus to it when the user navigated.
   * @param {boolean} focus
   */
  route(focus) {
    if (!this.open) return;
    const { view, id } = parseRoute(location.hash);
    for (const name of VIEWS) this.sections[name].hidden = name !== view;
    for (const link of this.page.nav.querySelectorAll("a")) {
      if (link.getAttribute("href") === href(view)) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    const target = this.open.views[view];
    if (target.show) target.show(id);
    else target.render();
    this.presence.render(this.open.context.channel, this.live);
    this.open.checks.render();
    const heading = this.sections[view].querySelector("h2");
    const party = this.open.context.me.party.name;
    document.title = `${heading?.textContent ?? "Hotline"} · Hotline · ${party}`;
    if (focus && heading) {
      heading.setAttribute("tabindex", "-1");
      heading.focus();
    }
  }

  /**
   * Redraw the visible view once, after the events that arrive together. A task rather
   * than a microtask: the SDK awaits between the events of one batch, and a catch-up of a
   * thousand events should draw the inbox once per batch, not once per event.
   */
  scheduleRender() {
    if (this.pending) return;
    this.pending = true;
    setTimeout(() => {
      this.pending = false;
      if (!this.open) return;
      const { view } = parseRoute(location.hash);
      this.open.views[view].render();
      this.presence.render(this.open.context.channel, this.live);
      this.open.checks.render();
    });
  }

  /** @param {string} message */
  announce(message) {
    replace(this.page.announcer, message);
  }

  /**
   * Sign out: forget the token (the remembered checkpoints stay) and show the sign-in.
   * @param {string} why
   */
  signOut(why) {
    this.open?.feed.close();
    this.open = null;
    this.session = null;
    clearInterval(this.ticker);
    session.forget(sessionStorage);
    this.showSignIn(why);
  }

  /** @param {string} why */
  showSignIn(why) {
    this.page.header.hidden = true;
    this.page.nav.hidden = true;
    this.page.stopped.hidden = true;
    this.page.channelSelect.disabled = false;
    this.stopped = false;
    replace(this.page.problems);
    this.presence.render(null, false);
    this.page.checks.hidden = true;
    replace(this.page.checks);
    replace(this.page.announcer);
    for (const name of VIEWS) this.sections[name].hidden = true;
    this.sections.signin.hidden = false;
    document.title = "Sign in · Hotline";
    if (why) this.signIn.fail(why);
    else this.signIn.focus();
  }
}

/** The server refused the token (rather than not answering). */
class SignInRefused extends Error {}

/**
 * Why a token could not be used, in words.
 * @param {unknown} error
 * @returns {Error} a SignInRefused when the server refused
 */
function signInProblem(error) {
  if (error instanceof ProblemError && error.status === 401) {
    return new SignInRefused("This token was not accepted: it is unknown, mistyped or revoked.");
  }
  if (error instanceof ProblemError)
    return new SignInRefused(`The server refused: ${error.detail}`);
  const why = error instanceof Error ? error.message : String(error);
  return new Error(`The server could not be reached (${why}). Reload the page to try again.`);
}

void new ConsoleApp().boot();
