"""The flow drawn as a graph: nodes in rows by their distance from the start, edges labelled by why they are
taken, and how many runs passed each node. Pure; the template draws the SVG from what `layout` returns."""

from dataclasses import dataclass, field

from .definition import node_targets

BOX_WIDTH, BOX_HEIGHT, GAP_X, GAP_Y, MARGIN = 190, 54, 30, 56, 16
BEND = BOX_WIDTH + GAP_X  # the middle of a curved edge passes half this beside the line: in the gap between boxes
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
    stopped: int = 0  # runs that expired or were interrupted here: the drop-off


@dataclass
class Edge:
    source: str
    target: str
    label: str
    points: tuple[int, int, int, int] = (0, 0, 0, 0)
    stacked: int = 0  # labels of the edges before it between the same two nodes
    bend: int = 0  # how far the curve's control point is pulled sideways; 0 is a straight line
    runs: int | None = None  # runs that went from source to target; None on a second edge between them

    @property
    def text(self) -> str:
        counted = f"{self.runs} run{'s' if self.runs != 1 else ''}" if self.runs else ""
        return " · ".join(part for part in (self.label, counted) if part)

    @property
    def path(self) -> str:
        x1, y1, x2, y2 = self.points
        if not self.bend:
            return f"M{x1},{y1} L{x2},{y2}"
        return f"M{x1},{y1} Q{(x1 + x2) // 2 + self.bend},{(y1 + y2) // 2} {x2},{y2}"

    @property
    def label_x(self) -> int:
        return (self.points[0] + self.points[2]) // 2 + self.bend // 2 + 4  # the curve's middle

    @property
    def label_y(self) -> int:
        return (self.points[1] + self.points[3]) // 2 + 13 * self.stacked


@dataclass
class Diagram:
    boxes: list[Box] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    width: int = 0
    height: int = 0


def layout(definition: dict, titles: dict[str, str], counts=None) -> Diagram:
    """Place every node: a row by its longest distance from the start node; unreachable nodes in a last row."""
    nodes = {node["id"]: node for node in definition.get("nodes", []) if isinstance(node, dict) and "id" in node}
    if not nodes:
        return Diagram(width=2 * MARGIN, height=2 * MARGIN)
    start = definition.get("start") if definition.get("start") in nodes else next(iter(nodes))
    depth = _depths(nodes, start)
    last = max(depth.values()) + 1
    layers: dict[int, list[str]] = {}
    for node_id in nodes:  # keep the cards' order within a layer
        layers.setdefault(depth.get(node_id, last), []).append(node_id)
    runs_at = counts.nodes if counts else {}
    stopped = counts.stopped if counts else {}
    steps = counts.steps if counts else {}
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
                    stopped.get(node_id, 0),
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
            if field_name == "next" and node["type"] == "ask_question":
                label = "other answers" if node.get("branches") else "answered"
            edge = Edge(node_id, target, label, _points(position[node_id], position[target]))
            if not any((e.source, e.target) == (node_id, target) for e in diagram.edges):
                edge.runs = steps.get((node_id, target), 0)  # runs that went this way (once per pair of nodes)
            if abs(position[target][1] - position[node_id][1]) > BOX_HEIGHT + GAP_Y:
                # Past a row: a straight line would run through the boxes between, so it curves around them.
                edge.bend = BEND if position[target][0] >= position[node_id][0] else -BEND
            # Edges between the same two nodes share a line: their labels go one under the other.
            edge.stacked = sum(e.text != "" for e in diagram.edges if (e.source, e.target) == (node_id, target))
            diagram.edges.append(edge)
    diagram.width = max(x for x, _ in position.values()) + BOX_WIDTH + MARGIN
    # Room for a curve out of the last column, and its label.
    diagram.width = max([diagram.width] + [edge.label_x + 90 for edge in diagram.edges if edge.bend > 0])
    diagram.height = max(y for _, y in position.values()) + BOX_HEIGHT + MARGIN
    return diagram


def _depths(nodes: dict[str, dict], start: str) -> dict[str, int]:
    """Each reachable node's row: its longest distance from the start, so that every edge points down the page
    (an edge back up a loop is left out of the count). Unreachable nodes are not in the result."""
    order, seen, on_path = [], {start}, {start}
    stack = [(start, iter(node_targets(nodes[start])))]
    back = set()
    while stack:  # depth first, without recursion: the finishing order reversed is a topological order
        node_id, targets = stack[-1]
        for _, target in targets:
            if target not in nodes:
                continue
            if target in on_path:
                back.add((node_id, target))
            elif target not in seen:
                seen.add(target)
                on_path.add(target)
                stack.append((target, iter(node_targets(nodes[target]))))
                break
        else:
            stack.pop()
            on_path.discard(node_id)
            order.append(node_id)
    depth = dict.fromkeys(seen, 0)
    for node_id in reversed(order):
        for _, target in node_targets(nodes[node_id]):
            if target in nodes and (node_id, target) not in back:
                depth[target] = max(depth[target], depth[node_id] + 1)
    return depth


def _points(source: tuple[int, int], target: tuple[int, int]) -> tuple[int, int, int, int]:
    """Where an edge's line starts and ends: bottom to top going down, side to side within a row, and top to
    bottom going back up, so that no line runs through the boxes it joins."""
    (x1, y1), (x2, y2) = source, target
    if y2 > y1:
        return (x1 + BOX_WIDTH // 2, y1 + BOX_HEIGHT, x2 + BOX_WIDTH // 2, y2)
    if y2 == y1:
        middle = y1 + BOX_HEIGHT // 2
        return (x1 + BOX_WIDTH, middle, x2, middle) if x2 > x1 else (x1, middle, x2 + BOX_WIDTH, middle)
    return (x1 + BOX_WIDTH // 2, y1, x2 + BOX_WIDTH // 2, y2 + BOX_HEIGHT)


def _branch_label(node: dict, index: int) -> str:
    branch = node.get("branches", [])[index]
    if "values" in branch:
        return ", ".join(str(value) for value in branch["values"])[:24]
    if "percent" in branch:
        return f"{branch['percent']} %"
    what = branch.get("attribute") or (f"tag {branch['tag']}" if branch.get("tag") else branch.get("status", ""))
    return f"{what} {branch.get('op', '')} {branch.get('value', '')}".strip()[:24]
