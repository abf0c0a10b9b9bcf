// The action plan editor (XCALLY's "Actions"): the ordered steps of an account, each an
// application with its parameters and an optional interval. Steps are added, edited, removed and
// reordered (drag, or "Move up" / "Move down" from the keyboard); "Save plan" replaces the plan,
// and a refusal shows on the step it names.

import { api } from "../common/api.js";
import { el, announce } from "../common/util.js";
import { ConditionBuilder } from "./conditions.js";
import { userName } from "./forms.js";

const APPLICATIONS = {
  agent: "Offer to an agent", queue: "Wait in a queue", autoreply: "Send an autoreply", close: "Close",
  gotoif: "Go to if", gotop: "Go to step", noop: "No operation", tag: "Add tags",
};

export async function planSection(account) {
  const base = `/api/whatsapp/accounts/${account.id}`;
  const [steps, agents, queues, intervals, dispositions, vocabulary] = await Promise.all([
    api.get(`${base}/actions`), api.get(`${base}/agents?limit=1000`), api.get("/api/whatsapp/queues?limit=1000"),
    api.get("/api/intervals?limit=1000"), api.get(`${base}/dispositions?limit=1000`),
    api.get("/api/whatsapp/interactions/search-fields")]);
  const choices = { agents: agents.rows, queues: queues.rows, intervals: intervals.rows,
    dispositions: dispositions.rows, vocabulary };
  const list = el("ol", { class: "plan", "aria-label": "Steps" });
  const error = el("p", { class: "error", role: "alert", tabindex: "-1" });
  const renumber = () => {
    [...list.children].forEach((item, index) => {
      item.querySelector(".step-number").textContent = `Step ${index + 1}`;
      item.setAttribute("aria-label", `Step ${index + 1}: ${APPLICATIONS[item.step.application()]}`);
    });
  };
  const add = (step) => {
    const item = stepItem(step, choices, list, renumber);
    list.append(item);
    renumber();
    return item;
  };
  for (const step of steps) add(step);
  let dragged = null;
  list.addEventListener("dragstart", (event) => { dragged = event.target.closest("li"); });
  list.addEventListener("dragover", (event) => event.preventDefault());
  list.addEventListener("drop", (event) => {
    event.preventDefault();
    const target = event.target.closest("li");
    if (dragged && target && target !== dragged) {
      const after = [...list.children].indexOf(dragged) < [...list.children].indexOf(target);
      target[after ? "after" : "before"](dragged);
      renumber();
    }
    dragged = null;
  });
  const picker = el("select", { id: "new-step", "aria-label": "Application of the new step" },
    Object.entries(APPLICATIONS).map(([value, text]) => el("option", { value, text })));
  const save = async () => {
    error.textContent = "";
    for (const line of list.querySelectorAll(".step-error")) line.textContent = "";
    const body = [...list.children].map((item) => item.step.value());
    try {
      await api.put(`${base}/actions`, body);
      announce("Plan saved");
      error.textContent = "";
    } catch (refused) {
      error.textContent = refused.message;
      for (const [path, why] of Object.entries(refused.fields || {})) {
        const [index, ...rest] = path.split(".");
        const item = list.children[Number(index)];
        if (item) item.querySelector(".step-error").textContent = `${rest.join(".")}: ${why}`;
      }
      error.focus();
    }
  };
  return el("section", { class: "section plan-section", "aria-labelledby": "plan-title" },
    el("h3", { id: "plan-title", text: "Actions (routing)" }),
    el("p", { class: "muted", text: "Each message of a new interaction runs these steps in order." }),
    list,
    el("div", { class: "buttons" }, picker,
      el("button", { type: "button", onclick: () => add({ application: picker.value, params: {} }).querySelector("select, input, textarea").focus() },
        "Add step"),
      el("button", { type: "button", class: "primary", onclick: save }, "Save plan")),
    error);
}

function stepItem(step, choices, list, renumber) {
  const item = el("li", { class: "step", draggable: "true" });
  const number = el("strong", { class: "step-number" });
  const params = editors[step.application](step.params || {}, choices);
  const interval = el("select", { "aria-label": "Only inside interval" },
    el("option", { value: "", text: "Any time" }),
    choices.intervals.map((i) => el("option", { value: i.id, text: i.name, selected: i.id === step.interval_id })));
  const move = (offset) => {
    const siblings = [...list.children];
    const index = siblings.indexOf(item);
    const target = siblings[index + offset];
    if (!target) return;
    target[offset < 0 ? "before" : "after"](item);
    renumber();
    announce(`${item.getAttribute("aria-label")}`);
    item.querySelector(offset < 0 ? ".up" : ".down").focus();
  };
  item.step = {
    application: () => step.application,
    value: () => ({ application: step.application, params: params.value(),
      interval_id: interval.value ? Number(interval.value) : null }),
  };
  item.append(
    el("div", { class: "step-head" }, number, el("span", { text: APPLICATIONS[step.application] }),
      el("span", { class: "spacer" }),
      el("button", { type: "button", class: "up", onclick: () => move(-1) }, "Move up"),
      el("button", { type: "button", class: "down", onclick: () => move(1) }, "Move down"),
      el("button", { type: "button", class: "danger", onclick: () => { item.remove(); renumber(); announce("Step removed"); } },
        "Remove")),
    params.element,
    el("label", { class: "inline" }, "Interval ", interval),
    el("p", { class: "error step-error", role: "alert" }));
  return item;
}

