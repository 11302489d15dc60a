"""An Iceberg REST catalog server for tests, on 127.0.0.1, backed by a pyiceberg SQL catalog.

It serves the routes of the Iceberg REST OpenAPI spec that pyiceberg's `RestCatalog` uses for
namespaces and tables (config, list/create/load/drop namespaces, list/create/load/commit/drop
tables, staged creates), answers errors with the spec's body `{"error": {"message", "type",
"code"}}` and records every request by its route template, so tests can check what a client did.

    with RestCatalogServer(tmp_path) as server:
        catalog = server.catalog()          # a pyiceberg RestCatalog pointed at server.uri
        ...
        assert "POST /v1/namespaces/{namespace}/tables/{table}" in server.calls()
"""

from __future__ import annotations

import json
import re
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import ValidationError as PydanticValidationError
from pyiceberg.catalog import load_catalog
from pyiceberg.catalog.rest import CreateTableRequest, RestCatalog
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import (
    CommitFailedException,
    NamespaceAlreadyExistsError,
    NamespaceNotEmptyError,
    NoSuchNamespaceError,
    NoSuchTableError,
    TableAlreadyExistsError,
)
from pyiceberg.table import CommitTableRequest, Table
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.update import AssertCreate
from pyiceberg.typedef import Identifier

ROUTE_CONFIG = "/v1/config"
ROUTE_NAMESPACES = "/v1/namespaces"
ROUTE_NAMESPACE = "/v1/namespaces/{namespace}"
ROUTE_NAMESPACE_PROPERTIES = "/v1/namespaces/{namespace}/properties"
ROUTE_TABLES = "/v1/namespaces/{namespace}/tables"
ROUTE_TABLE = "/v1/namespaces/{namespace}/tables/{table}"

# Advertised in GET /v1/config: the client then refuses anything else (rename, views, ...)
# with NotImplementedError instead of calling a route this server does not serve.
_ENDPOINTS = [
    "GET /v1/{prefix}/namespaces",
    "POST /v1/{prefix}/namespaces",
    "GET /v1/{prefix}/namespaces/{namespace}",
    "HEAD /v1/{prefix}/namespaces/{namespace}",
    "DELETE /v1/{prefix}/namespaces/{namespace}",
    "POST /v1/{prefix}/namespaces/{namespace}/properties",
    "GET /v1/{prefix}/namespaces/{namespace}/tables",
    "POST /v1/{prefix}/namespaces/{namespace}/tables",
    "GET /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "HEAD /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "POST /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "DELETE /v1/{prefix}/namespaces/{namespace}/tables/{table}",
]

# The spec's separator between the levels of a namespace in a path segment (URL-encoded 0x1F).
_NAMESPACE_SEPARATOR = re.compile("%1F", re.IGNORECASE)

BACKING_CATALOG_NAME = "rest_backing"


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server answered: its route template (the raw path if none matched)."""

    method: str
    route: str
    status: int

    def __str__(self) -> str:
        return f"{self.method} {self.route}"


class _HttpError(Exception):
    """A failure answered with the spec's error body."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type


@dataclass(frozen=True)
class _Response:
    status: int
    body: Any = None  # JSON-serialisable, or None for an empty body


# A route's action: (query parameters, request body) -> response.
_Action = Callable[[dict[str, str], bytes], _Response]


class _TableRef:
    """Stands for a table that does not exist yet in a create-transaction commit:
    `SqlCatalog.commit_table` only reads the identifier (`name()`) and creates the table."""

    def __init__(self, identifier: Identifier) -> None:
        self._identifier = identifier

    def name(self) -> Identifier:
        return self._identifier


def _error_body(status: int, error_type: str, message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type, "code": status}}


def _split_namespace(segment: str) -> Identifier:
    return tuple(unquote(level) for level in re.split(_NAMESPACE_SEPARATOR, segment))


def _table_result(metadata_location: str | None, metadata: TableMetadata) -> dict[str, Any]:
    return {
        "metadata-location": metadata_location,
        "metadata": json.loads(metadata.model_dump_json()),
        "config": {},
    }


