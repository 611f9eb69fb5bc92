"""The flow builder's changes to a draft, each made by one service with the flow's row locked.

Every change is made on the draft as it is in the database, with the flow's row locked: two editors saving at once
queue up, and the second change applies on top of the first. Only a card saved from a form older than the node
(someone else saved that node meanwhile), or a change to a node someone else deleted, is refused with a
DraftConflict, since applying it would silently undo the other person's work.
"""

from contextlib import contextmanager

from django.core.exceptions import ValidationError
from django.db import transaction

from conversations import services as conversations
from conversations.models import AttributeDefinition

from .. import editor
from ..models import Flow


class DraftConflict(ValidationError):
    """A draft change that another editor's change overtook; nothing was saved."""

    def __init__(self, message: str, *, node: str = ""):
        super().__init__(message)
        self.node = node  # the node whose card to open again, showing the other editor's version ("" for none)


@contextmanager
def _draft_locked(flow_id: int):
    """The flow with its row locked, its draft saved on leaving (not when the block raises); Flow.DoesNotExist
    for a flow that is not there."""
    with transaction.atomic():
        flow = Flow.objects.select_for_update().get(pk=flow_id)
        yield flow
        flow.save(update_fields=["draft", "updated_at"])


def _draft_node(flow: Flow, node_id: str) -> dict:
    for node in (flow.draft or {}).get("nodes", []):
        if isinstance(node, dict) and node.get("id") == node_id:
            return node
    raise DraftConflict(
        f"There is no node {node_id} in the draft any more (someone may have deleted it while you had it open): "
        "nothing was changed."
    )


def flow_draft_node_add(*, flow_id: int, node_type: str, after: str | None = None) -> tuple[Flow, str]:
    """Add a new node of a type after `after` (or last) to the flow's draft; return the flow and the node's id."""
    with _draft_locked(flow_id) as flow:
        flow.draft, node_id = editor.node_add(flow.draft, node_type, after=after)
    return flow, node_id


def flow_draft_node_save(*, flow_id: int, node_id: str, form, seen: str = "") -> Flow:
    """Save a card's form (a QueryDict) into its node, refused if the node changed since the card showed `seen`."""
    with _draft_locked(flow_id) as flow:
        node = _draft_node(flow, node_id)
        if seen and seen != editor.node_fingerprint(node):
            raise DraftConflict(
                f"Someone else saved {node_id} while you were editing it, so your changes were not saved: "
                "the card shows their version now; make your change again.",
                node=node_id,
            )
        flow.draft = editor.node_replace(flow.draft, node_id, editor.node_from_form(node, form))
    return flow


def flow_draft_node_delete(*, flow_id: int, node_id: str) -> Flow:
    """Delete a node from the flow's draft; what pointed at it points nowhere (the checks say so)."""
    with _draft_locked(flow_id) as flow:
        _draft_node(flow, node_id)
        flow.draft = editor.node_delete(flow.draft, node_id)
    return flow


def flow_draft_node_move(*, flow_id: int, node_id: str, step: int) -> Flow:
    """Move a node's card up (-1) or down (+1) in the flow's draft."""
    with _draft_locked(flow_id) as flow:
        _draft_node(flow, node_id)
        flow.draft = editor.node_move(flow.draft, node_id, step)
    return flow


def flow_draft_attribute_add(*, flow_id: int, node_id: str, definition: AttributeDefinition) -> Flow:
    """Create an attribute (checked by conversations) and make the question `node_id` save its answers there."""
    with _draft_locked(flow_id) as flow:
        node = _draft_node(flow, node_id)
        conversations.attribute_definition_save(definition=definition)
        flow.draft = editor.node_replace(flow.draft, node_id, {**node, "attribute": definition.key})
    return flow


def flow_draft_revert(*, flow_id: int, number: int) -> Flow:
    """Make a published version the flow's draft again (FlowVersion.DoesNotExist for a number it never had)."""
    with _draft_locked(flow_id) as flow:
        flow.draft = flow.versions.get(number=number).definition
    return flow
