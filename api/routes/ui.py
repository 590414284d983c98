"""The operator's page: `/ui` (and `/` redirecting there), served by the API itself.

The page is static HTML, CSS and JavaScript modules from `api/static/`: no build step, no
third-party script. It is public (it holds no data); every call it makes for data sends
the operator's API key. The headers below forbid anything but this origin's own scripts,
styles and images, so a name containing markup can never run as code.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, redirect, send_from_directory, url_for

from api.auth import PUBLIC, requires

bp = Blueprint("ui", __name__)

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)


@bp.get("/")
@requires(PUBLIC)
def root() -> Response:
    return redirect(url_for("ui.page"))


@bp.get("/ui")
@requires(PUBLIC)
def page() -> Response:
    response = send_from_directory(current_app.static_folder or "", "index.html")
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
