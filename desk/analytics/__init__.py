"""Read side for the analytics page: SQL aggregates in, small DataFrames out. Never writes.

Every metric is defined in docs/metrics.md; this package is the one place that computes them:
`filters` (what is asked), `queries` (the SQL), `metrics` (the numbers) and `reporting` (all of it at once).
Every name callers use is importable from `desk.analytics` as before.

How it stays fast at a million cases: the database keeps decisions and opened cases summed in rollups
(`decision_rollup`, `lead_time_rollup`, `case_rollup`; migration 0002, maintained by triggers) at three
grains — day, week (Monday) and month. `cover` answers a date range from its whole months, then whole
weeks, then loose days, so the default 12-month view reads some 20,000 rollup rows and never the
decisions, cases or services tables (and ~2,000 for the questions that need no reason, reviewer or policy
version: `decision_state_rollup`, migration 0014); denominators come from the `sales_by_currency` rollup.
The SQL groups by the few decision states (outcome, recommendation, exception, approval, superseded); `measures` and
`summarise` turn those small frames into the metrics, so a rate means the same on every tile, chart and
table.

Money is per currency (docs/metrics.md, "Currencies"): `Filters.currency` picks the currency of every
amount, revenue and value rate (the desk's reporting currency by default); counts and count rates are of
every currency; amounts of different currencies are never added (the rollups carry a currency, migration
0004), only shown side by side (`money_by_currency`).

Reviewers see only their own numbers: `scope` forces the reviewer filter to the actor, here in desk/, not
only in the page.
"""

from __future__ import annotations

from desk.analytics.filters import (  # noqa: F401
    AGE_BUCKETS,
    CASH_OUTCOMES,
    EXCEPTION_LIST_LIMIT,
    GENEROSITY,
    GRANULARITIES,
    LEAD_CAPPED,
    STATE,
    Filters,
    _in_range,
    _next_unit,
    _unit_start,
    _whole_units,
    cover,
    default_filters,
    scope,
    validate,
)
from desk.analytics.metrics import (  # noqa: F401
    MEASURES,
    Kpis,
    _int,
    _kpis,
    _ratio,
    closing,
    in_currency,
    measures,
    money_per_currency,
    percentile,
    summarise,
    summarise_lead,
)
from desk.analytics.queries import (  # noqa: F401
    DRILL_KINDS,
    DRILL_LIMIT,
    RESTATED_COLUMNS,
    Drill,
    Person,
    Timer,
    _answered,
    _bucket,
    _case_filters,
    _days,
    _decision_conditions,
    _dims_where,
    _frame,
    _keep,
    _keys,
    _month_ends_utc,
    _reading,
    _schema_missing,
    _seconds,
    approvals_by_manager,
    awaiting_approval,
    backlog,
    by_sale_month,
    cases_opened,
    close_times,
    currencies,
    decision_states,
    drill_cases,
    exception_list,
    granted_vs_requested,
    lead_times,
    pending_approvals,
    people,
    restated_months,
    sales,
    user_names,
)
from desk.analytics.reporting import (  # noqa: F401
    Report,
    _reasons,
    _trend,
    report,
)
