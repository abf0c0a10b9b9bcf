// The condition builder of the advanced search and of a plan's `gotoif`: one vocabulary, read
// from GET /api/whatsapp/interactions/search-fields (fields, their value types and operators).
// Each rule: a field, an operator, a value; rules can be disabled (kept, ignored) or deleted.

import { el, announce } from "../common/util.js";

const UNARY = new Set(["is_empty", "is_not_empty"]);
const OPERATOR_NAMES = {
  equals: "is", not_equals: "is not", contains: "contains", not_contains: "does not contain",
  starts_with: "starts with", ends_with: "ends with", gt: "after / more than", gte: "from / at least",
  lt: "before / less than", lte: "until / at most", is_empty: "is empty", is_not_empty: "is not empty",
  in: "is one of",
};

let serial = 0;

export class ConditionBuilder {
  // `vocabulary`: the search-fields answer; `plan`: only the fields a gotoif may use.
  constructor(vocabulary, { plan = false, condition = null, label = "Conditions" } = {}) {
    this.fields = vocabulary.fields.filter((f) => !plan || f.in_plans);
    this.id = `cb${++serial}`;
    this.list = el("ol", { class: "rules", "aria-label": label });
    this.match = el("select", { id: `${this.id}-match`, "aria-label": "Match" },
      el("option", { value: "all", text: "all conditions" }), el("option", { value: "any", text: "any condition" }));
    this.element = el("div", { class: "condition-builder", role: "group", "aria-label": label },
      el("div", { class: "builder-head" },
        el("label", { for: `${this.id}-match`, text: "Match" }), this.match),
      this.list,
      el("div", { class: "buttons" },
        el("button", { type: "button", onclick: () => { this.add(); this.list.lastChild.querySelector("select").focus(); } },
          "Add condition"),
        el("button", { type: "button", onclick: () => { this.list.replaceChildren(); announce("All conditions deleted"); } },
          "Delete all conditions")));
    if (condition) {
      this.match.value = condition.match || "all";
      for (const rule of condition.rules || []) this.add(rule);
    }
  }

  add(rule = {}) {
    const row = el("li", { class: "rule" });
    const n = () => [...this.list.children].indexOf(row) + 1;
    const fieldSelect = el("select", { "aria-label": "Field" },
      this.fields.map((f) => el("option", { value: f.field, text: f.description || f.field, selected: f.field === rule.field })));
    const operatorSelect = el("select", { "aria-label": "Operator" });
    const valueSlot = el("span", { class: "value-slot" });
    const toggle = el("button", { type: "button", "aria-pressed": "false" }, "Disable");
    const setDisabled = (disabled) => {
      row.classList.toggle("disabled", disabled);
      row.dataset.disabled = disabled ? "true" : "";
      toggle.textContent = disabled ? "Enable" : "Disable";
      toggle.setAttribute("aria-label", `${disabled ? "Enable" : "Disable"} condition ${n()}`);
    };
    toggle.addEventListener("click", () => {
      setDisabled(row.dataset.disabled !== "true");
      announce(`Condition ${n()} ${row.dataset.disabled ? "disabled" : "enabled"}`);
    });
    const remove = el("button", { type: "button", class: "danger", onclick: () => {
      const index = n();
      row.remove();
      announce(`Condition ${index} deleted`);
    } }, "Delete");
    const spec = () => this.fields.find((f) => f.field === fieldSelect.value);
    const showOperators = (chosen) => {
      operatorSelect.replaceChildren(...spec().operators.map((op) =>
        el("option", { value: op, text: OPERATOR_NAMES[op] || op, selected: op === chosen })));
    };
    const showValue = (value) => {
      const f = spec();
      const op = operatorSelect.value;
      let input = null;
      if (UNARY.has(op)) input = null;
      else if (f.type === "boolean") {
        input = el("select", {}, el("option", { value: "true", text: "yes" }), el("option", { value: "false", text: "no" }));
        if (value !== undefined) input.value = String(value);
      } else if (f.type === "choice" && op !== "in") {
        input = el("select", {}, f.choices.map((c) => el("option", { value: c, text: c, selected: c === value })));
      } else if (f.type === "datetime") {
        input = el("input", { type: "datetime-local", step: 1, value: value ? localInput(value) : "" });
      } else {
        input = el("input", { type: (f.type === "number" || f.type === "id") && op !== "in" ? "number" : "text",
          value: Array.isArray(value) ? value.join(", ") : (value ?? ""),
          placeholder: op === "in" ? "values, comma separated" : "" });
      }
      if (input) input.setAttribute("aria-label", "Value");
      valueSlot.replaceChildren(...(input ? [input] : []));
    };
    fieldSelect.addEventListener("change", () => { showOperators(); showValue(); });
    operatorSelect.addEventListener("change", () => showValue());
    showOperators(rule.operator);
    showValue(rule.value);
    row.append(fieldSelect, operatorSelect, valueSlot, toggle, remove);
    row.rule = () => {
      const f = spec();
      const op = operatorSelect.value;
      const built = { field: f.field, operator: op };
      const input = valueSlot.firstChild;
      if (input) built.value = typed(f.type, op, input.value);
      if (row.dataset.disabled === "true") built.disabled = true;
      return built;
    };
    this.list.append(row);
    setDisabled(Boolean(rule.disabled));
  }

  // {match, rules} as the API takes it, or null when there is no rule.
  value() {
    const rules = [...this.list.children].map((row) => row.rule());
    return rules.length ? { match: this.match.value, rules } : null;
  }
}

function typed(type, operator, raw) {
  if (operator === "in") {
    const parts = raw.split(",").map((part) => part.trim()).filter(Boolean);
    return parts.map((part) => scalar(type, part));
  }
  return scalar(type, raw);
}

function scalar(type, raw) {
  if (type === "number" || type === "id") return raw === "" ? raw : Number(raw);
  if (type === "boolean") return raw === "true";
  if (type === "datetime") return raw ? new Date(raw).toISOString() : raw;
  return raw;
}

// An ISO time as a datetime-local input shows it (the browser's time zone).
function localInput(iso) {
  const at = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}T${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}`;
}
