"""Sightings an operator can see and search: face quality, the stored face of every
recognition event, search by face and per-camera settings."""
