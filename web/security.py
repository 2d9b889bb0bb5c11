"""Security headers on every response, and the Dutch error pages.

The Content-Security-Policy allows no inline scripts and nothing from other sites except the
configured map tile server (images only); pages may not be framed.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, render_template, request
from werkzeug.exceptions import HTTPException

from web.validation import InvalidInput

bp = Blueprint("security", __name__)

ERROR_TEXTS = {
    400: "Het verzoek is ongeldig.",
    401: "U bent niet ingelogd.",
    403: "U heeft geen toegang tot deze pagina met uw rol.",
    404: "Deze pagina bestaat niet.",
    405: "Deze handeling is hier niet toegestaan.",
    413: "De invoer is te groot (hooguit 1 MB per verzoek).",
    429: "Te veel verzoeken. Wacht even en probeer het opnieuw.",
}


def tile_origin(tiles_url: str) -> str:
    """The scheme://host of the tile server (with {s}-style subdomains widened), or ''."""
    if not tiles_url:
        return ""
    parts = urlsplit(tiles_url)
    if not parts.scheme or not parts.netloc:
        return ""
    host = parts.netloc.replace("{s}.", "*.")
    return f"{parts.scheme}://{host}"


@lru_cache(maxsize=8)
def content_security_policy(tiles_url: str) -> str:
    img = " ".join(x for x in ("'self'", "data:", tile_origin(tiles_url)) if x)
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src {img}",
            "media-src 'self'",
            "connect-src 'self'",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


@bp.record_once
def _trust_proxies(state) -> None:
    """Behind `web.trusted_proxies` reverse proxies, take the client address, scheme and host
    from their X-Forwarded-* headers (log-in limits per address, secure cookies, webhook URLs)."""
    hops = state.app.extensions["burgernet.settings"].web.trusted_proxies
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        state.app.wsgi_app = ProxyFix(state.app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


@bp.after_app_request
def _security_headers(response: Response) -> Response:
    settings = current_app.extensions["burgernet.settings"]
    headers = response.headers
    headers.setdefault("Content-Security-Policy", content_security_policy(settings.web.map_tiles_url))
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if settings.web.session_cookie_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if request.endpoint != "static" and "Cache-Control" not in headers:
        headers["Cache-Control"] = "no-store"
    return response


@bp.app_errorhandler(InvalidInput)
def _invalid_input(error: InvalidInput):
    """Input refused by web.validation anywhere in a view: its Dutch message, a 4xx."""
    return error_response(error.status, error.message)


@bp.app_errorhandler(HTTPException)
def _http_error(error: HTTPException):
    code = error.code or 500
    description = error.description if _is_dutch(error) else ERROR_TEXTS.get(code, error.name)
    return error_response(code, description)


def error_response(code: int, message: str):
    """The Dutch error page, or its JSON form for the API and scripts that ask for JSON."""
    wants_json = request.path.startswith("/api/") or (request.accept_mimetypes.best == "application/json")
    if wants_json:
        return {"error": message, "status": code}, code
    return render_template("error.html", code=code, message=message), code


def _is_dutch(error: HTTPException) -> bool:
    """Our own abort() calls carry Dutch descriptions; werkzeug's defaults are English."""
    default = type(error).description
    return bool(error.description) and error.description != default
