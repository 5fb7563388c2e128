"""Logging in to a cloud for the specs: ``os.token`` and ``os.catalog`` without a login step.

With ``--os-cloud`` (or ``OS_*``), the ``os`` variables are a ``CloudVariables``: reading
``os.token`` or ``os.catalog`` logs in to Keystone once per run (whichever file reads it
first, under a lock for ``--jobs``), with the cloud's ``auth_type`` and scope, as
keystoneauth would. A step refused with 401 while carrying that token asks for a new one
once (``reauthenticate``) and is sent again.

The request bodies are pure functions of the settings (``auth_body``); only ``login`` talks
to the network, through the transport.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from .errors import TemplateError

LAZY_KEYS = ("token", "catalog")
AUTH_TYPES = {
    "password": "password",
    "v3password": "password",
    "token": "token",
    "v3token": "token",
    "v3applicationcredential": "application_credential",
    "applicationcredential": "application_credential",
    "application_credential": "application_credential",
}


class CloudAuthError(TemplateError):
    """The cloud's settings cannot make a login, or Keystone refused it."""


class Catalog(list):
    """A token's service catalog that knows the cloud's region and interface, so
    ``os.catalog | endpoint('compute')`` picks the endpoint the cloud is configured for."""

    interface: str | None = None
    region: str | None = None


def _pick(settings: Mapping[str, Any], *names: str) -> Any:
    return next((settings[n] for n in names if settings.get(n) not in (None, "")), None)


def _ref(settings: Mapping[str, Any], prefix: str) -> dict[str, Any] | None:
    """``{"id": …}`` or ``{"name": …}`` from PREFIX_id / PREFIX_name."""
    if settings.get(f"{prefix}_id"):
        return {"id": settings[f"{prefix}_id"]}
    if settings.get(f"{prefix}_name"):
        return {"name": settings[f"{prefix}_name"]}
    return None


def auth_type(settings: Mapping[str, Any]) -> str:
    """password, token or application_credential; from auth_type, else from what is set."""
    given = str(settings.get("auth_type") or "").strip().lower().replace("-", "")
    if given:
        if given not in AUTH_TYPES:
            raise CloudAuthError(
                f"the cloud's auth_type {settings['auth_type']!r} is not supported (apirun "
                "logs in with password, token, v3token, v3applicationcredential)"
            )
        return AUTH_TYPES[given]
    if settings.get("application_credential_id") or settings.get("application_credential_name"):
        return "application_credential"
    if settings.get("token") and not settings.get("password"):
        return "token"
    return "password"


def _user(settings: Mapping[str, Any]) -> dict[str, Any]:
    user: dict[str, Any] = {}
    if settings.get("user_id"):
        user["id"] = settings["user_id"]
    elif settings.get("username"):
        user["name"] = settings["username"]
        domain = _ref(settings, "user_domain") or _ref(settings, "default_domain")
        if domain is None:
            raise CloudAuthError(
                "the cloud names its user by name: it needs user_domain_name or user_domain_id"
            )
        user["domain"] = domain
    else:
        raise CloudAuthError("the cloud's login needs username (or user_id)")
    return user


def _scope(settings: Mapping[str, Any]) -> dict[str, Any] | None:
    """The clouds.yaml scope: a project (by id, or name and domain), a domain, or the system."""
    if settings.get("project_id") or settings.get("tenant_id"):
        return {"project": {"id": _pick(settings, "project_id", "tenant_id")}}
    name = _pick(settings, "project_name", "tenant_name")
    if name:
        domain = (
            _ref(settings, "project_domain")
            or _ref(settings, "default_domain")
            or _ref(settings, "user_domain")
        )
        if domain is None:
            raise CloudAuthError(
                "the cloud's project is named: it needs project_domain_name or project_domain_id"
            )
        return {"project": {"name": name, "domain": domain}}
    domain = _ref(settings, "domain")
    if domain is not None:
        return {"domain": domain}
    system = settings.get("system_scope")
    if system:
        return {"system": {str(system): True}}
    return None


