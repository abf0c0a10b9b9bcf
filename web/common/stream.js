// An event stream of the API (an agent's own, the supervisors' live view, a spy's). EventSource
// cannot send a header, so each connection opens with a fresh single-use ticket; EventSource's
// own reconnect would reuse a spent one, so on any error we close it and connect again ourselves
// (backing off 1 s, 2 s, ... 15 s) with a new ticket. Every `ready` means "state may be stale":
// the page reads it again from the API.

import { api } from "./api.js";

export class TicketStream {
  // `handlers` maps event names to callbacks; only those events are listened to (and `ready`).
  constructor(path, handlers, onState = () => {}) {
    this.path = path;
    this.handlers = handlers;
    this.onState = onState;
    this.source = null;
    this.retry = 0;
    this.timer = null;
    this.stopped = true;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.source) this.source.close();
    this.source = null;
  }

  async connect() {
    if (this.stopped) return;
    this.onState("connecting");
    let ticket;
    try {
      ({ ticket } = await api.post("/api/agents/me/events/ticket"));
    } catch (error) {
      if (error.status === 401) return; // signed out: api.js handles it
      return this.later();
    }
    if (this.stopped) return;
    const separator = this.path.includes("?") ? "&" : "?";
    const source = new EventSource(`${this.path}${separator}ticket=${encodeURIComponent(ticket)}`);
    this.source = source;
    for (const name of new Set(["ready", ...Object.keys(this.handlers)])) {
      source.addEventListener(name, (event) => {
        if (name === "ready") {
          this.retry = 0;
          this.onState("live");
        }
        const handler = this.handlers[name];
        if (handler) handler(JSON.parse(event.data));
      });
    }
    source.onerror = () => {
      if (source !== this.source) return;
      source.close();
      this.source = null;
      this.later();
    };
  }

  later() {
    if (this.stopped) return;
    this.onState("offline");
    const delay = Math.min(15000, 1000 * 2 ** this.retry);
    this.retry += 1;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  // Network back or the laptop woke up: do not wait out the back-off.
  nudge() {
    if (!this.stopped && !this.source) {
      clearTimeout(this.timer);
      this.retry = 0;
      this.connect();
    }
  }
}
