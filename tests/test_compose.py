"""docker-compose.yml, Dockerfile and .dockerignore against the code they run.

Docker is not needed: the files are parsed, Compose's `${VAR...}` interpolation is applied by a
small re-implementation, and every entry point, setting and copied path is checked in the repo.
"""

from __future__ import annotations

import ast
import asyncio
import fnmatch
import importlib
import importlib.util
import json
import os
import re
import shlex
import tomllib
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import yaml
from cryptography.fernet import Fernet
from fastapi import FastAPI

from api.app import create_app
from settings import Environment, Settings

ROOT = Path(__file__).resolve().parent.parent
SHARELINE_SERVICES = ("migrate", "api", "worker")
REQUIRED_SERVICES = {"postgres", "temporal", "temporal-ui", *SHARELINE_SERVICES}
REQUIRED_VARIABLES = ("SHARELINE_SECRET_KEY", "SHARELINE_ADMIN_PASSWORD")
DEPLOY_ENV = {
    "SHARELINE_SECRET_KEY": Fernet.generate_key().decode(),
    "SHARELINE_ADMIN_PASSWORD": "a-strong-admin-password",
}


# --- Compose -------------------------------------------------------------------------------

_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


class MissingVariableError(Exception):
    pass


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """Compose's interpolation: `$$`, `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR:?error}` (and the forms without ':')."""

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["bare"]
        op, arg = match["op"], match["arg"] or ""
        current = env.get(name)
        missing = current is None or (op is not None and op.startswith(":") and current == "")
        if op in ("-", ":-"):
            return arg if missing else str(current)
        if op in ("?", ":?"):
            if missing:
                raise MissingVariableError(f"{name}: {arg}")
            return str(current)
        return current or ""

    return _VARIABLE.sub(substitute, value)


