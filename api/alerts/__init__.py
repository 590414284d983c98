"""Alerts: tell a webhook or an MQTT broker when someone (or a stranger) is seen.

- `rules`: which sightings fire (who, cameras, schedule, minimum confidence/quality) and
  the per rule x subject x camera cooldown;
- `outbox`: writes one delivery row per alert and destination in the transaction that
  stores the sighting, so an alert exists exactly when its sighting does;
- `dispatcher`: a thread in every API worker that claims a destination (a lease in the
  database), sends its pending alerts in order and records the outcome: at-least-once
  delivery that survives the death of any worker or pod;
- `queue`: the dispatcher's database side (leases, outcomes, backoff); `store`: what the
  API lists and manages;
- `webhook`, `mqtt`: the two kinds of destination (`delivery`: what they share);
  `addresses`: URL checks and the SSRF guard; `secrets`: destination secrets encrypted at
  rest.
"""
