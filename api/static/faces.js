// Face thumbnails beside sightings: the face a sighting was recognised from, and the
// enrolled face of the person it was matched to, so an operator judges a match at a glance.
// Images come through imageUrl (an <img src> cannot send the API key) and are cached there.

import { call, enc, imageUrl } from "./api.js";
import { onDirectoryChange } from "./directory.js";
import { h } from "./dom.js";

const SIZE = 56;
const firstFaces = new Map(); // person_id -> Promise of the first enrolled face_id or null
onDirectoryChange(() => firstFaces.clear()); // enrolment or deletion changed who has which face

function missing(text) {
  return h("span", { class: "face-thumb missing", title: text, text: "?" });
}

/** An <img> filled once the API has answered; a "?" tile when there is no image. */
export function faceImage(path, alt, className = "") {
  const image = h("img", { class: `face-thumb ${className}`.trim(), alt, width: SIZE, height: SIZE });
  imageUrl(path)
    .then((src) => {
      image.src = src;
    })
    .catch(() => image.replaceWith(missing("No image")));
  return image;
}

/** The face a sighting was made from (stored with it since v1.1). */
export function sightingFace(event) {
  if (!event.has_face) return missing("No face stored for this sighting");
  return faceImage(`/api/v1/events/${event.event_id}/face`, `Face seen at ${event.camera_id}`, "sighting-face");
}

/** The first enrolled face of `personId`, or nothing while unknown / without faces. */
export function enrolledFace(personId, name) {
  const holder = h("span", { class: "enrolled-face" });
  if (!firstFaces.has(personId)) {
    firstFaces.set(
      personId,
      call(`/api/v1/people/${enc(personId)}/faces`)
        .then((body) => body.items[0]?.face_id ?? null)
        .catch(() => null),
    );
  }
  firstFaces.get(personId).then((faceId) => {
    if (faceId === null) return;
    const path = `/api/v1/people/${enc(personId)}/faces/${faceId}/thumbnail?size=96`;
    holder.replaceChildren(faceImage(path, `Enrolled face of ${name}`));
  });
  return holder;
}

/** Sighting face, and the matched person's enrolled face beside it when known. */
export function facePair(event, name) {
  return h(
    "span",
    { class: "face-pair" },
    sightingFace(event),
    event.person_id !== null ? enrolledFace(event.person_id, name) : null,
  );
}