def interpolate_tree(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, dict):
        return {key: interpolate_tree(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate_tree(item, env) for item in node]
    return node


class StrictLoader(yaml.SafeLoader):
    """SafeLoader that, like Compose, rejects a key given twice in one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [key_node.value for key_node, _ in node.value if key_node.value != "<<"]
        duplicates = {key for key in keys if keys.count(key) > 1}
        if duplicates:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate keys {duplicates}", node.start_mark
            )
        return super().construct_mapping(node, deep)


@cache
def raw_compose() -> dict[str, Any]:
    return cast(dict[str, Any], yaml.load((ROOT / "docker-compose.yml").read_text(), Loader=StrictLoader))  # noqa: S506 - StrictLoader is a SafeLoader


def compose(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The compose file as `docker compose config` would see it with `env` in the shell."""
    return cast(dict[str, Any], interpolate_tree(raw_compose(), DEPLOY_ENV if env is None else env))


def services(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    return cast(dict[str, Any], compose(env)["services"])


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def argv(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def depends_on(service: Mapping[str, Any]) -> dict[str, str]:
    """Dependency -> condition (a short-syntax list means `service_started`)."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


def image_tag(image: str) -> str:
    name = image.split("@", 1)[0]
    return name.rpartition(":")[2] if ":" in name.rpartition("/")[2] else ""


def test_required_services_exist() -> None:
    assert services().keys() >= REQUIRED_SERVICES


def test_every_image_is_pinned() -> None:
    for name, service in services().items():
        if "image" in service:
            tag = image_tag(service["image"])
            assert tag and tag != "latest", f"{name}: pin an explicit tag, not {service['image']!r}"


def test_temporal_schema_tool_and_server_have_the_same_version() -> None:
    tags = {
        name: image_tag(service["image"])
        for name, service in services().items()
        if service.get("image", "").startswith(("temporalio/server:", "temporalio/admin-tools:"))
    }
    assert len(set(tags.values())) == 1, tags


def test_postgres_has_a_data_volume_and_a_pg_isready_healthcheck() -> None:
    postgres = services()["postgres"]
    assert postgres["image"].split(":")[0] == "postgres"
    assert any(str(volume).endswith(":/var/lib/postgresql/data") for volume in postgres["volumes"])
    healthcheck = postgres["healthcheck"]
    assert "pg_isready" in " ".join(argv(healthcheck["test"]))
    assert not healthcheck.get("disable", False)


def test_postgres_credentials_have_defaults_and_can_be_overridden() -> None:
    defaults = environment(services()["postgres"])
    assert defaults["POSTGRES_USER"] and defaults["POSTGRES_PASSWORD"]
    custom = environment(services({**DEPLOY_ENV, "POSTGRES_PASSWORD": "from-the-shell"})["postgres"])
    assert custom["POSTGRES_PASSWORD"] == "from-the-shell"


def test_temporal_runs_on_postgres_after_its_schema_is_set_up() -> None:
    svcs = services()
    temporal = svcs["temporal"]
    env = environment(temporal)
    assert env["DB"] in ("postgres12", "postgres12_pgx")
    assert env["POSTGRES_SEEDS"] == "postgres"
    postgres_env = environment(svcs["postgres"])
    assert (env["POSTGRES_USER"], env["POSTGRES_PWD"]) == (
        postgres_env["POSTGRES_USER"],
        postgres_env["POSTGRES_PASSWORD"],
    )
    assert temporal["healthcheck"]["test"]
    if temporal["image"].startswith("temporalio/server:"):
        # The server image does not create its own schema: a one-shot admin-tools job does.
        assert depends_on(temporal)["temporal-schema"] == "service_completed_successfully"
        schema = svcs["temporal-schema"]
        assert schema["image"].startswith("temporalio/admin-tools:")
        assert depends_on(schema)["postgres"] == "service_healthy"
        script = " ".join(argv(schema["command"]))
        for database in ("temporal", "temporal_visibility"):
            assert f"--db {database} create-database" in script
            assert f"--db {database} update-schema" in script
        schema_env = environment(schema)
        assert schema_env["SQL_PLUGIN"] == env["DB"]
        assert schema_env["SQL_HOST"] == env["POSTGRES_SEEDS"]
        assert (schema_env["SQL_USER"], schema_env["SQL_PASSWORD"]) == (
            env["POSTGRES_USER"],
            env["POSTGRES_PWD"],
        )


def test_temporal_dynamic_config_file_is_provided() -> None:
    document = compose()
    temporal = document["services"]["temporal"]
    path = environment(temporal).get(
        "DYNAMIC_CONFIG_FILE_PATH", "/etc/temporal/config/dynamicconfig/docker.yaml"
    )
    mounted = {config["target"]: config["source"] for config in temporal.get("configs", [])}
    assert path in mounted, "the server exits when its dynamic config file is missing"
    assert isinstance(yaml.safe_load(document["configs"][mounted[path]]["content"]), dict)


def test_the_shareline_namespace_is_created_before_migrate_runs() -> None:
    svcs = services()
    namespace = environment(svcs["migrate"])["SHARELINE_TEMPORAL_NAMESPACE"]
    creators = [
        name
        for name, service in svcs.items()
        if f"namespace create --namespace {namespace}" in " ".join(argv(service.get("command") or []))
    ]
    assert creators, f"no service creates the Temporal namespace {namespace!r}"
    if svcs["temporal"]["image"].startswith("temporalio/server:"):
        migrate_deps = depends_on(svcs["migrate"])
        assert any(migrate_deps.get(name) == "service_completed_successfully" for name in creators)


def test_temporal_ui_points_at_temporal() -> None:
    ui = services()["temporal-ui"]
    assert ui["image"].startswith("temporalio/ui:")
    assert environment(ui)["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert "127.0.0.1:8233:8080" in [str(port) for port in ui["ports"]]  # no login: loopback by default


@pytest.mark.parametrize("name", SHARELINE_SERVICES)
def test_shareline_services_build_from_this_repo(name: str) -> None:
    build = services()[name]["build"]
    context = build if isinstance(build, str) else build.get("context", ".")
    dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
    assert (ROOT / context).resolve() == ROOT
    assert (ROOT / context / dockerfile).is_file()


def test_start_order() -> None:
    svcs = services()
    migrate = depends_on(svcs["migrate"])
    assert migrate["postgres"] == "service_healthy"
    assert migrate["temporal"] in ("service_healthy", "service_started")
    assert str(svcs["migrate"]["restart"]) == "no"
    for name in ("api", "worker"):
        assert depends_on(svcs[name])["migrate"] == "service_completed_successfully", name


def _entry_point_problem(command: list[str]) -> str | None:
    """Why `command` would not start in the image (WORKDIR is the repo root), or None."""
    match command:
        case ["python", "-m", module, *_]:
            return None if importlib.util.find_spec(module) else f"no module {module}"
        case ["python", script, *_] if script.endswith(".py"):
            path = ROOT / script
            if not path.is_file():
                return f"no file {script}"
            tree = ast.parse(path.read_text())
            defines = {
                node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            }
            return (
                None
                if "run" in defines and "__main__" in path.read_text()
                else f"{script} has no run()/__main__"
            )
        case ["uvicorn", *options]:
            targets = [option for option in options if re.fullmatch(r"[\w.]+:\w+", option)]
            if len(targets) != 1 or "--factory" not in options:
                return "uvicorn needs one module:factory target and --factory"
            module_name, attribute = targets[0].split(":")
            return (
                None
                if callable(getattr(importlib.import_module(module_name), attribute, None))
                else targets[0]
            )
    return f"unknown entry point {command}"


@pytest.mark.parametrize("name", SHARELINE_SERVICES)
def test_commands_refer_to_real_entry_points(name: str) -> None:
    assert _entry_point_problem(argv(services()[name]["command"])) is None


def test_entry_point_check_rejects_broken_commands() -> None:
    assert _entry_point_problem(["python", "-m", "stack.no_such_module"])
    assert _entry_point_problem(["python", "no_such_worker.py"])
    assert _entry_point_problem(["python", "settings.py"])  # exists, but defines no run()
    assert _entry_point_problem(["uvicorn", "--factory", "api.app:no_such_factory"])
    assert _entry_point_problem(["uvicorn", "api.app:create_app"])  # a factory, not an app
    assert _entry_point_problem(["gunicorn", "api.app"])


def test_api_listens_where_it_is_published_and_checked() -> None:
    api = services()["api"]
    command = argv(api["command"])
    assert command[command.index("--host") + 1] == "0.0.0.0"  # noqa: S104 - inside the container
    port = command[command.index("--port") + 1]
    assert any(str(mapping).endswith(f":{port}") for mapping in api["ports"])
    probe = " ".join(argv(api["healthcheck"]["test"]))
    assert f"127.0.0.1:{port}/healthz" in probe or f"localhost:{port}/healthz" in probe


def test_worker_scales() -> None:
    worker = services()["worker"]
    assert "container_name" not in worker
    assert not worker.get("ports")
    assert "30s" in str(worker["stop_grace_period"])


OWN_SETTINGS = {"worker": {"SHARELINE_WORKER_METRICS_PORT"}}  # what one service sets for itself


def test_shareline_services_share_one_environment() -> None:
    envs = [
        {
            key: value
            for key, value in environment(services()[name]).items()
            if key not in OWN_SETTINGS.get(name, ())
        }
        for name in SHARELINE_SERVICES
    ]
    assert envs[0] and all(env == envs[0] for env in envs)
    assert environment(services()["worker"])["SHARELINE_WORKER_METRICS_PORT"] == "9464"


@pytest.mark.parametrize("variable", REQUIRED_VARIABLES)
def test_secrets_have_no_default(variable: str) -> None:
    raw = environment(raw_compose()["services"]["api"])[variable]
    assert re.fullmatch(rf"\$\{{{variable}:\?[^}}]+\}}", raw), raw
    with pytest.raises(MissingVariableError, match=variable):
        compose({key: value for key, value in DEPLOY_ENV.items() if key != variable})


def test_every_shareline_variable_is_a_setting() -> None:
    for name, service in services().items():
        for key in environment(service):
            if key.startswith("SHARELINE_"):
                field = key.removeprefix("SHARELINE_").lower()
                assert field in Settings.model_fields, f"{name}: {key} is not a field of settings.Settings"


def test_compose_environment_is_a_valid_production_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    svcs = services()
    for key in [key for key in os.environ if key.startswith("SHARELINE_")]:
        monkeypatch.delenv(key)
    for key, value in environment(svcs["api"]).items():
        monkeypatch.setenv(key, value)
    settings = Settings()

    assert settings.env is Environment.production
    postgres = environment(svcs["postgres"])
    url = settings.sqlalchemy_url.removeprefix("postgresql+psycopg://")
    assert url == (
        f"{postgres['POSTGRES_USER']}:{postgres['POSTGRES_PASSWORD']}@postgres:5432/{postgres['POSTGRES_DB']}"
    )
    temporal_host, temporal_port = host_port(settings.temporal_address)
    assert temporal_host in svcs and temporal_host == "temporal"
    assert temporal_port == 7233
    for name in ("api", "worker"):
        assert any(str(volume).endswith(f":{settings.data_dir}") for volume in svcs[name]["volumes"]), name
    assert asyncio.run(_healthz_status(create_app(settings))) == 200


async def _healthz_status(app: FastAPI) -> int:
    """What the api healthcheck asks for (ASGITransport skips the lifespan: no database, no Temporal)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
        return (await client.get("/healthz")).status_code


def test_named_volumes_and_configs_are_declared() -> None:
    document = compose()
    for name, service in document["services"].items():
        for volume in service.get("volumes", []):
            source = str(volume).split(":", 1)[0]
            if not source.startswith((".", "/", "~")):
                assert source in (document.get("volumes") or {}), f"{name}: undeclared volume {source}"
        for config in service.get("configs", []):
            source = config if isinstance(config, str) else config["source"]
            assert source in (document.get("configs") or {}), f"{name}: undeclared config {source}"


def test_duplicate_keys_are_rejected() -> None:
    with pytest.raises(yaml.constructor.ConstructorError, match="duplicate"):
        yaml.load("a: 1\nb: {c: 1, c: 2}\n", Loader=StrictLoader)  # noqa: S506 - StrictLoader is a SafeLoader
    assert yaml.load("x: &x {a: 1}\ny: {<<: *x, b: 2}\n", Loader=StrictLoader)["y"] == {"a": 1, "b": 2}  # noqa: S506 - StrictLoader is a SafeLoader


def test_interpolation_follows_compose_rules() -> None:
    env = {"SET": "value", "EMPTY": ""}
    assert interpolate("$$HOME ${SET} $SET", env) == "$HOME value value"
    assert interpolate("${EMPTY:-default} ${EMPTY-default} ${UNSET-default}", env) == "default  default"
    with pytest.raises(MissingVariableError, match="UNSET: say so"):
        interpolate("${UNSET:?say so}", env)


# --- Dockerfile ----------------------------------------------------------------------------


@cache
def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with comments dropped and continuation lines joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def instruction_args(arguments: str) -> list[str]:
    return (
        [str(part) for part in json.loads(arguments)] if arguments.startswith("[") else shlex.split(arguments)
    )


def copied_sources() -> list[str]:
    sources: list[str] = []
    for keyword, arguments in dockerfile():
        if keyword in ("COPY", "ADD"):
            parts = instruction_args(arguments)
            if any(part.startswith("--from") for part in parts):
                continue
            sources += [part for part in parts if not part.startswith("--")][:-1]
    return sources


def test_dockerfile_copies_only_existing_paths() -> None:
    sources = copied_sources()
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), f"Dockerfile copies {source}, which is not in the repo"


def test_dockerfile_copies_everything_the_package_build_needs() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    setuptools = project["tool"]["setuptools"]
    needed = {"pyproject.toml", project["project"]["readme"]}
    needed |= {pattern.removesuffix("*") for pattern in setuptools["packages"]["find"]["include"]}
    needed |= {f"{module}.py" for module in setuptools["py-modules"]}
    copied = {source.rstrip("/").removeprefix("./") for source in copied_sources()}
    assert needed <= copied, f"not copied: {sorted(needed - copied)}"


def test_dockerfile_shape() -> None:
    instructions = dockerfile()
    values = {keyword: arguments for keyword, arguments in instructions}  # last one wins
    assert instructions[0] == ("FROM", "python:3.11-slim")
    assert values["WORKDIR"] == "/app"
    assert values["USER"] not in ("root", "0")
    installs = [
        i for i, (keyword, args) in enumerate(instructions) if keyword == "RUN" and "pip install" in args
    ]
    assert installs and "pip install --no-cache-dir ." in instructions[installs[-1]][1]
    users = [i for i, (keyword, _) in enumerate(instructions) if keyword == "USER"]
    assert users and users[-1] > installs[-1], "drop root after installing, before running"
    assert "8000" in values["EXPOSE"].split()
    assert instruction_args(values["CMD"]) == argv(services()["api"]["command"])


# --- .dockerignore -------------------------------------------------------------------------


def dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip().removeprefix("/") for line in lines if line.strip() and not line.startswith("#")]


def ignored(path: str, patterns: list[str]) -> bool:
    candidates = [path, *(str(parent) for parent in Path(path).parents if str(parent) != ".")]
    return any(
        fnmatch.fnmatch(candidate, pattern) or fnmatch.fnmatch(candidate, pattern.removeprefix("**/"))
        for pattern in patterns
        if not pattern.startswith("!")
        for candidate in candidates
    )


def test_dockerignore_keeps_local_state_out_and_sources_in() -> None:
    patterns = dockerignore_patterns()
    for path in (".venv", ".git", ".shareline", "tests", "api/__pycache__", "tests/conftest.py"):
        assert ignored(path, patterns), f"{path} would be sent to the Docker build"
    for source in copied_sources():
        assert not ignored(source.removeprefix("./"), patterns), f".dockerignore hides {source} from COPY"