// One small form per application: `element` to show, `value()` the params the API takes.
const labelled = (text, control) => el("label", { class: "inline" }, `${text} `, control);
const number = (value, min = 1) => el("input", { type: "number", min, value: value ?? "" });
const options = (rows, chosen, name = (row) => row.name, empty = null) => [
  ...(empty ? [el("option", { value: "", text: empty })] : []),
  ...rows.map((row) => el("option", { value: row.id, text: name(row), selected: row.id === chosen }))];
const asNumber = (input) => (input.value === "" ? null : Number(input.value));

const editors = {
  agent(p, c) {
    const agent = el("select", {}, options(c.agents, p.agent_id, userName));
    const timeout = number(p.timeout ?? 30);
    return { element: el("div", { class: "params" }, labelled("Agent", agent), labelled("Timeout (s)", timeout)),
      value: () => ({ agent_id: asNumber(agent), timeout: asNumber(timeout) }) };
  },
  queue(p, c) {
    const queue = el("select", {}, options(c.queues, p.queue_id));
    const timeout = number(p.timeout ?? 60);
    return { element: el("div", { class: "params" }, labelled("Queue", queue), labelled("Timeout (s)", timeout)),
      value: () => ({ queue_id: asNumber(queue), timeout: asNumber(timeout) }) };
  },
  autoreply(p) {
    const text = el("textarea", { rows: 2 });
    text.value = p.text || "";
    const times = el("select", {}, [["one", "once per interaction"], ["always", "every message"],
      ["first", "first interaction of the contact only"]].map(([value, label]) =>
      el("option", { value, text: label, selected: value === (p.times || "one") })));
    return { element: el("div", { class: "params" }, labelled("Text", text), labelled("Send", times)),
      value: () => ({ text: text.value, times: times.value }) };
  },
  close(p, c) {
    const disposition = el("select", {}, options(c.dispositions, p.disposition_id, (d) => d.name, "No disposition"));
    return { element: el("div", { class: "params" }, labelled("Disposition", disposition)),
      value: () => (disposition.value ? { disposition_id: Number(disposition.value) } : {}) };
  },
  gotoif(p, c) {
    const byInterval = p.condition && "interval_id" in p.condition;
    const kind = el("select", {}, el("option", { value: "rules", text: "conditions hold", selected: !byInterval }),
      el("option", { value: "interval", text: "inside an interval", selected: byInterval }));
    const builder = new ConditionBuilder(c.vocabulary, { plan: true, condition: byInterval ? null : p.condition,
      label: "Go to if conditions" });
    if (!p.condition) builder.add();
    const interval = el("select", {}, options(c.intervals, byInterval ? p.condition.interval_id : null));
    const intervalLabel = labelled("Interval", interval);
    const show = () => {
      builder.element.hidden = kind.value !== "rules";
      intervalLabel.hidden = kind.value === "rules";
    };
    kind.addEventListener("change", show);
    show();
    const yes = number(p.true_step);
    const no = number(p.false_step);
    return { element: el("div", { class: "params wide" }, labelled("When", kind), builder.element, intervalLabel,
      labelled("then go to step", yes), labelled("else go to step", no)),
    value: () => ({ condition: kind.value === "rules" ? builder.value() : { interval_id: asNumber(interval) },
      true_step: asNumber(yes), false_step: asNumber(no) }) };
  },
  gotop(p) {
    const step = number(p.step);
    return { element: el("div", { class: "params" }, labelled("Step", step)), value: () => ({ step: asNumber(step) }) };
  },
  noop(p) {
    const value = el("input", { value: p.value || "" });
    return { element: el("div", { class: "params" }, labelled("Value", value)), value: () => ({ value: value.value }) };
  },
  tag(p) {
    const tags = el("input", { value: (p.tags || []).join(", "), placeholder: "vip, billing" });
    return { element: el("div", { class: "params" }, labelled("Tags", tags)),
      value: () => ({ tags: tags.value.split(",").map((t) => t.trim()).filter(Boolean) }) };
  },
};
