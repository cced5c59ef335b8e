"""Hostile input at both webhook endpoints: nothing crashes, nothing unsigned is stored.

Random bodies, headers, sizes, encodings and unicode; and — the harder case — hostile
content carrying a *valid* signature under the connection's real verifier or secret. The
rules, whatever arrives:

- never a 5xx (a 5xx makes the vendor retry the same poison forever);
- a refused delivery (400/401/403/404/413) leaves no inbox row and no job;
- an accepted FreshBooks event enqueues at most one sync, for a FreshBooks id (digits);
- an accepted Ramp event is recorded once under its event id;
- the FreshBooks handshake is the one unsigned body ever kept (its authenticity comes
  from FreshBooks accepting the verifier back), and then only with the verifier redacted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from urllib.parse import urlencode

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conftest import HookEnv, Snapshot
from ml_connector.core.signatures import freshbooks as fb_signatures

FUZZ = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
LIMIT = 64 * 1024
SYNC_KINDS = {"sync.bill", "sync.vendor", "sync.expense", "sync.category"}
FB_ID = re.compile(r"^[0-9]{1,20}$")

HOSTILE = st.sampled_from(
    [
        "../../etc/passwd", "<script>alert(1)</script>", "' OR 1=1 --", "\x00", "7\x00",
        "１２３", "9" * 40, "-1", "0x10", " 7", "7 ", "🦄", "\u202e1", "${jndi:ldap://x}",
        "%00", "7;DROP TABLE jobs", "\ud7ff", "ß" * 300, "",
    ]
)  # fmt: skip
TEXT = st.text(st.characters(codec="utf-8"), max_size=120)
VALUES = HOSTILE | TEXT | st.integers(min_value=0, max_value=10**25).map(str)
KEYS = (TEXT | st.sampled_from(["name", "object_id", "account_id", "business_id"])).filter(
    lambda k: k != "verifier"
)
NOUNS = st.sampled_from(["bill", "bill_vendor", "expense", "category", "invoice", ""]) | TEXT
VERBS = st.sampled_from(["create", "update", "delete", ""]) | TEXT
ASCII_HEADER = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=120)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)


def _fb_url(env: HookEnv) -> str:
    return f"/webhooks/freshbooks/{env.connection.id}"


def _ramp_url(env: HookEnv) -> str:
    return f"/webhooks/ramp/{env.connection.id}"


def _refused_left_nothing(env: HookEnv, before: Snapshot, status: int) -> None:
    after = env.state()
    assert after.inbox == before.inbox, f"a refused ({status}) delivery was stored"
    assert after.jobs == before.jobs, f"a refused ({status}) delivery enqueued work"


@FUZZ
@given(
    body=st.binary(max_size=2048)
    | TEXT.map(str.encode)
    | st.lists(st.tuples(KEYS, VALUES), max_size=8).map(lambda pairs: urlencode(pairs).encode()),
    signature=st.none()
    | ASCII_HEADER
    | st.binary(min_size=32, max_size=32).map(lambda raw: base64.b64encode(raw).decode()),
    content_type=st.sampled_from(
        ["application/x-www-form-urlencoded", "application/json", "text/plain; charset=utf-16", ""]
    ),
)
def test_freshbooks_unsigned_or_forged_bodies_are_refused_and_never_stored(
    hooks: HookEnv, body: bytes, signature: str | None, content_type: str
) -> None:
    try:
        fields = dict(fb_signatures.parse_form(body))
    except fb_signatures.InvalidDeliveryError:
        fields = {}
    assume("verifier" not in fields)  # the handshake has its own test below
    headers = {"Content-Type": content_type} if content_type else {}
    if signature is not None:
        headers[fb_signatures.SIGNATURE_HEADER] = signature
    before = hooks.state()
    answer = hooks.send(_fb_url(hooks), body, headers)
    assert answer.status_code in (400, 401), (answer.status_code, answer.text)
    _refused_left_nothing(hooks, before, answer.status_code)


@FUZZ
@given(
    noun=NOUNS,
    verb=VERBS,
    object_id=st.integers(min_value=1, max_value=10**12).map(str) | HOSTILE | TEXT,
    account=st.sampled_from(["genuine", "other", "missing"]),
    extra=st.lists(st.tuples(KEYS, VALUES), max_size=5),
    shuffle=st.booleans(),
)
def test_freshbooks_hostile_content_under_a_valid_signature(  # noqa: PLR0917 - drawn by name
    hooks: HookEnv,
    noun: str,
    verb: str,
    object_id: str,
    account: str,
    extra: list[tuple[str, str]],
    shuffle: bool,
) -> None:
    fields = [("name", f"{noun}.{verb}" if verb else noun), ("object_id", object_id)]
    if account != "missing":
        genuine = hooks.connection.freshbooks_account_id or ""
        fields.append(("account_id", genuine if account == "genuine" else "ZZ" + genuine))
    fields += extra
    if shuffle:
        fields.reverse()
    body = urlencode(fields).encode()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        fb_signatures.SIGNATURE_HEADER: fb_signatures.compute_signature(body, hooks.verifier),
    }
    before = hooks.state()
    answer = hooks.send(_fb_url(hooks), body, headers)
    assert answer.status_code in (200, 400, 403), (answer.status_code, answer.text)
    if answer.status_code != 200:
        _refused_left_nothing(hooks, before, answer.status_code)
        return
    work = [(kind, args) for kind, args in hooks.jobs_since(before) if kind in SYNC_KINDS]
    assert len(work) <= 1, work
    for _kind, args in work:
        assert FB_ID.match(str(args["fb_id"])), f"a sync was enqueued for {args['fb_id']!r}"
        assert args["connection_id"] == hooks.connection.id


@FUZZ
@given(
    callback_id=st.integers(min_value=1, max_value=10**9).map(str) | HOSTILE,
    verifier=st.text(st.characters(categories=("L", "N", "P", "S")), min_size=8, max_size=64),
    account=st.sampled_from(["genuine", "other", "missing"]),
)
def test_freshbooks_handshake_is_kept_only_with_its_verifier_redacted(
    hooks: HookEnv, callback_id: str, verifier: str, account: str
) -> None:
    fields = [("name", "callback.verify"), ("object_id", callback_id), ("verifier", verifier)]
    if account != "missing":
        genuine = hooks.connection.freshbooks_account_id or ""
        fields.append(("account_id", genuine if account == "genuine" else "ZZ" + genuine))
    body = urlencode(fields).encode()
    before = hooks.state()
    answer = hooks.send(_fb_url(hooks), body, {"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code in (200, 400, 403), (answer.status_code, answer.text)
    if answer.status_code != 200:
        _refused_left_nothing(hooks, before, answer.status_code)
        return
    after = hooks.state()
    encoded = urlencode([("v", verifier)]).encode()[2:]
    for stored in after.inbox_bodies:
        assert verifier.encode() not in stored
        assert encoded not in stored
    kinds = {kind for kind, _ in hooks.jobs_since(before)}
    assert kinds <= {"freshbooks.verify_callback"}, kinds


@FUZZ
@given(pad=st.integers(min_value=LIMIT - 64, max_value=LIMIT + 64))
def test_freshbooks_size_limit_holds_for_signed_bodies(hooks: HookEnv, pad: int) -> None:
    account = hooks.connection.freshbooks_account_id or ""
    head = f"name=bill.update&object_id=7&account_id={account}&pad="
    body = (head + "a" * max(pad - len(head), 0)).encode()
    headers = {
        fb_signatures.SIGNATURE_HEADER: fb_signatures.compute_signature(body, hooks.verifier)
    }
    before = hooks.state()
    answer = hooks.send(_fb_url(hooks), body, headers)
    if len(body) > LIMIT:
        assert answer.status_code == 413
        _refused_left_nothing(hooks, before, 413)
    else:
        assert answer.status_code == 200, answer.text


def _ramp_sign(body: bytes, secret: str, encoding: str) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    if encoding == "hex":
        return digest.hex()
    return base64.b64encode(digest).decode()


@FUZZ
@given(
    body=st.binary(max_size=2048) | JSON.map(lambda v: json.dumps(v).encode()),
    signature=st.none() | ASCII_HEADER,
    header=st.sampled_from(["X-Ramp-Signature", "X-Ramp-Webhook-Signature", "x-ramp-signature"]),
)
def test_ramp_unsigned_or_forged_bodies_are_refused_and_never_stored(
    hooks: HookEnv, body: bytes, signature: str | None, header: str
) -> None:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers[header] = signature
    before = hooks.state()
    answer = hooks.send(_ramp_url(hooks), body, headers)
    assert answer.status_code == 401, (answer.status_code, answer.text)
    _refused_left_nothing(hooks, before, 401)


@FUZZ
@given(
    event_id=st.uuids().map(str) | HOSTILE | TEXT,
    event_type=st.sampled_from(["bills.paid", "webhooks.verification", ""]) | TEXT,
    business=st.sampled_from(["genuine", "other", "missing", "not-a-string"]),
    payload=JSON,
    raw=st.booleans(),
    encoding=st.sampled_from(["hex", "base64"]),
)
def test_ramp_hostile_content_under_a_valid_signature(  # noqa: PLR0917 - drawn by name
    hooks: HookEnv,
    event_id: str,
    event_type: str,
    business: str,
    payload: object,
    raw: bool,
    encoding: str,
) -> None:
    envelope: dict[str, object] = {"id": event_id, "type": event_type, "object": payload}
    genuine = hooks.connection.ramp_business_id or ""
    if business == "genuine":
        envelope["business_id"] = genuine
    elif business == "other":
        envelope["business_id"] = genuine[::-1]
    elif business == "not-a-string":
        envelope["business_id"] = [genuine]
    body = json.dumps(payload).encode() if raw else json.dumps(envelope).encode()
    headers = {"X-Ramp-Signature": _ramp_sign(body, hooks.ramp_secret, encoding)}
    before = hooks.state()
    answer = hooks.send(_ramp_url(hooks), body, headers)
    assert answer.status_code in (200, 400, 403), (answer.status_code, answer.text)
    if answer.status_code != 200:
        _refused_left_nothing(hooks, before, answer.status_code)
        return
    after = hooks.state()
    assert after.inbox - before.inbox in (0, 1)  # 0: a duplicate of an earlier example
    kinds = [kind for kind, _ in hooks.jobs_since(before)]
    assert len(kinds) == after.inbox - before.inbox
    assert set(kinds) <= {"ramp.event", "ramp.verify_webhook"}, kinds
