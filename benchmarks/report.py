"""Turn ``benchmarks/results/*.json`` into ``docs/benchmarks.md`` and one chart per family.

    python benchmarks/report.py

``nox -s bench`` runs it after the benchmarks. A family without a results file, or whose
benchmark could not run, is listed as not measured, with the reason.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PAGE = ROOT / "docs" / "benchmarks.md"
CHARTS = ROOT / "docs" / "benchmarks"

FAMILIES = {
    "startup": "Start-up",
    "s3": "S3",
    "git": "Git",
    "azure": "Azure Blob Storage",
    "gcs": "Google Cloud Storage",
    "docker": "Docker images",
    "scale": "Scale",
    "prefect-steps": "Prefect workers: pull steps per flow run",
    "airflow-bundle": "Airflow DAG bundles: refresh",
}
ROLES = {"ours": "codeferry", "raw": "raw baseline", "prefect": "Prefect"}
COLOURS = {"ours": "#1f77b4", "raw": "#7f7f7f", "prefect": "#ff7f0e", "other": "#9edae5"}


@dataclass(frozen=True)
class Target:
    """A goal from the developers' guide, and how to tell whether a case meets it."""

    text: str
    met: Callable[[dict[str, Any]], bool]


def _within(limit: float) -> Callable[[dict[str, Any]], bool]:
    return lambda case: case["ours"]["median"] <= limit


def _ratio_to_raw(limit: float) -> Callable[[dict[str, Any]], bool]:
    return lambda case: case["ratio_to_raw"] is not None and case["ratio_to_raw"] <= limit


def _large_pull(case: dict[str, Any]) -> bool:
    peak = case["ours"]["peak_rss_mb"]
    return _ratio_to_raw(1.1)(case) and peak is not None and peak <= 80


def _whole_process(limit: float) -> Callable[[dict[str, Any]], bool]:
    """The whole ``codeferry pull`` process within ``limit`` times the pull timed inside it."""

    def met(case: dict[str, Any]) -> bool:
        inside, whole = case["ours"]["median"], case["ours"]["process_median"]
        return whole is not None and whole <= limit * inside

    return met


def _git_clone(case: dict[str, Any]) -> bool:
    ours, raw = case["ours"]["peak_rss_mb"], (case["raw"] or {}).get("peak_rss_mb")
    return _ratio_to_raw(1.3)(case) and ours is not None and raw is not None and ours <= 2 * raw


TARGETS = {
    ("startup", "help"): Target("<= 0.1 s (Prefect 1.9 s)", _within(0.1)),
    ("startup", "block-type-ls"): Target("<= 0.2 s (Prefect 1.8 s)", _within(0.2)),
    ("startup", "run-hello"): Target("<= 0.15 s", _within(0.15)),
    ("s3", "cold-small"): Target("<= 1.1x raw (Prefect 3.9x)", _ratio_to_raw(1.1)),
    ("s3", "cold-large"): Target("<= 1.1x raw, peak RSS <= 80 MB (Prefect 123 MB)", _large_pull),
    **{
        (family, "warm-small"): Target(
            "whole process <= 1.25x the pull timed inside it", _whole_process(1.25)
        )
        for family in ("s3", "azure", "gcs")
    },
    ("git", "fresh-process"): Target("<= 1.3x raw, peak RSS <= 2x git's", _git_clone),
    ("git", "repull-process"): Target("<= 0.25 s (Prefect 3.1 s)", _within(0.25)),
    ("git", "unchanged-process"): Target("<= 0.15 s", _within(0.15)),
}


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def megabytes(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} MB"


def summary(case: dict[str, Any]) -> str:
    """codeferry's median, with whichever ratios and peak memory the case has."""
    parts = [seconds(case["ours"]["median"])]
    if case["ratio_to_raw"] is not None:
        parts.append(f"{ratio(case['ratio_to_raw'])} raw")
    if case["ratio_to_prefect"]:
        parts.append(f"{1 / case['ratio_to_prefect']:.1f}x faster than Prefect")
    if case["ours"]["process_median"] is not None:
        parts.append(f"whole process {seconds(case['ours']['process_median'])}")
    if case["ours"]["peak_rss_mb"] is not None:
        parts.append(f"peak {megabytes(case['ours']['peak_rss_mb'])}")
    return ", ".join(parts)


