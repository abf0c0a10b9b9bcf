"""`make bench`, second part: the interactions list at scale.

Starts PostgreSQL only, in .bench/list, migrates it and fills it (once: a marker row keeps the
data set between runs) with ACCOUNTS accounts, AGENTS agents, QUEUES queues, CONTACTS contacts,
INTERACTIONS interactions spread over a year (most closed) and about 10 messages each, written in
SQL (INSERT ... SELECT generate_series) with the tables' plain indexes dropped while it loads and
built again after. Then it times `GET /api/whatsapp/interactions` through the real app (create_app
in-process, an httpx ASGITransport client; Temporal is never called) for each query of QUERIES,
CALLS calls each after one warm-up, as an admin and as an agent of one account (whose list is
filtered by membership). Prints the medians and p95s, writes .bench/list.json.

`python -m stack.bench_list --explain` prints EXPLAIN (ANALYZE, BUFFERS) of each query's page and
count as the app sends them, instead of timing.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from api.app import create_app
from api.crud import capped_count
from api.interactions.schemas import COUNT_LIMIT, InteractionFilters
from api.interactions.service import matching_ids, ordered, page_rows, visible_accounts
from api.security import hash_password
from models import Account, AccountAgent, ContactList, Disposition, Queue, QueueAgent, Role, User
from models.db import create_engine as create_async_engine
from models.migrations import upgrade_to_head
from settings import Settings, libpq_url
from stack.migrate import ensure_admin
from stack.postgres import EmbeddedPostgres

OUT = Path(".bench")
DATA_DIR = OUT / "list"
ACCOUNTS = 4
AGENTS = 50
QUEUES = 10
CONTACTS = 200_000
INTERACTIONS = 1_000_000
OPEN = 20_000  # the newest interactions are open, a quarter of them waiting for an agent
CALLS = 20
ADMIN_PASSWORD = "bench-admin-password"  # noqa: S105 (a throwaway database of its own)
AGENT_PASSWORD = "bench-agent-password"  # noqa: S105
# Bump when the generator changes: a cached data set of another version is generated again.
DATASET = f"v1 {ACCOUNTS}/{AGENTS}/{QUEUES}/{CONTACTS}/{INTERACTIONS}"
BULK_TABLES = ("contacts", "interactions", "messages", "offers")
TAGS = ["vip", "billing", "complaint", "sales", "support", "followup", "renewal", "urgent"]
FIRST_NAMES = str.split(
    "Anna Marco Giulia Luca Sofia Matteo Chiara Paolo Elena Davide Sara Andrea Laura Simone Marta "
    "Federico Valentina Alessandro Francesca Lorenzo Martina Riccardo Alice Stefano Irene Tommaso "
    "Beatrice Gabriele Camilla Nicola Maria Jose Carmen Pedro Lucia Miguel Ana Diego Rosa Pablo"
)
LAST_NAMES = str.split(
    "Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Bruno Gallo Conti "
    "DeLuca Costa Giordano Mancini Rizzo Lombardi Moretti Garcia Martinez Lopez Sanchez Perez "
    "Gomez Martin Jimenez Ruiz Hernandez Diaz Moreno Alvarez Romero Navarro Torres Ramos Gil "
    "Serrano"
)
WORDS = str.split(
    "hello hi thanks please order delivery refund invoice payment card account password login "
    "shipping tracking package late broken replace return price discount offer plan upgrade "
    "cancel subscription address change phone number email help problem issue question when where "
    "today tomorrow yesterday morning evening store open closed appointment booking confirm "
    "receipt warranty repair technician visit manager complaint urgent waiting again"
)
# Who the timed requests are: the admin, and an agent of the first account only.
BENCH_AGENT = "bench-agent-00"


def _queries(week_start: datetime) -> list[tuple[str, dict[str, Any]]]:
    """The list's representative queries: (name, query parameters)."""
    week_end = week_start + timedelta(days=7)
    advanced = {
        "match": "any",
        "rules": [
            {"field": "messages.text", "operator": "contains", "value": "warranty repair"},
            {
                "field": "contact.first_name",
                "operator": "equals",
                "value": "Beatrice",
            },
        ],
    }
    return [
        ("no filter", {}),
        ("account_id", {"account_id": "ACCOUNT"}),
        ("status=open-pending", {"status": "open-pending"}),
        ("agent_id", {"agent_id": "AGENT"}),
        ("agent_id participant", {"agent_id": "AGENT", "participant": "true"}),
        ("tags", {"tags": ["vip", "urgent"]}),
        ("started a week", {"started_from": week_start.isoformat(), "started_to": week_end.isoformat()}),
        ("window=open", {"window": "open"}),
        ("q name", {"q": "marti"}),
        ("q mobile", {"q": "+39 333 41"}),
        ("sort last_inbound_at asc", {"sort": "last_inbound_at", "order": "asc"}),
        ("conditions any", {"conditions": json.dumps(advanced)}),
    ]


