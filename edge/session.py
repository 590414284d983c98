"""The running edge of one camera, assembled from the programs' options."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

from edge import cli
from edge.accounting import EdgeStats
from edge.labels import TrackLabels
from edge.pipeline import EdgePipeline
from edge.sender import Sender, SenderConfig
from edge.sources import Frame, open_source, sample_frames
from edge.spool import SpooledCrop


class EdgeSession:
    """Detector, tracker, crop policy, sender with its spool, and the labels the cloud's
    answers give each track. `close()` drains what it can and returns the report."""

    def __init__(self, args: argparse.Namespace, workers: int = 4) -> None:
        self.stats = EdgeStats()
        self.labels = TrackLabels()
        self.sender = Sender(
            cli.client_from_args(args, pool_size=workers),
            cli.spool_from_args(args),
            self.stats,
            SenderConfig(workers=workers, retries=args.retries, threshold=args.threshold),
            on_result=self._on_result,
        )
        self.pipeline = EdgePipeline(
            cli.detector_from_args(args),
            cli.policy_from_args(args),
            self.stats,
            self.sender.submit,
            cli.tracker_from_args(args),
            args.camera_id,
            args.location,
        )
        self._drain_timeout_s = args.drain_timeout
        self.interrupted = False

    def _on_result(self, crop: SpooledCrop, track_id: int | None, answer: dict[str, Any]) -> None:
        if track_id is not None:
            self.labels.record(track_id, answer)

    def close(self, drain: bool = True) -> str:
        """Stop sending (after trying to empty the spool when `drain`); the stats report.

        Ctrl-C while draining cuts the drain short: the spool keeps what is left."""
        try:
            self.sender.close(self._drain_timeout_s if drain else 0.0)
        except KeyboardInterrupt:
            self.interrupted = True
            self.sender.close(0.0)
        report = self.stats.report()
        waiting = self.sender.pending()
        if waiting:
            report += f"\nstill spooled      {waiting} crops in {self.sender.spool.directory}"
        return report


def frames_from_args(args: argparse.Namespace) -> tuple[Iterator[Frame], int | None]:
    """The sampled frames of `--source` and the source's frame count when known."""
    source = open_source(args.source)
    return sample_frames(iter(source), args.target_fps, args.skip_frames), source.frame_count
