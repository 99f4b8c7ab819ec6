"""Privacy counted per subject (issue 14): ``synth.privacy.subject`` names the person or entity
the rows are about; it is read for counting, never generated, staged or published. Real
PostgreSQL, real ``dbt build``; the one-subject-many-rows class is the attack."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
import psycopg
import pytest
from dbtproject import make_project, plain_sources, share_of

from synthdb.errors import ConfigError
from synthdb.generators import GaussianCopula
from synthdb.generators.sequential import SequentialTrees
from synthdb.release.config import parse_synth_config
from synthdb.release.pgio import PgColumn
from synthdb.release.precheck import check_release_config
from synthdb.release.training import split_by_subject

SOURCES = plain_sources("src", "visits")

CONTRACT = textwrap.dedent("""
    {{ config(materialized='view', schema='subj_contracts') }}
    select person, age_band, region, product, amount from {{ source('src', 'visits') }}
""")

TESTS = textwrap.dedent("""
    version: 2
    models:
      - name: visits_staged
        data_tests:
          - synthdb.k_anonymity:
              arguments: {quasi_identifiers: [age_band, region], k: 5}
          - synthdb.rare_categories:
              arguments: {columns: [age_band, region], min_count: 10}
""")

PUBLISH = textwrap.dedent("""
    {{ config(materialized='publish', schema='subj_recipient', alias='visits',
              publish={'from': 'visits_staged', 'recipient': 'subj_recipient'}) }}
    -- depends_on: {{ ref('visits_staged') }}
    select * from {{ this }}