def _sql_array(words: list[str]) -> str:
    return "ARRAY[" + ", ".join(f"'{word}'" for word in words) + "]"


def _directory(url: str) -> dict[str, list[int]]:
    """Accounts (each with its contact list, agents, dispositions), queues and agents, through
    the models so that every column gets its default: their ids."""
    engine = create_engine(url)
    agent_hash = hash_password(AGENT_PASSWORD)
    try:
        with Session(engine) as session, session.begin():
            lists = [ContactList(name=f"Bench list {n}") for n in range(ACCOUNTS)]
            session.add_all(lists)
            session.flush()
            accounts = [
                Account(
                    name=f"Bench {n}",
                    key=f"BEN{n}",
                    list_id=lists[n].id,
                    motion_domain="http://127.0.0.1",
                    type="meta",
                    phone=f"1555000{n:04d}",
                    encrypted_secrets=b"",
                    proxy_token=f"bench-proxy-token-{n}",
                    notification_template="",
                )
                for n in range(ACCOUNTS)
            ]
            queues = [Queue(name=f"Bench queue {n}") for n in range(QUEUES)]
            agents = [
                User(username=f"bench-agent-{n:02d}", password_hash=agent_hash, role=Role.agent)
                for n in range(AGENTS)
            ]
            session.add_all([*accounts, *queues, *agents])
            session.flush()
            # Agent n works account n % ACCOUNTS and queues n % QUEUES and (n + 1) % QUEUES.
            session.add_all(
                AccountAgent(account_id=accounts[n % ACCOUNTS].id, user_id=agent.id)
                for n, agent in enumerate(agents)
            )
            session.add_all(
                QueueAgent(queue_id=queues[(n + step) % QUEUES].id, user_id=agent.id)
                for n, agent in enumerate(agents)
                for step in (0, 1)
            )
            parents = [
                Disposition(account_id=account.id, name=name, level=1)
                for account in accounts
                for name in ("Solved", "Not solved", "Sale")
            ]
            session.add_all(parents)
            session.flush()
            children = [
                Disposition(
                    account_id=parent.account_id, name=f"{parent.name} {n}", level=2, parent_id=parent.id
                )
                for parent in parents
                for n in range(2)
            ]
            session.add_all(children)
            session.flush()
            return {
                "lists": [row.id for row in lists],
                "accounts": [row.id for row in accounts],
                "queues": [row.id for row in queues],
                "agents": [row.id for row in agents],
                "dispositions": [row.id for row in [*parents, *children]],
            }
    finally:
        engine.dispose()


