"""The flow drawn as a graph: nodes in layers by their distance from the start, edges labelled by why they are
taken, and how many runs passed each node. Pure; the template draws the SVG from what `layout` returns."""

from dataclasses import dataclass, field

from .definition import node_targets

BOX_WIDTH, BOX_HEIGHT, GAP_X, GAP_Y, MARGIN = 190, 54, 30, 56, 16
EDGE_LABELS = {
    "next": "",
    "else": "else",
    "timeout_next": "no event",
    "other.next": "no match",
    "no_reply.next": "no reply",
}


@dataclass
class Box:
    id: str
    type: str
    title: str
    x: int
    y: int
    runs: int = 0
    reachable: bool = True


@dataclass
class Edge:
    source: str
    target: str
    label: str
    points: tuple[int, int, int, int] = (0, 0, 0, 0)

    @property
    def label_x(self) -> int:
        return (self.points[0] + self.points[2]) // 2 + 4

    @property
    def label_y(self) -> int:
        return (self.points[1] + self.points[3]) // 2


@dataclass
class Diagram:
    boxes: list[Box] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    width: int = 0
    height: int = 0


def layout(definition: dict, titles: dict[str, str], runs_at: dict[str, int] | None = None) -> Diagram:
    """Place every node: a breadth-first layer from the start node; unreachable nodes in a last row."""
    nodes = {node["id"]: node for node in definition.get("nodes", []) if isinstance(node, dict) and "id" in node}
    if not nodes:
        return Diagram(width=2 * MARGIN, height=2 * MARGIN)
    start = definition.get("start") if definition.get("start") in nodes else next(iter(nodes))
    depth = {start: 0}
    queue = [start]
    while queue:
        node_id = queue.pop(0)
        for _, target in node_targets(nodes[node_id]):
            if target in nodes and target not in depth:
                depth[target] = depth[node_id] + 1
                queue.append(target)
    last = max(depth.values()) + 1
    layers: dict[int, list[str]] = {}
    for node_id in nodes:  # keep the cards' order within a layer
        layers.setdefault(depth.get(node_id, last), []).append(node_id)
    runs_at = runs_at or {}
    diagram = Diagram()
    position = {}
    for row, ids in sorted(layers.items()):
        for column, node_id in enumerate(ids):
            x = MARGIN + column * (BOX_WIDTH + GAP_X)
            y = MARGIN + row * (BOX_HEIGHT + GAP_Y)
            position[node_id] = (x, y)
            node = nodes[node_id]
            diagram.boxes.append(
                Box(
                    node_id,
                    node["type"],
                    titles.get(node["type"], node["type"]),
                    x,
                    y,
                    runs_at.get(node_id, 0),
                    node_id in depth,
                )
            )
    for node_id, node in nodes.items():
        for field_name, target in node_targets(node):
            if target not in position:
                continue
            label = EDGE_LABELS.get(field_name)
            if label is None:  # a branch
                index = int(field_name.split("[")[1].split("]")[0])
                label = _branch_label(node, index)
            (x1, y1), (x2, y2) = position[node_id], position[target]
            diagram.edges.append(
                Edge(node_id, target, label, (x1 + BOX_WIDTH // 2, y1 + BOX_HEIGHT, x2 + BOX_WIDTH // 2, y2))
            )
    diagram.width = max(x for x, _ in position.values()) + BOX_WIDTH + MARGIN
    diagram.height = max(y for _, y in position.values()) + BOX_HEIGHT + MARGIN
    return diagram


def _branch_label(node: dict, index: int) -> str:
    branch = node.get("branches", [])[index]
    if "values" in branch:
        return ", ".join(str(value) for value in branch["values"])[:24]
    if "percent" in branch:
        return f"{branch['percent']} %"
    what = branch.get("attribute") or (f"tag {branch['tag']}" if branch.get("tag") else branch.get("status", ""))
    return f"{what} {branch.get('op', '')} {branch.get('value', '')}".strip()[:24]
