// Alerts: where alerts go (with a "Send test" button), the rules that fire them, and the
// recent deliveries with their status and last error. Managing alerts needs an admin key.

import { call, enc } from "./api.js";
import { h, timeElement } from "./dom.js";

const $ = (id) => document.getElementById(id);
const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
let destinations = [];
let drawn = { destinations: "", rules: "" }; // what the two lists show: redrawn only on change
const testResults = new Map(); // destination id -> what its last "Send test" said (kept across redraws)

function ids(text) {
  const list = text.split(",").map((item) => item.trim()).filter(Boolean);
  return list.length ? list : null;
}

function emptyRow(table, columns, text) {
  if (!table.tBodies[0].children.length) table.tBodies[0].append(h("tr", {}, h("td", { colspan: columns, text })));
}

function destinationLabel(id) {
  const destination = destinations.find((d) => d.destination_id === id);
  return destination ? destination.name || destination.url : id;
}

function renderDestinations() {
  const table = $("destinations-table");
  table.tBodies[0].replaceChildren(
    ...destinations.map((d) =>
      h(
        "tr",
        { dataset: { destinationId: d.destination_id } },
        h("td", { "data-label": "Kind", text: d.kind }),
        h("td", { "data-label": "Where", class: "wrap", text: d.kind === "mqtt" ? `${d.url} · ${d.topic}` : d.url }),
        h("td", { "data-label": "Name", text: d.name ?? "" }),
        h(
          "td",
          { "data-label": "Actions" },
          h("button", { type: "button", class: "quiet test", text: "Send test", onclick: () => sendTest(d) }),
          h("button", { type: "button", class: "quiet delete", text: "Delete", onclick: () => remove("destinations", d.destination_id) }),
          h("span", { class: "test-result", role: "status", text: testResults.get(d.destination_id) ?? "" }),
        ),
      ),
    ),
  );
  emptyRow(table, 4, "No destination yet.");
  const select = $("rule-destination");
  const chosen = select.value;
  select.replaceChildren(...destinations.map((d) => h("option", { value: d.destination_id, text: `${d.kind}: ${destinationLabel(d.destination_id)}` })));
  if (chosen) select.value = chosen;
}

function who(rule) {
  const known = rule.person_ids === null ? "anyone known" : rule.person_ids.join(", ");
  if (!rule.unknown) return known;
  return rule.person_ids !== null && !rule.person_ids.length ? "strangers" : `${known}, strangers`;
}

function when(rule) {
  const days = rule.days ? rule.days.join(" ") : "every day";
  const hours = rule.start_time ? ` ${rule.start_time}–${rule.end_time}` : "";
  return `${days}${hours} (${rule.timezone})`;
}

function renderRules(rules) {
  const table = $("rules-table");
  table.tBodies[0].replaceChildren(
    ...rules.map((rule) =>
      h(
        "tr",
        { dataset: { ruleId: rule.rule_id } },
        h("td", { "data-label": "Rule", text: rule.name }),
        h("td", { "data-label": "Who", text: who(rule) }),
        h("td", { "data-label": "Cameras", text: rule.camera_ids ? rule.camera_ids.join(", ") : "any" }),
        h("td", { "data-label": "When", text: when(rule) }),
        h("td", { "data-label": "To", text: destinationLabel(rule.destination_id) }),
        h("td", { "data-label": "Cooldown", text: `${rule.cooldown_seconds} s` }),
        h("td", { "data-label": "Actions" }, h("button", { type: "button", class: "quiet delete", text: "Delete", onclick: () => remove("rules", rule.rule_id) })),
      ),
    ),
  );
  emptyRow(table, 7, "No rule yet.");
}

function renderDeliveries(deliveries) {
  const table = $("deliveries-table");
  table.tBodies[0].replaceChildren(
    ...deliveries.map((d) =>
      h(
        "tr",
        { dataset: { alertId: d.alert_id, status: d.status } },
        h("td", { "data-label": "Fired" }, timeElement(d.created_at)),
        h("td", { "data-label": "To", text: destinationLabel(d.destination_id) }),
        h("td", { "data-label": "Seen", text: `${d.person_id ?? "stranger"} · ${d.camera_id}` }),
        h("td", { "data-label": "Status" }, h("span", { class: `status ${d.status}`, text: d.status })),
        h("td", { "data-label": "Attempts", text: String(d.attempts) }),
        h("td", { "data-label": "Last error", class: "wrap", text: d.last_error ?? "" }),
      ),
    ),
  );
  emptyRow(table, 6, "No alert yet.");
}

function say(message) {
  $("alerts-status").textContent = message;
}

function refused(error) {
  return error.status === 403 ? "Managing alerts needs an admin API key." : error.message;
}

