"""An execution's step graph as server-rendered SVG: steps in layers by their longest path from a
first step, edges from each dependency, each box coloured by its step's status."""

from __future__ import annotations

from markupsafe import Markup, escape

from kiln.records import PipelineStep
from kiln.services.pipelines.definition import Definition

__all__ = ["step_graph"]

BOX_W, BOX_H, GAP_X, GAP_Y, PAD = 150, 44, 60, 18, 10
_FILL = {
    "Succeeded": "#dcfce7",
    "Failed": "#fee2e2",
    "Executing": "#dbeafe",
    "Starting": "#dbeafe",
    "Stopping": "#fef3c7",
    "Stopped": "#fef3c7",
}


def _layers(definition: Definition) -> dict[str, int]:
    layer: dict[str, int] = {}
    for name, spec in definition.steps.items():  # topological order: dependencies come first
        layer[name] = 1 + max((layer[d] for d in spec.depends_on), default=-1)
    return layer


def step_graph(definition: Definition, steps: dict[str, PipelineStep], job_links: dict[str, str]) -> Markup:
    layer = _layers(definition)
    columns: dict[int, list[str]] = {}
    for name in definition.steps:
        columns.setdefault(layer[name], []).append(name)
    where: dict[str, tuple[int, int]] = {}
    for column, names in columns.items():
        for row, name in enumerate(names):
            where[name] = (PAD + column * (BOX_W + GAP_X), PAD + row * (BOX_H + GAP_Y))
    width = PAD * 2 + len(columns) * (BOX_W + GAP_X) - GAP_X
    height = PAD * 2 + max(len(n) for n in columns.values()) * (BOX_H + GAP_Y) - GAP_Y
    parts = [
        f'<svg class="pipeline-graph" id="pipeline-graph" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="the pipeline\'s steps and their order">'
    ]
    for name, spec in definition.steps.items():
        x, y = where[name]
        for other in sorted(spec.depends_on):
            ox, oy = where[other]
            parts.append(
                f'<line x1="{ox + BOX_W}" y1="{oy + BOX_H // 2}" x2="{x}" y2="{y + BOX_H // 2}" '
                'stroke="#9ca3af" stroke-width="1.5"/>'
            )
    for name, spec in definition.steps.items():
        x, y = where[name]
        step = steps.get(name)
        status = step.status.value if step is not None else "Not run"
        fill = _FILL.get(status, "#f3f4f6")
        box = (
            f'<g class="step" data-step="{escape(name)}" data-status="{escape(status)}">'
            f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6" fill="{fill}" stroke="#6b7280"/>'
            f'<text x="{x + 8}" y="{y + 18}" font-size="13" font-weight="600">{escape(name[:20])}</text>'
            f'<text x="{x + 8}" y="{y + 35}" font-size="11" fill="#374151">{escape(spec.type)} · '
            f"{escape(status)}</text></g>"
        )
        link = job_links.get(name)
        parts.append(f'<a href="{escape(link)}">{box}</a>' if link else box)
    parts.append("</svg>")
    return Markup("".join(parts))