""")


def staged_model(mode: str, subject: str | None = "person", columns: str = "") -> str:
    subject_setting = f"'subject': '{subject}', " if subject else ""
    return textwrap.dedent(f"""
        {{{{ config(materialized='synthetic', schema='subj_staging',
                  synth={{'source': 'visits_contract', 'mode': '{mode}', 'seed': 7,
                         'validate_contract': False, {columns}
                         'privacy': {{{subject_setting}'quasi_identifiers': ['age_band', 'region'],
                                     'k': 5}}}}) }}}}
        -- depends_on: {{{{ ref('visits_contract') }}}}
        select * from {{{{ this }}}}
    """)


def _load(conn, whale_rows: int, whale_product: str | None = None, whales: int = 1) -> None:
    """6,000 visits of 1,200 people (5 each) over 4 age bands x 3 regions, every class held by
    100 people; plus ``whale_rows`` visits of one person, all in the class (20-29, west): a
    class of many rows and one subject. ``whale_product`` gives all the whale's visits a
    product nobody else has; ``whales`` such people share it (each with ``whale_rows``)."""
    conn.execute("CREATE SCHEMA src")
    conn.execute("SELECT setseed(0.3)")
    conn.execute("""CREATE TABLE src.visits AS
        SELECT 'p' || (i % 1200) AS person,
               (ARRAY['30-39','40-49','50-59','20-29'])[1 + (i % 1200) % 4] AS age_band,
               (ARRAY['north','south','east'])[1 + ((i % 1200) / 4) % 3] AS region,
               (ARRAY['a','b','c','d'])[1 + (random() * 3.999)::int] AS product,
               round((random() * 100)::numeric, 2)::float8 AS amount
        FROM generate_series(1, 6000) i""")
    # west is a common region (held by 60 people in other age bands) ...
    conn.execute("""INSERT INTO src.visits
        SELECT 'p' || (1200 + i % 60), (ARRAY['30-39','40-49','50-59'])[1 + i % 3], 'west',
               (ARRAY['a','b','c','d'])[1 + i % 4], round((random() * 100)::numeric, 2)
        FROM generate_series(1, 300) i""")
    # ... and the whale is the only person aged 20-29 in the west.
    conn.execute("""INSERT INTO src.visits
        SELECT 'whale' || w, '20-29', 'west', %s, round((random() * 100)::numeric, 2)
        FROM generate_series(1, %s) i, generate_series(1, %s) w""",
                 (whale_product or "a", whale_rows, whales))
    conn.commit()


@pytest.fixture()
def subject_project(tmp_path, fresh_db):
    project = make_project(tmp_path / "subjects", fresh_db, with_demo_models=False)
    project.write("models/sources.yml", SOURCES)
    project.write("models/visits_contract.sql", CONTRACT)
    project.write("models/schema.yml", TESTS)
    project.write("models/visits_release.sql", PUBLISH)
    return project


def _metrics(conn, model: str) -> dict[str, tuple]:
    run_id = conn.execute("SELECT run_id FROM synthdb_audit.runs WHERE model = %s "
                          "ORDER BY started_at DESC LIMIT 1", (model,)).fetchone()[0]
    return {f"{c}.{m}": (v, p) for c, m, v, p in conn.execute(
        "SELECT check_name, metric, value, passed FROM synthdb_audit.metrics WHERE run_id = %s",
        (run_id,))}


def _published(project) -> bool:
    """Whether the release reached the destination (which publish creates on first use)."""
    try:
        share = psycopg.connect(share_of(project.settings).conninfo())
    except psycopg.OperationalError as exc:
        assert "does not exist" in str(exc)
        return False
    with share:
        return share.execute("SELECT to_regclass('subj_recipient.visits')").fetchone()[0] \
            is not None


def test_one_subject_class_passes_row_k_fails_subject_k_and_is_not_published(subject_project):
    """400 visits of one person form the class (20-29, west): k = 5 by rows holds (and 400
    rows are more than the 5 % suppression may remove), k by subjects is 1."""
    with psycopg.connect(subject_project.settings.conninfo()) as conn:
        _load(conn, whale_rows=400)
    subject_project.write("models/visits_staged.sql", staged_model("deidentify"))
    build = subject_project.dbt("build")
    assert not build.ok
    with psycopg.connect(subject_project.settings.conninfo()) as conn:
        metrics = _metrics(conn, "visits_staged")
        staged = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = "
            "'subj_staging' AND table_name = 'visits_staged'")]
        whale_rows = conn.execute("SELECT count(*) FROM subj_staging.visits_staged WHERE "
                                  "age_band = '20-29' AND region = 'west'").fetchone()[0]
    assert metrics["k_anonymity.min_class_size"][1] is True  # rows: every class >= 100
    assert metrics["k_anonymity.min_subjects_per_class"] == (1.0, False)  # subjects: fails
    assert all(p for key, (_, p) in metrics.items() if key.startswith("rare_categories.")
               and p is not None)  # every value is held by many people: only k fails
    assert whale_rows == 400 and "person" not in staged
    assert "min_subjects_per_class" in build.output  # the synthetic step names the failure
    assert not _published(subject_project)
    # The staged table is kept for inspection; the generic test fails on its stored verdict
    # (its own row count passes: every class has >= 100 rows; the one failing stored
    # k_anonymity row is min_subjects_per_class, asserted above).
    tested = subject_project.dbt("test", "-s", "visits_staged")
    assert not tested.ok and "FAIL 1 synthdb_k_anonymity_visits_staged" in tested.output
    assert "PASS synthdb_rare_categories_visits_staged" in tested.output
    # Publishing without the tests (dbt run -s) is refused by the stored verdict.
    forced = subject_project.dbt("run", "-s", "visits_release")
    assert not forced.ok and "min_subjects_per_class" in forced.output
    assert not _published(subject_project)


def test_without_the_whale_deidentify_publishes_and_never_the_subject(subject_project):
    with psycopg.connect(subject_project.settings.conninfo()) as conn:
        _load(conn, whale_rows=0)
    subject_project.write("models/visits_staged.sql", staged_model("deidentify"))
    build = subject_project.dbt("build")
    assert build.ok, build.output
    with psycopg.connect(share_of(subject_project.settings).conninfo()) as share:
        published = [r[0] for r in share.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = "
            "'subj_recipient' AND table_name = 'visits'")]
        n = share.execute("SELECT count(*) FROM subj_recipient.visits").fetchone()[0]
    with psycopg.connect(subject_project.settings.conninfo()) as conn:
        metrics = _metrics(conn, "visits_staged")
        leftovers = conn.execute("SELECT count(*) FROM pg_class WHERE relname LIKE "
                                 "'%subject_rows%'").fetchone()[0]
    assert n == 6300 and "person" not in published and set(published) == {
        "age_band", "region", "product", "amount"}
    assert metrics["k_anonymity.min_subjects_per_class"][1] is True
    assert metrics["k_anonymity.min_subjects_per_class"][0] >= 5
    assert "rare_categories.rare_subject_values:product" in metrics
    assert leftovers == 0


def test_synthesize_with_subject_counts_rare_values_in_people(subject_project):
    """Three people's 60 visits each carry product 'zeta' that nobody else has: 60 rows or
    more pass a row count of 10, three subjects do not, so the generator never emits it; the
    subject column is neither staged nor published, and membership inference is measured on
    subjects. (amount is mocked: on this small table the copula's DCR share of the uniform
    amounts sits near 0.55 with or without subjects, a coin toss at the gate's 0.55.)"""
    with psycopg.connect(subject_project.settings.conninfo()) as conn:
        _load(conn, whale_rows=60, whale_product="zeta", whales=3)
    subject_project.write("models/schema.yml", "version: 2\n")
    subject_project.write("models/visits_staged.sql",
                          staged_model("synthesize",
                                       columns="'columns': {'amount': {'method': 'mock'}},"))
    build = subject_project.dbt("build")
    assert build.ok, build.output
    with psycopg.connect(subject_project.settings.conninfo()) as conn:
        zeta = conn.execute("SELECT count(*) FROM subj_staging.visits_staged "
                            "WHERE product = 'zeta'").fetchone()[0]
        staged = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = "
            "'subj_staging' AND table_name = 'visits_staged'")]
        generator, train, holdout = conn.execute(
            "SELECT generator, train_rows, holdout_rows FROM synthdb_audit.runs "
            "WHERE model = 'visits_staged' ORDER BY started_at DESC LIMIT 1").fetchone()
        metrics = _metrics(conn, "visits_staged")
    assert zeta == 0 and "person" not in staged
    assert generator["privacy"]["rare_counted_in"] == "subjects"
    assert generator["privacy"]["categories_withheld_by_subject"].get("product") == 1
    assert train + holdout == 6480
    value, passed = metrics["no_leakage.mia_advantage_subjects"]
    assert passed is True and value is not None
    assert _published(subject_project)
    with psycopg.connect(share_of(subject_project.settings).conninfo()) as share:
        cols = [r[0] for r in share.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = "
            "'subj_recipient' AND table_name = 'visits'")]
    assert "person" not in cols


