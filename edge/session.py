"""The running edge of one camera, assembled from the programs' options."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from edge import cli
from edge.accounting import EdgeStats
from edge.labels import TrackLabels
from edge.pipeline import EdgePipeline, FaceObservation
from edge.sender import Sender, SenderConfig
from edge.sources import Frame, open_source, sample_frames
from edge.spool import SpooledCrop

# Sees each frame with its faces once the pipeline is done with it; False stops the run.
FrameCallback = Callable[[Frame, list[FaceObservation]], bool]


class EdgeSession:
    """Detector, tracker, crop policy, sender with its spool, and the labels the cloud's
    answers give each track. `run()` feeds it frames; `close()` drains what it can and
    returns the report."""

    def __init__(self, args: argparse.Namespace, workers: int = 4) -> None:
        self.stats = EdgeStats()
        self.labels = TrackLabels()
        self.sender = Sender(
            cli.client_from_args(args),
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
        self.interrupted = False  # Ctrl-C came, while running or while draining

    def _on_result(self, crop: SpooledCrop, track_id: int | None, answer: dict[str, Any]) -> None:
        if track_id is not None:
            self.labels.record(track_id, answer)

    def run(self, frames: Iterable[Frame], on_frame: FrameCallback) -> None:
        """Every frame through the pipeline, then to `on_frame`, until the frames end,
        `on_frame` says stop, or Ctrl-C (caught: the program still reports)."""
        try:
            for frame in frames:
                if not on_frame(frame, self.pipeline.process(frame)):
                    return
        except KeyboardInterrupt:
            self.interrupted = True

    def close(self) -> str:
        """Stop sending, after trying to empty the spool unless Ctrl-C came (the user
        wants out); the stats report.

        Ctrl-C while draining cuts the drain short: the spool keeps what is left."""
        try:
            self.sender.close(0.0 if self.interrupted else self._drain_timeout_s)
        except KeyboardInterrupt:
            self.interrupted = True
            self.sender.close(0.0)
        self.stats.spool_dropped = self.sender.spool.dropped
        report = self.stats.report()
        waiting = self.sender.pending()
        if waiting:
            report += f"\nstill spooled      {waiting} crops in {self.sender.spool.directory}"
        return report

    @property
    def exit_code(self) -> int:
        """130 after Ctrl-C, as a shell reports a program it interrupted; else 0."""
        return 130 if self.interrupted else 0


def frames_from_args(args: argparse.Namespace) -> tuple[Iterator[Frame], int | None]:
    """The sampled frames of `--source` and the source's frame count when known."""
    source = open_source(args.source)
    return sample_frames(iter(source), args.target_fps, args.skip_frames), source.frame_count
