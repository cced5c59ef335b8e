"""The mapping editors save validated versions; the inbox replays parked jobs."""

from __future__ import annotations

import pytest
from admin_env import AdminEnv

from ml_connector.clients.ramp.models import GLAccountUpload
from ml_connector.core.flow_config import load_flow_config
from ml_connector.queue import JobState, get
from ml_connector.store import connections as connections_store
from ml_connector.store import mappings as mappings_store
from ml_connector.store import read


async def connected(env: AdminEnv) -> int:
    """An authorized connection with two GL accounts in Ramp and a started configuration."""
    connection = await env.h.connect()
    async with await env.h.runtime.ramp_client(connection) as ramp:
        await ramp.accounting.ensure_connection()
        await ramp.accounting.gl_accounts.upload(
            [
                GLAccountUpload(id="gl-6100", name="Travel", classification="EXPENSE", code="6100"),
                GLAccountUpload(
                    id="gl-6200", name="Office Supplies", classification="EXPENSE", code="6200"
                ),
            ]
        )
    async with env.h.engine.begin() as db:
        await connections_store.update(
            db, connection.id, now=env.h.clock.now(), ramp_entity_id="entity-1"
        )
    started = await env.post(f"/connections/{connection.id}/mappings/start", {})
    assert started.status_code == 303
    return connection.id


async def current_text(env: AdminEnv, connection_id: int) -> tuple[int, str]:
    async with read(env.h.engine) as db:
        version = await mappings_store.current(db, connection_id)
    assert version is not None
    return version.version, version.text


@pytest.mark.anyio
async def test_gl_editor_shows_suggestions_and_coverage_and_saves_a_version(
    signed_in: AdminEnv,
) -> None:
    env = signed_in
    connection_id = await connected(env)
    page = await env.client.get(f"/connections/{connection_id}/mappings")
    assert page.status_code == 200
    assert "needs attention" in page.text  # nothing mapped yet
    assert "6100 Travel" in page.text  # suggested for the Travel category
    categories = {
        chunk.split('"')[0]: chunk.split(">")[1].split("<")[0]
        for chunk in page.text.split('<label for="gl-')[1:]
    }
    travel_id = next(cid for cid, name in categories.items() if name == "Travel")

    saved = await env.post(
        f"/connections/{connection_id}/mappings/gl",
        {f"gl__{travel_id}": "gl-6100"},
        token_from=f"/connections/{connection_id}/mappings",
    )
    assert saved.status_code == 303
    version, text = await current_text(env, connection_id)
    assert version == 2
    config = load_flow_config(text)
    assert not hasattr(config, "errors")
    assert [(m.category, m.gl_account) for m in config.gl.mappings] == [("Travel", "gl-6100")]  # type: ignore[union-attr]
    after = await env.client.get(f"/connections/{connection_id}/mappings")
    assert "GL mapping saved as version 2" in after.text
    assert "explicit" in after.text

    unknown = await env.post(
        f"/connections/{connection_id}/mappings/gl",
        {f"gl__{travel_id}": "no-such-account"},
        token_from=f"/connections/{connection_id}/mappings",
    )
    assert unknown.status_code == 303
    assert (await current_text(env, connection_id))[0] == 2


@pytest.mark.anyio
async def test_whole_file_editor_refuses_invalid_toml_with_the_line(signed_in: AdminEnv) -> None:
    env = signed_in
    connection_id = await connected(env)
    _, text = await current_text(env, connection_id)
    broken = text.replace("[vendors]", "[vendors]\nauto_match_treshold = 90", 1)
    answer = await env.post(
        f"/connections/{connection_id}/mappings/document",
        {"document": broken},
        token_from=f"/connections/{connection_id}/mappings",
    )
    assert answer.status_code == 303
    page = await env.client.get(answer.headers["location"])
    assert "Not saved" in page.text
    assert "auto_match_treshold" in page.text
    assert "editor:" in page.text  # the error names its line
    assert (await current_text(env, connection_id))[0] == 1


