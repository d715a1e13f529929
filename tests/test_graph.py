"""minigan.draw_graph and minigan.graph_to_dot: the recorded graph, drawn.

The DOT text is checked exactly on small known graphs (every box, every arrow); the figure by
where its labels sit (layers by depth) and by the file it writes.
"""

import numpy as np
import pytest
from matplotlib.figure import Figure

import minigan
from minigan import nn
from minigan.graph import _ROW, _boxes, _layout

OP = 'style="rounded,filled", fillcolor="#dce9f5"'
LEAF = 'style=filled, fillcolor="#fbe3b4"'
CONSTANT = 'style=dashed, color="#8c8c8c", fontcolor="#6e6e6e"'
HEAD = 'digraph minigan {\n  rankdir=TB;\n  node [shape=box, fontname="Helvetica", fontsize=10];\n'


def leaf(values):
    return minigan.tensor(values, requires_grad=True, dtype="float64")


def diamond():
    x = leaf([1.0, -2.0, 3.0])
    return x, (x + x) * x


def two_layer_mlp_loss():
    minigan.nn.init.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    x = minigan.tensor(np.ones((5, 3), dtype=np.float32))
    target = minigan.tensor(np.zeros((5, 1), dtype=np.float32))
    return model, ((model(x) - target) ** 2).mean()


def label_positions(fig):
    """{label text: [(x, y), ...]} of the figure's texts, in inches."""
    where = {}
    for t in fig.axes[0].texts:
        where.setdefault(t.get_text(), []).append(t.get_position())
    return where


# --- the DOT text of known graphs ----------------------------------------------------------------

def test_dot_of_the_diamond():
    x, y = diamond()
    assert minigan.graph_to_dot(y, params={"x": x}) == HEAD + (
        f'  n0 [label="x\\n(3,)", {LEAF}];\n'
        f'  n1 [label="Add\\n(3,)", {OP}];\n'
        f'  n2 [label="Mul\\n(3,)", {OP}, penwidth=2];\n'
        "  n0 -> n1;\n"        # x + x: two arrows, one per use
        "  n0 -> n1;\n"
        "  n1 -> n2;\n"
        "  n0 -> n2;\n"        # ... and a third into the Mul
        "}\n")


def test_dot_of_a_two_layer_mlp_loss_names_the_parameters():
    model, loss = two_layer_mlp_loss()
    assert minigan.graph_to_dot(loss, params={"mlp": model}) == HEAD + (
        f'  n0 [label="mlp.2.bias\\n(1,)", {LEAF}];\n'
        f'  n1 [label="mlp.2.weight\\n(1, 4)", {LEAF}];\n'
        f'  n2 [label="mlp.0.bias\\n(4,)", {LEAF}];\n'
        f'  n3 [label="mlp.0.weight\\n(4, 3)", {LEAF}];\n'
        f'  n4 [label="constant", {CONSTANT}];\n'                  # the input batch x
        f'  n5 [label="Linear\\n(5, 4)", {OP}];\n'
        f'  n6 [label="Tanh\\n(5, 4)", {OP}];\n'
        f'  n7 [label="Linear\\n(5, 1)", {OP}];\n'
        f'  n8 [label="constant", {CONSTANT}];\n'                  # the target
        f'  n9 [label="Sub\\n(5, 1)", {OP}];\n'
        f'  n10 [label="Pow\\n(5, 1)", {OP}];\n'
        f'  n11 [label="Sum\\n()", {OP}];\n'
        f'  n12 [label="constant", {CONSTANT}];\n'                 # mean = sum * (1/5)
        f'  n13 [label="Mul\\n()", {OP}, penwidth=2];\n'
        "  n4 -> n5;\n  n3 -> n5;\n  n2 -> n5;\n"                  # Linear(x, W, b)
        "  n5 -> n6;\n"
        "  n6 -> n7;\n  n1 -> n7;\n  n0 -> n7;\n"
        "  n7 -> n9;\n  n8 -> n9;\n"
        "  n9 -> n10;\n"
        "  n10 -> n11;\n"
        "  n11 -> n13;\n  n12 -> n13;\n"
        # Layers of two or more boxes, from the top: depth 7, 5, 4, 1.
        "  {rank=same; n2; n3; n4;}\n"
        "  {rank=same; n0; n1; n6;}\n"
        "  {rank=same; n7; n8;}\n"
        "  {rank=same; n11; n12;}\n"
        "}\n")


def test_params_may_be_a_module_or_a_mapping_of_tensors():
    model, loss = two_layer_mlp_loss()
    dot = minigan.graph_to_dot(loss, params=model)
    assert '"0.weight\\n(4, 3)"' in dot and '"2.bias\\n(1,)"' in dot
    dot = minigan.graph_to_dot(loss, params=dict(model.named_parameters()))
    assert '"0.weight\\n(4, 3)"' in dot
    dot = minigan.graph_to_dot(loss, params={"W1": model[0].weight})
    assert '"W1\\n(4, 3)"' in dot and dot.count('"leaf\\n') == 3    # the others are unnamed
    with pytest.raises(TypeError, match="params must be a Module or a mapping"):
        minigan.graph_to_dot(loss, params=list(model.parameters()))
    with pytest.raises(TypeError, match=r"params\['w'\] is a ndarray"):
        minigan.graph_to_dot(loss, params={"w": np.ones(3)})