class _CatalogApp:
    """Maps (method, path, query, body) to a response over the backing catalog, without HTTP."""

    def __init__(self, backing: SqlCatalog, token: str | None) -> None:
        self.backing = backing
        self.token = token
        self.requests: list[RecordedRequest] = []
        self.errors: list[str] = []
        # One request at a time against the catalog: SQLite and the compare-and-swap in
        # `SqlCatalog.commit_table` then behave as a single-writer catalog would.
        self._lock = threading.Lock()

    def handle(self, method: str, target: str, authorization: str | None, body: bytes) -> _Response:
        split = urlsplit(target)
        query = {key: values[-1] for key, values in parse_qs(split.query).items()}
        segments = split.path.strip("/").split("/")
        route = split.path
        with self._lock:
            try:
                route, handler = self._resolve(method, segments)
                self._authorize(authorization)
                response = handler(query, body)
            except _HttpError as exc:
                response = _Response(exc.status, _error_body(exc.status, exc.error_type, str(exc)))
            except (NoSuchTableError, NoSuchNamespaceError) as exc:
                error_type = (
                    "NoSuchTableException"
                    if isinstance(exc, NoSuchTableError)
                    else "NoSuchNamespaceException"
                )
                response = _Response(404, _error_body(404, error_type, str(exc)))
            except (NamespaceAlreadyExistsError, TableAlreadyExistsError) as exc:
                response = _Response(409, _error_body(409, "AlreadyExistsException", str(exc)))
            except NamespaceNotEmptyError as exc:
                response = _Response(409, _error_body(409, "NamespaceNotEmptyException", str(exc)))
            except CommitFailedException as exc:
                response = _Response(409, _error_body(409, "CommitFailedException", str(exc)))
            except (json.JSONDecodeError, PydanticValidationError, ValueError, KeyError) as exc:
                # Bodies that do not parse, and updates pyiceberg rejects while applying them.
                response = _Response(
                    400, _error_body(400, "BadRequestException", f"{type(exc).__name__}: {exc}")
                )
            except Exception as exc:
                self.errors.append(traceback.format_exc())
                response = _Response(
                    500, _error_body(500, "InternalServerError", f"{type(exc).__name__}: {exc}")
                )
            self.requests.append(RecordedRequest(method, route, response.status))
        return response

    def _authorize(self, authorization: str | None) -> None:
        if self.token is None:
            return
        if authorization != f"Bearer {self.token}":
            raise _HttpError(401, "NotAuthorizedException", "missing or wrong bearer token")

    def _resolve(self, method: str, segments: list[str]) -> tuple[str, _Action]:
        """The route template and the handler for a request path, or a 404/405 _HttpError."""
        routes: dict[str, _Action]
        match segments:
            case ["v1", "config"]:
                route, routes = ROUTE_CONFIG, {"GET": lambda q, b: self._config()}
            case ["v1", "namespaces"]:
                route = ROUTE_NAMESPACES
                routes = {"GET": self._list_namespaces, "POST": self._create_namespace}
            case ["v1", "namespaces", ns]:
                namespace = _split_namespace(ns)
                route = ROUTE_NAMESPACE
                routes = {
                    "HEAD": lambda q, b: self._namespace_exists(namespace),
                    "GET": lambda q, b: self._load_namespace(namespace),
                    "DELETE": lambda q, b: self._drop_namespace(namespace),
                }
            case ["v1", "namespaces", ns, "properties"]:
                namespace = _split_namespace(ns)
                route = ROUTE_NAMESPACE_PROPERTIES
                routes = {"POST": lambda q, b: self._update_namespace(namespace, b)}
            case ["v1", "namespaces", ns, "tables"]:
                namespace = _split_namespace(ns)
                route = ROUTE_TABLES
                routes = {
                    "GET": lambda q, b: self._list_tables(namespace),
                    "POST": lambda q, b: self._create_table(namespace, b),
                }
            case ["v1", "namespaces", ns, "tables", name]:
                identifier = (*_split_namespace(ns), unquote(name))
                route = ROUTE_TABLE
                routes = {
                    "HEAD": lambda q, b: self._table_exists(identifier),
                    "GET": lambda q, b: self._load_table(identifier),
                    "POST": lambda q, b: self._commit_table(identifier, b),
                    "DELETE": lambda q, b: self._drop_table(identifier, q),
                }
            case _:
                raise _HttpError(
                    404, "NoSuchRouteException", f"no route for {method} /{'/'.join(segments)}"
                )
        handler = routes.get(method)
        if handler is None:
            raise _HttpError(405, "MethodNotAllowedException", f"{method} is not served on {route}")
        return route, handler

    # --- handlers -------------------------------------------------------------------------

    def _config(self) -> _Response:
        return _Response(200, {"defaults": {}, "overrides": {}, "endpoints": _ENDPOINTS})

    def _list_namespaces(self, query: dict[str, str], body: bytes) -> _Response:
        parent = _split_namespace(query["parent"]) if "parent" in query else ()
        namespaces = self.backing.list_namespaces(parent)
        return _Response(200, {"namespaces": [list(ns) for ns in namespaces]})

    def _create_namespace(self, query: dict[str, str], body: bytes) -> _Response:
        request = json.loads(body)
        namespace = tuple(request["namespace"])
        properties = request.get("properties") or {}
        self.backing.create_namespace(namespace, properties)
        return _Response(200, {"namespace": list(namespace), "properties": properties})

    def _namespace_exists(self, namespace: Identifier) -> _Response:
        return _Response(204 if self.backing.namespace_exists(namespace) else 404)

    def _load_namespace(self, namespace: Identifier) -> _Response:
        properties = self.backing.load_namespace_properties(namespace)
        return _Response(200, {"namespace": list(namespace), "properties": properties})

    def _drop_namespace(self, namespace: Identifier) -> _Response:
        self.backing.drop_namespace(namespace)
        return _Response(204)

    def _update_namespace(self, namespace: Identifier, body: bytes) -> _Response:
        request = json.loads(body)
        summary = self.backing.update_namespace_properties(
            namespace, set(request.get("removals") or []), request.get("updates") or {}
        )
        return _Response(
            200,
            {"removed": summary.removed, "updated": summary.updated, "missing": summary.missing},
        )

    def _list_tables(self, namespace: Identifier) -> _Response:
        identifiers = self.backing.list_tables(namespace)
        entries = [{"namespace": list(i[:-1]), "name": i[-1]} for i in identifiers]
        return _Response(200, {"identifiers": entries})

    def _create_table(self, namespace: Identifier, body: bytes) -> _Response:
        raw = json.loads(body)
        # The client leaves out None fields that the request model declares without defaults.
        for key in ("location", "partition-spec", "write-order"):
            raw.setdefault(key, None)
        request = CreateTableRequest.model_validate(raw)
        identifier = (*namespace, request.name)
        options: dict[str, Any] = {"location": request.location, "properties": request.properties}
        if request.partition_spec is not None:
            options["partition_spec"] = request.partition_spec
        if request.write_order is not None:
            options["sort_order"] = request.write_order
        if request.stage_create:
            # A staged create writes nothing: the client commits it later with `assert-create`.
            if not self.backing.namespace_exists(namespace):
                raise NoSuchNamespaceError(f"Namespace does not exist: {namespace}")
            if self.backing.table_exists(identifier):
                raise TableAlreadyExistsError(f"Table already exists: {identifier}")
            staged = self.backing._create_staged_table(identifier, request.table_schema, **options)
            return _Response(200, _table_result(None, staged.metadata))
        table = self.backing.create_table(identifier, request.table_schema, **options)
        return _Response(200, _table_result(table.metadata_location, table.metadata))

    def _table_exists(self, identifier: Identifier) -> _Response:
        return _Response(204 if self.backing.table_exists(identifier) else 404)

    def _load_table(self, identifier: Identifier) -> _Response:
        table = self.backing.load_table(identifier)
        return _Response(200, _table_result(table.metadata_location, table.metadata))

    def _commit_table(self, identifier: Identifier, body: bytes) -> _Response:
        request = CommitTableRequest.model_validate_json(body)
        creates = any(isinstance(r, AssertCreate) for r in request.requirements)
        table: Table | _TableRef
        if creates:
            if not self.backing.namespace_exists(identifier[:-1]):
                raise NoSuchNamespaceError(f"Namespace does not exist: {identifier[:-1]}")
            # An existing table fails the `assert-create` requirement inside commit_table (409).
            table = _TableRef(identifier)
        else:
            table = self.backing.load_table(identifier)  # 404 when it does not exist
        result = self.backing.commit_table(
            cast(Table, table), request.requirements, request.updates
        )
        return _Response(200, _table_result(result.metadata_location, result.metadata))

    def _drop_table(self, identifier: Identifier, query: dict[str, str]) -> _Response:
        if query.get("purgeRequested", "false").lower() == "true":
            self.backing.purge_table(identifier)
        else:
            self.backing.drop_table(identifier)
        return _Response(204)