@pytest.mark.anyio
async def test_cost_center_terms_and_vendor_link_edits_each_make_a_version(
    signed_in: AdminEnv,
) -> None:
    env = signed_in
    connection_id = await connected(env)
    base = f"/connections/{connection_id}"
    rule = await env.post(
        f"{base}/cost-centers/rules",
        {"description": "Travel to Ops", "field": "Department", "option": "Ops",
         "category": "Travel, Airfare", "vendor": "", "staff": "", "client": "", "project": ""},
        token_from=f"{base}/cost-centers",
    )  # fmt: skip
    assert rule.status_code == 303
    terms = await env.post(
        f"{base}/terms",
        {"action": "set", "vendor": "Acme", "terms": "Net 45"},
        token_from=f"{base}/terms",
    )
    assert terms.status_code == 303
    bad_terms = await env.post(
        f"{base}/terms",
        {"action": "set", "vendor": "Acme", "terms": "whenever"},
        token_from=f"{base}/terms",
    )
    assert bad_terms.status_code == 303
    link = await env.post(
        f"{base}/vendors/links",
        {"freshbooks_vendor_id": "31", "ramp_vendor_id": "ramp-v-1"},
        token_from=f"{base}/vendors",
    )
    assert link.status_code == 303
    version, text = await current_text(env, connection_id)
    assert version == 4
    config = load_flow_config(text)
    assert config.cost_centers.rules[0].when.category == ("Travel", "Airfare")  # type: ignore[union-attr]
    assert [(t.vendor, t.terms) for t in config.vendors.terms] == [("Acme", "Net 45")]  # type: ignore[union-attr]
    assert [(v.freshbooks_vendor_id, v.ramp_vendor_id) for v in config.vendors.links] == [  # type: ignore[union-attr]
        ("31", "ramp-v-1")
    ]
    page = await env.client.get(f"{base}/cost-centers")
    assert "Travel to Ops" in page.text
    assert "category is Travel or Airfare" in page.text


@pytest.mark.anyio
async def test_inbox_replays_one_job_or_a_selection(signed_in: AdminEnv) -> None:
    env = signed_in
    connection = await env.h.connect()
    dead = await env.dead_job(connection.id)
    parked = await env.dead_job(connection.id, attention=True)
    inbox = await env.client.get("/attention")
    assert "Ramp said no" in inbox.text
    assert "two Ramp vendors match" in inbox.text

    one = await env.post("/attention/replay", {"only": str(dead)}, token_from="/attention")
    assert one.status_code == 303
    async with read(env.h.engine) as db:
        replayed = await get(db, dead)
        untouched = await get(db, parked)
    assert replayed is not None
    assert untouched is not None
    assert replayed.state is JobState.AVAILABLE
    assert replayed.replayed_by == "admin:admin"
    assert untouched.state is JobState.ATTENTION

    token = await env.token("/attention")
    bulk = await env.client.post(
        "/attention/replay",
        data={"job_id": [str(dead), str(parked)], "mapping": "original", "csrf_token": token},
    )
    assert bulk.status_code == 303
    page = await env.client.get("/attention")
    assert "Replayed 1 job(s) with the original mapping" in page.text
    assert "1 were no longer waiting" in page.text
    async with read(env.h.engine) as db:
        job = await get(db, parked)
    assert job is not None
    assert job.state is JobState.AVAILABLE
    assert job.args["_replay"]["mapping"] == "original"


@pytest.mark.anyio
async def test_vendor_review_queue_links_and_replays(signed_in: AdminEnv) -> None:
    env = signed_in
    connection_id = await connected(env)
    parked = await env.dead_job(connection_id, attention=True)
    base = f"/connections/{connection_id}"
    page = await env.client.get(f"{base}/vendors")
    assert "two Ramp vendors match" in page.text
    answer = await env.post(
        f"{base}/vendors/links",
        {"freshbooks_vendor_id": "77", "ramp_vendor_id": "ramp-v-9", "job_id": str(parked)},
        token_from=f"{base}/vendors",
    )
    assert answer.status_code == 303
    async with read(env.h.engine) as db:
        job = await get(db, parked)
    assert job is not None
    assert job.state is JobState.AVAILABLE
    _, text = await current_text(env, connection_id)
    assert 'ramp_vendor_id = "ramp-v-9"' in text


@pytest.mark.anyio
async def test_run_setup_then_review_the_suggested_mapping(signed_in: AdminEnv) -> None:
    env = signed_in
    connection = await env.h.connect()
    base = f"/connections/{connection.id}"
    answer = await env.post(f"{base}/setup", {}, token_from=base)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"{base}/mappings"
    page = await env.client.get(answer.headers["location"])
    assert "Setup finished" in page.text
    assert 'id="coverage-summary"' in page.text
    version, _ = await current_text(env, connection.id)
    assert version == 1
