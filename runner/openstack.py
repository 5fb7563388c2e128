"""OpenStack conveniences: the ``os`` variable namespace (clouds.yaml, secure.yaml, OS_*)
and the ``endpoint`` filter that finds a service's URL in a Keystone token's catalog.

Pure functions of their inputs, except ``cloud_namespace``, which reads the standard files
and the environment (the CLI calls it once).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .yamlsource import YAMLSyntaxError, plain, read_yaml_file

# The OS_* environment variables python-openstackclient reads, and their names in `os`.
ENVIRONMENT_KEYS = (
    "auth_url",
    "auth_type",
    "username",
    "user_id",
    "password",
    "project_name",
    "project_id",
    "tenant_name",
    "tenant_id",
    "user_domain_name",
    "user_domain_id",
    "project_domain_name",
    "project_domain_id",
    "domain_name",
    "domain_id",
    "region_name",
    "interface",
    "identity_api_version",
    "token",
    "application_credential_id",
    "application_credential_name",
    "application_credential_secret",
    "system_scope",
    "cacert",
    "cert",
    "key",
    "insecure",
)


class CloudConfigError(ValueError):
    """clouds.yaml cannot be read, or does not name the cloud asked for."""


def config_paths(filename: str, override_variable: str) -> list[Path]:
    """Where openstacksdk looks, in order: $OVERRIDE, ./, ~/.config/openstack/, /etc/openstack/."""
    paths = []
    if os.environ.get(override_variable):
        paths.append(Path(os.environ[override_variable]))
    paths += [
        Path.cwd() / filename,
        Path.home() / ".config" / "openstack" / filename,
        Path("/etc/openstack") / filename,
    ]
    return paths


def _read_clouds(path: Path) -> dict[str, Any]:
    try:
        data = read_yaml_file(path, version=(1, 1))  # read by openstacksdk too: its YAML
    except YAMLSyntaxError as exc:
        raise CloudConfigError(exc.message) from None
    clouds = data.get("clouds") if isinstance(data, dict) else None
    if not isinstance(clouds, dict):
        raise CloudConfigError(f"{path}: expected a mapping 'clouds:' of cloud names")
    plain_clouds: dict[str, Any] = plain(clouds)  # os.* in templates: values, not positions
    return plain_clouds


def _first_existing(paths: list[Path]) -> Path | None:
    return next((path for path in paths if path.is_file()), None)


def _merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_cloud(name: str) -> tuple[dict[str, Any], Path]:
    """The cloud's entry from clouds.yaml, with secure.yaml's entry merged over it."""
    clouds_file = _first_existing(config_paths("clouds.yaml", "OS_CLIENT_CONFIG_FILE"))
    if clouds_file is None:
        searched = ", ".join(str(p) for p in config_paths("clouds.yaml", "OS_CLIENT_CONFIG_FILE"))
        raise CloudConfigError(f"no clouds.yaml found (looked in {searched})")
    clouds = _read_clouds(clouds_file)
    if name not in clouds:
        known = ", ".join(sorted(str(k) for k in clouds)) or "none"
        raise CloudConfigError(f"cloud '{name}' is not in {clouds_file} (clouds there: {known})")
    entry = clouds[name] if isinstance(clouds[name], dict) else {}
    secure_file = _first_existing(config_paths("secure.yaml", "OS_CLIENT_SECURE_FILE"))
    if secure_file is not None:
        secure = _read_clouds(secure_file).get(name)
        if isinstance(secure, dict):
            entry = _merge(entry, secure)
    return entry, clouds_file


def namespace(cloud: Mapping[str, Any] | None, environ: Mapping[str, str]) -> dict[str, Any]:
    """The ``os`` variables: a cloud's settings, then OS_* variables over them (as the
    openstack client does), plus ``identity_url``: auth_url ending in /v3."""
    result: dict[str, Any] = {}
    if cloud:
        for key, value in cloud.items():
            if key != "auth":
                result[key] = value
        auth = cloud.get("auth")
        if isinstance(auth, Mapping):
            result.update(auth)
    for key in ENVIRONMENT_KEYS:
        value = environ.get("OS_" + key.upper())
        if value:
            result[key] = value
    auth_url = result.get("auth_url")
    if isinstance(auth_url, str) and auth_url:
        trimmed = auth_url.rstrip("/")
        result["identity_url"] = trimmed if trimmed.endswith("/v3") else trimmed + "/v3"
    return result


def cloud_namespace(name: str | None) -> dict[str, Any]:
    """``os`` for a run: from --os-cloud NAME (or $OS_CLOUD) and the OS_* environment; with
    an auth_url, ``os.token`` and ``os.catalog`` log in on first use (cloudauth.py)."""
    from .cloudauth import CloudVariables

    name = name or os.environ.get("OS_CLOUD") or None
    cloud = load_cloud(name)[0] if name else None
    return CloudVariables(namespace(cloud, os.environ))


# -- the service catalog ----------------------------------------------------------------------


class EndpointNotFound(LookupError):
    pass


def endpoint(
    catalog: Any, service_type: str, interface: str | None = None, region: str | None = None
) -> str:
    """The URL of a service in a Keystone v3 catalog (``$.token.catalog``).

    ``interface`` and ``region`` default to those of the cloud for ``os.catalog`` (its
    ``interface`` and ``region_name``), else public and any region. Raises
    EndpointNotFound naming what the catalog does offer.
    """
    interface = interface or getattr(catalog, "interface", None) or "public"
    region = region or getattr(catalog, "region", None)
    if isinstance(catalog, Mapping) and "catalog" in catalog:  # a whole token body or token
        catalog = catalog["catalog"]
    if isinstance(catalog, Mapping) and "token" in catalog:
        catalog = catalog["token"].get("catalog")
    if not isinstance(catalog, list):
        raise EndpointNotFound(
            "endpoint() needs a Keystone catalog: capture $.token.catalog from a "
            "project-scoped token"
        )
    services = [s for s in catalog if isinstance(s, Mapping)]
    matching = [s for s in services if s.get("type") == service_type]
    if not matching:
        available = ", ".join(sorted({str(s.get("type")) for s in services})) or "none"
        raise EndpointNotFound(
            f"no service of type '{service_type}' in the catalog (services: {available})"
        )
    offered = []
    for service in matching:
        for item in service.get("endpoints") or []:
            where = item.get("region_id") or item.get("region")
            offered.append(f"{item.get('interface')}@{where}")
            if item.get("interface") == interface and (region is None or region == where):
                # Keystone registers ".../v3/": without the slash, "{{ …}}/users" stays clean.
                return str(item.get("url")).rstrip("/")
    wanted = interface + (f" in region {region}" if region else "")
    raise EndpointNotFound(
        f"service '{service_type}' has no {wanted} endpoint (it has: {', '.join(offered)})"
    )
