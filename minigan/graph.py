"""Draw the graph that autograd recorded: micrograd's ``draw_dot``, for tensors.

    loss = gan.discriminator_loss(D(real), D(fake))
    minigan.draw_graph(loss, "loss.png", params={"D": D})     # a matplotlib figure
    print(minigan.graph_to_dot(loss, params={"D": D}))        # Graphviz DOT text

What is drawn is what :func:`minigan.backward` walks, found by the engine's own traversal
(``tensor._topological_order``). There is one box for each

* **op**: a recorded node, labelled with its Function's name (``Linear``, ``LeakyReLU``, ``Mul``)
  and the shape of its output;
* **leaf that requires grad** (a parameter, an input you asked a gradient for), labelled with its
  name and shape: backward leaves its gradient in ``.grad``;
* **constant**: an input that needs no gradient (data, a Python number, a tensor computed under
  ``no_grad``). The graph keeps no reference to it, since backward never needs one, so neither
  its name nor its shape is known, and each use is a box of its own.

An arrow runs from an input to the op that used it, the direction of the forward pass; backward
sends gradients against the arrows. A tensor used twice is one box with two arrows: the box where
the two contributions to its gradient add up. A graph that backward has already released is
drawn all the same: the nodes keep their inputs, only the arrays forward saved are gone.

The boxes are layered by depth, the longest path from the box to the output: the output at the
bottom, every input above every op that uses it, as backward's order demands (a box is visited
only after every op that reads it has handed it a gradient). Layout: longer arrows bend
through placeholder points on the layers they cross; the order within each layer is chosen by
barycentre sweeps (fewest crossings kept), and the positions by a least-squares pull towards the
neighbours that keeps the boxes apart (isotonic regression, the pool-adjacent-violators
algorithm). Every step is iterative, so no graph meets Python's recursion limit.

Tests: tests/test_graph.py. A worked example, the graph of a GAN's discriminator loss with
backprop walked along it: docs/graph.md.
"""

from bisect import bisect_right, insort
from collections.abc import Mapping
from pathlib import Path

from .nn.module import Module
from .plotting import _save_atomically
from .tensor import Tensor, _Node, _topological_order

__all__ = ["draw_graph", "graph_to_dot"]

_OP, _LEAF, _CONSTANT = "op", "leaf", "constant"

# How each kind of box looks, in DOT and in the figure (face colour, edge colour, line style).
_DOT_STYLE = {
    _OP: 'style="rounded,filled", fillcolor="#dce9f5"',
    _LEAF: 'style=filled, fillcolor="#fbe3b4"',
    _CONSTANT: 'style=dashed, color="#8c8c8c", fontcolor="#6e6e6e"',
}
_FIGURE_STYLE = {
    _OP: ("#dce9f5", "#3f6e96", "solid"),
    _LEAF: ("#fbe3b4", "#b07a1e", "solid"),
    _CONSTANT: ("#f4f4f4", "#8c8c8c", "dashed"),
}
_LEGEND = {
    _OP: "op: name, output shape",
    _LEAF: "leaf: requires grad",
    _CONSTANT: "constant: no grad",
}

# Geometry of the figure, in inches (the axes map one data unit to one inch).
_ROW = 0.8          # from one layer to the next
_BOX_H = 0.42
_CHAR_W = 0.075     # one character at the label's font size, generously
_MIN_BOX_W = 0.75
_DUMMY_W = 0.1      # a long arrow's point on a layer it crosses
_GAP = 0.22         # between neighbours on a layer
_MARGIN = 0.25


class _Box:
    """One box: its kind, name, shape (None for a constant), depth, and the indices of the boxes
    its op read, in input order (a tensor used twice appears twice)."""

    __slots__ = ("kind", "name", "shape", "depth", "inputs")

    def __init__(self, kind, name, shape, depth, inputs=()):
        self.kind, self.name, self.shape, self.depth, self.inputs = kind, name, shape, depth, inputs

    def lines(self):
        return [self.name] if self.shape is None else [self.name, str(tuple(self.shape))]