def test_bad_subject_config_names_model_and_column_and_spends_nothing(subject_project):
    with psycopg.connect(subject_project.settings.conninfo()) as conn:
        _load(conn, whale_rows=0)
    subject_project.write("models/schema.yml", "version: 2\n")
    subject_project.write("models/visits_staged.sql", staged_model("synthesize", "customer"))
    run = subject_project.dbt("run", "-s", "visits_contract", "visits_staged")
    assert not run.ok
    assert "model visits_staged" in run.output and "'customer'" in run.output
    assert "synth.privacy.subject" in run.output
    with psycopg.connect(subject_project.settings.conninfo()) as conn:
        staged = conn.execute("SELECT to_regclass('subj_staging.visits_staged')").fetchone()[0]
        spent = conn.execute("SELECT count(*) FROM synthdb_audit.budget_spend").fetchone()[0] \
            if conn.execute("SELECT to_regclass('synthdb_audit.budget_spend')").fetchone()[0] \
            else 0
    assert staged is None and spent == 0


COLUMNS = [PgColumn(n, t, c, False) for n, t, c in (
    ("person", "text", "S"), ("age_band", "text", "S"), ("amount", "double precision", "N"))]


@pytest.mark.parametrize(("privacy", "message"), [
    ({"subject": "customer"}, "names column 'customer', which the training input does not have"),
    ({"subject": "person", "quasi_identifiers": ["person", "age_band"]},
     "'person' is the subject.*synth.privacy.quasi_identifiers"),
    ({"subject": "person", "rare_columns": ["person"]},
     "'person' is the subject.*synth.privacy.rare_columns"),
    ({"subject": ["person"]}, "subject must be one column name"),
])
def test_subject_config_errors(privacy, message):
    with pytest.raises(ConfigError, match=f"model m: config synth.privacy.subject.*{message}"
                       if "must be" not in message else message) as info:
        cfg = parse_synth_config({"source": "c", "privacy": privacy}, "m")
        check_release_config(cfg, COLUMNS, "m")
    assert "model m" in str(info.value)


def test_split_by_subject_keeps_each_subject_on_one_side():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"who": rng.integers(0, 300, 3000).astype(str),
                          "x": rng.normal(size=3000)})
    train, hold, t_sub, h_sub = split_by_subject(frame, "who", 0.2, seed=4)
    assert "who" not in train.columns and "who" not in hold.columns
    assert len(train) == len(t_sub) and len(hold) == len(h_sub) and len(train) + len(hold) == 3000
    assert not set(t_sub) & set(h_sub)
    assert abs(len(set(h_sub)) - 0.2 * len(set(frame["who"]))) <= 1
    again = split_by_subject(frame, "who", 0.2, seed=4)
    assert set(again[3]) == set(h_sub)
    assert set(split_by_subject(frame, "who", 0.2, seed=5)[3]) != set(h_sub)


@pytest.mark.parametrize("generator", [GaussianCopula, SequentialTrees])
def test_a_value_of_many_rows_of_one_subject_is_not_emitted(generator):
    rng = np.random.default_rng(2)
    n = 4000
    frame = pd.DataFrame({"product": rng.choice(["a", "b", "c"], n), "x": rng.normal(size=n)})
    subjects = rng.integers(0, 800, n).astype(str)
    frame.loc[:199, "product"] = "zeta"  # 200 rows, one subject
    subjects[:200] = "whale"
    plain = generator(random_state=0, rare_min_count=10).fit(frame).sample(4000, seed=1)
    assert (plain["product"] == "zeta").sum() > 50  # by rows, zeta is frequent
    fitted = generator(random_state=0, rare_min_count=10).fit(frame, subjects=subjects)
    out = fitted.sample(4000, seed=1)
    assert (out["product"] == "zeta").sum() == 0
    assert fitted.describe()["privacy"]["categories_withheld_by_subject"] == {"product": 1}
    with pytest.raises(ConfigError, match="one subject per training row"):
        generator(random_state=0).fit(frame, subjects=subjects[:10])