def _generation(ids: dict[str, list[int]]) -> Iterator[tuple[str, str]]:
    """(what, SQL) of the bulk rows. Interaction g (1..INTERACTIONS) is of account a = g % ACCOUNTS;
    its contact is one of that account's list (contact ids are assigned so that list a holds
    ids with (id - 1) % ACCOUNTS = a) and its owner one of that account's agents (agent n works
    account n % ACCOUNTS). Ids grow with time, as they do in production."""
    n_acc = ACCOUNTS
    per_list = CONTACTS // n_acc
    accounts = f"'{{{','.join(map(str, ids['accounts']))}}}'::int[]"
    lists = f"'{{{','.join(map(str, ids['lists']))}}}'::int[]"
    agents = f"'{{{','.join(map(str, ids['agents']))}}}'::int[]"
    queues = f"'{{{','.join(map(str, ids['queues']))}}}'::int[]"
    dispositions = f"'{{{','.join(map(str, ids['dispositions']))}}}'::int[]"
    per_account = AGENTS // n_acc
    yield (
        f"{CONTACTS:,} contacts",
        f"""
        INSERT INTO contacts (id, list_id, first_name, last_name, mobile, email)
        SELECT i, ({lists})[1 + (i - 1) % {n_acc}],
               ({_sql_array(FIRST_NAMES)})[1 + (i * 7) % {len(FIRST_NAMES)}],
               ({_sql_array(LAST_NAMES)})[1 + (i * 13 / 7) % {len(LAST_NAMES)}],
               '393' || lpad(((i::bigint * 2654435761) % 1000000000)::text, 9, '0'),
               CASE WHEN i % 3 = 0 THEN 'contact' || i || '@example.com' END
        FROM generate_series(1, {CONTACTS}) AS i;
        SELECT setval(pg_get_serial_sequence('contacts', 'id'), {CONTACTS});
        """,  # noqa: S608 (constants and this run's own ids only)
    )
    # Per interaction g: a = g % n_acc, m = g / n_acc; the contact k = (m * 7919) % per_list of
    # list a is distinct within any run of consecutive m shorter than per_list / gcd: the open
    # interactions (the newest) never share a contact.
    yield (
        f"{INTERACTIONS:,} interactions",
        f"""
        INSERT INTO interactions (id, account_id, contact_id, status, read, owner_id, queue_id, tags,
            disposition_id, started_at, last_message_at, last_inbound_at, last_message, closed_at)
        SELECT g, ({accounts})[1 + a], n_acc * ((m * 7919) % {per_list}) + a + 1,
               status, status <> 'open-pending' AND g % 17 <> 0,
               CASE WHEN status <> 'open-pending' AND g % 23 <> 0
                    THEN ({agents})[1 + a + n_acc * ((m * 13) % {per_account})] END,
               ({queues})[1 + (g / 7) % {QUEUES}],
               CASE g % 6 WHEN 0 THEN '{{}}'::varchar[] WHEN 1 THEN '{{}}'::varchar[]
                    ELSE ARRAY[({_sql_array(TAGS)})[1 + (g / 3) % {len(TAGS)}]]::varchar[]
                         || CASE WHEN g % 6 = 5 THEN ARRAY[({_sql_array(TAGS)})[1 + (g / 5) % {len(TAGS)}]]
                                 ELSE '{{}}' END::varchar[] END,
               CASE WHEN status = 'closed' AND g % 10 < 7
                    THEN ({dispositions})[1 + (g / 11) % {len(ids["dispositions"])}] END,
               started, started + span, started + span * 0.8, 'last message ' || g,
               CASE WHEN status = 'closed' THEN started + span END
        FROM (
            SELECT g, g % {n_acc} AS a, g / {n_acc} AS m, {n_acc} AS n_acc,
                   CASE WHEN g <= {INTERACTIONS - OPEN} THEN 'closed'
                        WHEN g % 4 = 0 THEN 'open-pending' ELSE 'open' END AS status,
                   now() - interval '365 days' * (1 - g::float8 / {INTERACTIONS})
                       - interval '1 hour' AS started,
                   interval '1 minute' * (5 + g % 50) AS span
            FROM generate_series(1, {INTERACTIONS}) AS g
        ) AS facts;
        SELECT setval(pg_get_serial_sequence('interactions', 'id'), {INTERACTIONS});
        """,  # noqa: S608 (constants and this run's own ids only)
    )
    # Messages: 4 to 16 per interaction (10 on average), odd ones from the customer, even ones
    # from the owner (the second one from the agent who had it before, for every tenth
    # interaction: a transfer); each text 3 to 6 words of WORDS.
    words = _sql_array(WORDS)
    n_words = len(WORDS)
    yield (
        "~10,000,000 messages",
        f"""
        INSERT INTO messages (account_id, interaction_id, direction, type, text, payload, status,
            sender_id, sent_at, created_at, status_at, signalled_at, attempts)
        SELECT i.account_id, i.id, direction, 'text', text, '{{}}',
               CASE direction WHEN 'in' THEN 'received' ELSE 'read' END,
               CASE WHEN direction = 'out' THEN
                    CASE WHEN n = 2 AND i.id % 10 = 3
                         THEN ({agents})[1 + (i.owner_index + {n_acc}) % {AGENTS}]
                         ELSE i.owner_id END END,
               at, at, at, CASE direction WHEN 'in' THEN at END, CASE direction WHEN 'out' THEN 1 ELSE 0 END
        FROM (
            SELECT id, account_id, owner_id, started_at,
                   array_position({agents}, owner_id) - 1 AS owner_index, 4 + (id * 7) % 13 AS count
            FROM interactions
        ) AS i,
        LATERAL (
            SELECT n, CASE WHEN n % 2 = 1 OR i.owner_id IS NULL THEN 'in' ELSE 'out' END AS direction,
                   i.started_at + interval '20 seconds' * n AS at,
                   concat_ws(' ',
                       ({words})[1 + (i.id * 31 + n * 17) % {n_words}],
                       ({words})[1 + (i.id * 37 + n * 41) % {n_words}],
                       ({words})[1 + (i.id * 43 + n * 7) % {n_words}],
                       CASE WHEN (i.id + n) % 4 > 0 THEN ({words})[1 + (i.id * 47 + n * 29) % {n_words}] END,
                       CASE WHEN (i.id + n) % 4 > 1 THEN ({words})[1 + (i.id * 53 + n * 3) % {n_words}] END,
                       CASE WHEN (i.id + n) % 4 > 2 THEN ({words})[1 + (i.id * 59 + n * 11) % {n_words}] END
                   ) AS text
            FROM generate_series(1, i.count) AS n
        ) AS m
        ORDER BY i.id, n;
        """,  # noqa: S608 (constants and this run's own ids only)
    )
    yield (
        "offers (one accepted per owned interaction, two for a transfer)",
        f"""
        INSERT INTO offers (interaction_id, agent_id, queue_id, kind, status, offered_at, expires_at,
                            resolved_at, event)
        SELECT id, agent, queue_id, kind, 'accepted', at, at + interval '30 seconds',
               at + interval '5 seconds', '{{}}'
        FROM (
            SELECT id, owner_id AS agent, queue_id, 'queue' AS kind, started_at AS at
            FROM interactions WHERE owner_id IS NOT NULL
            UNION ALL
            SELECT id, ({agents})[1 + (array_position({agents}, owner_id) - 1 + {n_acc}) % {AGENTS}],
                   queue_id, 'transfer_agent', started_at + interval '1 minute'
            FROM interactions WHERE owner_id IS NOT NULL AND id % 10 = 3
        ) AS accepted
        ORDER BY id;
        """,  # noqa: S608 (constants and this run's own ids only)
    )