def _names(params, caller):
    """``id(tensor) -> name`` from ``params``: a Module, or a mapping whose values are Tensors
    (named by their key) or Modules (their parameters, named ``key.parameter_name``)."""
    if params is None:
        return {}
    if isinstance(params, Module):
        pairs = list(params.named_parameters())
    elif isinstance(params, Mapping):
        pairs = []
        for key, value in params.items():
            if isinstance(value, Module):
                pairs += [(f"{key}.{name}", p) for name, p in value.named_parameters()]
            elif isinstance(value, Tensor):
                pairs.append((str(key), value))
            else:
                raise TypeError(f"{caller}: params[{key!r}] is a {type(value).__name__}; expected "
                                f"a Tensor or a Module")
    else:
        raise TypeError(f"{caller}: params must be a Module or a mapping of names to Tensors or "
                        f"Modules (e.g. dict(model.named_parameters())), got "
                        f"{type(params).__name__}")
    names = {}
    for name, t in pairs:
        names.setdefault(id(t), name)   # a tensor registered twice keeps its first name
    return names


def _boxes(tensor, params, caller):
    """The boxes of the graph that computed ``tensor``, in forward order: every box after the
    boxes it reads, a constant just before the op that uses it, the output last."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{caller}: expected a Tensor, got {type(tensor).__name__}")
    if not tensor.requires_grad:
        raise ValueError(f"{caller}: the tensor of shape {tensor.shape} recorded no graph: it does "
                         f"not require grad (no input of its computation required grad, or it was "
                         f"computed under no_grad)")
    names = _names(params, caller)
    root = tensor if tensor._node is None else tensor._node
    order = list(_topological_order([root], through_released=True))   # the output first
    # Depth: the longest path to the output. Every user of an item comes before it in `order`,
    # so its depth is final by the time the walk reaches it.
    depth = {id(root): 0}
    for item in order:
        if isinstance(item, _Node):
            d = depth[id(item)] + 1
            for x in item.inputs:
                if x is not None and depth.get(id(x), -1) < d:
                    depth[id(x)] = d
    boxes, index = [], {}
    for item in reversed(order):
        d = depth[id(item)]
        if isinstance(item, _Node):
            inputs = []
            for x in item.inputs:
                if x is None:
                    boxes.append(_Box(_CONSTANT, "constant", None, d + 1))
                    inputs.append(len(boxes) - 1)
                else:
                    inputs.append(index[id(x)])
            box = _Box(_OP, item.fn.__name__, item.shape, d, tuple(inputs))
        else:
            box = _Box(_LEAF, names.get(id(item), "leaf"), item.shape, d)
        index[id(item)] = len(boxes)
        boxes.append(box)
    return boxes


def _layers(boxes):
    """The indices of the boxes on each layer, by depth: ``layers[0]`` holds the output."""
    layers = [[] for _ in range(max(b.depth for b in boxes) + 1)]
    for i, b in enumerate(boxes):
        layers[b.depth].append(i)
    return layers


# --- DOT -----------------------------------------------------------------------------------------

def _dot_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def graph_to_dot(tensor, params=None):
    """The recorded graph of ``tensor`` as Graphviz DOT text (render it with ``dot -Tpng``).

    The boxes are those of :func:`draw_graph`, numbered ``n0, n1, ...`` in forward order (the
    output last, drawn with a thick border); each arrow runs from an input to the op that read
    it, once per use. Layers of two or more boxes are pinned with ``rank=same``, so that
    Graphviz layers them as :func:`draw_graph` does.

    Args:
        tensor: a Tensor that requires grad: the output of a recorded computation, or a leaf
            (drawn as a single box).
        params: names for leaves: a Module (its ``named_parameters()``), or a mapping whose
            values are Tensors (named by their key) or Modules (their parameters named
            ``key.name``), e.g. ``{"D": D}``. Unnamed leaves are called ``leaf``.

    Returns:
        The DOT text, a ``str`` ending in a newline.

    Raises:
        TypeError: ``tensor`` is not a Tensor, or ``params`` is neither a Module nor a mapping.
        ValueError: ``tensor`` does not require grad, so it recorded no graph.
    """
    boxes = _boxes(tensor, params, "graph_to_dot")
    out = ["digraph minigan {", "  rankdir=TB;",
           '  node [shape=box, fontname="Helvetica", fontsize=10];']
    for i, b in enumerate(boxes):
        output = ", penwidth=2" if i == len(boxes) - 1 else ""
        label = _dot_string("\n".join(b.lines())).replace("\n", "\\n")
        out.append(f"  n{i} [label={label}, {_DOT_STYLE[b.kind]}{output}];")
    for i, b in enumerate(boxes):
        out += [f"  n{j} -> n{i};" for j in b.inputs]
    for layer in reversed(_layers(boxes)):
        if len(layer) > 1:
            out.append("  {rank=same; " + " ".join(f"n{i};" for i in layer) + "}")
    out.append("}")
    return "\n".join(out) + "\n"


# --- the layout ----------------------------------------------------------------------------------

def _box_width(box):
    return max(_MIN_BOX_W, _CHAR_W * max(len(s) for s in box.lines()) + 0.2)


def _crossings(edges, pos):
    """How many of the ``edges`` between two adjacent layers cross, by their ends' positions."""
    ends = sorted((pos[u], pos[v]) for u, v in edges)
    seen, count = [], 0
    for _, b in ends:           # count earlier edges that end to the right of this one
        count += len(seen) - bisect_right(seen, b)
        insort(seen, b)
    return count


