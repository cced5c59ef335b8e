"""The sweep's pure rules: what a listed object needs, and which listings a sweep makes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ml_connector.store.object_marks import Mark
from ml_connector.sync.enumeration import Observation
from ml_connector.sync.sweep import Pass, SweepSettings, Verdict, judge, plan_sweep

NOW = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)
SETTINGS = SweepSettings()


def observed(updated_at: datetime | None, vis_state: int = 0) -> Observation:
    stamp = updated_at.isoformat() if updated_at else "sha256:abc"
    return Observation(
        fb_id="7", version=f"{stamp}|{vis_state}", updated_at=updated_at, vis_state=vis_state
    )


def mark_of(observation: Observation, seen_at: datetime) -> Mark:
    return Mark(
        fb_id=observation.fb_id,
        version=observation.version,
        remote_updated_at=observation.updated_at,
        seen_at=seen_at,
    )


CHANGED_AT = NOW - timedelta(hours=1)
OLD = observed(NOW - timedelta(days=3))
NEW = observed(CHANGED_AT)


def verdict(
    observation: Observation,
    mark: Mark | None,
    *,
    notified_at: datetime | None = None,
    written_at: datetime | None = None,
) -> Verdict:
    return judge(
        observation,
        mark,
        notified_at=notified_at,
        written_at=written_at,
        now=NOW,
        settings=SETTINGS,
    )


def test_same_version_is_unchanged_whatever_else_is_known() -> None:
    mark = mark_of(NEW, seen_at=NOW - timedelta(minutes=30))
    assert verdict(NEW, mark) is Verdict.UNCHANGED


def test_a_change_without_any_delivery_is_missed() -> None:
    assert verdict(NEW, mark_of(OLD, NOW - timedelta(days=2))) is Verdict.MISSED


def test_a_never_seen_object_without_delivery_is_missed() -> None:
    assert verdict(NEW, None) is Verdict.MISSED


def test_a_delivery_after_the_change_means_the_webhook_did_its_job() -> None:
    mark = mark_of(OLD, NOW - timedelta(days=2))
    assert verdict(NEW, mark, notified_at=CHANGED_AT + timedelta(seconds=5)) is Verdict.NOTIFIED


def test_a_delivery_for_an_earlier_change_does_not_cover_a_later_one() -> None:
    mark = mark_of(OLD, NOW - timedelta(days=2))
    earlier = CHANGED_AT - timedelta(minutes=20)
    assert verdict(NEW, mark, notified_at=earlier) is Verdict.MISSED


def test_a_delivery_just_before_the_change_proves_nothing() -> None:
    """Created (webhook delivered), edited 46 s later with the edit's webhook lost: the
    create's delivery must not be taken as notice of the edit (found by `make chaos`)."""
    just_before = CHANGED_AT - timedelta(seconds=46)
    assert verdict(NEW, None, notified_at=just_before) is Verdict.MISSED
    # A Ramp write after the change still shows the change was synced.
    later_write = CHANGED_AT + timedelta(seconds=5)
    assert verdict(NEW, None, notified_at=just_before, written_at=later_write) is Verdict.KNOWN
    assert verdict(NEW, None, notified_at=CHANGED_AT) is Verdict.NOTIFIED


def test_a_ramp_write_after_the_change_means_it_is_already_synced() -> None:
    assert verdict(NEW, None, written_at=CHANGED_AT + timedelta(minutes=1)) is Verdict.KNOWN
    assert verdict(NEW, None, written_at=CHANGED_AT - timedelta(minutes=1)) is Verdict.MISSED


def test_a_change_inside_the_grace_period_waits_for_its_webhook() -> None:
    fresh = observed(NOW - SETTINGS.grace + timedelta(seconds=10))
    assert verdict(fresh, None) is Verdict.DEFERRED
    settled = observed(NOW - SETTINGS.grace - timedelta(seconds=10))
    assert verdict(settled, None) is Verdict.MISSED


