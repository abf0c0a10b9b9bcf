// Interactions (admins and supervisors): the list with its filters and the advanced search,
// saved searches, rows selected (or all matching) for "Export CSV" and "Delete", and per row
// "Spy" (the live thread, with an internal note box), "Transcript" and "Delete".

import { api, request, interactionPath } from "../common/api.js";
import { el, announce, time, contactName } from "../common/util.js";
import { TicketStream } from "../common/stream.js";
import { ConditionBuilder } from "./conditions.js";
import { userName, reason, download } from "./forms.js";

const PAGE = 50;
const SORTS = [["last_message_at", "Last message"], ["started_at", "Started"], ["last_inbound_at", "Awaiting reply since"]];

export async function interactionsPage(page, ctx, query = new URLSearchParams()) {
  const [accounts, users, queues, vocabulary] = await Promise.all([
    api.get("/api/whatsapp/accounts?limit=1000"), api.get("/api/users?limit=1000"),
    api.get("/api/whatsapp/queues?limit=1000"), api.get("/api/whatsapp/interactions/search-fields")]);
  const names = {
    account: new Map(accounts.rows.map((a) => [a.id, a])),
    user: new Map(users.rows.map((u) => [u.id, userName(u)])),
    queue: new Map(queues.rows.map((q) => [q.id, q.name])),
  };
  const state = { offset: 0, rows: [], count: 0, exact: true, selected: new Set(), allMatching: false };
  const filters = filterForm(accounts.rows, users.rows, queues.rows, query);
  let builder = new ConditionBuilder(vocabulary, { label: "Advanced search" });
  const builderSlot = el("div", {}, builder.element);
  const error = el("p", { class: "error", role: "alert", tabindex: "-1" });
  const summary = el("p", { role: "status", class: "muted" });
  const results = el("div", { class: "scroll" });
  const pager = el("div", { class: "buttons" });
  const saved = el("select", { id: "saved-searches", "aria-label": "Saved searches" });
  const searchName = el("input", { id: "search-name", placeholder: "name" });
  const spyHolder = el("div");

  const params = () => {
    const p = filters.params();
    const conditions = builder.value();
    if (conditions) p.conditions = JSON.stringify(conditions);
    return p;
  };
  const search = async (offset = 0) => {
    state.offset = offset;
    error.textContent = "";
    try {
      const answer = await api.get(listUrl(params(), PAGE, state.offset));
      Object.assign(state, { rows: answer.rows, count: answer.count, exact: answer.count_exact,
        selected: new Set(), allMatching: false });
    } catch (refused) {
      error.textContent = reason(refused);
      error.focus();
      return;
    }
    show();
  };

  const chosenCount = () => (state.allMatching ? state.count : state.selected.size);
  const show = () => {
    const shown = state.rows.length;
    summary.textContent = shown
      ? `${state.offset + 1}–${state.offset + shown} of ${state.exact ? "" : "at least "}${state.count} interactions`
      : "No interaction matches.";
    const pick = (row) => el("input", { type: "checkbox", "aria-label": `Select interaction ${row.id}`,
      checked: state.allMatching || state.selected.has(row.id), disabled: state.allMatching,
      onchange: (event) => {
        if (event.target.checked) state.selected.add(row.id); else state.selected.delete(row.id);
        bulkLabel();
      } });
    const actions = (row) => el("div", { class: "row-actions" },
      el("button", { type: "button", "aria-label": `Spy on interaction ${row.id}`, onclick: () => spy(row) }, "Spy"),
      el("button", { type: "button", "aria-label": `Transcript of interaction ${row.id}`,
        onclick: () => transcript(row, false) }, "Transcript"),
      el("button", { type: "button", "aria-label": `Transcript with attachments of interaction ${row.id}`,
        onclick: () => transcript(row, true) }, "Transcript with attachments"),
      el("button", { type: "button", class: "danger", "aria-label": `Delete interaction ${row.id}`,
        onclick: () => remove([row.id]) }, "Delete"));
    const columns = [
      ["", pick], ["Id", (r) => String(r.id)], ["Contact", (r) => `${contactName(r.contact)} +${r.contact.mobile}`],
      ["Account", (r) => r.account_key], ["Status", (r) => `${r.status}${r.read ? "" : " · unread"}`],
      ["Agent", (r) => names.user.get(r.owner_id) || ""], ["Queue", (r) => names.queue.get(r.queue_id) || ""],
      ["Tags", (r) => r.tags.join(", ")], ["Started", (r) => time(r.started_at)],
      ["Last message", (r) => r.last_message], ["Actions", actions]];
    results.replaceChildren(el("table", { class: "grid", "aria-label": "Interactions" },
      el("thead", {}, el("tr", {}, columns.map(([h]) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, state.rows.map((row) => el("tr", { dataset: { id: row.id } },
        columns.map(([, cell]) => el("td", {}, cell(row))))))));
    pager.replaceChildren(
      el("button", { type: "button", disabled: state.offset === 0, onclick: () => search(Math.max(0, state.offset - PAGE)) },
        "Previous page"),
      el("button", { type: "button", disabled: state.offset + shown >= state.count, onclick: () => search(state.offset + PAGE) },
        "Next page"));
    bulkLabel();
  };

  const pageAll = el("button", { type: "button", onclick: () => {
    for (const row of state.rows) state.selected.add(row.id);
    state.allMatching = false;
    show();
  } }, "Select this page");
  const everything = el("button", { type: "button", "aria-pressed": "false", onclick: () => {
    state.allMatching = !state.allMatching;
    state.selected.clear();
    show();
  } }, "Select all matching");
  const chosen = el("span", { class: "muted", role: "status" });
  const bulkLabel = () => {
    everything.setAttribute("aria-pressed", String(state.allMatching));
    chosen.textContent = `${chosenCount()} selected`;
  };

  const exportCsv = async () => {
    if (!chosenCount()) { error.textContent = "Select interactions first."; return; }
    const body = state.allMatching ? exportFilters(params()) : { ids: [...state.selected] };
    try {
      const response = await request("POST", "/api/whatsapp/interactions/export", body, { raw: true });
      download(await response.blob(), "interactions.csv");
      announce("Export downloaded");
    } catch (refused) { error.textContent = refused.message; }
  };
  const remove = async (ids) => {
    const count = ids ? ids.length : chosenCount();
    if (!count) { error.textContent = "Select interactions first."; return; }
    const text = count === 1 ? "Delete 1 interaction, its messages and files?" : `Delete ${count} interactions, their messages and files?`;
    if (!(await ctx.confirm(text))) return;
    try {
      const wanted = ids || (state.allMatching ? await allMatchingIds(params(), state.count) : [...state.selected]);
      await api.post("/api/whatsapp/interactions/delete", { ids: wanted });
      announce(`${wanted.length} deleted`);
      search(state.offset);
    } catch (refused) { error.textContent = refused.message; }
  };
  const transcript = async (row, attachments) => {
    try {
      const response = await request("GET", interactionPath(row.id, `/transcript.zip?attachments=${attachments}`),
        undefined, { raw: true });
      download(await response.blob(), `interaction-${row.id}.zip`);
      announce("Transcript downloaded");
    } catch (refused) { error.textContent = refused.message; }
  };
  let spying = null;
  const spy = async (row) => {
    if (spying) spying();
    spying = await spyPanel(spyHolder, row, names);
  };

  const loadSaved = async () => {
    const { rows } = await api.get("/api/whatsapp/searches?limit=1000");
    saved.replaceChildren(el("option", { value: "", text: "Saved searches" }),
      ...rows.map((s) => el("option", { value: s.id, text: s.name })));
    saved.rows = rows;
  };
  const saveSearch = async () => {
    const name = searchName.value.trim();
    if (!name) { error.textContent = "Name the search first."; searchName.focus(); return; }
    try {
      await api.post("/api/whatsapp/searches", { name, query: exportFilters(params()) });
      announce(`Search ${name} saved`);
      searchName.value = "";
      await loadSaved();
    } catch (refused) { error.textContent = reason(refused); }
  };
  const openSaved = () => {
    const chosenSearch = (saved.rows || []).find((s) => String(s.id) === saved.value);
    if (!chosenSearch) return;
    const { conditions, ...rest } = chosenSearch.query;
    filters.load(rest);
    builder = new ConditionBuilder(vocabulary, { label: "Advanced search", condition: conditions ? JSON.parse(conditions) : null });
    builderSlot.replaceChildren(builder.element);
    search();
  };

  filters.form.addEventListener("submit", (event) => { event.preventDefault(); search(); });
  page.append(
    el("h2", { text: "Interactions" }),
    filters.form,
    el("details", { class: "section", open: true }, el("summary", { text: "Advanced search" }), builderSlot),
    el("div", { class: "buttons" },
      el("button", { type: "button", class: "primary", onclick: () => search() }, "Search"),
      el("label", { for: "search-name", class: "visually-hidden", text: "Name of the search to save" }), searchName,
      el("button", { type: "button", onclick: saveSearch }, "Save search"),
      saved, el("button", { type: "button", onclick: openSaved }, "Open saved search")),
    error, summary,
    el("div", { class: "buttons" }, pageAll, everything, chosen,
      el("button", { type: "button", onclick: exportCsv }, "Export CSV"),
      el("button", { type: "button", class: "danger", onclick: () => remove(null) }, "Delete selected")),
    results, pager, spyHolder);
  await loadSaved();
  await search();
  return () => { if (spying) spying(); };
}

// The list's filters as the export and saved searches take them (a JSON body, tags as lists).
function exportFilters(p) {
  const body = { ...p };
  for (const key of ["account_id", "agent_id", "queue_id"]) if (key in body) body[key] = Number(body[key]);
  if ("read" in body) body.read = body.read === "true";
  return body;
}

// The list's URL for the filters `p` (a list repeats its parameter) and one page.
function listUrl(p, limit, offset) {
  const url = new URLSearchParams();
  for (const [key, value] of Object.entries(p)) for (const one of [value].flat()) url.append(key, one);
  url.set("limit", limit);
  url.set("offset", offset);
  return `/api/whatsapp/interactions?${url}`;
}

async function allMatchingIds(p, count) {
  const ids = [];
  for (let offset = 0; offset < count; offset += 1000) {
    const { rows } = await api.get(listUrl(p, 1000, offset));
    ids.push(...rows.map((r) => r.id));
    if (rows.length < 1000) break;
  }
  return ids;
}

function filterForm(accounts, users, queues, query) {
  const select = (id, label, options) => el("div", { class: "field" }, el("label", { for: id, text: label }),
    el("select", { id, name: id }, options.map(([value, text]) => el("option", { value, text }))));
  const input = (id, label, type = "text") => el("div", { class: "field" }, el("label", { for: id, text: label }),
    el("input", { id, name: id, type }));
  const form = el("form", { class: "filters", "aria-label": "Filters" },
    select("account_id", "Account", [["", "Any account"], ...accounts.map((a) => [a.id, `${a.name} (${a.key})`])]),
    select("status", "Status", [["", "Any status"], ["open", "Open"], ["open-pending", "Waiting"], ["closed", "Closed"]]),
    select("read", "Read", [["", "Read or unread"], ["true", "Read"], ["false", "Unread"]]),
    select("agent_id", "Agent", [["", "Any agent"], ...users.filter((u) => u.role === "agent").map((u) => [u.id, userName(u)])]),
    select("queue_id", "Queue", [["", "Any queue"], ...queues.map((q) => [q.id, q.name])]),
    input("tags", "Tags (any of, comma separated)"),
    input("started_from", "Started from", "date"),
    input("started_to", "Started until", "date"),
    select("window", "24-hour window", [["", "Open or closed"], ["open", "Open"], ["closed", "Closed"]]),
    input("q", "Contact name or mobile", "search"),
    select("sort", "Sort by", SORTS),
    select("order", "Order", [["desc", "Newest first"], ["asc", "Oldest first"]]),
    el("button", { type: "submit", class: "primary" }, "Apply filters"));
  const get = (name) => form.elements[name].value;
  const load = (values) => {
    for (const element of form.elements) {
      if (!element.name) continue;
      let value = values[element.name] ?? "";
      if (element.name === "tags") value = [value].flat().join(", ");
      if (element.type === "date" && value) value = String(value).slice(0, 10);
      element.value = String(value);
      if (element.tagName === "SELECT" && element.selectedIndex < 0) element.selectedIndex = 0; // its default
    }
  };
  load(Object.fromEntries(query.entries()));
  return {
    form,
    load,
    params: () => {
      const p = {};
      for (const name of ["account_id", "status", "read", "agent_id", "queue_id", "window", "q", "sort", "order"]) {
        if (get(name)) p[name] = get(name);
      }
      const tags = get("tags").split(",").map((t) => t.trim()).filter(Boolean);
      if (tags.length) p.tags = tags;
      if (get("started_from")) p.started_from = new Date(`${get("started_from")}T00:00:00`).toISOString();
      if (get("started_to")) p.started_to = new Date(`${get("started_to")}T23:59:59`).toISOString();
      return p;
    },
  };
}

// Spy: the thread as it happens, and a note box (notes reach the owner's desk too).
async function spyPanel(holder, row, names) {
  const log = el("ol", { class: "messages", role: "log", "aria-label": `Messages of interaction ${row.id}` });
  const seen = new Set();
  const add = (message) => {
    if (seen.has(message.id)) return;
    seen.add(message.id);
    const who = message.direction === "in" ? contactName(row.contact)
      : names.user.get(message.sender_id) || (message.direction === "out" ? "Shareline" : "Note");
    log.append(el("li", { class: `message ${message.direction}` },
      el("span", { class: "muted", text: `${who} · ${time(message.created_at)}${message.direction === "internal" ? " · internal note" : ""}` }),
      el("p", { text: message.text || message.caption || `[${message.type}]` })));
  };
  const reload = async () => {
    const { rows } = await api.get(interactionPath(row.id, "/messages?limit=1000"));
    rows.forEach(add);
  };
  const note = el("textarea", { id: "spy-note", rows: 2 });
  const error = el("p", { class: "error", role: "alert" });
  const panel = el("section", { class: "card spy", "aria-label": `Spy on interaction ${row.id}` },
    el("div", { class: "page-head" }, el("h3", { text: `Spy: ${contactName(row.contact)} (${row.account_key})` }),
      el("button", { type: "button", onclick: () => stop() }, "Stop spying")),
    log,
    el("form", { class: "inline-form", onsubmit: async (event) => {
      event.preventDefault();
      try {
        add(await api.post(interactionPath(row.id, "/notes"), { text: note.value }));
        note.value = "";
        announce("Note sent");
      } catch (refused) { error.textContent = refused.message; }
    } }, el("label", { for: "spy-note", text: "Internal note (the agent sees it, the customer never does)" }), note,
    el("button", { type: "submit", class: "primary" }, "Send note")), error);
  holder.replaceChildren(panel);
  const stream = new TicketStream(interactionPath(row.id, "/events"), {
    ready: reload, resync: reload, message: (message) => (message.id ? add(message) : reload()),
    deleted: () => { error.textContent = "This interaction was deleted."; },
  });
  stream.start();
  panel.querySelector("h3").tabIndex = -1;
  panel.querySelector("h3").focus();
  const stop = () => { stream.stop(); panel.remove(); };
  return stop;
}