def _isotonic(values):
    """The non-decreasing sequence closest to ``values`` in least squares (pool adjacent
    violators)."""
    blocks = []                                 # [mean, count]
    for v in values:
        blocks.append([v, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, c2 = blocks.pop()
            m1, c1 = blocks[-1]
            blocks[-1] = [(m1 * c1 + m2 * c2) / (c1 + c2), c1 + c2]
    return [m for m, c in blocks for _ in range(c)]


def _layout(boxes):
    """Where to draw: ``(x, widths, depth, chains)``, one entry per vertex in the first three.

    The vertices are the boxes, then one point on each layer that a long arrow crosses; ``x[v]``
    is the centre of vertex ``v`` in inches, ``depth[v]`` its layer. ``chains`` maps an arrow
    ``(input box, op box)`` to the vertices it passes, from the input to the op.
    """
    depth = [b.depth for b in boxes]
    widths = [_box_width(b) for b in boxes]
    # Leaves and constants (and the long arrows from them) are "light": they follow the ops
    # they feed, but pull those ops only weakly, so that a chain of ops stays a straight column.
    light = [b.kind != _OP for b in boxes]
    up = [[] for _ in boxes]        # neighbours one layer up (towards the inputs)
    down = [[] for _ in boxes]      # neighbours one layer down (towards the output)
    chains = {}
    for i, b in enumerate(boxes):
        for j in dict.fromkeys(b.inputs):       # each distinct input once, in input order
            chain = [j]
            for d in range(depth[j] - 1, depth[i], -1):
                depth.append(d)
                widths.append(_DUMMY_W)
                light.append(light[j])
                up.append([])
                down.append([])
                chain.append(len(depth) - 1)
            chain.append(i)
            for a, c in zip(chain, chain[1:]):
                down[a].append(c)
                up[c].append(a)
            chains[j, i] = chain
    layers = _order(len(boxes) - 1, max(depth) + 1, up, down)
    x = _positions(layers, up, down, widths, light)
    return x, widths, depth, chains


def _order(output, n_layers, up, down):
    """The vertices of each layer, left to right, with few arrows crossing.

    Start outward from the output, each vertex's inputs in input order; then sort each layer by
    the mean place of its neighbours on the layer just sorted (barycentre sweeps), alternately
    downwards and upwards, and keep the order with the fewest crossings.
    """
    layers = [[output]] + [[] for _ in range(n_layers - 1)]
    placed = {output}
    for d in range(n_layers - 1):
        for v in layers[d]:
            for u in up[v]:
                if u not in placed:
                    placed.add(u)
                    layers[d + 1].append(u)
    pos = {v: k for layer in layers for k, v in enumerate(layer)}     # the place on its layer

    def crossings():
        return sum(_crossings([(u, v) for v in layers[d] for u in up[v]], pos)
                   for d in range(n_layers - 1))

    best, fewest = [list(layer) for layer in layers], crossings()
    for sweep in range(8):
        downwards = sweep % 2 == 0
        fixed = up if downwards else down
        for d in range(n_layers - 2, -1, -1) if downwards else range(1, n_layers):
            layers[d].sort(key=lambda v: (sum(pos[u] for u in fixed[v]) / len(fixed[v])
                                          if fixed[v] else pos[v]))
            pos.update((v, k) for k, v in enumerate(layers[d]))
        count = crossings()
        if count < fewest:
            best, fewest = [list(layer) for layer in layers], count
    return best


def _positions(layers, up, down, widths, light):
    """The centre of each vertex, in inches from the left edge.

    Each vertex is pulled towards the (weighted) mean of its neighbours on the layer above, then
    below, alternately, and for the last sweeps both; the layer keeps its order and its gaps by
    isotonic regression on the positions less the cumulative gaps.
    """
    x = [0.0] * len(widths)
    for layer in layers:
        left = 0.0
        for v in layer:
            x[v] = left + widths[v] / 2
            left += widths[v] + _GAP
    for sweep in range(24):
        downwards = sweep % 2 == 0
        for d in range(len(layers) - 2, -1, -1) if downwards else range(1, len(layers)):
            layer = layers[d]
            want = []
            for v in layer:
                near = up[v] + down[v] if sweep >= 20 else up[v] if downwards else down[v]
                weights = [0.2 if light[u] and not light[v] else 1.0 for u in near]
                want.append(sum(w * x[u] for w, u in zip(weights, near)) / sum(weights)
                            if near else x[v])
            offsets = [0.0]
            for a, b in zip(layer, layer[1:]):
                offsets.append(offsets[-1] + (widths[a] + widths[b]) / 2 + _GAP)
            fitted = _isotonic([w - o for w, o in zip(want, offsets)])
            for v, y, o in zip(layer, fitted, offsets):
                x[v] = y + o
    left = min(xv - w / 2 for xv, w in zip(x, widths))
    return [xv - left for xv in x]


# --- the figure ----------------------------------------------------------------------------------

def draw_graph(tensor, path=None, *, params=None, title=None, max_boxes=300):
    """Draw the recorded graph of ``tensor`` with matplotlib: one box per op, leaf and constant.

    Ops are blue, with their Function's name and output shape; leaves that require grad are
    orange, with their name (see ``params``) and shape; constants are grey and dashed. Arrows run
    from inputs to the ops that read them; ``x2`` on an arrow means the op read that input twice.
    The output is at the bottom (thick border), every input above the ops that use it (layers by
    the longest path to the output; see the module's docstring).

    Args:
        tensor: a Tensor that requires grad: the output of a recorded computation, or a leaf
            (drawn as a single box).
        path: if given, also save the figure there; the suffix picks the format (``.png``,
            ``.svg``, ``.pdf``). Written atomically. For Graphviz, use :func:`graph_to_dot`.
        params: names for leaves: a Module (its ``named_parameters()``), or a mapping whose
            values are Tensors (named by their key) or Modules (their parameters named
            ``key.name``), e.g. ``{"D": D}``. Unnamed leaves are called ``leaf``.
        title: a line above the graph.
        max_boxes: refuse graphs with more boxes than this: a figure of thousands of boxes is
            not legible (and too large to render); :func:`graph_to_dot` takes any size.

    Returns:
        The ``matplotlib.figure.Figure`` (not registered with pyplot: nothing to close; a
        notebook displays it).

    Raises:
        TypeError: ``tensor`` is not a Tensor, or ``params`` is neither a Module nor a mapping.
        ValueError: ``tensor`` recorded no graph, the graph has more than ``max_boxes`` boxes,
            or ``path`` asks for DOT.
    """
    boxes = _boxes(tensor, params, "draw_graph")
    if len(boxes) > max_boxes:
        raise ValueError(f"draw_graph: the graph has {len(boxes)} boxes, more than max_boxes="
                         f"{max_boxes} can show legibly; raise max_boxes, or use graph_to_dot "
                         f"and Graphviz")
    if path is not None and Path(path).suffix.lower() in (".dot", ".gv"):
        raise ValueError(f"draw_graph: {path} asks for DOT text; write graph_to_dot(tensor) "
                         f"there instead")
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch
    from matplotlib.path import Path as MplPath

    x, widths, depth, chains = _layout(boxes)
    rows = max(b.depth for b in boxes) + 1
    header = 0.45 + (0.35 if title else 0.0)     # room for the legend and the title
    content = max(xv + w / 2 for xv, w in zip(x, widths))
    width = max(content, 5.6) + 2 * _MARGIN
    x = [xv + (width - 2 * _MARGIN - content) / 2 for xv in x]      # centred under the legend
    height = (rows - 1) * _ROW + _BOX_H + 2 * _MARGIN + header

    def y_of(depth):    # the output's row at the bottom
        return _MARGIN + _BOX_H / 2 + depth * _ROW

    fig = Figure(figsize=(width, height))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(-_MARGIN, width - _MARGIN)
    ax.set_ylim(0, height)
    ax.axis("off")

    for i, b in enumerate(boxes):
        face, edge, style = _FIGURE_STYLE[b.kind]
        xc, yc, w = x[i], y_of(b.depth), widths[i]
        shape = "round,pad=0,rounding_size=0.08" if b.kind == _OP else "square,pad=0"
        ax.add_patch(FancyBboxPatch((xc - w / 2, yc - _BOX_H / 2), w, _BOX_H, boxstyle=shape,
                                    facecolor=face, edgecolor=edge, linestyle=style,
                                    linewidth=2.2 if i == len(boxes) - 1 else 1.0, zorder=2))
        if b.shape is None:
            ax.text(xc, yc, b.name, ha="center", va="center", fontsize=8, style="italic",
                    color="#6e6e6e", zorder=3)
        else:
            ax.text(xc, yc + 0.08, b.name, ha="center", va="center", fontsize=8,
                    fontweight="bold" if b.kind == _OP else "normal", zorder=3)
            ax.text(xc, yc - 0.09, str(tuple(b.shape)), ha="center", va="center", fontsize=7,
                    color="#444444", zorder=3)

    # Arrows leave the bottom of the input's box and enter the top of the op's box at ports
    # spread across the box, sorted by where the arrow comes from, so that they do not overlap.
    out_ports, in_ports = {}, {}
    for (j, i), chain in chains.items():
        out_ports.setdefault(j, []).append((x[chain[1]], (j, i)))
        in_ports.setdefault(i, []).append((x[chain[-2]], (j, i)))

    def spread(ports, centre, w):
        ports.sort()
        n = len(ports)
        return {key: centre + 0.6 * w * ((k + 0.5) / n - 0.5) for k, (_, key) in enumerate(ports)}

    start, end = {}, {}
    for j, ports in out_ports.items():
        start.update(spread(ports, x[j], widths[j]))
    for i, ports in in_ports.items():
        end.update(spread(ports, x[i], widths[i]))

    for (j, i), chain in chains.items():
        points = [(start[j, i], y_of(depth[j]) - _BOX_H / 2)]
        for v in chain[1:-1]:       # a long arrow runs straight down through the rows it crosses
            points += [(x[v], y_of(depth[v]) + _BOX_H / 2), (x[v], y_of(depth[v]) - _BOX_H / 2)]
        points.append((end[j, i], y_of(depth[i]) + _BOX_H / 2))
        codes = [MplPath.MOVETO] + [MplPath.LINETO] * (len(points) - 1)
        ax.add_patch(FancyArrowPatch(path=MplPath(points, codes), arrowstyle="-|>",
                                     mutation_scale=8, color="#555555", linewidth=0.8,
                                     shrinkA=0, shrinkB=0, zorder=1))
        uses = boxes[i].inputs.count(j)
        if uses > 1:
            (xa, ya), (xb, yb) = points[-2], points[-1]
            ax.text((xa + xb) / 2 + 0.05, (ya + yb) / 2, f"x{uses}", fontsize=7,
                    ha="left", va="center", color="#555555", zorder=3)

    kinds = [k for k in (_OP, _LEAF, _CONSTANT) if any(b.kind == k for b in boxes)]
    handles = [Patch(facecolor=_FIGURE_STYLE[k][0], edgecolor=_FIGURE_STYLE[k][1],
                     linestyle=_FIGURE_STYLE[k][2], label=_LEGEND[k]) for k in kinds]
    top = 1 - (0.35 / height if title else 0.0)
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, top), ncol=len(kinds),
               frameon=False, fontsize=8, handlelength=1.6, columnspacing=1.2)
    if title:
        fig.suptitle(title, fontsize=10, y=1 - 0.08 / height, va="top")
    if path is not None:
        _save_atomically(fig, path, dpi=fig.dpi)
    return fig