def test_a_delete_is_a_change_even_with_the_same_timestamp() -> None:
    deleted = observed(OLD.updated_at, vis_state=1)
    assert verdict(deleted, mark_of(OLD, NOW - timedelta(days=2))) is Verdict.MISSED


def test_an_object_deleted_before_it_was_ever_synced_needs_nothing() -> None:
    deleted = observed(CHANGED_AT, vis_state=1)
    assert verdict(deleted, None) is Verdict.NEVER_SYNCED
    # ...but once written to Ramp, or known to the pipeline, its delete must propagate.
    assert verdict(deleted, None, written_at=CHANGED_AT - timedelta(days=1)) is Verdict.MISSED
    assert verdict(deleted, mark_of(OLD, NOW - timedelta(days=2))) is Verdict.MISSED


def test_without_a_timestamp_any_delivery_since_the_last_look_counts() -> None:
    undated = observed(None, vis_state=0)
    mark = Mark(
        fb_id="7", version="other|0", remote_updated_at=None, seen_at=NOW - timedelta(hours=2)
    )
    assert verdict(undated, mark, notified_at=NOW - timedelta(hours=1)) is Verdict.NOTIFIED
    assert verdict(undated, mark, notified_at=NOW - timedelta(hours=3)) is Verdict.MISSED


def _params(plan_passes: tuple[Pass, ...], name: str, deleted: bool) -> list[tuple[str, str]]:
    for listing in plan_passes:
        if listing.collection.name == name and listing.deleted is deleted:
            query = listing.query()
            return [] if query is None else query.params()
    raise AssertionError(f"no pass for {name}")


def test_the_first_sweep_is_a_full_pass_over_every_collection_and_its_deleted_objects() -> None:
    plan = plan_sweep(NOW, {}, SETTINGS)
    assert plan.full
    names = [(p.collection.name, p.deleted) for p in plan.passes]
    assert names == [
        (name, deleted)
        for name in ("categories", "bill_vendors", "bills", "expenses")
        for deleted in (False, True)
    ]
    assert _params(plan.passes, "bills", False) == []
    assert _params(plan.passes, "bills", True) == [("search[vis_state]", "1")]


def test_incremental_sweeps_use_only_documented_windows_that_overlap() -> None:
    last = NOW - timedelta(minutes=15)
    state = {
        "last_started_at": last.isoformat(),
        "last_full_at": (NOW - timedelta(hours=3)).isoformat(),
    }
    plan = plan_sweep(NOW, state, SETTINGS)
    assert not plan.full
    bill_from = (NOW - SETTINGS.bill_window).date().isoformat()
    assert _params(plan.passes, "bills", False) == [("search[issue_date_min]", bill_from)]
    # The expense window reaches back past the previous sweep by the overlap, plus a day
    # for FreshBooks' day-granular, US/Eastern `updated` filter.
    expense_from = (last - SETTINGS.overlap - timedelta(days=1)).date().isoformat()
    assert _params(plan.passes, "expenses", False) == [("search[updated_min]", expense_from)]
    assert _params(plan.passes, "expenses", True) == [
        ("search[updated_min]", expense_from),
        ("search[vis_state]", "1"),
    ]
    assert _params(plan.passes, "bill_vendors", False) == []


@pytest.mark.parametrize(
    ("state_extra", "full"),
    [
        ({"last_full_at": (NOW - timedelta(hours=25)).isoformat()}, True),
        ({"last_full_at": (NOW - timedelta(hours=1)).isoformat()}, False),
        (
            {
                "last_full_at": (NOW - timedelta(hours=1)).isoformat(),
                "full_requested_at": (NOW - timedelta(minutes=5)).isoformat(),
            },
            True,
        ),
    ],
)
def test_full_passes_come_daily_or_on_request(state_extra: dict[str, str], full: bool) -> None:
    state = {"last_started_at": (NOW - timedelta(minutes=15)).isoformat(), **state_extra}
    assert plan_sweep(NOW, state, SETTINGS).full is full
