// Reports: the summary of GET /api/reports/summary by agent, queue, account or day over a
// period, as a table and a bar chart drawn in SVG here (no external service), and as CSV.

import { api, request } from "../common/api.js";
import { el, announce } from "../common/util.js";
import { duration } from "./live.js";
import { reason, download } from "./forms.js";

const SVG = "http://www.w3.org/2000/svg";

export function reportsPage(page) {
  const today = new Date();
  const weekAgo = new Date(today.getTime() - 6 * 86400000);
  const day = (d) => d.toISOString().slice(0, 10);
  const from = el("input", { id: "report-from", type: "date", value: day(weekAgo) });
  const to = el("input", { id: "report-to", type: "date", value: day(today) });
  const group = el("select", { id: "report-group" },
    [["day", "Day"], ["agent", "Agent"], ["queue", "Queue"], ["account", "Account"]].map(([value, text]) =>
      el("option", { value, text })));
  const error = el("p", { class: "error", role: "alert" });
  const out = el("div");
  const url = () => {
    const start = new Date(`${from.value}T00:00:00`);
    const end = new Date(`${to.value}T00:00:00`);
    end.setDate(end.getDate() + 1); // the last day included
    return `/api/reports/summary?${new URLSearchParams({ from: start.toISOString(), to: end.toISOString(), group_by: group.value })}`;
  };
  const show = async () => {
    error.textContent = "";
    try {
      const report = await api.get(url());
      out.replaceChildren(chart(report.rows), summaryTable(report));
      announce("Report ready");
    } catch (refused) {
      error.textContent = reason(refused);
    }
  };
  const csv = async () => {
    try {
      const response = await request("GET", url(), undefined, { raw: true, accept: "text/csv" });
      download(await response.blob(), `report-${group.value}.csv`);
    } catch (refused) { error.textContent = refused.message; }
  };
  page.append(el("h2", { text: "Reports" }),
    el("form", { class: "filters", onsubmit: (event) => { event.preventDefault(); show(); } },
      el("div", { class: "field" }, el("label", { for: "report-from", text: "From" }), from),
      el("div", { class: "field" }, el("label", { for: "report-to", text: "Until (included)" }), to),
      el("div", { class: "field" }, el("label", { for: "report-group", text: "Group by" }), group),
      el("button", { type: "submit", class: "primary" }, "Show report"),
      el("button", { type: "button", onclick: csv }, "Download CSV")),
    error, out);
  show();
}

function summaryTable(report) {
  const dash = (v, f = String) => (v === null || v === undefined ? "–" : f(v));
  const rows = [...report.rows, report.total];
  return el("div", { class: "scroll" }, el("table", { class: "grid", "aria-label": "Summary" },
    el("thead", {}, el("tr", {}, ["Group", "Started", "Accepted", "Within SLA", "SLA %", "Abandoned", "ASA", "AHT", "Missed offers"]
      .map((h) => el("th", { scope: "col", text: h })))),
    el("tbody", {}, rows.map((r) => el("tr", { class: r.group === "total" ? "total" : "" },
      el("th", { scope: "row", text: r.name }), el("td", { text: r.started }), el("td", { text: r.accepted }),
      el("td", { text: r.within_sla }), el("td", { text: dash(r.sla_percent, (v) => `${Math.round(v)}%`) }),
      el("td", { text: r.abandoned }), el("td", { text: dash(r.asa_seconds, duration) }),
      el("td", { text: dash(r.aht_seconds, duration) }), el("td", { text: r.offers.expired }))))));
}

// Started and accepted within SLA per group, as bars; the numbers are in the table below too.
function chart(rows) {
  const width = 640;
  const barHeight = 18;
  const label = 150;
  const height = Math.max(1, rows.length) * (barHeight * 2 + 10) + 30;
  const most = Math.max(1, ...rows.map((r) => r.started));
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `Interactions started and accepted within SLA, by ${rows.length} groups`);
  svg.classList.add("chart");
  const add = (tag, attrs, text) => {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    svg.append(node);
  };
  rows.forEach((r, i) => {
    const y = i * (barHeight * 2 + 10) + 10;
    const scale = (n) => ((width - label - 60) * n) / most;
    add("text", { x: 0, y: y + barHeight, class: "chart-label" }, r.name.slice(0, 22));
    add("rect", { x: label, y, width: scale(r.started), height: barHeight - 2, class: "bar-started" });
    add("text", { x: label + scale(r.started) + 4, y: y + barHeight - 5, class: "chart-value" }, `${r.started} started`);
    add("rect", { x: label, y: y + barHeight, width: scale(r.within_sla), height: barHeight - 2, class: "bar-sla" });
    add("text", { x: label + scale(r.within_sla) + 4, y: y + barHeight * 2 - 5, class: "chart-value" }, `${r.within_sla} within SLA`);
  });
  return el("figure", { class: "card" }, svg, el("figcaption", { class: "muted", text: "Started (top) and accepted within the service level (bottom), per group." }));
}