def test_publish_refuses_a_table_holding_the_runs_subject():
    """The last check publish, approve and export make (verdicts.bound_run): a table with a
    column named like its run's subject is refused, whatever put it there."""
    from synthdb.errors import GateError
    from synthdb.release.digest import Fingerprint
    from synthdb.release.verdicts import check_no_subject

    def table(*names: str) -> Fingerprint:
        return Fingerprint(1, "s", "t", "r", [[n, "text"] for n in names], "d", 3)

    run = {"run_id": "r1", "model": "visits_staged", "subject": "person"}
    check_no_subject(run, table("age_band", "region"), "refusing")  # no subject column: fine
    check_no_subject({**run, "subject": None}, table("person"), "refusing")  # no subject set
    with pytest.raises(GateError, match="refusing: the table has column 'person', the subject "
                                        "of run r1 \\(model visits_staged"):
        check_no_subject(run, table("age_band", "person"), "refusing")


def test_a_pair_held_by_one_subject_is_not_emitted_by_the_sequential_model():
    """Both values of the pair (x, y) are common, but the pair is one person's 200 rows: by
    rows it is frequent, by subjects it is rare, so SequentialTrees never emits it."""
    rng = np.random.default_rng(3)
    n = 4000
    frame = pd.DataFrame({"a": rng.choice(["x", "w"], n), "b": rng.choice(["y", "z"], n),
                          "v": rng.normal(size=n)})
    subjects = rng.integers(0, 800, n).astype(str)
    frame.loc[frame["a"].eq("x") & frame["b"].eq("y"), "b"] = "z"  # nobody else has (x, y)
    frame.loc[:199, ["a", "b"]] = ["x", "y"]
    subjects[:200] = "whale"

    def pairs(out: pd.DataFrame) -> int:
        return int((out["a"].eq("x") & out["b"].eq("y")).sum())

    plain = SequentialTrees(random_state=0).fit(frame).sample(4000, seed=1)
    assert pairs(plain) > 50
    fitted = SequentialTrees(random_state=0).fit(frame, subjects=subjects)
    assert pairs(fitted.sample(4000, seed=1)) == 0
    assert not hasattr(fitted, "_fit_subjects")  # the subjects are not kept in the model


def test_routes_only_one_subject_flies_make_a_triple_checked_and_are_not_emitted():
    """Nine routes (c = a + b mod 3) flown by many people make every pair of (a, b, c)
    frequent; one person's 200 rows fly five more routes. By rows the triple holds 14 of the
    27 combinations its pairs allow (not sparse, so not checked, and the person's routes are
    emitted); by subjects it holds 9, so the sparse-triple search picks it and none of the
    person's routes is emitted, while the nine common ones still are."""
    rng = np.random.default_rng(7)
    n = 4000
    a = rng.integers(0, 3, n)
    b = rng.integers(0, 3, n)
    c = (a + b) % 3
    subjects = rng.integers(0, 800, n).astype(str)
    whale_routes = [(0, 0, 1), (0, 1, 0), (1, 1, 0), (2, 0, 0), (2, 2, 0)]
    for i, (x, y, z) in enumerate(whale_routes):
        rows = slice(40 * i, 40 * (i + 1))
        a[rows], b[rows], c[rows] = x, y, z
    subjects[:200] = "whale"
    frame = pd.DataFrame({"a": [f"A{v}" for v in a], "b": [f"B{v}" for v in b],
                          "c": [f"C{v}" for v in c], "v": rng.normal(size=n)})
    whale = {(f"A{x}", f"B{y}", f"C{z}") for x, y, z in whale_routes}

    def whale_rows(out: pd.DataFrame) -> int:
        return sum(t in whale for t in map(tuple, out[["a", "b", "c"]].to_numpy().tolist()))

    plain = SequentialTrees(random_state=0, rare_min_count=10).fit(frame)
    assert whale_rows(plain.sample(4000, seed=1)) > 50
    fitted = SequentialTrees(random_state=0, rare_min_count=10).fit(frame, subjects=subjects)
    assert fitted.describe()["privacy"]["rare_pair_checks"] > (
        plain.describe()["privacy"]["rare_pair_checks"])  # the triple is checked
    out = fitted.sample(4000, seed=1)
    assert len(out) == 4000 and whale_rows(out) == 0
    assert out.groupby(["a", "b", "c"]).ngroups == 9