def test_names_are_quoted_for_dot():
    x = leaf([1.0])
    dot = minigan.graph_to_dot(x * 2.0, params={'say "hi"\\': x})
    assert 'label="say \\"hi\\"\\\\\\n(1,)"' in dot


# --- what the graph holds ------------------------------------------------------------------------

def test_a_shared_subexpression_is_one_box_with_an_arrow_per_use():
    x = leaf([0.5, -1.0])
    h = x.tanh()
    y = (h * h + h).sum()
    dot = minigan.graph_to_dot(y)
    assert dot.count('label="Tanh') == 1
    tanh = next(line.split()[0] for line in dot.splitlines() if 'label="Tanh' in line)
    assert sum(line.strip().startswith(f"{tanh} ->") for line in dot.splitlines()) == 3
    texts = [t.get_text() for t in minigan.draw_graph(y).axes[0].texts]
    assert texts.count("Tanh") == 1 and texts.count("x2") == 1      # h * h: one arrow, "x2"


def test_inputs_that_need_no_grad_are_constants():
    w = leaf([1.0, 2.0])
    data = minigan.tensor([3.0, 4.0], dtype="float64")                 # a leaf without grad
    frozen = nn.Parameter(np.array([5.0, 6.0]), requires_grad=False)   # a frozen parameter
    with minigan.no_grad():
        made = w * 2.0                                                 # computed, not recorded
    y = w * data + w * frozen + made
    boxes = _boxes(y, {"w": w}, "test")
    assert [b.kind for b in boxes].count("constant") == 3
    assert [b.name for b in boxes if b.kind == "leaf"] == ["w"]
    dot = minigan.graph_to_dot(y, params={"w": w})
    assert dot.count(f'label="constant", {CONSTANT}') == 3
    assert dot.count(LEAF) == 1


def test_layers_are_the_longest_path_to_the_output():
    x, y = diamond()
    where = label_positions(minigan.draw_graph(y, params={"x": x}))
    (_, y_mul), (_, y_add), (_, y_x) = where["Mul"][0], where["Add"][0], where["x"][0]
    # x feeds Mul directly too, but sits above Add, its deepest user; the output is lowest.
    assert y_add - y_mul == pytest.approx(_ROW) and y_x - y_add == pytest.approx(_ROW)
    assert [b.depth for b in _boxes(y, None, "test")] == [2, 1, 0]


def test_released_graph_is_drawn_the_same():
    model, loss = two_layer_mlp_loss()
    before = minigan.graph_to_dot(loss, params=model)
    loss.backward()                          # releases the graph: backward cannot walk it again
    assert minigan.graph_to_dot(loss, params=model) == before
    with pytest.raises(RuntimeError, match="already released"):
        loss.backward()


def test_ten_thousand_op_chain_needs_no_recursion():
    x = leaf([1.0])
    y = x
    for _ in range(10_000):
        y = -y
    dot = minigan.graph_to_dot(y)            # a recursive walk would hit the recursion limit
    assert dot.count("->") == 10_000 and dot.count('label="Neg') == 10_000
    x_pos, widths, depth, chains = _layout(_boxes(y, None, "test"))
    assert len(x_pos) == 10_001 and max(depth) == 10_000
    with pytest.raises(ValueError, match="10001 boxes, more than max_boxes=300"):
        minigan.draw_graph(y)


# --- the figure, the file, the errors ------------------------------------------------------------

def test_draw_graph_writes_a_png(tmp_path):
    model, loss = two_layer_mlp_loss()
    path = tmp_path / "graph.png"
    fig = minigan.draw_graph(loss, path, params=model, title="squared error")
    assert isinstance(fig, Figure)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert list(tmp_path.iterdir()) == [path]                  # no temporary file left behind
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert sorted(t for t in texts if t in ("Linear", "Tanh", "constant")) == (
        ["Linear"] * 2 + ["Tanh"] + ["constant"] * 3)
    assert "0.weight" in texts and "(4, 3)" in texts
    minigan.draw_graph(loss, tmp_path / "graph.svg", params=model)
    assert (tmp_path / "graph.svg").read_text().lstrip().startswith("<?xml")


def test_a_leaf_is_a_graph_of_one_box():
    x = leaf([1.0, 2.0])
    one_box = f'  n0 [label="leaf\\n(2,)", {LEAF}, penwidth=2];\n}}\n'
    assert minigan.graph_to_dot(x) == HEAD + one_box
    assert [t.get_text() for t in minigan.draw_graph(x).axes[0].texts] == ["leaf", "(2,)"]


@pytest.mark.parametrize("draw", [minigan.draw_graph, minigan.graph_to_dot])
def test_clear_errors(draw):
    name = draw.__name__
    with pytest.raises(TypeError, match=f"{name}: expected a Tensor, got ndarray"):
        draw(np.ones(3))
    with pytest.raises(ValueError, match=rf"{name}: the tensor of shape \(3,\) recorded no graph"):
        draw(minigan.tensor([1.0, 2.0, 3.0]) * 2.0)
    x = leaf([1.0])
    with minigan.no_grad():
        y = x * 2.0
    with pytest.raises(ValueError, match="computed under no_grad"):
        draw(y)


def test_a_dot_path_points_to_graph_to_dot(tmp_path):
    _, y = diamond()
    with pytest.raises(ValueError, match="graph_to_dot"):
        minigan.draw_graph(y, tmp_path / "graph.dot")
    assert not list(tmp_path.iterdir())
