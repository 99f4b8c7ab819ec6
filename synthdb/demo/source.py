"""A realistic, deterministic production-like source in schema ``prod``.

Two tables that look like a retailer's: ``prod.customers`` with direct identifiers (id, name,
email, phone), quasi-identifiers (birth date, postcode, region, gender) and a heavy-tailed
income with a few extreme outliers; and ``prod.transactions`` with a product category that has
rare values and event timestamps with weekly, yearly and hourly seasonality. Everything is
vectorised numpy so 100,000 customers take a few seconds, and the same seed gives the same rows.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

REGIONS = {
    "North East": "1", "North West": "2", "Yorkshire": "3", "East Midlands": "4",
    "West Midlands": "5", "East": "6", "London": "7", "South East": "8", "South West": "9",
    "Wales": "0", "Scotland": "K", "Northern Ireland": "B",
}
REGION_WEIGHTS = [4, 11, 8, 7, 9, 9, 14, 14, 8, 5, 8, 3]
CATEGORIES = {
    "groceries": 30.0, "household": 14.0, "clothing": 12.0, "electronics": 9.0,
    "beauty": 8.0, "books": 6.0, "toys": 5.0, "garden": 5.0, "sports": 4.0, "pets": 4.0,
    "music": 1.5, "jewellery": 0.9, "antiques": 0.05, "pianos": 0.02, "falconry": 0.004,
    "taxidermy": 0.002,
}
CHANNELS = {"web": 0.45, "app": 0.35, "store": 0.2}
# Relative activity by day of week (Mon..Sun): a Sunday dip, a Saturday peak.
WEEKDAY_FACTOR = np.array([1.0, 0.95, 0.97, 1.02, 1.15, 1.3, 0.6])
# Relative activity by month (Jan..Dec): January lull, summer, a December peak.
MONTH_FACTOR = np.array([0.75, 0.8, 0.9, 0.95, 1.0, 1.05, 1.1, 1.05, 0.95, 1.0, 1.2, 1.6])
HOUR_FACTOR = np.array(
    [0.2, 0.1, 0.05, 0.05, 0.05, 0.1, 0.3, 0.6, 0.9, 1.0, 1.1, 1.2,
     1.4, 1.3, 1.1, 1.0, 1.1, 1.3, 1.6, 1.8, 1.7, 1.3, 0.8, 0.4]
)
FIRST_DAY = np.datetime64("2024-01-01")
N_DAYS = 731  # two years


def _name_pools(seed: int) -> tuple[list[str], list[str]]:
    from faker import Faker

    fake = Faker("en_GB")
    fake.seed_instance(seed)
    firsts = sorted({fake.first_name() for _ in range(1500)})
    lasts = sorted({fake.last_name() for _ in range(1500)})
    return firsts, lasts


def make_customers(n: int, seed: int = 42) -> pd.DataFrame:
    """``n`` customers with identifiers, quasi-identifiers and a heavy-tailed income."""
    rng = np.random.default_rng(seed)
    firsts, lasts = _name_pools(seed)
    first = np.asarray(firsts, dtype=object)[rng.integers(0, len(firsts), n)]
    last = np.asarray(lasts, dtype=object)[rng.integers(0, len(lasts), n)]
    customer_id = 100_000 + np.arange(n, dtype=np.int64) * 7 + rng.integers(0, 7, n)
    domains = np.array(["example.com", "mail.test", "post.example.org", "inbox.test"], dtype=object)
    email = (
        pd.Series(first).str.lower() + "." + pd.Series(last).str.lower().str.replace("'", "")
        + pd.Series(customer_id % 1000).astype(str) + "@"
        + pd.Series(domains[rng.integers(0, len(domains), n)])
    )
    phone = "+44 7" + pd.Series(rng.integers(100_000_000, 999_999_999, n)).astype(str)
    age_years = np.clip(rng.gamma(9.0, 5.0, n) + 18, 18, 99)
    birth_date = np.datetime64("2025-12-31") - (age_years * 365.25).astype("timedelta64[D]")
    region_names = np.array(list(REGIONS), dtype=object)
    region = region_names[rng.choice(len(region_names), n, p=np.array(REGION_WEIGHTS) / 100)]
    prefix = np.array([REGIONS[r] for r in region], dtype=object)
    postcode = prefix + pd.Series(rng.integers(1000, 9999, n)).astype(str).to_numpy(object)
    gender = np.array(["female", "male", "unspecified"], dtype=object)[
        rng.choice(3, n, p=[0.505, 0.48, 0.015])
    ]
    # Income: log-normal body that rises with age until ~55, plus a handful of extreme outliers.
    age_effect = -((age_years - 55) / 25) ** 2 * 0.35
    income = np.exp(rng.normal(10.4 + age_effect, 0.55, n))
    outliers = rng.choice(n, size=max(3, n // 20_000), replace=False)
    income[outliers] = rng.uniform(2_000_000, 25_000_000, outliers.size)
    income = np.round(income, 2)
    missing_income = rng.random(n) < 0.03
    signup = FIRST_DAY - np.timedelta64(1000, "D") + rng.integers(0, 1700, n).astype(
        "timedelta64[D]"
    )
    return pd.DataFrame(
        {
            "customer_id": customer_id,
            "full_name": first + " " + last,
            "email": email.to_numpy(object),
            "phone": phone.to_numpy(object),
            "birth_date": pd.to_datetime(birth_date).date,
            "postcode": postcode,
            "region": region,
            "gender": gender,
            "annual_income": pd.Series(income).mask(missing_income),
            "signup_date": pd.to_datetime(signup).date,
        }
    )


def make_transactions(customers: pd.DataFrame, n: int, seed: int = 42) -> pd.DataFrame:
    """``n`` purchases with weekly, yearly and hourly seasonality in their timestamps."""
    rng = np.random.default_rng(seed + 1)
    days = FIRST_DAY + np.arange(N_DAYS).astype("timedelta64[D]")
    day_index = pd.DatetimeIndex(days)
    trend = np.linspace(1.0, 1.25, N_DAYS)
    weights = WEEKDAY_FACTOR[day_index.day_of_week] * MONTH_FACTOR[day_index.month - 1] * trend
    day = rng.choice(N_DAYS, n, p=weights / weights.sum())
    hour = rng.choice(24, n, p=HOUR_FACTOR / HOUR_FACTOR.sum())
    seconds = hour * 3600 + rng.integers(0, 3600, n)
    event_at = pd.to_datetime(days[day]) + pd.to_timedelta(seconds, unit="s")
    # Frequent buyers: customers are drawn with a skewed activity weight.
    activity = rng.pareto(2.5, len(customers)) + 0.2
    who = rng.choice(len(customers), n, p=activity / activity.sum())
    cats = np.array(list(CATEGORIES), dtype=object)
    cat_p = np.array(list(CATEGORIES.values()))
    category = cats[rng.choice(len(cats), n, p=cat_p / cat_p.sum())]
    base = {"groceries": 35, "electronics": 180, "jewellery": 400, "pianos": 3000}
    scale = pd.Series(category).map(lambda c: base.get(c, 45)).to_numpy(float)
    amount = np.round(scale * rng.lognormal(0.0, 0.6, n), 2)
    channels = np.array(list(CHANNELS), dtype=object)
    channel = channels[rng.choice(len(channels), n, p=list(CHANNELS.values()))]
    return pd.DataFrame(
        {
            "transaction_id": np.arange(1, n + 1, dtype=np.int64),
            "customer_id": customers["customer_id"].to_numpy()[who],
            "event_at": event_at.tz_localize("Europe/London", nonexistent="shift_forward",
                                             ambiguous=False).tz_convert("UTC"),
            "product_category": category,
            "amount": amount,
            "channel": channel,
        }
    )


CUSTOMERS_DDL = """
CREATE TABLE prod.customers (
    customer_id   bigint PRIMARY KEY,
    full_name     text NOT NULL,
    email         text NOT NULL,
    phone         text NOT NULL,
    birth_date    date NOT NULL,
    postcode      text NOT NULL,
    region        text NOT NULL,
    gender        text NOT NULL,
    annual_income numeric(12, 2),
    signup_date   date NOT NULL
)"""
TRANSACTIONS_DDL = """
CREATE TABLE prod.transactions (
    transaction_id   bigint PRIMARY KEY,
    customer_id      bigint NOT NULL REFERENCES prod.customers (customer_id),
    event_at         timestamptz NOT NULL,
    product_category text NOT NULL,
    amount           numeric(10, 2) NOT NULL,
    channel          text NOT NULL
)"""


def _copy_frame(conn, table: str, frame: pd.DataFrame) -> None:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False, na_rep="\\N")
    with conn.cursor() as cur:
        with cur.copy(f"COPY {table} FROM STDIN (FORMAT csv, NULL '\\N')") as copy:
            copy.write(buffer.getvalue())


def load_demo_source(conn, customers: int = 100_000, transactions: int | None = None,
                     seed: int = 42) -> dict[str, int]:
    """(Re)create schema ``prod`` with the demo tables; returns row counts.

    The whole load is one transaction: a failure leaves the previous ``prod`` as it was.
    """
    if customers < 1:
        raise ValueError("the demo needs at least one customer")
    transactions = transactions if transactions is not None else 2 * customers
    cust = make_customers(customers, seed)
    trans = make_transactions(cust, transactions, seed)
    with conn.transaction():
        conn.execute("DROP SCHEMA IF EXISTS prod CASCADE")
        conn.execute("CREATE SCHEMA prod")
        conn.execute(CUSTOMERS_DDL)
        conn.execute(TRANSACTIONS_DDL)
        _copy_frame(conn, "prod.customers", cust)
        _copy_frame(conn, "prod.transactions", trans)
        conn.execute("COMMENT ON SCHEMA prod IS 'demo production snapshot (synthdb demo); "
                     "contains direct identifiers'")
    conn.execute("ANALYZE prod.customers")
    conn.execute("ANALYZE prod.transactions")
    return {"prod.customers": len(cust), "prod.transactions": len(trans)}
