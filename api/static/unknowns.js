// Unknown people: the groups of faces nobody was recognised in, last seen first, each as a
// strip of its best faces with counts and cameras; name one (it becomes a person and is
// recognised from then on), merge two, or dismiss one.

import { call, enc } from "./api.js";
import { loadDirectory } from "./directory.js";
import { formatDateTime, h } from "./dom.js";
import { faceImage } from "./faces.js";

const PER_PAGE = 50;
const $ = (id) => document.getElementById(id);
let shown = ""; // what the list shows, to redraw only when it changed
let groups = [];

function say(text) {
  $("unknowns-status").textContent = text;
}

async function act(path, json, done) {
  try {
    const body = await call(path, { method: "POST", json });
    say(done(body));
    shown = "";
    $("unknowns-list").replaceChildren(); // the open form is done with
    await refresh();
  } catch (error) {
    say(`Not done: ${error.message}`);
  }
}

function nameForm(group) {
  const idInput = h("input", { id: `name-id-${group.unknown_id}`, required: true, maxlength: 128, autocomplete: "off", spellcheck: "false" });
  const nameInput = h("input", { id: `name-name-${group.unknown_id}`, maxlength: 255, autocomplete: "off" });
  return h(
    "form",
    {
      class: "fields name-form",
      onsubmit: (event) => {
        event.preventDefault();
        const personId = idInput.value.trim();
        if (!personId) return say("Give a person ID.");
        const name = nameInput.value.trim() || null;
        act(`/api/v1/unknowns/${enc(group.unknown_id)}/enrol`, { person_id: personId, name }, (body) => {
          loadDirectory().catch(() => {});
          return `${body.name} ${body.created ? "created" : "extended"} from ${body.face_ids_added.length} faces; ${body.sightings_relabelled} sightings named.`;
        });
      },
    },
    h("div", { class: "field" }, h("label", { for: idInput.id, text: "Person ID" }), idInput),
    h("div", { class: "field" }, h("label", { for: nameInput.id, text: "Name" }), nameInput),
    h("div", { class: "actions" }, h("button", { type: "submit", text: "Save" })),
  );
}

function mergeForm(group) {
  const select = h(
    "select",
    { id: `merge-${group.unknown_id}`, "aria-label": "Merge with" },
    ...groups.filter((other) => other.unknown_id !== group.unknown_id).map((other) => h("option", { value: other.unknown_id, text: `${other.unknown_id} (${other.sightings} sightings)` })),
  );
  return h(
    "form",
    {
      class: "merge-form",
      onsubmit: (event) => {
        event.preventDefault();
        act(`/api/v1/unknowns/${enc(group.unknown_id)}/merge`, { into: select.value }, (body) => `Merged: ${body.sightings} sightings in ${body.unknown_id}.`);
      },
    },
    select,
    h("button", { type: "submit", class: "small", text: "Merge" }),
  );
}

function groupItem(group) {
  const tools = h("div", { class: "group-tools" });
  const open = (form) => tools.replaceChildren(form);
  const cameras = group.cameras.join(", ");
  return h(
    "li",
    { class: "unknown-group card", dataset: { unknownId: group.unknown_id } },
    h("div", { class: "face-strip" }, group.sample_event_ids.map((id) => faceImage(`/api/v1/events/${id}/face`, `Face of ${group.unknown_id}`))),
    h("p", { class: "group-summary" }, `${group.sightings} sighting${group.sightings === 1 ? "" : "s"} at ${cameras}; last seen `, h("time", { datetime: group.last_seen, text: formatDateTime(group.last_seen) })),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", class: "small", "data-action": "name", text: "Name this person", onclick: () => open(nameForm(group)) }),
      h("button", { type: "button", class: "small quiet", "data-action": "merge", text: "Merge with…", onclick: () => open(mergeForm(group)) }),
      h("button", {
        type: "button",
        class: "small quiet",
        "data-action": "dismiss",
        text: "Dismiss",
        onclick: () => act(`/api/v1/unknowns/${enc(group.unknown_id)}/dismiss`, undefined, () => `Dismissed ${group.unknown_id}.`),
      }),
    ),
    tools,
  );
}

export async function refresh() {
  const minimum = $("unknowns-min").value || "2";
  const body = await call(`/api/v1/unknowns?min_sightings=${enc(minimum)}&per_page=${PER_PAGE}`);
  const signature = JSON.stringify(body.items.map((g) => [g.unknown_id, g.sightings, g.last_seen]));
  if (signature === shown) return;
  if ($("unknowns-list").querySelector("form")) return; // never redraw under a hand typing
  shown = signature;
  groups = body.items;
  $("unknowns-list").replaceChildren(...groups.map(groupItem));
  $("unknowns-empty").hidden = groups.length > 0;
  $("unknowns-total").textContent = `${body.total} group${body.total === 1 ? "" : "s"}` + (body.total > groups.length ? ` (the latest ${groups.length} shown)` : "");
}

export function init() {
  $("unknowns-min").addEventListener("change", () => {
    shown = "";
    refresh();
  });
}

export const show = refresh;
