"""Finding secrets, image bytes and embeddings in a log, in any usual encoding.

Specific needles (the very tokens and images a test sent, as raw bytes, Python bytes
repr, base64 and hex) and generic shapes (long base64 or hex runs, escaped byte runs,
lists of many floats) are both looked for, so a leak in a form nobody predicted still
shows.
"""

from __future__ import annotations

import base64
import re

# shape -> (pattern, fewest distinct characters): encoded binary uses most of its
# alphabet, while a long ID in a logged URL ("ppp...") does not.
GENERIC = {
    "base64 run": (re.compile(r"[A-Za-z0-9+/]{100,}={0,2}"), 24),
    "hex run": (re.compile(r"[0-9a-fA-F]{96,}"), 10),
    "escaped bytes": (re.compile(r"(?:\\x[0-9a-fA-F]{2}){8,}"), 1),
    "float vector": (re.compile(r"(?:-?\d+\.\d+(?:[eE][-+]?\d+)?[,\s]+){16,}"), 1),
    "numpy array": (re.compile(r"array\(\["), 1),
}


def image_needles(image: bytes, count: int = 6) -> dict[str, str]:
    """Distinctive pieces of `image` as they would look if logged in each encoding."""
    needles: dict[str, str] = {}
    step = max(1, (len(image) - 64) // count)
    for at in range(600, len(image) - 48, step)[:count]:
        piece = image[at - at % 3 : at - at % 3 + 24]
        needles[f"repr@{at}"] = repr(piece)[2:-1]
        needles[f"hex@{at}"] = piece.hex()
        needles[f"base64@{at}"] = base64.b64encode(piece).decode()
        needles[f"latin1@{at}"] = piece.decode("latin-1")
    return needles


def find_leaks(text: str, secrets: dict[str, str], images: dict[str, bytes]) -> list[str]:
    """Every leak in `text`: which secret, which image piece, which generic shape."""
    found = [f"secret {name}" for name, secret in secrets.items() if secret in text]
    for name, image in images.items():
        found += [
            f"image {name} ({how})"
            for how, needle in image_needles(image).items()
            if needle in text
        ]
    for shape, (pattern, alphabet) in GENERIC.items():
        found += [
            f"{shape}: {match.group(0)[:80]}"
            for match in pattern.finditer(text)
            if len(set(match.group(0))) >= alphabet
        ]
    return found
