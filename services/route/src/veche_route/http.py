"""Route's HTTP API: competence rules (admin, versioned, audited) and assignment deadlines.

* ``GET /rules`` (``ETag``: the rule book version), ``GET /rules/{id}`` (``ETag``: its revision)
* ``POST /rules`` → 201; ``PUT /rules/{id}`` and ``DELETE /rules/{id}`` need the revision the
  client saw — ``If-Match: "3"`` or ``"version": 3`` in the body (428 without, 409 when stale)
* ``GET /rules/audit`` — who changed what and when, with before/after
* ``GET /appeals/{appeal_id}/assignments`` — each body's term, extension, notices
* ``POST /assignments/{assignment_id}/extension`` — the one 59-ФЗ extension (409 the second time)

Every change needs ``X-Veche-Actor`` (who; stored in the audit log, never logged). Invalid rules
get 422 with the reasons.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Header, HTTPException, Query, Response
from pydantic import BaseModel, Field

from .domain.rules import RuleSpec
from .domain.ruleset import Change
from .rulebook import (
    InvalidRuleError,
    RuleExistsError,
    RuleNotFoundError,
    RuleSource,
    StaleRevisionError,
)
from .storage import RouteStore
from .watcher import AlreadyExtendedError, AssignmentNotFoundError, DeadlineWatcher

Actor = Annotated[
    str,
    Header(
        alias="X-Veche-Actor",
        min_length=1,
        max_length=100,
        description="who makes the change (recorded in the audit log)",
    ),
]
IfMatch = Annotated[str | None, Header(alias="If-Match", description='the revision, e.g. "3"')]


class RuleUpdate(RuleSpec):
    version: int | None = Field(default=None, ge=1, description="revision seen (or If-Match)")


class Extension(BaseModel):
    days: int = Field(ge=1, le=30, description="calendar days added to the answer term")
    reason: str = Field(min_length=1, max_length=1000)


def rule_view(revision: int, spec: RuleSpec) -> dict[str, Any]:
    return spec.data() | {"version": revision}


def change_view(change: Change) -> dict[str, Any]:
    return {
        "rules_version": change.version,
        "rule_id": change.rule_id,
        "version": change.revision,
        "operation": change.operation.value,
        "actor": change.actor,
        "at": change.at.isoformat(),
        "before": change.before,
        "after": change.after,
    }


def expected_revision(if_match: str | None, body_version: int | None) -> int:
    if if_match is not None:
        value = if_match.strip().removeprefix("W/").strip('"')
        if not value.isdigit():
            raise HTTPException(400, 'If-Match must be a rule version such as "3"')
        return int(value)
    if body_version is not None:
        return body_version
    raise HTTPException(428, "send the version you saw: If-Match header or 'version' field")


def create_api(source: RuleSource, store: RouteStore, watcher: DeadlineWatcher) -> FastAPI:
    api = FastAPI(title="Veche route", version="1", summary="competence rules and deadlines")

    @api.get("/rules")
    async def list_rules(response: Response) -> dict[str, Any]:
        await source.refresh()
        response.headers["ETag"] = f'"{source.state.version}"'
        return {
            "rules_version": source.state.version,
            "rules": [rule_view(revision, spec) for revision, spec in source.state.live()],
        }

    @api.get("/rules/audit")
    async def audit(
        rule_id: str | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> dict[str, Any]:
        changes = [Change.from_document(doc) for doc in await store.audit(rule_id, limit)]
        return {"changes": [change_view(change) for change in changes]}

    @api.get("/rules/{rule_id}")
    async def get_rule(rule_id: str, response: Response) -> dict[str, Any]:
        current = await _current(rule_id)
        assert current.spec is not None
        response.headers["ETag"] = f'"{current.revision}"'
        return rule_view(current.revision, current.spec)

    @api.post("/rules", status_code=201)
    async def create_rule(spec: RuleSpec, actor: Actor, response: Response) -> dict[str, Any]:
        try:
            change = await source.create(spec, actor)
        except RuleExistsError:
            raise HTTPException(409, f"rule {spec.id!r} exists; update it instead") from None
        except InvalidRuleError as error:
            raise HTTPException(422, error.reasons) from None
        response.headers["ETag"] = f'"{change.revision}"'
        return change_view(change)

    @api.put("/rules/{rule_id}")
    async def update_rule(
        rule_id: str, body: RuleUpdate, actor: Actor, response: Response, if_match: IfMatch = None
    ) -> dict[str, Any]:
        if body.id != rule_id:
            raise HTTPException(422, [f"id: the body names {body.id!r}, the path {rule_id!r}"])
        expected = expected_revision(if_match, body.version)
        spec = RuleSpec.model_validate(body.model_dump(by_alias=True, exclude={"version"}))
        try:
            change = await source.update(spec, expected, actor)
        except RuleNotFoundError:
            raise HTTPException(404, f"no rule {rule_id!r}") from None
        except StaleRevisionError as error:
            raise _conflict(rule_id, error) from None
        except InvalidRuleError as error:
            raise HTTPException(422, error.reasons) from None
        response.headers["ETag"] = f'"{change.revision}"'
        return change_view(change)

    @api.delete("/rules/{rule_id}")
    async def delete_rule(
        rule_id: str,
        actor: Actor,
        if_match: IfMatch = None,
        version: Annotated[int | None, Query(ge=1)] = None,
    ) -> dict[str, Any]:
        expected = expected_revision(if_match, version)
        try:
            change = await source.delete(rule_id, expected, actor)
        except RuleNotFoundError:
            raise HTTPException(404, f"no rule {rule_id!r}") from None
        except StaleRevisionError as error:
            raise _conflict(rule_id, error) from None
        return change_view(change)

    @api.get("/appeals/{appeal_id}/assignments")
    async def assignments(appeal_id: str) -> dict[str, Any]:
        docs = await store.appeal_assignments(appeal_id)
        if not docs:
            raise HTTPException(404, "no assignments for this appeal (not routed yet?)")
        answered = bool(await store.answered({appeal_id}))  # an answer closes every term
        return {
            "appeal_id": appeal_id,
            "answered": answered,
            "assignments": [_assignment_view(d, answered) for d in docs],
        }

    @api.post("/assignments/{assignment_id}/extension")
    async def extend(assignment_id: str, body: Extension, actor: Actor) -> dict[str, Any]:
        try:
            due_at = await watcher.extend(assignment_id, body.days, body.reason, actor)
        except AssignmentNotFoundError:
            raise HTTPException(404, f"no assignment {assignment_id!r}") from None
        except AlreadyExtendedError:
            raise HTTPException(409, "the answer term was already extended once") from None
        except ValueError as error:
            raise HTTPException(422, [str(error)]) from None
        return {"assignment_id": assignment_id, "answer_by": due_at.isoformat(), "extended": True}

    async def _current(rule_id: str) -> Any:
        try:
            return await source.current(rule_id)
        except RuleNotFoundError:
            raise HTTPException(404, f"no rule {rule_id!r}") from None

    return api


def _conflict(rule_id: str, error: StaleRevisionError) -> HTTPException:
    return HTTPException(
        409,
        f"rule {rule_id!r} changed meanwhile: it is at version {error.current}; "
        "re-read it and apply your change again",
        headers={"ETag": f'"{error.current}"'},
    )


def _assignment_view(doc: dict[str, Any], answered: bool) -> dict[str, Any]:
    return {
        "assignment_id": doc["_id"],
        "role": doc["role"],
        "executor": doc["executor"],
        "supervisor": doc.get("supervisor"),
        "rule_id": doc["rule_id"],
        "answer_by": doc["due_at"].isoformat(),
        "extended": doc.get("extended", False),
        "answered": answered,
    }