def auth_body(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The body of POST /v3/auth/tokens for the cloud's auth_type and scope."""
    kind = auth_type(settings)
    identity: dict[str, Any] = {"methods": [kind]}
    if kind == "password":
        if settings.get("password") in (None, ""):
            raise CloudAuthError("the cloud's password login needs a password")
        identity["password"] = {"user": {**_user(settings), "password": settings["password"]}}
    elif kind == "token":
        if not settings.get("token"):
            raise CloudAuthError("the cloud's token login needs a token")
        identity["token"] = {"id": settings["token"]}
    else:
        secret = settings.get("application_credential_secret")
        if not secret:
            raise CloudAuthError(
                "the cloud's application credential login needs application_credential_secret"
            )
        credential: dict[str, Any] = {"secret": secret}
        if settings.get("application_credential_id"):
            credential["id"] = settings["application_credential_id"]
        elif settings.get("application_credential_name"):
            credential["name"] = settings["application_credential_name"]
            credential["user"] = _user(settings)
        else:
            raise CloudAuthError(
                "the cloud's application credential login needs application_credential_id "
                "(or application_credential_name with the user)"
            )
        identity["application_credential"] = credential
        return {"auth": {"identity": identity}}  # an application credential carries its scope
    scope = _scope(settings)
    return {"auth": {"identity": identity, **({"scope": scope} if scope else {})}}


def _verify(settings: Mapping[str, Any]) -> bool | str:
    if str(settings.get("insecure", "")).lower() in ("1", "true", "yes"):
        return False
    if settings.get("verify") is False:
        return False
    return str(settings["cacert"]) if settings.get("cacert") else True


class CloudVariables(dict):
    """The ``os`` namespace of a run; ``token`` and ``catalog`` appear on first read."""

    def __init__(self, settings: Mapping[str, Any]):
        super().__init__(settings)
        self._settings = dict(settings)
        self._lock = threading.Lock()
        self._secrets: set[str] = {
            str(settings[k])
            for k in ("password", "token", "application_credential_secret")
            if settings.get(k)
        }
        self._logged_in = False
        self.offline = False  # a dry run: nothing is sent, token and catalog stay unknown

    # -- the lazy keys ---------------------------------------------------------------------

    def can_log_in(self) -> bool:
        return bool(self._settings.get("auth_url"))

    def __contains__(self, key: object) -> bool:
        return (key in LAZY_KEYS and self.can_log_in()) or super().__contains__(key)

    def __getitem__(self, key: str) -> Any:
        if key in LAZY_KEYS and self.can_log_in():
            if self.offline:
                from .unknown import Unknown

                return Unknown(f"os.{key}", "the cloud's login")
            self.ensure_login()
        return super().__getitem__(key)

    @property
    def secrets(self) -> set[str]:
        """Every secret value of the cloud: its password or secret, and the tokens issued."""
        return self._secrets

    def ensure_login(self) -> None:
        with self._lock:
            if not self._logged_in:
                self._login()

    def reauthenticate(self, refused: str) -> bool:
        """A step was refused (401) with token ``refused``: log in again, once per token
        (another file may have done it already). False when the token was not ours."""
        with self._lock:
            if not self._logged_in or refused not in self._secrets:
                return False
            if super().get("token") == refused:
                self._login()
            return True

    def token_in(self, headers: Mapping[str, str]) -> str | None:
        """The cloud's token, if one of these request headers carries it."""
        if not self._logged_in:
            return None
        token = super().get("token")
        return token if token and token in headers.values() else None

    def _login(self) -> None:
        token, catalog = login(self._settings)
        self._secrets.add(token)
        listed = Catalog(catalog)
        listed.interface = self._settings.get("interface") or None
        listed.region = self._settings.get("region_name") or None
        dict.__setitem__(self, "token", token)
        dict.__setitem__(self, "catalog", listed)
        self._logged_in = True


def login(settings: Mapping[str, Any]) -> tuple[str, list[Any]]:
    """POST /v3/auth/tokens with the cloud's credentials: the token and its catalog."""
    from .errors import TransportError
    from .messages import HttpRequest
    from .payloads import PayloadError, cloud_cert
    from .transport import Transport

    url = str(settings.get("identity_url") or "") + "/auth/tokens"
    body = auth_body(settings)
    try:
        cert = cloud_cert(settings)
    except PayloadError as exc:
        raise CloudAuthError(str(exc)) from None
    request = HttpRequest(
        "POST",
        url,
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        json=body,
        has_json=True,
    )
    try:
        with Transport(_verify(settings), cert=cert) as transport:
            _, response = transport.send(request)
    except TransportError as exc:
        raise CloudAuthError(f"the cloud's login failed: {exc.message}") from None
    token = response.headers.get("x-subject-token")
    if response.status != 201 or not token:
        try:
            detail = response.json()["error"]["message"]
        except Exception:
            detail = response.reason
        raise CloudAuthError(
            f"the cloud's login (POST {url}, auth_type {auth_type(settings)}) was refused: "
            f"{response.status} {detail}"
        )
    try:
        catalog = response.json()["token"].get("catalog") or []
    except Exception:
        catalog = []
    return token, catalog