def targets(results: dict[str, dict[str, Any]]) -> list[str]:
    """Every target of the developers' guide at a glance, met or not, or not measured."""
    lines = [
        "| Family | Case | Server | Target | Measured | Met |",
        "|---|---|---|---|---|:-:|",
    ]
    for (family, case_id), target in TARGETS.items():
        result = results.get(family, {})
        found = [case for case in result.get("cases", []) if case["id"] == case_id]
        server = result.get("server", "-")
        if not found:
            lines.append(
                f"| {FAMILIES[family]} | {case_id} | {server} | {target.text} | not measured | - |"
            )
            continue
        case = found[0]
        met = "yes" if target.met(case) else "**no**"
        lines.append(
            f"| {FAMILIES[family]} | {case['title']} | {server} | {target.text} | {summary(case)}"
            f" | {met} |"
        )
    return lines


def load() -> dict[str, dict[str, Any]]:
    found = {}
    for family in FAMILIES:
        path = RESULTS / f"{family}.json"
        if path.exists():
            found[family] = json.loads(path.read_text())
    return found


def chart(family: str, result: dict[str, Any]) -> Path:
    """Median of each tool per case, min-max as error bars, log scale (the ratios are large)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    cases = result["cases"]
    height = 0.8
    fig, ax = plt.subplots(figsize=(9, 1.1 + 0.75 * len(cases) * 1.3))
    labelled: set[str] = set()
    for row, case in enumerate(reversed(cases)):
        bars = [(role, case[role]) for role in ROLES if case[role]]
        bars += [("other", other) for other in case["others"]]
        width = height / len(bars)
        for slot, (role, measured) in enumerate(bars):
            y = row + height / 2 - width * (slot + 0.5)
            median = measured["median"]
            name = ROLES.get(role, measured["label"])
            ax.barh(
                y,
                median,
                width * 0.9,
                xerr=[[median - measured["min"]], [measured["max"] - median]],
                color=COLOURS[role],
                ecolor="#333333",
                capsize=2,
                label=None if name in labelled else name,
            )
            labelled.add(name)
            ax.text(measured["max"] * 1.08, y, seconds(median), va="center", fontsize=7)
    ax.set_yticks(range(len(cases)))
    ax.set_yticklabels([case["title"].replace("`", "") for case in reversed(cases)], fontsize=8)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(
        FuncFormatter(lambda value, _: f"{value * 1000:g} ms" if value < 1 else f"{value:g} s")
    )
    ax.set_xlabel("seconds (median, min-max bars; log scale)")
    versus = "raw vs Prefect" if any(case["prefect"] for case in cases) else "raw"
    ax.set_title(f"{result['title']}: codeferry vs {versus}", fontsize=10)
    order = list(ROLES.values())
    handles, names = ax.get_legend_handles_labels()
    ranked = sorted(
        zip(names, handles, strict=True),
        key=lambda pair: order.index(pair[0]) if pair[0] in order else len(order),
    )
    fig.legend(
        [h for _, h in ranked],
        [n for n, _ in ranked],
        fontsize=8,
        loc="lower center",
        ncol=4,
        frameon=False,
    )
    ax.set_xlim(right=ax.get_xlim()[1] * 2.5)
    fig.tight_layout(rect=(0, 0.35 / fig.get_figheight(), 1, 1))  # room for the legend
    CHARTS.mkdir(parents=True, exist_ok=True)
    target = CHARTS / f"{family}.png"
    fig.savefig(target, dpi=100, metadata={"Software": None})
    plt.close(fig)
    return target


def table(family: str, result: dict[str, Any]) -> list[str]:
    with_rss = any(case["ours"]["peak_rss_mb"] is not None for case in result["cases"])
    rss_heading = "| peak RSS (codeferry / raw / Prefect) " if with_rss else ""
    lines = [
        "| Case | codeferry | raw | Prefect | codeferry ÷ raw | Prefect ÷ codeferry "
        f"{rss_heading}| Target | Met |",
        "|---|--:|--:|--:|--:|--:|" + ("--:|" if with_rss else "") + "---|:-:|",
    ]
    for case in result["cases"]:
        ours, raw, prefect = case["ours"], case["raw"], case["prefect"]
        faster = 1 / case["ratio_to_prefect"] if case["ratio_to_prefect"] else None
        peaks = [megabytes(each and each["peak_rss_mb"]) for each in (ours, raw, prefect)]
        peak = f"| {' / '.join(peaks)} " if with_rss else ""
        target = TARGETS.get((family, case["id"]))
        met = "-" if target is None else ("yes" if target.met(case) else "**no**")
        lines.append(
            f"| {case['title']} | {seconds(ours['median'])} | {seconds(raw and raw['median'])} "
            f"| {seconds(prefect and prefect['median'])} | {ratio(case['ratio_to_raw'])} "
            f"| {ratio(faster)} {peak}| {target.text if target else ''} | {met} |"
        )
    return lines


def _operations(result: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The scale family's cases by operation, in the order measured, smallest size first."""
    found: dict[str, list[dict[str, Any]]] = {}
    for case in result["cases"]:
        found.setdefault(case["operation"], []).append(case)
    return {name: sorted(cases, key=lambda case: case["files"]) for name, cases in found.items()}


