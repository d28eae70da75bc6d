"""企业画像指标: the feature catalogue page (docs/features.md), generated from ``features.catalogue_specs``.

A test compares the committed page with ``render()``, so the page cannot drift from what profiles compute.

    python -m features.catalogue_doc            # write docs/features.md
    python -m features.catalogue_doc --check    # exit 1 when the committed page differs
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from features.catalogue import CATALOGUE_VERSION, FEATURE_SPECS, FeatureSpec
from features.schemas import SOURCES_BY_NAME

DOC_PATH = Path(__file__).resolve().parents[1] / "docs" / "features.md"
_DIRECTION = {True: "+ riskier when higher", False: "− safer when higher", None: "none"}

_INTRO = f"""# Profile feature catalogue (企业画像指标)

Generated from `features/catalogue_specs.py` by `python -m features.catalogue_doc`; do not edit by hand.
Catalogue version **{CATALOGUE_VERSION}** ({len(FEATURE_SPECS)} features). Snapshots and models record the
version, so profiles of two versions never mix.

Who reads this: analysts (what each column of a profile means, and what a missing value stands for), model
validators (the risk direction becomes a LightGBM monotone constraint), and anyone reading a reason code (the
templates below are filled with the enterprise's own value).

## Conventions

- **As of d**: only the version of each record the platform held on d — its event date and its availability
  date on or before d, not yet replaced by a correction that had arrived by then (`features.asof`).
  Penalties count only within their publication period (轻微 3 calendar months, 一般 12, 严重 36) and until repaired
  or revoked; court and list entries only until removed. So nothing known only later can change a profile.
- **The last n months**: report periods from n − 1 months before d's month up to d's month. **Months k–m
  back**: periods k to m months before d's month.
- **Missing**: counts are 0 when there are no records; levels, ratios and amounts are missing (NaN) when their
  inputs are, and the *missing means* column says what that stands for. Sums are over reported values: a sum
  with nothing reported is unknown (NaN), not zero, and a change needs both of its windows reported, so
  filings that have not arrived yet never read as a fall. Models see every feature as float64.
- **Actionable**: the enterprise can change it by its own conduct; improvement advice only suggests these.
- **Amounts** are `ln(1 + yuan)`; reasons show them back in 万元.
"""


def render_feature(spec: FeatureSpec) -> str:
    """One feature's entry: its words, unit, window, direction, missing meaning, definition and reasons."""
    reason_zh, reason_en = spec.reason_zh.replace("{value}", "‹值›"), spec.reason_en.replace("{value}", "‹value›")
    return "\n".join([
        f"### `{spec.name}` — {spec.label_zh} / {spec.label_en}",
        "",
        f"- window: {spec.window}; unit: {spec.unit}; risk direction: {_DIRECTION[spec.higher_is_riskier]}"
        f"{'; actionable' if spec.actionable else ''}",
        f"- definition: {spec.definition}",
        f"- missing means: {spec.missing_means}",
        *([f"- values: {', '.join(f'{i} {zh}' for i, (zh, _) in enumerate(spec.value_names) if zh)}"]
          if spec.value_names else []),
        f"- reason: {reason_zh} / {reason_en}",
    ])


def render() -> str:
    """The whole page: conventions, a summary table, then every feature grouped by source."""
    by_source: dict[str, list[FeatureSpec]] = {}
    for spec in FEATURE_SPECS.values():
        by_source.setdefault(spec.source, []).append(spec)
    lines = [_INTRO, "## Summary", "", "| feature | source | window | unit | direction | 中文 |",
             "|---|---|---|---|---|---|"]
    lines += [f"| `{s.name}` | {s.source} | {s.window} | {s.unit} | {_DIRECTION[s.higher_is_riskier]} | {s.label_zh} |"
              for s in FEATURE_SPECS.values()]
    for source, specs in by_source.items():
        lines += ["", f"## {SOURCES_BY_NAME[source].label_zh} (`{source}`)", ""]
        lines += ["\n\n".join(render_feature(spec) for spec in specs)]
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Write the page, or with ``--check`` report whether the committed page is current (exit status 1 if not)."""
    parser = argparse.ArgumentParser(prog="python -m features.catalogue_doc", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the page differs from the declarations")
    parser.add_argument("--output", type=Path, default=DOC_PATH, help="the page (default: docs/features.md)")
    args = parser.parse_args(argv)
    page = render()
    if not args.check:
        args.output.write_text(page, encoding="utf-8", newline="\n")
        print(f"wrote {args.output}", file=sys.stderr)
        return 0
    if args.output.is_file() and args.output.read_text(encoding="utf-8") == page:
        return 0
    print(f"{args.output} is out of date with features/catalogue_specs.py; run `python -m features.catalogue_doc`",
          file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
