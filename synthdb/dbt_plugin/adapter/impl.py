"""The synthdb adapter: Postgres behaviour plus ``@available`` methods used by materializations.

The heavy lifting lives in ``synthdb.release``; these methods translate dbt's objects (model
node, graph, relations) into plain requests and turn ``SynthdbError`` into a dbt error whose
message names the model and the problem, without a Python traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dbt.adapters.base.meta import available
from dbt.adapters.events.logging import AdapterLogger
from dbt.adapters.postgres.impl import PostgresAdapter
from dbt.adapters.synthdb.connections import (
    SynthdbConnectionManager,
    anchor_embedded_home,
    resolve_embedded,
)
from dbt.adapters.synthdb.relation import SynthdbRelation, quote_identifier

SYNTHDB_TESTS = ("k_anonymity", "rare_categories", "no_leakage")
_LOGGER = AdapterLogger("synthdb")


def _as_dict(node: Any) -> dict[str, Any]:
    if isinstance(node, dict):
        return node
    if hasattr(node, "to_dict"):
        return node.to_dict()
    return dict(node)


def upstream_schemas(model: dict[str, Any], graph: dict[str, Any]) -> list[str]:
    """Schemas of every model and source the given model reads, directly or not.

    A ``synthetic`` model's own schema holds synthetic rows only (a child table is generated
    from its parent's staged rows and may share its staging schema); what it learned from is
    still followed and counted.
    """
    nodes, sources = graph.get("nodes", {}), graph.get("sources", {})
    seen: set[str] = set()
    schemas: set[str] = set()
    stack = list(model.get("depends_on", {}).get("nodes", []))
    while stack:
        unique_id = stack.pop()
        if unique_id in seen:
            continue
        seen.add(unique_id)
        node = nodes.get(unique_id) or sources.get(unique_id)
        if not node:
            continue
        synthetic = (node.get("config") or {}).get("materialized") == "synthetic"
        if node.get("schema") and not synthetic:
            schemas.add(node["schema"])
        stack.extend(node.get("depends_on", {}).get("nodes", []))
    return sorted(schemas)


def attached_tests(model: dict[str, Any], graph: dict[str, Any]) -> list[dict[str, Any]]:
    """synthdb generic tests attached to ``model`` in the graph, with their arguments."""
    found = []
    for node in graph.get("nodes", {}).values():
        if node.get("resource_type") != "test":
            continue
        meta = node.get("test_metadata") or {}
        if meta.get("name") not in SYNTHDB_TESTS:
            continue
        if node.get("attached_node") == model.get("unique_id") or model.get("unique_id") in (
            node.get("depends_on", {}).get("nodes", [])
        ):
            found.append({"name": meta["name"], "kwargs": meta.get("kwargs") or {}})
    return found


@contextmanager
def _dbt_errors(model: str, step: str, kept: str) -> Iterator[None]:
    """Turn synthdb's user errors into one-line dbt errors; name the model in any other."""
    from dbt_common.exceptions import DbtRuntimeError

    from synthdb.errors import SynthdbError

    try:
        yield
    except SynthdbError as exc:
        raise DbtRuntimeError(f"synthdb: {exc}") from None
    except Exception as exc:  # unexpected: still say which model, keep the cause chained
        raise DbtRuntimeError(
            f"synthdb: model {model}: {step} failed ({type(exc).__name__}: {exc}); the "
            f"previous {kept} is untouched"
        ) from exc


def project_floors(project_root: str) -> Any:
    """``vars.synthdb_floors`` as written in dbt_project.yml.

    Read from the file, not from dbt's resolved vars, so ``--vars`` on a command line cannot
    lower the floors: changing them takes a reviewed change to the project.
    """
    from pathlib import Path

    import yaml

    path = Path(project_root) / "dbt_project.yml"
    if not path.is_file():
        return None
    return ((yaml.safe_load(path.read_text()) or {}).get("vars") or {}).get("synthdb_floors")


def _contract_id(model: dict[str, Any], graph: dict[str, Any], source: str) -> str | None:
    """The unique id of the model named ``source`` among this model's dependencies."""
    for unique_id in model.get("depends_on", {}).get("nodes", []):
        node = graph.get("nodes", {}).get(unique_id)
        if node and node.get("name") == source:
            return unique_id
    return None


