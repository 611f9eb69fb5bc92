"""Every write of the flows app, as named services; import them from here (`from flows import services`).

definitions.py  checking and publishing a definition, a flow's settings, export and import, the shipped templates
drafts.py       the builder's changes to a draft, each on the flow's row locked (DraftConflict when overtaken)
runs.py         starting and advancing runs, pausing them while a person talks, ending them, the engine's effects
launches.py     starting a flow for every member of a segment, in batches
"""

from .definitions import (
    EXPORT_FORMAT,
    attribute_specs,
    flow_create,
    flow_definition_check,
    flow_draft_fingerprint,
    flow_draft_unchanged_since,
    flow_export,
    flow_import,
    flow_publish,
    flow_sells_nothing,
    flow_templates_load,
    flow_update,
)
from .drafts import (
    DraftConflict,
    flow_draft_attribute_add,
    flow_draft_node_add,
    flow_draft_node_delete,
    flow_draft_node_move,
    flow_draft_node_save,
    flow_draft_revert,
)
from .launches import LAUNCH_BATCH, flow_launch, launches_process_due
from .runs import (
    MAX_CHAINED_STARTS,
    MAX_HELD_EVENTS,
    TALKING_HOLD,
    WAIT_WHEN_BUSY,
    attribute_questions,
    engine_context,
    run_resume,
    run_start,
    runs_end_for,
    runs_for_event,
    runs_pause_check,
    runs_pause_for,
    runs_process_due,
    runs_resume_for,
    runs_start_for_phones,
)
from .runs import (
    _apply as _apply,  # re-exported: the privacy tests drive it with a refused value
)

__all__ = [
    "EXPORT_FORMAT",
    "LAUNCH_BATCH",
    "MAX_CHAINED_STARTS",
    "MAX_HELD_EVENTS",
    "TALKING_HOLD",
    "WAIT_WHEN_BUSY",
    "DraftConflict",
    "attribute_questions",
    "attribute_specs",
    "engine_context",
    "flow_create",
    "flow_definition_check",
    "flow_draft_attribute_add",
    "flow_draft_node_add",
    "flow_draft_node_delete",
    "flow_draft_node_move",
    "flow_draft_node_save",
    "flow_draft_revert",
    "flow_export",
    "flow_import",
    "flow_launch",
    "flow_publish",
    "flow_sells_nothing",
    "flow_templates_load",
    "flow_draft_fingerprint",
    "flow_draft_unchanged_since",
    "flow_update",
    "launches_process_due",
    "run_resume",
    "run_start",
    "runs_end_for",
    "runs_for_event",
    "runs_pause_check",
    "runs_pause_for",
    "runs_process_due",
    "runs_resume_for",
    "runs_start_for_phones",
]
