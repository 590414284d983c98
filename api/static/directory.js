// Who is enrolled: person_id -> {person_id, name, faces}, shared by every view that shows
// names (events carry only ids). Reloaded after enrolment or deletion and whenever an
// event names someone it does not know yet.

import { allPages } from "./api.js";

let people = new Map();
const listeners = new Set();

export async function loadDirectory() {
  const items = await allPages("/api/v1/people");
  people = new Map(items.map((person) => [person.person_id, person]));
  for (const listener of listeners) listener();
  return people;
}

export const knows = (personId) => people.has(personId);
export const nameOf = (personId) => people.get(personId)?.name ?? personId;
export const everyone = () => [...people.values()];
export const onDirectoryChange = (listener) => listeners.add(listener);