class SynthdbAdapter(PostgresAdapter):
    ConnectionManager = SynthdbConnectionManager
    Relation = SynthdbRelation

    def __init__(self, config, mp_context) -> None:
        super().__init__(config, mp_context)
        anchor_embedded_home(config.credentials, getattr(config, "project_root", None))

    def quote(self, identifier: str) -> str:
        """Quote with embedded double quotes doubled (dbt's default does not)."""
        return quote_identifier(identifier)

    @classmethod
    def type(cls) -> str:
        return "synthdb"

    def _settings(self):
        from synthdb.db import ConnectionSettings

        creds = resolve_embedded(self.config.credentials)
        return ConnectionSettings(
            host=creds.host, port=int(creds.port), user=creds.user,
            password=creds.password or "", dbname=creds.database,
        )

    def _project_root(self) -> str:
        return str(getattr(self.config, "project_root", None) or ".")

    @available
    def synthdb_version(self) -> str:
        from synthdb import __version__

        return __version__

    @available
    def synthdb_audit_schema(self) -> str:
        return self.config.credentials.audit_schema

    @available
    def synthdb_synthesize(self, model: Any, graph: Any, source_relation: Any,
                           target_relation: Any, invocation_id: str | None = None) -> dict:
        """Run the synthesis of one ``synthetic`` model (see synthdb.release.synthesize)."""
        from synthdb.release.config import (
            check_floors,
            looser_tests,
            parse_synth_config,
            tighten_with_tests,
        )
        from synthdb.release.progress import Progress, dbt_sink
        from synthdb.release.synthesize import SynthesisRequest, run_synthesis

        model, graph = _as_dict(model), _as_dict(graph)
        name = model.get("name", "?")
        with _dbt_errors(name, "synthesis", "table"):
            cfg = parse_synth_config(model.get("config", {}).get("synth"), name)
            tests = attached_tests(model, graph)
            warnings = looser_tests(cfg.privacy, tests, name)
            for warning in warnings:
                _LOGGER.warning(f"synthdb: {warning}")
            cfg.privacy = tighten_with_tests(cfg.privacy, tests)
            check_floors(cfg.privacy, project_floors(self._project_root()), name)
            request = SynthesisRequest(
                model=name,
                source=(source_relation.schema, source_relation.identifier),
                target=(target_relation.schema, target_relation.identifier),
                config=cfg,
                upstream_schemas=upstream_schemas(model, graph),
                invocation_id=invocation_id,
                audit_schema=self.config.credentials.audit_schema,
                project_root=self._project_root(),
                contract_id=_contract_id(model, graph, cfg.source),
                graph=graph,
                target_path=str(getattr(self.config, "target_path", "target")),
                progress=Progress(name, dbt_sink()),
                warnings=warnings,
            )
            result = run_synthesis(self._settings(), request)
        if not result.get("passed"):
            from dbt_common.exceptions import DbtRuntimeError

            from synthdb.release.verdicts import failed_gates

            metrics = result.get("failed_metrics") or []
            failed = ", ".join(metrics) or "required checks missing"
            raise DbtRuntimeError(
                f"synthdb: model {name}: {failed_gates(metrics)} FAILED ({failed}); the staging table "
                f"{target_relation} (run {result.get('run_id')}) and its evidence in "
                f"{result.get('evidence')} are kept for inspection, and publish refuses it")
        return result

    @available
    def synthdb_publish(self, model: Any, graph: Any, staging_relation: Any,
                        target_relation: Any, invocation_id: str | None = None,
                        related: Any = None) -> dict:
        """Gate-check and publish one ``publish`` model (see synthdb.release.publish), with
        the tables of its release group (``related``: published name -> staging relation)."""
        from synthdb.release.dbt_configs import publish_options
        from synthdb.release.destination import destination_settings
        from synthdb.release.publish import (
            PublishRequest,
            RelatedTable,
            parse_publish_config,
            run_publish,
        )
        from synthdb.release.table_keys import group_keys

        model, graph = _as_dict(model), _as_dict(graph)
        name = model.get("name", "?")
        with _dbt_errors(name, "publish", "release"):
            pub = parse_publish_config(model.get("config", {}).get("publish"), name)
            options = publish_options(model, name, bool(pub.get("approval_required", False)))
            docs = {c: (v or {}).get("description", "") for c, v in
                    (model.get("columns") or {}).items()}
            request = PublishRequest(
                model=name,
                staging=(staging_relation.schema, staging_relation.identifier),
                target=(target_relation.schema, target_relation.identifier),
                recipient=pub["recipient"],
                role=pub.get("role") or f"{pub['recipient']}_reader",
                metadata={**{k: pub.get(k) for k in
                             ("owner", "purpose", "retention", "licence", "contact")},
                          "description": options.description},
                approval_required=bool(pub.get("approval_required", False)),
                column_docs=docs,
                protected_schemas=upstream_schemas(model, graph),
                invocation_id=invocation_id,
                audit_schema=self.config.credentials.audit_schema,
                project_root=self._project_root(),
                options=options,
            )
            members = {target_relation.identifier: pub["from"], **(pub.get("related") or {})}
            request.keys, request.links = group_keys(members, graph,
                                                     f"model {name}: config publish")
            request.related = [
                RelatedTable(table, (rel.schema, rel.identifier))
                for table, rel in (related or {}).items()
            ]
            creds = self.config.credentials
            source = self._settings()
            request.destination = destination_settings(source, {
                key: getattr(creds, "share_" + key, None)
                for key in ("host", "port", "user", "password", "dbname")})
            return run_publish(source, request)
