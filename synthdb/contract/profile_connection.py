"""The database a dbt project's profile points at, for ``synthdb validate``.

``synthdb validate --update`` approves the live source schemas of *the database the project
builds from*. It used to connect through ``SYNTHDB_*`` variables only, so a user whose
profile names another server or database approved (or was refused) against the wrong one.
Here the project's own profile is rendered by dbt itself (``env_var``, targets and all), so
the answer is the one ``dbt build`` would reach.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from synthdb import db
from synthdb.errors import ConfigError

PROFILES_FILE = "profiles.yml"


@dataclass(frozen=True)
class ProfileConnection:
    """Where validate connects, and the words that tell the user why there."""

    settings: db.ConnectionSettings
    described: str


def profiles_dir(project_dir: Path, explicit: str | None = None) -> Path | None:
    """The folder whose profiles.yml dbt would read: ``--profiles-dir``, ``DBT_PROFILES_DIR``,
    the project folder, the working folder, then ``~/.dbt`` — the first that has the file."""
    if explicit:  # asked for by name: that folder or an error, never a quiet fallback
        if not (Path(explicit) / PROFILES_FILE).is_file():
            raise ConfigError(f"--profiles-dir {explicit}: no {PROFILES_FILE} there")
        return Path(explicit).resolve()
    candidates = [os.environ.get("DBT_PROFILES_DIR"), project_dir, Path.cwd(),
                  Path.home() / ".dbt"]
    for folder in candidates:
        if folder and (Path(folder) / PROFILES_FILE).is_file():
            return Path(folder).resolve()
    return None


def profile_connection(project_dir: str | Path, explicit_profiles_dir: str | None = None,
                       target: str | None = None) -> ProfileConnection | None:
    """Connection settings of the project's dbt profile (synthdb or postgres type), or None
    when the project has no profile to read (then the ``SYNTHDB_*`` variables apply)."""
    project = Path(project_dir).resolve()
    folder = profiles_dir(project, explicit_profiles_dir)
    if folder is None or not (project / "dbt_project.yml").is_file():
        return None
    credentials, profile_name, target_name = _render(project, folder, target)
    kind = getattr(credentials, "type", "")
    if kind not in ("synthdb", "postgres"):
        raise ConfigError(f"profile {profile_name!r} target {target_name!r} in {folder} is of "
                          f"type {kind!r}; synthdb validate reads PostgreSQL (synthdb/postgres)")
    if kind == "synthdb":
        from synthdb.dbt_plugin.adapter.connections import anchor_embedded_home, resolve_embedded

        anchor_embedded_home(credentials, str(project))
        resolve_embedded(credentials)
    settings = db.ConnectionSettings(
        host=credentials.host, port=int(credentials.port), user=credentials.user,
        password=credentials.password or "", dbname=credentials.database)
    return ProfileConnection(settings, f"profile {profile_name!r} target {target_name!r} "
                                       f"({folder / PROFILES_FILE})")


def _render(project: Path, folder: Path, target: str | None):
    """dbt's own profile rendering (env_var, as_number, targets), without running dbt."""
    from argparse import Namespace

    from dbt.adapters.factory import load_plugin
    from dbt.config.runtime import load_profile
    from dbt.flags import set_from_args
    from dbt_common.context import set_invocation_context
    from dbt_common.exceptions import DbtBaseException

    set_invocation_context(os.environ)
    set_from_args(Namespace(profiles_dir=str(folder), project_dir=str(project)), {})
    try:
        raw_type = _profile_type(project, folder, target)
        if raw_type:
            load_plugin(raw_type)
        profile = load_profile(str(project), {}, None, target, None)
    except DbtBaseException as exc:
        raise ConfigError(f"cannot read the dbt profile in {folder / PROFILES_FILE}: "
                          f"{str(exc).strip()}") from exc
    return profile.credentials, profile.profile_name, profile.target_name


def _profile_type(project: Path, folder: Path, target: str | None) -> str | None:
    """The adapter type the profile names, so its plugin is loaded before rendering."""
    import yaml

    name = (yaml.safe_load((project / "dbt_project.yml").read_text()) or {}).get("profile")
    profiles = yaml.safe_load((folder / PROFILES_FILE).read_text()) or {}
    entry = profiles.get(name) or {}
    outputs = entry.get("outputs") or {}
    chosen = outputs.get(target or entry.get("target")) or {}
    kind = chosen.get("type")
    return kind if isinstance(kind, str) and "{" not in kind else None
