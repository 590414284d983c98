"""Enrolling people through the API: shared by the two add-user programs, down to what
they print (the `*_and_report` functions), so both read the same to a user."""

from __future__ import annotations

import logging
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from edge.client import CloudClient, CloudError, CloudRejectedError
from edge.progress import Progress

log = logging.getLogger(__name__)


def normalise_person_id(raw: str) -> str:
    """The original framework's IDs: trimmed, lower case, spaces to underscores."""
    return "_".join(raw.strip().lower().split())


def ensure_person(client: CloudClient, person_id: str, name: str) -> bool:
    """Create the person; True if created, False if it already existed (409)."""
    try:
        client.create_person(person_id, name)
    except CloudRejectedError as error:
        if error.status == 409:
            return False
        raise
    return True


@dataclass
class EnrolResult:
    """Images the cloud kept as faces, and those it rejected with its reason."""

    accepted: int = 0
    rejected: list[tuple[str, str, str]] = field(default_factory=list)  # filename, code, message

    def summary(self, person_id: str) -> str:
        lines = [f"{person_id}: {self.accepted} images accepted, {len(self.rejected)} rejected"]
        for code, count in sorted(Counter(code for _, code, _ in self.rejected).items()):
            lines.append(f"  {code}: {count}")
        lines.extend(f"    {name}: {code} {message}" for name, code, message in self.rejected)
        return "\n".join(lines)


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def upload_faces(
    client: CloudClient,
    person_id: str,
    images: Iterable[tuple[str, bytes]],
    batch_size: int = 8,
    progress: Progress | None = None,
) -> EnrolResult:
    """Send (filename, bytes) images in batches; one rejected image never fails the rest."""
    result = EnrolResult()
    for batch in _batches(images, batch_size):
        try:
            answer = client.add_faces(person_id, batch)
        except CloudRejectedError as error:
            if error.status in (404, 401, 403):
                raise  # the person or the key is wrong: every batch would fail alike
            result.rejected.extend((name, error.code, error.message) for name, _ in batch)
        else:
            result.accepted += len(answer.get("faces", []))
            result.rejected.extend(
                (item.get("filename", ""), item.get("code", ""), item.get("message", ""))
                for item in answer.get("rejected", [])
            )
        if progress is not None:
            progress.update(len(batch))
    return result


def train(client: CloudClient, mode: str = "optimized") -> dict[str, Any]:
    """Queue a training job, poll it to the end and return its final state."""
    job = client.start_training(mode)
    log.info("training job %s queued", job.get("job_id"))
    return client.wait_for_training(job["job_id"])


def ensure_person_and_report(client: CloudClient, person_id: str, name: str) -> None:
    """Create the person, saying so when it already exists (its images are added to)."""
    if not ensure_person(client, person_id, name):
        print(f"{person_id}: already exists, adding images to it")


def upload_and_report(
    client: CloudClient,
    person_id: str,
    images: Iterable[tuple[str, bytes]],
    count: int,
    batch_size: int = 8,
) -> EnrolResult:
    """`upload_faces` with a progress bar over `count` images, then its summary printed."""
    progress = Progress(f"uploading {person_id}", count)
    result = upload_faces(client, person_id, images, batch_size, progress)
    progress.close()
    print(result.summary(person_id))
    return result


def train_and_report(client: CloudClient, mode: str = "optimized") -> bool:
    """`train`, its final state printed; True when the job succeeded."""
    job = train(client, mode)
    print(f"training {job.get('job_id')}: {job.get('status')}")
    return job.get("status") == "succeeded"


def report_cloud_errors(enrol: Callable[[], int]) -> int:
    """`enrol()`'s exit code, or 1 with the error on stderr (not a traceback) when the
    cloud failed it: unreachable, or a request refused such as a wrong key."""
    try:
        return enrol()
    except CloudError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
