"""gunicorn settings for CPU-bound inference (values overridable by environment).

- workers = cores: each worker runs MTCNN + FaceNet on its own onnxruntime sessions
  with one intra-op thread, so N workers keep N cores busy without oversubscription (a
  request alone in the pod embeds on IDLE_EMBED_THREADS: api/vision/cores.py).
- threads = 2 per worker: while one request waits on the database or the network the
  other computes; more threads would only queue on the same core.
- timeout 60 s: a cold first request (model warm-up) plus a large image stays well below;
  a hung worker is replaced.
- graceful_timeout 30 s: in-flight recognitions finish on SIGTERM (rolling updates); a
  training job running in the worker is handed back to the queue (see worker_exit).
- no preload: onnxruntime sessions must be created after fork, in each worker.
- request header fields stay at gunicorn's 8 KiB limit (an oversized X-API-Key gets 431).
- worker class: gthread, answering the requests gunicorn itself refuses (414, 431, 400)
  with the contract's JSON error body instead of an HTML page (api/gunicorn_worker.py).
- metrics: every worker writes its Prometheus values to PROMETHEUS_MULTIPROC_DIR (default:
  a fresh folder under the temp dir, /tmp being the pod's writable emptyDir), so /metrics
  sums the whole pod (api/metrics). The folder is emptied when the server starts (a
  previous run's counts would add to this one's) and removed when it stops; a dead
  worker's live gauges are dropped, its counters and histograms kept (they still count).
"""

import multiprocessing
import os
import shutil
import tempfile
from pathlib import Path

bind = os.environ.get("BIND", "127.0.0.1:8080")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count()))
threads = int(os.environ.get("GUNICORN_THREADS", 2))
worker_class = "api.gunicorn_worker.ContractThreadWorker"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 60))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", 30))
# How long a stopping worker waits for its training job to reach a checkpoint (one batch
# of re-embedding: seconds) before requeueing it itself; well inside graceful_timeout,
# after which the master kills the worker.
TRAINING_HAND_BACK_SECONDS = min(5.0, graceful_timeout / 3)
keepalive = 5
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 0))
max_requests_jitter = 50
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-") or None
access_log_format = '{"remote":"%(h)s","request":"%(r)s","status":%(s)s,"bytes":%(B)s,"ms":%(M)s}'
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
preload_app = False
# gunicorn's control socket defaults to one path per user: several instances on a host
# would fight over it, and pods run with a read-only root filesystem.
control_socket_disable = True
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# Set before any worker imports prometheus_client (it reads the variable on import).
METRICS_DIR_OWNED = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if METRICS_DIR_OWNED:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="facerec-metrics-")


def on_starting(server) -> None:
    """No keys, no public address: refuse to start rather than expose biometric data."""
    from api.auth import check_bind_allowed
    from api.config import Settings
    from api.db.engine import create_db_engine
    from api.db.migrations import upgrade_schema

    _empty_metrics_dir()
    settings = Settings.from_env()
    engine = create_db_engine(settings.database_url, settings.db_timeout_seconds)
    hosts = [address[0] for address in server.cfg.address if isinstance(address, tuple)]

    def connect():
        upgrade_schema(engine)
        return engine.connect()

    try:
        check_bind_allowed(hosts, connect, settings.trusted_proxies)
    finally:
        engine.dispose()


def _empty_metrics_dir() -> None:
    folder = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()


def child_exit(server, worker) -> None:
    """In the master, once a worker has exited: drop its live gauges' file."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:
    """The folder this server made for its metrics goes with it."""
    if METRICS_DIR_OWNED:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


def worker_int(worker) -> None:
    """Quick shutdown (SIGINT, SIGQUIT): hand the training job (and the retention
    purge's lease) back without waiting."""
    _stop_background_work(worker, 0.0)


def worker_exit(server, worker) -> None:
    """Runs in the worker once it has stopped serving, however it stops (SIGTERM included,
    which has no hook of its own): its training job goes back to the queue at once rather
    than waiting out its lease (api/training_worker.py); a retention purge stops after its
    batch and frees its lease (api/retention/worker.py)."""
    _stop_background_work(worker, TRAINING_HAND_BACK_SECONDS)


def _stop_background_work(worker, timeout: float) -> None:
    # No app where it failed to load, nor in the master (which calls worker_exit for a
    # worker that vanished): nothing runs there.
    app = getattr(worker, "wsgi", None)
    if app is None:
        return
    from api.services import EXTENSION_KEY

    svc = app.extensions[EXTENSION_KEY]
    svc.training.stop(timeout)
    svc.retention.stop(timeout)  # a purge stops after its batch and frees its lease
    svc.regrouping.stop(timeout)  # a re-grouping pass finishes (seconds) first
    svc.release_polling.stop(timeout)
    svc.heap_trimming.stop(timeout)
