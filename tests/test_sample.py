"""The synthetic demo data (dashboard/sample.py): shape, determinism, consistency and its stories.

Every story the demo is meant to tell is asserted with numbers computed from
the written Parquet files (DuckDB), not from the generator's internals.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dashboard.contract import DATE, DOUBLE, INTEGER, TABLES, TIMESTAMP, VARCHAR
from dashboard.sample import SIZES, generate

ARROW_TYPES = {
    VARCHAR: pa.string(),
    DATE: pa.date32(),
    TIMESTAMP: pa.timestamp("us"),
    DOUBLE: pa.float64(),
    INTEGER: pa.int32(),
}
END = "2026-06-30"
LAST_24_MONTHS = ("2024-07-01", END)
OFF_TARGET = ("conveyancing", "personal injury")
CHANNELS = {
    "referral",
    "event",
    "seminar",
    "newsletter",
    "website",
    "social media",
    "fee earner",
    "directory",
}
# each file is sorted by this column (nulls last)
DATE_COLUMN = {
    "referrers": "first_seen_on",
    "contact_moves": "moved_on",
    "relationships": "since_on",
    "referrals": "referred_on",
    "matters": "opened_on",
    "fees": "billed_on",
    "activities": "occurred_on",
    "touchpoints": "touched_at",
    "work_type_targets": "effective_from",
}


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    out = tmp_path_factory.mktemp("sample_s")
    messages: list[str] = []
    counts = generate(out, "S", seed=1, progress=messages.append)
    assert messages, "progress is reported"
    return out, counts


@pytest.fixture(scope="module")
def db(sample) -> duckdb.DuckDBPyConnection:
    out, _ = sample
    con = duckdb.connect()
    for name in TABLES:
        con.execute(
            f"create view {name} as select * from read_parquet('{out / (name + '.parquet')}')"
        )
    return con


def one(con: duckdb.DuckDBPyConnection, sql: str):
    return con.execute(sql).fetchone()


# --------------------------------------------------------------------------- #
# Shape
# --------------------------------------------------------------------------- #


def test_writes_all_eleven_tables_and_returns_their_row_counts(sample):
    out, counts = sample
    assert list(counts) == list(TABLES)
    for name, rows in counts.items():
        assert pq.ParquetFile(out / f"{name}.parquet").metadata.num_rows == rows, name
    assert counts["referrers"] == 150
    assert 2_500 < counts["referrals"] <= 3_500


def test_size_s_is_about_150_referrers_and_2500_inbound_referrals(db):
    assert one(db, "select count(*) from referrers")[0] == 150
    assert one(db, "select count(*) from referrals where direction = 'inbound'")[0] == 2_500


def test_schema_is_exactly_the_contract(sample):
    out, _ = sample
    for name, table in TABLES.items():
        schema = pq.read_schema(out / f"{name}.parquet")
        assert schema.names == [c.name for c in table.columns], name
        for column in table.columns:
            assert schema.field(column.name).type == ARROW_TYPES[column.type], (name, column.name)


def test_files_are_zstd_compressed_small_and_sorted_by_their_date(sample):
    out, _ = sample
    total = 0
    for name in TABLES:
        path = out / f"{name}.parquet"
        total += path.stat().st_size
        assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == "ZSTD", name
    assert total < 1_000_000
    for name, column in DATE_COLUMN.items():
        values = pq.read_table(out / f"{name}.parquet", columns=[column]).column(0).to_pylist()
        known = [v for v in values if v is not None]
        assert values[: len(known)] == known, f"{name}: nulls come last"
        assert known == sorted(known), f"{name} is sorted by {column}"


def test_ids_have_prefixes_padded_to_a_fixed_width(db):
    for table, column, prefix in [
        ("referrers", "referrer_id", "R"),
        ("contacts", "contact_id", "C"),
        ("fee_earners", "fee_earner_id", "FE"),
        ("referrals", "referral_id", "RF"),
        ("matters", "matter_id", "M"),
        ("activities", "activity_id", "A"),
        ("touchpoints", "touchpoint_id", "T"),
        ("matters", "client_id", "CL"),
    ]:
        widths, bad = one(
            db,
            f"""
            select count(distinct length({column})),
                   count(*) filter (where not regexp_full_match({column}, '{prefix}[0-9]+'))
            from {table}""",
        )
        assert (widths, bad) == (1, 0), (table, column)
    assert one(db, "select min(referrer_id), max(referrer_id) from referrers") == ("R0001", "R0150")
    assert one(db, "select min(referral_id) from referrals")[0] == "RF000001"


# --------------------------------------------------------------------------- #
# Determinism
# --------------------------------------------------------------------------- #


def test_same_seed_gives_byte_identical_files_and_another_seed_differs(sample, tmp_path):
    out, counts = sample
    again = generate(tmp_path / "again", "S", seed=1)
    assert again == counts
    for name in TABLES:
        assert (out / f"{name}.parquet").read_bytes() == (
            tmp_path / "again" / f"{name}.parquet"
        ).read_bytes(), name
    generate(tmp_path / "other", "S", seed=2)
    first = pq.read_table(out / "referrals.parquet").to_pandas()
    other = pq.read_table(tmp_path / "other" / "referrals.parquet").to_pandas()
    assert not first.equals(other)
    assert pq.read_table(out / "fees.parquet").to_pandas()["amount"].sum() != pytest.approx(
        pq.read_table(tmp_path / "other" / "fees.parquet").to_pandas()["amount"].sum()
    )


def test_unknown_size_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown sample size"):
        generate(tmp_path, "XL")


# --------------------------------------------------------------------------- #
# Consistency: what the contract checker looks at, and more
# --------------------------------------------------------------------------- #


def test_the_contract_checker_reports_nothing(sample):
    check = pytest.importorskip("dashboard.check").check
    out, _ = sample
    assert [str(p) for p in check(out)] == []


def test_every_reference_resolves_and_ids_are_unique(db):
    for name, table in TABLES.items():
        if table.primary_key:
            dupes = one(db, f"select count(*) - count(distinct {table.primary_key}) from {name}")[0]
            assert dupes == 0, name
        for column in table.columns:
            if not column.nullable:
                assert (
                    one(db, f"select count(*) from {name} where {column.name} is null")[0] == 0
                ), (name, column.name)
            if column.references:
                target, key = column.references
                missing = one(
                    db,
                    f"""
                    select count(*) from {name} t
                    where t.{column.name} is not null
                      and t.{column.name} not in (select {key} from {target})""",
                )[0]
                assert missing == 0, (name, column.name)
    assert (
        one(
            db,
            """select count(*) from (select fee_earner_id, contact_id from relationships
               group by all having count(*) > 1)""",
        )[0]
        == 0
    )


def test_all_dates_are_inside_the_four_years(db):
    for table, column in [
        ("referrals", "referred_on"),
        ("referrals", "closed_on"),
        ("matters", "opened_on"),
        ("fees", "billed_on"),
        ("activities", "occurred_on"),
        ("contact_moves", "moved_on"),
        ("touchpoints", "touched_at"),
    ]:
        low, high = one(db, f"select min({column})::date, max({column})::date from {table}")
        assert str(low) >= "2022-07-01" and str(high) <= END, (table, column)


def test_referral_directions_follow_the_contract(db):
    rows = db.execute("""
        select direction,
               count(*) filter (where referrer_id is null),
               count(*) filter (where from_team is not null),
               count(*) filter (where direction = 'internal'
                                and (from_team is null or contact_id is not null
                                                                  or from_team = to_team)),
               count(*) filter (where direction = 'outbound' and status not in ('open', 'won'))
        from referrals group by 1 order by 1""").fetchall()
    assert rows == [
        ("inbound", 0, 0, 0, 0),
        ("internal", rows[1][1], rows[1][1], 0, 0),
        ("outbound", 0, 0, 0, 0),
    ]
    assert (
        rows[1][1] == one(db, "select count(*) from referrals where direction = 'internal'")[0] > 0
    )
    # the team of the receiving fee earner is the receiving team
    assert (
        one(
            db,
            """
        select count(*) from referrals r join fee_earners f using (fee_earner_id)
        where f.team <> r.to_team""",
        )[0]
        == 0
    )


def test_won_referrals_have_exactly_one_matter_like_them(db):
    won, matched = one(
        db,
        """
        select count(*), count(m.matter_id)
        from referrals r left join matters m on m.referral_id = r.referral_id
        where r.direction in ('inbound', 'internal') and r.status = 'won'""",
    )
    assert won == matched > 0
    assert (
        one(
            db,
            """
        select count(*) from matters m join referrals r on r.referral_id = m.referral_id
        where r.status <> 'won' or r.direction = 'outbound' or m.client_id <> r.client_id
           or m.work_type <> r.work_type or m.team <> r.to_team
           or m.opened_on < r.referred_on or m.opened_on > r.referred_on + 365""",
        )[0]
        == 0
    )
    assert (
        one(
            db,
            """select count(*) - count(distinct referral_id) from matters
               where referral_id is not null""",
        )[0]
        == 0
    )
    direct = one(db, "select count(*) from matters where referral_id is null")[0]
    assert direct > 100  # work that came without a referral


def test_fees_are_billed_after_the_matter_opened(db):
    bad, unbilled = one(
        db,
        """
        select count(*) filter (where f.billed_on <= m.opened_on),
               (select count(*) from matters where matter_id not in (select matter_id from fees))
        from fees f join matters m using (matter_id)""",
    )
    assert bad == 0
    assert unbilled > 0  # some won work is never billed (funnel: won > billed)


def test_internal_and_outbound_clients_are_existing_clients(db):
    share = one(
        db,
        """
        select avg((exists (select 1 from matters m where m.client_id = r.client_id
                            and m.opened_on < r.referred_on))::int)
        from referrals r where direction in ('internal', 'outbound')""",
    )[0]
    assert share > 0.8


def test_optional_columns_are_sometimes_null(db):
    ev_null, ev_all, contact_null = one(
        db,
        """
        select count(*) filter (where estimated_value is null), count(*),
               count(*) filter (where contact_id is null)
        from referrals where direction = 'inbound'""",
    )
    assert 0.05 < ev_null / ev_all < 0.3
    assert 0.02 < contact_null / ev_all < 0.2  # contact completeness is a metric


def test_relationships_have_strengths_and_some_have_gone_stale(db):
    low, high, stale, total = one(
        db,
        f"""
        select min(strength), max(strength),
               count(*) filter (where last_contact_on < date '{END}' - interval 6 month), count(*)
        from relationships""",
    )
    assert (low, high) == (1, 5)
    assert 0.1 < stale / total < 0.5
    assert one(db, "select count(*) from relationships where last_contact_on < since_on")[0] == 0


def test_a_big_referrer_hangs_on_a_single_fee_earner(db):
    rows = db.execute("""
        select c.referrer_id, count(*) as links, count(distinct r.fee_earner_id) as people
        from relationships r join contacts c using (contact_id)
        group by 1 having count(distinct r.fee_earner_id) = 1 and count(*) >= 5""").fetchall()
    assert rows


def test_activities_cost_time_and_money(db):
    rows = dict(
        db.execute("""
        select activity_type, count(*) filter (where hours = 0 and expense > 0)
        from activities group by 1
    """).fetchall()
    )
    assert {"coffee", "lunch", "seminar", "hospitality", "newsletter", "social media"} <= set(rows)
    assert rows["newsletter"] > 0 and rows["social media"] > 0
    assert rows["lunch"] == 0
    low, high = one(db, "select min(cost_rate), max(cost_rate) from fee_earners")
    assert 60 <= low and high <= 250
    assert {g for (g,) in db.execute("select distinct grade from fee_earners").fetchall()} == {
        "partner",
        "senior associate",
        "associate",
        "trainee",
    }


# --------------------------------------------------------------------------- #
# The stories
# --------------------------------------------------------------------------- #


def test_story_1_three_referrers_give_about_half_of_the_referred_fees(db):
    shares = [
        s
        for (s,) in db.execute(f"""
        with fees_by_referrer as (
            select r.referrer_id, sum(f.amount) as fees
            from fees f
            join matters m using (matter_id)
            join referrals r on r.referral_id = m.referral_id and r.direction = 'inbound'
            where f.billed_on between '{LAST_24_MONTHS[0]}' and '{LAST_24_MONTHS[1]}'
            group by 1
        )
        select fees / sum(fees) over () from fees_by_referrer order by fees desc""").fetchall()
    ]
    top3 = sum(shares[:3])
    assert 0.40 <= top3 <= 0.60, top3
    assert shares[2] > 1.5 * shares[3]  # a clear gap after the top three
    assert len(shares) > 60  # ... and a long tail


def test_story_2_a_tail_of_dinosaurs_still_gets_lunch(db):
    dinosaurs, never, referrers = one(
        db,
        """
        with last_referral as (
            select referrer_id, max(referred_on) as last_on from referrals
            where direction = 'inbound' group by 1
        ),
        recent_activity as (
            select distinct referrer_id from activities where occurred_on >= date '2025-07-01'
        )
        select count(*) filter (where a.referrer_id is not null
                                and (l.last_on is null or l.last_on < date '2024-06-30')),
               count(*) filter (where a.referrer_id is not null and l.last_on is null),
               count(*)
        from referrers r
        left join last_referral l using (referrer_id)
        left join recent_activity a using (referrer_id)""",
    )
    assert dinosaurs / referrers >= 0.15
    assert never >= 5
    # and they cost real money: lunches and hospitality in the last year
    spend = one(
        db,
        """
        select sum(expense) from activities a
        where occurred_on >= date '2025-07-01' and activity_type in ('lunch', 'hospitality')
          and not exists (select 1 from referrals r where r.referrer_id = a.referrer_id
                          and r.direction = 'inbound' and r.referred_on >= date '2024-06-30')""",
    )[0]
    assert spend > 5_000


def test_story_3_work_drifts_towards_types_the_firm_does_not_target(db):
    targets = db.execute("""
        select effective_from::varchar, sum(target_share), list(work_type)
        from work_type_targets group by 1 order by 1""").fetchall()
    assert [t[0] for t in targets] == ["2022-07-01", "2025-01-01"]
    for effective_from, total, work_types in targets:
        assert total == 1.0, effective_from  # exactly
    small = dict(
        db.execute("""
        select work_type, max(target_share) filter (where effective_from = '2025-01-01')
        from work_type_targets group by 1""").fetchall()
    )
    for work_type in OFF_TARGET:
        assert small.get(work_type) is None or small[work_type] < 0.05
    first_year, last_year = one(
        db,
        f"""
        select avg((work_type in {OFF_TARGET})::int) filter (where referred_on < date '2023-07-01'),
               avg((work_type in {OFF_TARGET})::int) filter (where referred_on >= date '2025-07-01')
        from referrals where direction = 'inbound'""",
    )
    assert last_year >= first_year + 0.08 and last_year >= 2 * first_year, (first_year, last_year)


def test_story_4_corporate_is_a_net_giver_of_internal_referrals(db):
    balance = {
        team: (given, received)
        for team, given, received in db.execute("""
        select team, count(*) filter (where side = 'given'),
               count(*) filter (where side = 'received')
        from (select from_team as team, 'given' as side from referrals where direction = 'internal'
              union all
              select to_team, 'received' from referrals where direction = 'internal')
        group by 1""").fetchall()
    }
    given, received = balance["corporate"]
    assert given >= 2 * received and given >= 30
    assert (
        one(
            db,
            """
        select count(*) from referrals where direction = 'internal'
        and (referrer_id is not null or from_team is null or to_team is null)""",
        )[0]
        == 0
    )


def test_story_5_outbound_referrals_go_mostly_to_a_few_referrers(db):
    counts = [
        n
        for (n,) in db.execute("""
        select count(*) as n from referrals where direction = 'outbound'
        group by referrer_id order by n desc""").fetchall()
    ]
    assert sum(counts[:5]) / sum(counts) > 0.5
    assert len(counts) > 10
    assert (
        one(
            db,
            """
        select count(*) from referrals where direction = 'outbound'
        and (referrer_id is null or status not in ('open', 'won') or from_team is not null
             or to_team <> (select team from fee_earners f
                            where f.fee_earner_id = referrals.fee_earner_id))""",
        )[0]
        == 0
    )


def test_story_6_a_contact_moved_firms_and_their_referrals_followed(db):
    moves = db.execute("""
        select m.contact_id,
               c.referrer_id = m.to_referrer_id as now_at_new_firm,
               m.from_referrer_id <> m.to_referrer_id as different,
               count(*) filter (where r.referred_on < m.moved_on
                                and r.referrer_id = m.from_referrer_id) as before_old,
               count(*) filter (where r.referred_on >= m.moved_on
                                and r.referrer_id = m.to_referrer_id) as after_new,
               count(*) filter (where (r.referred_on < m.moved_on)
                                      <> (r.referrer_id = m.from_referrer_id)) as wrong
        from contact_moves m
        join contacts c using (contact_id)
        left join referrals r on r.contact_id = m.contact_id and r.direction = 'inbound'
        group by all""").fetchall()
    assert moves
    assert all(now and different and wrong == 0 for _, now, different, _, _, wrong in moves)
    assert any(before > 0 and after > 0 for _, _, _, before, after, _ in moves)


def test_story_7_credit_notes(db):
    credits, total = one(db, "select count(*) filter (where amount < 0), count(*) from fees")
    assert credits >= 10 and credits / total < 0.1


def test_story_8_statuses_and_closing_dates(db):
    by_status = {
        s: (n, closed, after, recent)
        for s, n, closed, after, recent in db.execute(f"""
        select status, count(*), count(closed_on), count(*) filter (where closed_on > referred_on),
               count(*) filter (where referred_on >= date '{END}' - interval 6 month)
        from referrals where direction = 'inbound' group by 1""").fetchall()
    }
    assert set(by_status) == {"open", "won", "lost", "declined"}
    for status in ("won", "lost", "declined"):
        n, closed, after, _ = by_status[status]
        assert closed == after == n, status
    n_open, closed_open, _, recent_open = by_status["open"]
    assert closed_open == 0
    assert recent_open / n_open > 0.6  # open ones are mostly recent
    assert by_status["declined"][0] >= 50


def test_story_9_touchpoint_journeys(db):
    channels = {c for (c,) in db.execute("select distinct channel from touchpoints").fetchall()}
    assert channels == CHANNELS
    # a referral touch carries the referrer of the client's referral
    wrong, referral_touches = one(
        db,
        """
        select count(*) filter (where not exists (
                   select 1 from referrals r
                   where r.client_id = t.client_id and r.direction = 'inbound'
                   and r.referrer_id = t.referrer_id)),
               count(*)
        from touchpoints t where channel = 'referral'""",
    )
    assert wrong == 0 and referral_touches > 500
    assert (
        one(
            db,
            """select count(*) from touchpoints
               where channel <> 'referral' and referrer_id is not null""",
        )[0]
        == 0
    )
    # journeys: touches up to the end of the opening day
    journeys = db.execute("""
        select m.matter_id, count(t.touchpoint_id) as touches
        from matters m left join touchpoints t
          on t.client_id = m.client_id and t.touched_at < m.opened_on + interval 1 day
        group by 1""").df()
    several = (journeys["touches"] >= 3).mean()
    untouched = (journeys["touches"] == 0).mean()
    assert several > 0.2 and 0.02 < untouched < 0.3
    never_converted = one(
        db,
        """
        select count(distinct client_id) from touchpoints
        where client_id not in (select client_id from matters)""",
    )[0]
    assert never_converted > 100


# --------------------------------------------------------------------------- #
# Other sizes
# --------------------------------------------------------------------------- #


def test_sizes_are_defined():
    assert set(SIZES) == {"S", "M", "L"}
    assert (SIZES["M"].referrers, SIZES["M"].inbound) == (2_000, 100_000)
    assert (SIZES["L"].referrers, SIZES["L"].inbound) == (20_000, 10_000_000)


def test_size_m_row_counts(tmp_path):
    counts = generate(tmp_path, "M", seed=1)
    assert counts["referrers"] == 2_000
    assert 110_000 <= counts["referrals"] <= 120_000
    assert 80_000 <= counts["touchpoints"] <= 160_000
    assert 80_000 <= counts["fees"] <= 160_000
    inbound = (
        duckdb.connect()
        .execute(
            f"select count(*) from read_parquet('{tmp_path / 'referrals.parquet'}')"
            " where direction = 'inbound'"
        )
        .fetchone()[0]
    )
    assert inbound == 100_000