def _plain_indexes(conn: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    """(name, definition) of the bulk tables' indexes that back no constraint."""
    rows = conn.execute(
        """
        SELECT indexname, indexdef FROM pg_indexes
        WHERE schemaname = 'public' AND tablename = ANY(%s)
          AND indexname NOT IN (SELECT conname FROM pg_constraint)
        """,
        (list(BULK_TABLES),),
    ).fetchall()
    return [(name, definition) for name, definition in rows]


def _generate(url: str) -> float:
    """Fill the database; the seconds it took."""
    started = time.perf_counter()
    ids = _directory(url)
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        # Triggers (the spy's NOTIFYs) and foreign-key checks are off while the rows load.
        conn.execute("SET session_replication_role = replica")
        conn.execute("SET maintenance_work_mem = '1GB'")
        indexes = _plain_indexes(conn)
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        for what, statement in _generation(ids):
            step = time.perf_counter()
            with conn.transaction():
                conn.execute(statement)
            print(f"  {what}: {time.perf_counter() - step:.0f} s", flush=True)
        step = time.perf_counter()
        for _, definition in indexes:
            conn.execute(definition)
        print(f"  {len(indexes)} indexes built again: {time.perf_counter() - step:.0f} s", flush=True)
        step = time.perf_counter()
        conn.execute("VACUUM (ANALYZE)")
        print(f"  VACUUM ANALYZE: {time.perf_counter() - step:.0f} s", flush=True)
        seconds = time.perf_counter() - started
        conn.execute(
            "CREATE TABLE bench_dataset (version text PRIMARY KEY, seconds float8 NOT NULL,"
            " generated_at timestamptz NOT NULL DEFAULT now())"
        )
        conn.execute("INSERT INTO bench_dataset (version, seconds) VALUES (%s, %s)", (DATASET, seconds))
    return seconds


def _cached(url: str) -> float | None:
    """The generation time of the data set already in the database, if it is this version's."""
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('bench_dataset')").fetchone() == (None,):
            return None
        row = conn.execute("SELECT seconds FROM bench_dataset WHERE version = %s", (DATASET,)).fetchone()
        return None if row is None else float(row[0])


def _database(server: EmbeddedPostgres) -> tuple[str, float, bool]:
    """The bench database, migrated and filled: its URL, the generation's seconds and whether
    this run generated it."""
    url = server.ensure_database("shareline")
    if (seconds := _cached(url)) is not None:
        step = time.perf_counter()
        upgrade_to_head(url)  # migrations added since, run on the full tables
        print(
            f"Cached data set ({DATASET}, generated in {seconds:.0f} s); migrated in"
            f" {time.perf_counter() - step:.1f} s"
        )
        return url, seconds, False
    with psycopg.connect(libpq_url(server.url("postgres")), autocommit=True) as conn:
        conn.execute("DROP DATABASE shareline WITH (FORCE)")
    url = server.ensure_database("shareline")
    upgrade_to_head(url)
    ensure_admin(url, ADMIN_PASSWORD)
    print(f"Generating the data set ({DATASET}) ...", flush=True)
    return url, _generate(url), True


def _parameters(params: dict[str, Any], ids: dict[str, int]) -> dict[str, Any]:
    """`params` with the placeholders ACCOUNT and AGENT replaced by the bench agent's ids."""
    named = {"ACCOUNT": ids["account"], "AGENT": ids["agent"]}
    return {
        key: named.get(value, value) if isinstance(value, str) else value for key, value in params.items()
    }


async def _login(http: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    response = await http.post("/api/auth/login", json={"username": username, "password": password})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def _time(
    http: httpx.AsyncClient, headers: dict[str, str], params: dict[str, Any]
) -> tuple[list[float], dict[str, Any]]:
    """CALLS timings (ms) of the list's first page after one warm-up call, and the last answer."""
    samples = []
    body: dict[str, Any] = {}
    for call in range(CALLS + 1):
        started = time.perf_counter()
        response = await http.get("/api/whatsapp/interactions", params=params, headers=headers)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"GET {params}: HTTP {response.status_code} {response.text}")
        body = response.json()
        if call:
            samples.append(elapsed)
    return samples, body


def _bench_ids(url: str) -> dict[str, int]:
    """The ids the queries name: the bench agent's account and the bench agent (as `agent`)."""
    with psycopg.connect(libpq_url(url)) as conn:
        row = conn.execute(
            "SELECT u.id, a.account_id FROM users u JOIN account_agents a ON a.user_id = u.id"
            " WHERE u.username = %s",
            (BENCH_AGENT,),
        ).fetchone()
    assert row is not None
    return {"agent": row[0], "account": row[1]}


async def _measure(url: str, week_start: datetime) -> list[dict[str, Any]]:
    settings = Settings(database_url=url, data_dir=DATA_DIR / "data", temporal_address="127.0.0.1:1")
    app = create_app(settings)
    ids = _bench_ids(url)
    results = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench.test", timeout=60) as http:
            callers = {
                "admin": await _login(http, "admin", ADMIN_PASSWORD),
                "agent": await _login(http, BENCH_AGENT, AGENT_PASSWORD),
            }
            head = f"{'median':>9} ms {'p95':>7} {'count':>7}  "
            print(f"{'':28} {'admin':^28} {'agent':^28}\n{'query':28} {head} {head}")
            for name, params in _queries(week_start):
                row: dict[str, Any] = {"query": name, "params": _parameters(params, ids)}
                for role, headers in callers.items():
                    samples, body = await _time(http, headers, row["params"])
                    row[role] = {
                        "median_ms": statistics.median(samples),
                        "p95_ms": statistics.quantiles(samples, n=20)[18],
                        "count": body["count"],
                        "count_exact": body.get("count_exact", True),
                        "rows": len(body["rows"]),
                        "samples_ms": samples,
                    }
                results.append(row)
                print(
                    f"{name:28}"
                    + "".join(
                        f" {row[role]['median_ms']:9.1f} ms {row[role]['p95_ms']:7.1f}"
                        f" {row[role]['count']:>7}{'' if row[role]['count_exact'] else '+'}  "
                        for role in callers
                    ),
                    flush=True,
                )
    return results


async def _explain(url: str, week_start: datetime) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of each query's page and count, built as the list builds them."""
    engine = create_async_engine(url, pool_size=1)
    ids = _bench_ids(url)
    try:
        async with engine.connect() as conn:
            users = {
                user.username: user
                for user in (
                    await conn.execute(select(User).where(User.username.in_(["admin", BENCH_AGENT])))
                ).all()
            }
            for name, params in _queries(week_start):
                filters = InteractionFilters.model_validate(_parameters(params, ids))
                for who in ("admin", BENCH_AGENT):
                    accounts = await visible_accounts(conn, User(**users[who]._mapping))
                    matches = ordered(matching_ids(filters, accounts), filters)
                    print(f"=== {name} as {who}", flush=True)
                    page, count = page_rows(matches.limit(50), filters), capped_count(matches, COUNT_LIMIT)
                    parts = (("page", page), ("count", count))
                    for part, statement in parts:
                        compiled = statement.compile(
                            dialect=engine.dialect, compile_kwargs={"render_postcompile": True}
                        )
                        plan = await conn.exec_driver_sql(
                            "EXPLAIN (ANALYZE, BUFFERS) " + str(compiled), compiled.params
                        )
                        print(f"--- {part}")
                        print("\n".join(line for (line,) in plan.all()), flush=True)
    finally:
        await engine.dispose()


def main() -> None:
    server = EmbeddedPostgres(DATA_DIR / "pg")
    print(f"Starting PostgreSQL in {DATA_DIR / 'pg'} ...", flush=True)
    server.start()
    try:
        url, seconds, generated = _database(server)
        with psycopg.connect(libpq_url(url)) as conn:
            newest = conn.execute("SELECT max(started_at) FROM interactions").fetchone()
        assert newest is not None
        week_start = newest[0] - timedelta(days=40)
        if "--explain" in sys.argv:
            asyncio.run(_explain(url, week_start))
            return
        step = time.perf_counter()
        results = asyncio.run(_measure(url, week_start))
        print(f"timed in {time.perf_counter() - step:.0f} s")
    finally:
        server.stop()
    OUT.mkdir(exist_ok=True)
    (OUT / "list.json").write_text(
        json.dumps(
            {
                "dataset": DATASET,
                "generation_seconds": seconds,
                "generated_this_run": generated,
                "calls_per_query": CALLS,
                "queries": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