class _Handler(BaseHTTPRequestHandler):
    server: _HttpServer
    protocol_version = "HTTP/1.1"  # keep-alive, as the client's requests session expects

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the app records requests; tests print `server.requests` when they need to."""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        authorization = self.headers.get("Authorization")
        response = self.server.app.handle(self.command, self.path, authorization, body)
        data = b"" if response.body is None else json.dumps(response.body).encode()
        self.send_response(response.status)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_HEAD = do_DELETE = do_PUT = _serve


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, app: _CatalogApp) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.app = app


class RestCatalogServer:
    """An Iceberg REST catalog on `http://127.0.0.1:<port>`, serving from a background thread.

    `directory` holds the backing SQLite catalog (`catalog.db`) and, unless `warehouse` names
    another location (e.g. `s3://bucket/wh`), the warehouse (`directory/warehouse`).
    `properties` go to the backing catalog, e.g. the `s3.*` FileIO settings it needs to write
    metadata to an S3 warehouse. With `token`, every request needs `Authorization: Bearer
    <token>` and is answered 401 without it.
    """

    def __init__(
        self,
        directory: Path,
        *,
        token: str | None = None,
        warehouse: str | None = None,
        properties: Mapping[str, str] | None = None,
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        if warehouse is None:
            (directory / "warehouse").mkdir(exist_ok=True)
            warehouse = (directory / "warehouse").as_uri()
        self.warehouse = warehouse
        self.token = token
        self.backing = SqlCatalog(
            BACKING_CATALOG_NAME,
            uri=f"sqlite:///{directory / 'catalog.db'}",
            warehouse=warehouse,
            **dict(properties or {}),
        )
        self._app = _CatalogApp(self.backing, token)
        self._httpd = _HttpServer(self._app)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="iceberg-rest-catalog", daemon=True
        )
        self._thread.start()

    @property
    def uri(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every answered request, in order (method, route template, status)."""
        return self._app.requests

    @property
    def errors(self) -> list[str]:
        """Tracebacks of unexpected server-side exceptions (each answered 500)."""
        return self._app.errors

    def calls(self) -> list[str]:
        """`"METHOD /v1/route/{template}"` for every answered request, in order."""
        return [str(r) for r in self._app.requests]

    def client_properties(self, **extra: str) -> dict[str, str]:
        """`load_catalog` properties for a client of this server (with its token, if any)."""
        properties = {"type": "rest", "uri": self.uri}
        if self.token is not None:
            properties["token"] = self.token
        properties.update(extra)
        return properties

    def catalog(self, name: str = "rest", **extra: str) -> RestCatalog:
        """A pyiceberg `RestCatalog` client of this server; `extra` adds catalog properties."""
        return cast(RestCatalog, load_catalog(name, **self.client_properties(**extra)))

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)
        self.backing.engine.dispose()

    def __enter__(self) -> RestCatalogServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
