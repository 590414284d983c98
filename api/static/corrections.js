// "Wrong person" and "This is..." on a sighting: the operator corrects a name, and the
// matcher learns from it (POST /api/v1/events/{id}/correction, admin key).

import { call } from "./api.js";
import { everyone, loadDirectory, nameOf } from "./directory.js";
import { h } from "./dom.js";

function personChoice(id) {
  return h(
    "select",
    { id, "aria-label": "Who this is" },
    h("option", { value: "", text: "Choose a person" }),
    ...everyone().map((person) => h("option", { value: person.person_id, text: person.name === person.person_id ? person.name : `${person.name} (${person.person_id})` })),
  );
}

/** The two actions of a sighting, with a status line; `onDone(event)` after a correction. */
export function sightingActions(event, onDone = () => {}) {
  const status = h("span", { class: "hint", role: "status" });
  const holder = h("span", { class: "sighting-actions" });
  async function correct(personId) {
    status.textContent = "Saving…";
    try {
      const corrected = await call(`/api/v1/events/${event.event_id}/correction`, { method: "POST", json: { person_id: personId } });
      status.textContent = personId === null ? "Marked: not this person." : `Marked: this is ${nameOf(personId)}.`;
      onDone(corrected);
    } catch (error) {
      status.textContent = `Not saved: ${error.message}`;
    }
  }
  const wrong =
    event.person_id !== null
      ? h("button", { type: "button", class: "small quiet", "data-action": "wrong-person", onclick: () => correct(null), text: "Wrong person" })
      : null;
  const thisIs = h("button", {
    type: "button",
    class: "small quiet",
    "data-action": "this-is",
    text: "This is…",
    onclick: async () => {
      await loadDirectory();
      const select = personChoice(`this-is-${event.event_id}`);
      const save = h("button", { type: "button", class: "small", text: "Save", onclick: () => select.value && correct(select.value) });
      thisIs.replaceWith(h("span", { class: "this-is" }, select, save));
      select.focus();
    },
  });
  holder.append(...[wrong, thisIs, status].filter(Boolean));
  return holder;
}
