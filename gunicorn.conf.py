"""gunicorn settings for CPU-bound inference (values overridable by environment).

- workers = cores: each worker runs MTCNN + FaceNet on its own onnxruntime sessions
  with one intra-op thread, so N workers keep N cores busy without oversubscription.
- threads = 2 per worker: while one request waits on the database or the network the
  other computes; more threads would only queue on the same core.
- timeout 60 s: a cold first request (model warm-up) plus a large image stays well below;
  a hung worker is replaced.
- graceful_timeout 30 s: in-flight recognitions finish on SIGTERM (rolling updates).
- no preload: onnxruntime sessions must be created after fork, in each worker.
"""

import multiprocessing
import os

bind = os.environ.get("BIND", "127.0.0.1:8080")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count()))
threads = int(os.environ.get("GUNICORN_THREADS", 2))
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 60))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", 30))
keepalive = 5
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 0))
max_requests_jitter = 50
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-") or None
access_log_format = '{"remote":"%(h)s","request":"%(r)s","status":%(s)s,"bytes":%(B)s,"ms":%(M)s}'
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
preload_app = False
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
