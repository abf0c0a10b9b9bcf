// Live: the floor now, from the supervisors' stream (GET /api/supervisor/events). Queues per
// account (waiting, longest wait, offered, active, agents eligible) with the account's service
// level, and agents (status and time in it, load against capacity). A queue whose longest wait
// passes the account's threshold stands out, in words as well as colour. Durations tick each
// second between pushes.

import { el } from "../common/util.js";
import { TicketStream } from "../common/stream.js";

export function livePage(page) {
  const status = el("p", { class: "muted", role: "status", text: "Connecting…" });
  const body = el("div", { class: "live" });
  page.append(el("h2", { text: "Live" }), status, body);
  let view = null;
  let received = 0;
  const show = () => {
    if (view) body.replaceChildren(...render(view, (Date.now() - received) / 1000));
  };
  const stream = new TicketStream("/api/supervisor/events", {
    live: (data) => {
      view = data;
      received = Date.now();
      show();
      body.dataset.at = data.at;
    },
  }, (state) => {
    status.textContent = { live: "Live: updates as it happens.", connecting: "Connecting…",
      offline: "Connection lost: reconnecting…" }[state];
  });
  stream.start();
  const ticker = setInterval(show, 1000);
  return () => { stream.stop(); clearInterval(ticker); };
}

function render(view, elapsed) {
  const age = (seconds) => (seconds === null || seconds === undefined ? "" : duration(seconds + elapsed));
  const accounts = view.accounts.map((account) => {
    const late = (queue) => queue.longest_wait_seconds !== null
      && queue.longest_wait_seconds + elapsed > account.service_level_seconds;
    const queues = account.queues.length
      ? scroller(el("table", { class: "grid", "aria-label": `Queues of ${account.name}` },
        el("thead", {}, el("tr", {}, ["Queue", "Waiting", "Longest wait", "Offered", "Active", "Agents eligible"]
          .map((h) => el("th", { scope: "col", text: h })))),
        el("tbody", {}, account.queues.map((q) => el("tr", { class: late(q) ? "late" : "" },
          el("th", { scope: "row", text: q.name }),
          el("td", { text: q.waiting }),
          el("td", {}, age(q.longest_wait_seconds), late(q) ? el("strong", { class: "late-label", text: " over threshold" }) : null),
          el("td", { text: q.offered }), el("td", { text: q.active }), el("td", { text: q.agents_eligible }))))))
      : el("p", { class: "muted", text: "No queue in this account's plan, and nobody waiting." });
    return el("section", { class: "card live-account", "aria-label": `${account.name} (${account.key})` },
      el("h3", { text: `${account.name} (${account.key})` }),
      el("div", { class: "levels" }, level("Last 30 minutes", account.last_30_minutes, account),
        level("Today", account.today, account)),
      queues);
  });
  const agents = scroller(el("table", { class: "grid", "aria-label": "Agents" },
    el("thead", {}, el("tr", {}, ["Agent", "Status", "In status", "Load", "Offers", "Missed (1 h)"]
      .map((h) => el("th", { scope: "col", text: h })))),
    el("tbody", {}, view.agents.map((a) => el("tr", { class: `status-${a.status}` },
      el("th", { scope: "row", text: a.name }),
      el("td", { text: a.status }),
      el("td", { text: age(a.in_status_seconds) }),
      el("td", { text: `${a.open} / ${a.capacity}` }),
      el("td", { text: a.offered }), el("td", { text: a.missed_last_hour }))))));
  return [...(accounts.length ? accounts : [el("p", { class: "muted", text: "No accounts yet." })]),
    el("section", { class: "card", "aria-label": "Agents" }, el("h3", { text: "Agents" }),
      view.agents.length ? agents : el("p", { class: "muted", text: "No agents in any account." }))];
}

function level(title, m, account) {
  const value = (text) => el("dd", { text });
  return el("div", { class: "level" }, el("h4", { text: title }), el("dl", {},
    el("dt", { text: "Service level" }),
    value(m.sla_percent === null ? "–" : `${Math.round(m.sla_percent)}% within ${account.service_level_seconds} s`),
    el("dt", { text: "Started" }), value(m.started),
    el("dt", { text: "Abandoned" }), value(m.abandoned),
    el("dt", { text: "Avg. speed of answer" }), value(m.asa_seconds === null ? "–" : duration(m.asa_seconds)),
    el("dt", { text: "Avg. handle time" }), value(m.aht_seconds === null ? "–" : duration(m.aht_seconds))));
}

const scroller = (tableNode) => el("div", { class: "scroll" }, tableNode);

export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