export async function refresh() {
  try {
    const status = $("deliveries-status").value;
    const [dests, rules, deliveries] = await Promise.all([
      call("/api/v1/alerts/destinations"),
      call("/api/v1/alerts/rules"),
      call(`/api/v1/alerts/deliveries?per_page=50${status ? `&status=${enc(status)}` : ""}`),
    ]);
    destinations = dests.items;
    // Redrawn only when changed: a poll must not rebuild a <select> or a button under the
    // operator's pointer.
    const now = { destinations: JSON.stringify(destinations), rules: JSON.stringify(rules.items) };
    if (now.destinations !== drawn.destinations) renderDestinations();
    if (now.destinations !== drawn.destinations || now.rules !== drawn.rules) renderRules(rules.items);
    drawn = now;
    renderDeliveries(deliveries.items);
    $("deliveries-summary").textContent = `${deliveries.total} alert${deliveries.total === 1 ? "" : "s"}${status ? ` ${status}` : ""}.`;
  } catch (error) {
    say(`Could not load alerts: ${refused(error)}`);
  }
}

async function sendTest(destination) {
  const id = destination.destination_id;
  const show = (text) => {
    testResults.set(id, text);
    const row = $("destinations-table").querySelector(`tr[data-destination-id="${CSS.escape(id)}"]`);
    if (row) row.querySelector(".test-result").textContent = text;
  };
  show("Sending…");
  try {
    await call(`/api/v1/alerts/destinations/${enc(id)}/test`, { method: "POST" });
    show("Delivered.");
  } catch (error) {
    show(`Not delivered: ${error.message}`);
  }
}

async function remove(kind, id) {
  try {
    await call(`/api/v1/alerts/${kind}/${enc(id)}`, { method: "DELETE" });
    say(kind === "rules" ? "Rule deleted." : "Destination deleted, with its rules.");
  } catch (error) {
    say(`Not deleted: ${refused(error)}`);
  }
  await refresh();
}

async function addDestination(event) {
  event.preventDefault();
  const kind = $("destination-kind").value;
  const body = { kind, url: $("destination-url").value.trim(), name: $("destination-name").value.trim() || null };
  const secret = $("destination-secret").value;
  if (secret) body.secret = secret;
  if (kind === "mqtt" && $("destination-topic").value.trim()) body.topic = $("destination-topic").value.trim();
  try {
    const created = await call("/api/v1/alerts/destinations", { method: "POST", json: body });
    $("destination-form").reset();
    showKindFields();
    say(`Destination added (${created.destination_id}).`);
  } catch (error) {
    say(`Not added: ${refused(error)}`);
  }
  await refresh();
}

async function addRule(event) {
  event.preventDefault();
  const whom = $("rule-who").value;
  const days = DAYS.filter((day) => $(`rule-day-${day}`).checked);
  const body = {
    name: $("rule-name").value.trim(),
    destination_id: $("rule-destination").value,
    person_ids: whom === "listed" ? ids($("rule-people").value) ?? [] : whom === "strangers" ? [] : null,
    unknown: whom === "strangers" || whom === "everyone",
    camera_ids: ids($("rule-cameras").value),
    days: days.length === DAYS.length ? null : days,
    start_time: $("rule-start").value || null,
    end_time: $("rule-end").value || null,
    timezone: $("rule-timezone").value.trim() || "UTC",
    cooldown_seconds: Number($("rule-cooldown").value || 0),
  };
  const confidence = $("rule-confidence").value;
  if (confidence) body.min_confidence = Number(confidence);
  try {
    await call("/api/v1/alerts/rules", { method: "POST", json: body });
    $("rule-form").reset();
    $("rule-timezone").value = Intl.DateTimeFormat().resolvedOptions().timeZone;
    say("Rule added.");
  } catch (error) {
    say(`Not added: ${refused(error)}`);
  }
  await refresh();
}

function showKindFields() {
  const mqtt = $("destination-kind").value === "mqtt";
  $("destination-topic-field").hidden = !mqtt;
  $("destination-secret-label").textContent = mqtt ? "Password (optional)" : "Secret (signs each body)";
}

export function init() {
  $("destination-form").addEventListener("submit", addDestination);
  $("destination-kind").addEventListener("change", showKindFields);
  $("rule-form").addEventListener("submit", addRule);
  $("rule-who").addEventListener("change", () => {
    $("rule-people-field").hidden = $("rule-who").value !== "listed";
  });
  $("deliveries-status").addEventListener("change", refresh);
  $("rule-timezone").value = Intl.DateTimeFormat().resolvedOptions().timeZone;
  showKindFields();
}

export const show = refresh;
