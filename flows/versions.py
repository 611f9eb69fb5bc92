"""A readable difference between two flow definitions: which nodes were added, removed or changed, and how."""

import json

SHOWN_LENGTH = 120


def definition_diff(before: dict, after: dict) -> list[dict]:
    """One row per change: {"node", "change": added|removed|changed|start, "details": [text…]}."""
    old = {node.get("id"): node for node in (before or {}).get("nodes", []) if isinstance(node, dict)}
    new = {node.get("id"): node for node in (after or {}).get("nodes", []) if isinstance(node, dict)}
    rows = []
    if (before or {}).get("start") != (after or {}).get("start"):
        rows.append(
            {"node": "", "change": "start", "details": [f"starts at {(after or {}).get('start') or 'the first node'}"]}
        )
    for node_id in new:
        if node_id not in old:
            rows.append({"node": node_id, "change": "added", "details": [_summary(new[node_id])]})
    for node_id in old:
        if node_id not in new:
            rows.append({"node": node_id, "change": "removed", "details": [_summary(old[node_id])]})
    for node_id in new:
        if node_id in old and new[node_id] != old[node_id]:
            rows.append(
                {"node": node_id, "change": "changed", "details": list(_field_changes(old[node_id], new[node_id]))}
            )
    if [n for n in old if n in new] != [n for n in new if n in old]:
        rows.append({"node": "", "change": "order", "details": ["the cards were reordered"]})
    return rows


def _field_changes(before: dict, after: dict, prefix: str = ""):
    for key in sorted(set(before) | set(after)):
        name = f"{prefix}{key}"
        if key not in after:
            yield f"{name}: removed (was {_show(before[key])})"
        elif key not in before:
            yield f"{name}: set to {_show(after[key])}"
        elif before[key] != after[key]:
            if isinstance(before[key], dict) and isinstance(after[key], dict):
                yield from _field_changes(before[key], after[key], f"{name}.")
            else:
                yield f"{name}: {_show(before[key])} → {_show(after[key])}"


def _summary(node: dict) -> str:
    text = f" “{node['text']}”" if isinstance(node.get("text"), str) else ""
    return f"{node.get('type', '?')}{_cut(text)}"


def _show(value) -> str:
    return _cut(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))


def _cut(text: str) -> str:
    return text if len(text) <= SHOWN_LENGTH else text[: SHOWN_LENGTH - 1] + "…"