def scale_table(result: dict[str, Any]) -> list[str]:
    """Per operation and size: codeferry, its baseline, the ratio and the cost per 1,000 files."""
    lines = [
        "| Operation | Files | codeferry | Baseline | Baseline time | codeferry ÷ baseline"
        " | codeferry per 1,000 files | CPU (codeferry / baseline)"
        " | peak RSS (codeferry / baseline) |",
        "|---|--:|--:|---|--:|--:|--:|--:|--:|",
    ]
    for operation, cases in _operations(result).items():
        for case in cases:
            ours, raw = case["ours"], case["raw"]
            per_thousand = ours["median"] / case["files"] * 1000
            lines.append(
                f"| {operation} | {case['files']:,} | {seconds(ours['median'])} | {raw['label']}"
                f" | {seconds(raw['median'])} | {ratio(case['ratio_to_raw'])}"
                f" | {seconds(per_thousand)} | {seconds(ours.get('cpu_median'))} /"
                f" {seconds(raw.get('cpu_median'))} | {megabytes(ours['peak_rss_mb'])} /"
                f" {megabytes(raw['peak_rss_mb'])} |"
            )
    return lines


def scale_chart(result: dict[str, Any]) -> Path:
    """One panel per operation: seconds against files, codeferry and its baseline (log-log)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    operations = _operations(result)
    in_seconds = FuncFormatter(
        lambda value, _: f"{value * 1000:g} ms" if value < 1 else f"{value:g} s"
    )
    columns = min(3, len(operations))
    rows = -(-len(operations) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4 * columns, 3.2 * rows + 0.6), squeeze=False)
    for ax, (operation, cases) in zip(axes.flat, operations.items(), strict=False):
        files = [case["files"] for case in cases]
        for role, style in (("ours", "-"), ("raw", "--")):
            medians = [case[role]["median"] for case in cases]
            spread = [
                [m - case[role]["min"] for m, case in zip(medians, cases, strict=True)],
                [case[role]["max"] - m for m, case in zip(medians, cases, strict=True)],
            ]
            ax.errorbar(
                files,
                medians,
                yerr=spread,
                fmt=f"o{style}",
                color=COLOURS[role],
                capsize=2,
                label="codeferry" if role == "ours" else "baseline (git CLI / raw SDK)",
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(files)
        ax.set_xlim(min(files) / 1.6, max(files) * 1.6)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        low, high = ax.get_ylim()
        ax.set_ylim(min(low, high / 4), high * 1.3)  # a decade at least: growth, not noise
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(in_seconds)
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_title(operation, fontsize=9)
        ax.set_xlabel("files", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(operations) :]:
        ax.set_visible(False)
    handles, names = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, names, fontsize=8, loc="lower center", ncol=2, frameon=False)
    fig.suptitle("Scale: median seconds against files (min-max bars, log-log)", fontsize=10)
    fig.tight_layout(rect=(0, 0.4 / fig.get_figheight(), 1, 1))
    CHARTS.mkdir(parents=True, exist_ok=True)
    target = CHARTS / "scale.png"
    fig.savefig(target, dpi=100, metadata={"Software": None})
    plt.close(fig)
    return target


def legend(result: dict[str, Any], cpu_lines: bool = True) -> list[str]:
    """What each column measured, and the extra tools measured beside them."""
    lines = []
    for role, heading in ROLES.items():
        labels = dict.fromkeys(case[role]["label"] for case in result["cases"] if case[role])
        if labels:
            lines.append(f"- **{heading}**: {'; '.join(labels)}.")
    for case in result["cases"]:
        for other in case["others"]:
            raw, ours = case["raw"], case["ours"]
            versus = (
                f", {other['median'] / raw['median']:.2f}x raw"
                if raw
                else f", {other['median'] / ours['median']:.1f}x codeferry's time"
            )
            lines.append(
                f"- Also measured for *{case['title']}*: {other['label']}, "
                f"{seconds(other['median'])}{versus}."
            )
        if case["note"]:
            lines.append(f"- *{case['title']}*: {case['note']}")
        ours, prefect = (
            case["ours"]["process_median"],
            (case["prefect"] or {}).get("process_median"),
        )
        cpu = [(case[role] or {}).get("cpu_median") for role in ("ours", "raw")]
        if cpu_lines and all(cpu):
            lines.append(
                f"- *{case['title']}*, CPU time (user + system, child processes included):"
                f" codeferry {seconds(cpu[0])}, raw {seconds(cpu[1])}."
            )
        if ours and prefect:
            lines.append(
                f"- *{case['title']}*, whole process (start to exit): codeferry {seconds(ours)},"
                f" Prefect {seconds(prefect)}, {prefect / ours:.1f}x faster."
            )
    return lines


def samples_line(result: dict[str, Any]) -> str:
    spread = [
        (case["ours"]["max"] - case["ours"]["min"]) / case["ours"]["median"]
        for case in result["cases"]
    ]
    machine = result["machine"]
    loadavg = machine["load_average"][0]
    text = (
        f"`{result['command']}` on {result['date']}, {result['rounds']} round"
        f"{'' if result['rounds'] == 1 else 's'}; load average "
        f"{loadavg} on {machine['cpus']} CPUs when it finished; median spread (max - min) / "
        f"median of codeferry's samples: {statistics.median(spread):.0%}."
    )
    if loadavg > machine["cpus"] / 2:
        text += " Other work competed for the CPUs during this run: expect noise."
    return text


def family_section(family: str, title: str, result: dict[str, Any] | None) -> list[str]:
    lines = [f"## {title}", ""]
    if result is None or "not_measured" in result:
        (CHARTS / f"{family}.png").unlink(missing_ok=True)  # no chart left from an older run
    if result is None:
        return [
            *lines,
            f"Not measured: no results file. Run `nox -s bench -- {family}`.",
            "",
        ]
    if "not_measured" in result:
        return [
            *lines,
            f"Not measured: `{result['command']}` failed on {result['date']} with "
            f"`{result['not_measured']}`.",
            "",
        ]
    versus = "the git CLI and the raw baselines" if family == "scale" else "raw and Prefect"
    if family == "scale":
        scale_chart(result)
        body = scale_table(result)
    else:
        chart(family, result)
        body = table(family, result)
    server = [f"**Server**: {result['server']}.", ""] if result.get("server") else []
    notes = [line for note in result["notes"] for line in (note, "")]
    return [
        *lines,
        *server,
        *notes,
        *body,
        "",
        *legend(result, cpu_lines=family != "scale"),
        "",
        samples_line(result),
        "",
        f"![{title}: medians of codeferry, {versus}](benchmarks/{family}.png)",
        "",
    ]


def header(results: dict[str, dict[str, Any]]) -> list[str]:
    measured = [result for result in results.values() if "versions" in result]
    versions: dict[str, str] = {}
    for result in measured:
        versions.update(result["versions"])
    machine = measured[0]["machine"] if measured else None
    lines = [
        "# Benchmarks",
        "",
        "codeferry beside a raw baseline (the fastest plain way to do the same transfer) and"
        " Prefect, on every backend, against local test servers. Generated by `nox -s bench`"
        " (the benchmarks in `benchmarks/`, then `benchmarks/report.py`); do not edit by hand.",
        "",
        "Numbers are medians over rounds that alternate between the tools, so drift affects"
        " each alike (blob stores: the raw baseline and codeferry's cold pull swap places"
        " every round); the charts add min-max bars. Ratios below 1 in *codeferry ÷ raw* mean"
        " codeferry was faster; *Prefect ÷ codeferry* is how many times faster codeferry was."
        " Targets are those of the developers' guide; the Prefect figures in them are the"
        " guide's, the Prefect column is this run's.",
        "",
    ]
    if machine:
        lines += [
            f"- **Machine**: {machine['cpu']}, {machine['cpus']} CPUs, {machine['platform']}.",
            "- **Versions**: " + ", ".join(f"{name} {v}" for name, v in versions.items()) + ".",
            "",
        ]
    noisy = [
        FAMILIES[result["family"]]
        for result in measured
        if result["machine"]["load_average"][0] > result["machine"]["cpus"] / 2
    ]
    if noisy:
        lines += [
            '!!! warning "Noisy numbers"',
            f"    Other work used the CPUs while these ran: {', '.join(noisy)}. Ratios between"
            " tools measured in the same rounds hold up better than absolute times.",
            "",
        ]
    lines += ["## Targets", "", *targets(results), ""]
    return lines


def main() -> None:
    results = load()
    lines = header(results)
    for family, title in FAMILIES.items():
        lines += family_section(family, title, results.get(family))
    PAGE.write_text("\n".join(lines).rstrip() + "\n")
    print(f"wrote {PAGE.relative_to(ROOT)} and {len(list(CHARTS.glob('*.png')))} charts")


if __name__ == "__main__":
    main()
