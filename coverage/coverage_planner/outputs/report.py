"""The planner's report: a document to hand to a director, as HTML (print CSS), PDF and Markdown.

It opens with the headline shares, shows a printable map (`static_map`:
streets, bands, sites, labels, scale bar, north arrow; no tiles, no iframe),
then, when given, the proposed sites (each with the compounds it newly covers
and the weight gained) or the before/after comparison; coverage by 区 / 街道 /
社区 / 类型 / 社区类别 with charts; what each site serves and which places
several sites cover; every place left outside with the reason; and a readable
record of the inputs and rules. Placeholders (``status = placeholder``) are
marked in every table and on the map. ``report.pdf`` is the same HTML laid
out by WeasyPrint; ``tables.xlsx`` holds every table in full.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from markupsafe import Markup

from coverage_planner._errors import DataError
from coverage_planner._io import atomic_path, write_text_atomic
from coverage_planner._workers import WorkerChain, fork_is_safe, side_by_side
from coverage_planner.diff import ScenarioDiff
from coverage_planner.escape import markdown_table, markdown_text
from coverage_planner.outputs import _gc
from coverage_planner.outputs._labels import ROUTE_COLOURS, readable_name
from coverage_planner.outputs._report_text import TEMPLATE, TEXT, TEXT_DRIVE
from coverage_planner.outputs.fonts import css_families
from coverage_planner.outputs.service import ServiceTables
from coverage_planner.results import SUMMARY_DIMENSIONS, CoverageResult

#: Rows of a long table shown in the HTML/PDF/Markdown report (tables.xlsx has them all).
MAX_GROUP_ROWS = 80
MAX_LEFT_OUT_ROWS = 100
MAX_SHARED_ROWS = 30
MAX_LIST_ROWS = 60
#: Names listed per site (served or newly covered places).
NAMES_PER_SITE = 8
_REASONS = ("beyond", "no_site", "cut_off", "off_network")


@dataclass
class _Table:
    """A table of display strings, a CSS class per column (True: a number), and a note (e.g. rows left out)."""

    frame: pd.DataFrame
    num: list[bool | str] = field(default_factory=list)
    note: str | None = None

    def html(self) -> dict[str, Any]:
        classes = self.num or [False] * len(self.frame.columns)
        # Short text columns (区, 街道 …) stay on one line; long ones wrap.
        classes = [
            "nw" if c is False and len(self.frame) and self.frame[col].astype(str).str.len().max() <= 10 else c
            for c, col in zip(classes, self.frame.columns)
        ]
        return {
            "head": [str(c) for c in self.frame.columns],
            "num": ["n" if c is True else (c or "") for c in classes],
            "rows": self.frame.astype(str).to_numpy().tolist(),
            "note": self.note,
        }

    def markdown(self) -> str:
        if not len(self.frame):
            return "-"
        text = markdown_table(self.frame.astype(str))
        return text + (f"\n\n{markdown_text(self.note)}" if self.note else "")


def write_report(
    result: CoverageResult,
    out_dir: str | Path,
    *,
    lang: str = "zh",
    diff: ScenarioDiff | None = None,
    map_file: str | None = None,
    proposal: Any = None,
    pdf: bool = True,
    weight_label: str | None = None,
    service: ServiceTables | None = None,
    beside_pdf: Callable[[], list[Path]] | None = None,
) -> list[Path]:
    """Write report.html, report.pdf, report.md, map.png, the chart PNGs and tables.xlsx into ``out_dir``.

    Parameters
    ----------
    result : CoverageResult
        The run (for a proposal: coverage with the proposed sites, ``proposal.after``).
    out_dir : str or Path
        Output folder (created).
    lang : {"zh", "en"}, default "zh"
        Language of every word of the report, its charts and its map.
    diff : ScenarioDiff, optional
        A before/after comparison to include.
    map_file : str, optional
        Name of an interactive map in ``out_dir`` (e.g. "map.html") to link to.
        The report always carries its own printable map.
    proposal : Proposal, optional
        The `propose_sites` answer ``result`` comes from: adds the proposed
        sites, the compounds each newly covers and the weight it gains, the
        candidate sources and the shares of all and of coverable weight.
    pdf : bool, default True
        Also write ``report.pdf`` (WeasyPrint).
    weight_label : str, optional
        What the demand weight counts (e.g. "重点服务对象"); default: the weight
        column recorded in the manifest.
    service : ServiceTables, optional
        Service planning to report: each site's load and capacity, the
        volunteer spread, accessibility (2SFCA), equity, allocation by
        community class, circuit mediation (schedule and one printable page
        per route) and clinic venues, each in the report and as sheets of
        tables.xlsx. None or empty: every file is exactly the one without it.
    beside_pdf : callable, optional
        More work that needs nothing of the report (`write_map_and_report`
        passes the interactive map): run in a worker with the workbook while
        the PDF is laid out, the longest step (without the PDF, in a worker
        beside the pictures). Returns the files it wrote.

    Returns
    -------
    list of Path
        The files written: ``beside_pdf``'s first, then the report's.

    Raises
    ------
    ValueError
        For an unknown ``lang``.
    FontMissingError
        When Chinese (or other) text must be drawn and no installed font has its glyphs.
    PdfError
        When the PDF cannot be made (WeasyPrint or its system libraries missing).
    """
    if lang not in TEXT:
        raise DataError(f"lang must be one of {', '.join(TEXT)}, not {lang!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = _Document(result, lang, diff, proposal, weight_label, service)
    written: list[Path] = []
    groups = list(doc.group_tables())

    def workbook() -> Path:
        with atomic_path(out_dir / "tables.xlsx") as tmp:
            _write_workbook(tmp, doc.sheets())
        return out_dir / "tables.xlsx"

    def printed_maps() -> tuple[bytes, dict[Any, bytes | None]]:
        # The printed map and each route's map, the longest drawing: in a worker.
        from coverage_planner.outputs.static_map import static_map_png

        printed = static_map_png(result, lang, name=doc.name or None, site_names=doc.proposed_names(short=True))
        return printed, doc.service.route_maps() if doc.service is not None else {}

    def tables_and_charts() -> tuple[list[bytes | None], bytes]:
        # Here, beside the worker: the report's tables, WeasyPrint's import, then the charts.
        doc.prepare()
        if pdf:
            from coverage_planner.outputs.pdf import pdf_engine

            pdf_engine()
        from coverage_planner.outputs.charts import share_by_group, walk_time_histogram

        return [share_by_group(result, dim, lang) for dim, _, _ in groups], walk_time_histogram(result, lang)

    def beside_the_layout() -> tuple[list[Path], Path]:
        return (beside_pdf() if beside_pdf is not None else []), workbook()

    if fork_is_safe():
        # Both processes draw with matplotlib: imported once here, before the fork, rather than in each of them.
        import coverage_planner.outputs.charts
        import coverage_planner.outputs.static_map  # noqa: F401

    # With the PDF: it waits for the pictures it embeds, the interactive map (beside_pdf) and the workbook wait
    # for nothing. One worker draws the printed maps, hands them over and goes on with those two, while here the
    # tables and charts are made and then the PDF is laid out (the longest step): no second worker to start.
    with WorkerChain([printed_maps, beside_the_layout] if pdf else []) as worker:
        if pdf:
            share_pngs, histogram = tables_and_charts()
            map_png, route_pngs = worker.next()
        else:
            extra = [beside_pdf] if beside_pdf is not None else []

            def charts_then_workbook() -> tuple[tuple[list[bytes | None], bytes], Path]:
                # Here too: the workbook takes a tenth of the printed map, and a third process would slow both.
                return tables_and_charts(), workbook()

            (map_png, route_pngs), *more, ((share_pngs, histogram), workbook_path) = side_by_side(
                [printed_maps, *extra, charts_then_workbook]
            )
        if doc.service is not None:
            doc.service.drawn = route_pngs
        group_parts = [(title, table, png) for (_, title, table), png in zip(groups, share_pngs)]
        charts = [(title, png) for title, _, png in group_parts if png is not None] + [(doc.t["charts"], histogram)]
        images = [("map.png", map_png)] + [(f"chart_{i + 1}.png", png) for i, (_, png) in enumerate(charts)]
        if doc.service is not None:
            images += doc.service.images()
        for name, data in images:
            with atomic_path(out_dir / name) as tmp:
                tmp.write_bytes(data)
            written.append(out_dir / name)

        context = doc.context(map_png, histogram, group_parts, map_file)
        html = TEMPLATE.render(**context)
        written.append(write_text_atomic(out_dir / "report.html", html))
        written.append(write_text_atomic(out_dir / "report.md", doc.markdown(context, group_parts)))
        if pdf:
            from coverage_planner.outputs.pdf import html_to_pdf

            # No link in the PDF: WeasyPrint would write it as an absolute file:// URL of this (maybe staging) folder.
            pdf_path = html_to_pdf(TEMPLATE.render(**context, for_pdf=True), out_dir / "report.pdf")
            first, workbook_path = worker.next()
            return first + written + [workbook_path, pdf_path]
    written.append(workbook_path)
    return (more[0] if more else []) + written


class _Document:
    """Everything the report says, computed once and shown as HTML, Markdown and workbook sheets."""

    def __init__(
        self, result: CoverageResult, lang: str, diff, proposal, weight_label: str | None, service=None
    ) -> None:
        self.result, self.lang, self.diff, self.proposal = result, lang, diff, proposal
        self.drive = result.travel_mode == "drive"
        self.t = {**TEXT[lang], **TEXT_DRIVE[lang]} if self.drive else TEXT[lang]
        self.service = None if service is None or service.is_empty() else _ServicePart(self, service)
        manifest = result.manifest or {}
        self.name = str((manifest.get("scenario") or {}).get("name") or "")
        demand = result.demand
        weights = demand["weight"].to_numpy(float) if len(demand) else np.zeros(0)
        self.weights_vary = bool(len(weights) and np.nanmax(weights) != np.nanmin(weights))
        self.weight_column = weight_label or _recorded_weight_column(result)
        if self.weights_vary:
            self.w = self.weight_column or self.t["weight_generic"]
        else:
            self.w = "地点" if lang == "zh" else "places"
        self.threshold = float(result.threshold_min)
        self.search_min = result.matrix.cutoff_m / result.metres_per_minute
        self.summary = result.summary()
        self.reasons = _reasons(result, self.t)
        self.site_table = result.by_site()
        self.pairs = result.by_site(pairs=True)

    # ------------------------------------------------------------------ pieces
    def tag(self, name: object, status: object) -> str:
        text = "" if name is None or (isinstance(name, float) and math.isnan(name)) else str(name)
        return text + (self.t["placeholder_tag"] if status == "placeholder" else "")

    @property
    def minutes_label(self) -> str:
        """The minutes column's heading: walk or drive minutes."""
        return self.t["drive_min"] if self.drive else self.t["walk_min"]

    def group_label(self, group: object) -> str:
        return self.t["none"] if group == "(none)" else str(group)

    def headline_rule(self) -> str:
        r, t = self.result, self.t
        profile = t["profiles"].get(r.profile_name, r.profile_name)
        mode = (r.cost_model or {}).get("mode", "walk")
        plain = (r.cost_model or {}).get("plain", True)
        key = "rule_drive" if mode == "drive" else ("rule" if plain else "rule_costs")
        rule = t[key].format(t=self.threshold, m=r.threshold_m, v=r.speed_kmh, profile=profile)
        if r.preset:
            rule += "; " + t["preset_rule"].format(preset=t["presets"].get(r.preset, r.preset))
        return rule

    def keyfigs(self) -> list[tuple[str, str, str]]:
        r, t, d = self.result, self.t, self.result.demand
        covered = int(d["covered"].sum())
        rows = [
            (
                t["share_places"],
                _pct(r.share_covered()),
                t["share_places_detail"].format(covered=covered, total=len(d), t=self.threshold)
                + self.was(weighted=False),
            )
        ]
        if self.weights_vary:
            w = d["weight"].to_numpy(float)
            rows.append(
                (
                    t["share_weight"].format(w=self.w),
                    _pct(r.share_covered(weighted=True)),
                    t["share_weight_detail"].format(
                        covered=_round(w[d["covered"].to_numpy(bool)].sum()),
                        total=_round(w.sum()),
                        w=self.w,
                        t=self.threshold,
                    )
                    + self.was(weighted=True),
                )
            )
        status = _statuses(r.sites)
        detail = t["sites_detail"].format(n=int((status != "proposed").sum()))
        if (status == "proposed").any():
            detail += t["sites_proposed"].format(n=int((status == "proposed").sum()))
        if (status == "placeholder").any():
            detail += t["sites_placeholder"].format(n=int((status == "placeholder").sum()))
        rows.append((t["sites_line"], str(len(r.sites)), detail))
        rows.append((t["left_line"], str(len(d) - covered), t["left_detail"].format(n=len(d) - covered)))
        return rows

    def was(self, *, weighted: bool) -> str:
        """ " (before: 47.2%)" when the report compares with an earlier state."""
        if self.proposal is not None:
            if weighted:
                return self.t["was"].format(share=_pct(self.proposal.share_before))
            return self.t["was"].format(share=_pct(self.proposal.before.share_covered()))
        if self.diff is not None and not weighted:
            overall = self.diff.summary[self.diff.summary["dimension"] == "all"]
            if len(overall):
                return self.t["was"].format(share=_pct(float(overall["share_before"].iloc[0])))
        return ""

    def warnings(self) -> list[str]:
        sites = int((_statuses(self.result.sites) == "placeholder").sum())
        places = int((_statuses(self.result.demand) == "placeholder").sum())
        return [self.t["placeholder_warning"].format(sites=sites, places=places)] if sites or places else []

    def group_tables(self) -> list[tuple[str, str, _Table]]:
        t, s = self.t, self.summary
        out = []
        for dim in SUMMARY_DIMENSIONS:
            table = s[s["dimension"] == dim]
            if table.empty:
                continue
            table = table.sort_values(["share", "group"], kind="stable")
            frame = pd.DataFrame(
                {
                    t["by"][dim]: [self.group_label(g) for g in table["group"]],
                    t["places"]: table["places"].astype(int).astype(str),
                    t["covered"]: table["covered"].astype(int).astype(str),
                    t["share"]: table["share"].map(_pct),
                }
            )
            num = [False, True, True, True]
            if self.weights_vary:
                frame[t["weighted_share"].format(w=self.w)] = table["weight_share"].map(_pct).to_numpy()
                num.append(True)
            frame[t["median_walk"]] = table["median_walk_min"].map(_minutes).to_numpy()
            num.append(True)
            if table["placeholder_places"].sum() > 0:
                frame[t["placeholder_places"]] = table["placeholder_places"].astype(int).astype(str).to_numpy()
                num.append(True)
            out.append((dim, t["group_title"].format(dim=t["by"][dim]), _capped(frame, num, MAX_GROUP_ROWS, t)))
        return out

    def by_site_table(self) -> _Table:
        t, table, pairs = self.t, self.site_table, self.pairs
        served = pairs[pairs["nearest"]].sort_values(["site_id", "weight", "walk_min"], ascending=[True, False, True])
        status_of = dict(zip(self.result.demand["demand_id"], _statuses(self.result.demand)))
        names = {
            site: self.name_list(group["demand_name"], group["walk_min"], group["demand_id"], status_of)
            for site, group in served.groupby("site_id", sort=False)
        }
        # The name carries the status: "★" for a proposed site, "(占位)" for a placeholder.
        frame = pd.DataFrame(
            {
                t["site"]: [
                    ("★ " if s == "proposed" else "") + self.tag(n, s)
                    for n, s in zip(table["site_name"], table["status"])
                ]
            }
        )
        if self.proposal is not None:
            proposed = self.proposed_names()
            frame[t["site"]] = [
                f"★ {proposed[str(i)]}" if str(i) in proposed else cell
                for i, cell in zip(table["site_id"], frame[t["site"]])
            ]
        num = [False]
        frame[t["nearest_places"]] = table["nearest_places"].astype(str)
        frame[t["served_places"]] = table["served_places"].astype(str)
        num += [True, True]
        if self.weights_vary:
            frame[t["served_weight"].format(w=self.w)] = table["served_weight"].map(_round).astype(str)
            num.append(True)
        frame[t["served_median"]] = table["served_median_walk_min"].map(_minutes)
        num.append(True)
        # A band no site could be counted for (beyond the search limit) is left out; the note says so.
        within = [c for c in table.columns if c.startswith("within_")]
        missing = any(table[c].isna().any() for c in within)
        for column in [c for c in within if table[c].notna().any()]:
            band = float(column.removeprefix("within_").removesuffix("_min"))
            frame[t["within"].format(b=band)] = [
                t["not_computed"] if pd.isna(v) else str(int(v)) for v in table[column]
            ]
            num.append(True)
        frame[t["served_names"]] = [names.get(site, "") for site in table["site_id"]]
        num.append(False)
        return _Table(frame, num, t["not_computed_note"].format(s=self.search_min) if missing else None)

    def name_list(
        self, names, minutes, ids, status_of: dict, limit: int = NAMES_PER_SITE, readable: Sequence[bool] | None = None
    ) -> str:
        """Up to ``limit`` names with walk minutes, readable names first (ids like "way 123" only to fill up), and how many in all.

        ``readable``: `readable_name` of each name, when the caller knows it already.
        """
        rows = list(zip(names, minutes, ids))
        readable = [readable_name(r[0]) for r in rows] if readable is None else readable
        rows = [r for r, ok in zip(rows, readable) if ok] + [r for r, ok in zip(rows, readable) if not ok]
        sep = "、" if self.lang == "zh" else ", "
        items = [
            f"{self.tag(n, status_of.get(i))} ({m:.1f})" if m == m else self.tag(n, status_of.get(i))
            for n, m, i in rows[:limit]
        ]
        more = len(rows) > limit
        # {n}: all of them (zh "等 148 个"); {rest}: those not listed (en "and 140 more").
        return sep.join(items) + (self.t["and_more"].format(n=len(rows), rest=len(rows) - limit) if more else "")

    def shared_table(self) -> tuple[str, _Table]:
        t, pairs = self.t, self.pairs
        shared = pairs[pairs["sites_covering"] >= 2].sort_values(["demand_id", "walk_min"])
        status_of = dict(zip(self.result.demand["demand_id"], _statuses(self.result.demand)))
        site_status = dict(zip(self.site_table["site_id"], self.site_table["status"]))
        # One place's rows are contiguous (sorted by id): slice plain arrays rather than a pandas group per place.
        ids = shared["demand_id"].to_numpy(object)
        site_names, minutes = shared["site_name"].to_numpy(object), shared["walk_min"].to_numpy(float)
        site_ids, place_names = shared["site_id"].to_numpy(object), shared["demand_name"].to_numpy(object)
        bounds = np.r_[np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]), len(ids)] if len(ids) else np.zeros(1, int)
        readable_site = {name: readable_name(name) for name in set(site_names.tolist())}  # a few sites, many rows
        site_readable = [readable_site[name] for name in site_names.tolist()]
        rows = []
        for a, b in zip(bounds[:-1], bounds[1:]):
            sites = self.name_list(
                site_names[a:b], minutes[a:b], site_ids[a:b], site_status, limit=b - a, readable=site_readable[a:b]
            )
            rows.append((self.tag(place_names[a], status_of.get(ids[a])), int(b - a), sites))
        frame = pd.DataFrame(rows, columns=[t["place"], t["n_sites"], t["site_names"]])
        frame["_named"] = ~frame[t["place"]].map(readable_name)
        frame = frame.sort_values([t["n_sites"], "_named", t["place"]], ascending=[False, True, True], kind="stable")
        frame = frame.drop(columns="_named")
        frame[t["n_sites"]] = frame[t["n_sites"]].astype(str)
        note = t["shared_note"].format(n=len(frame), t=self.threshold)
        return note, _capped(frame, [False, True, False], MAX_SHARED_ROWS, t)

    def left_out_frame(self, *, ids: bool = False, numeric: bool = False) -> pd.DataFrame:
        """Every place left outside, in reason order (``ids``: with the place ids; ``numeric``: minutes as numbers)."""
        t, r = self.t, self.result
        table = r.left_out()
        reasons = self.reasons.reindex(table.index)
        order = reasons["reason"].map({k: i for i, k in enumerate(_REASONS)})
        table, reasons = (
            table.loc[order.sort_values(kind="stable").index],
            reasons.loc[order.sort_values(kind="stable").index],
        )
        frame = pd.DataFrame({t["name"]: [self.tag(n, s) for n, s in zip(table["demand_name"], _statuses(table))]})
        for column in ("type", "district", "subdistrict", "community"):
            if column in table and table[column].notna().any():
                frame[t["by"][column]] = table[column].fillna("").astype(str).to_numpy()
        frame[t["nearest"]] = table["nearest_site_name"].fillna("").astype(str).to_numpy()
        frame[self.minutes_label] = (
            table["walk_min"].to_numpy(float)
            if numeric  # a spreadsheet sorts and sums numbers; a blank cell is "no site within reach"
            else table["walk_min"].map(lambda m: t["unreachable"] if pd.isna(m) else f"{m:.1f}").to_numpy()
        )
        # Why 600 m can be 18 minutes: the route's steps, crossings and the minutes they add.
        for column in ("route_steps", "route_crossings"):
            if column in table:
                frame[t[column]] = (
                    table[column].to_numpy(float)
                    if numeric
                    else table[column].map(lambda n: "" if pd.isna(n) else f"{int(n)}").to_numpy()
                )
        if "cost_extra_min" in table:
            frame[t["cost_extra_min"]] = (
                np.round(table["cost_extra_min"].to_numpy(float), 1) + 0.0  # + 0.0: no "-0.0"
                if numeric
                else table["cost_extra_min"]
                .map(lambda m: "" if pd.isna(m) else f"{m:.1f}".replace("-0.0", "0.0"))
                .to_numpy()
            )
        frame[t["reason"]] = reasons["text"].to_numpy()
        if ids:
            frame.insert(0, t["id"], table["demand_id"].astype(str).to_numpy())
        return frame.reset_index(drop=True)

    def left_out_tables(self) -> tuple[_Table, _Table]:
        t = self.t
        left = self.reasons[self.reasons["reason"] != "covered"]
        weight = self.result.demand["weight"].reindex(left.index)
        rows = []
        for key in _REASONS:
            mask = left["reason"] == key
            if mask.any():
                label = t[f"reason_{key}"].format(t=self.threshold, s=self.search_min)
                row = [label, str(int(mask.sum()))]
                if self.weights_vary:
                    row.append(_round(weight[mask].sum()))
                rows.append(row)
        head = [t["reason"], t["count"]] + ([self.w] if self.weights_vary else [])
        reasons = _Table(pd.DataFrame(rows, columns=head), [False, True] + ([True] if self.weights_vary else []))
        frame = self.left_out_frame()
        numeric = {self.minutes_label, t["route_steps"], t["route_crossings"], t["cost_extra_min"]}
        num = [c in numeric for c in frame.columns]
        return reasons, _capped(frame, num, MAX_LEFT_OUT_ROWS, t)

    def diff_part(self) -> dict | None:
        if self.diff is None:
            return None
        t, diff = self.t, self.diff
        counts = diff.counts()
        summary = diff.summary
        frame = pd.DataFrame(
            {
                t["dimension"]: [t["by"].get(d, d) for d in summary["dimension"]],
                t["group"]: [t["by"]["all"] if g == "all" else self.group_label(g) for g in summary["group"]],
                t["places"]: summary["places"].astype(int).astype(str),
                t["before"]: summary["share_before"].map(_pct),
                t["after"]: summary["share_after"].map(_pct),
                t["change"]: summary["share_change"].map(lambda v: f"{v * 100:+.1f}" if v == v else ""),
            }
        )
        newly = diff.newly_covered()
        status_of = dict(zip(self.result.demand["demand_id"], _statuses(self.result.demand)))
        newly_frame = pd.DataFrame(
            {
                t["name"]: [self.tag(n, status_of.get(i)) for n, i in zip(newly["demand_name"], newly["demand_id"])],
                f"{t['walk_min']} ({t['before']})": newly["walk_min_before"].map(_minutes_or(t)).to_numpy(),
                f"{t['walk_min']} ({t['after']})": newly["walk_min_after"].map(_minutes_or(t)).to_numpy(),
            }
        )
        return {
            "counts": t["diff_counts"].format(
                newly=int(counts["newly covered"]), lost=int(counts["no longer covered"]), faster=int(counts["faster"])
            ),
            "table": _capped(frame, [False, False, True, True, True, True], MAX_GROUP_ROWS, t),
            # A proposal lists what each new site newly covers; a plain comparison lists the places here.
            "newly": _capped(
                newly_frame if self.proposal is None else newly_frame.head(0), [False, True, True], MAX_LIST_ROWS, t
            ),
        }

    def proposal_part(self) -> dict | None:
        p = self.proposal
        if p is None:
            return None
        t, after = self.t, self.result
        k = len(p.sites)
        lines = [t["method"].get(p.method, p.method).format(k=k)]
        sources = p.candidates["source"].fillna("") if "source" in p.candidates else pd.Series(dtype=object)
        if len(sources):
            counts = sources.value_counts(sort=False)
            listed = [t["source_count"].format(source=self.source_label(s), n=int(n)) for s, n in counts.items()]
            sep = "; " if self.lang == "zh" else "; "
            lines.append(t["candidates_from"].format(n=len(p.candidates), sources=sep.join(listed)))
        lines.append(t["share_change"].format(w=self.w, before=p.share_before, after=p.share_after))
        coverable = float(p.coverable_share)
        lines.append(t["coverable"].format(w=self.w, share=coverable, n=len(p.uncoverable), t=self.threshold))
        if coverable > 0:
            lines.append(
                t["of_coverable"].format(w=self.w, before=p.share_before / coverable, after=p.share_after / coverable)
            )
        target = getattr(p, "target_share", None)
        if target is not None:
            basis = getattr(p, "target_basis", "all")
            absolute = target * coverable if basis == "coverable" else target
            key = "target_coverable" if basis == "coverable" else "target_all"
            lines.append(t[key].format(w=self.w, target=target, absolute=absolute))
            gap = absolute - p.share_after
            lines.append(t["target_met"] if gap <= 1e-9 else t["target_missed"].format(gap=gap))
        newly = self.newly_by_proposed()
        status_of = dict(zip(after.demand["demand_id"], _statuses(after.demand)))
        names = self.proposed_names()
        rows = []
        where = p.coordinates().to_dict("records")
        for site, at in zip(p.sites.itertuples(index=False), where):
            places = newly.get(site.id, pd.DataFrame(columns=["demand_id", "demand_name", "walk_min", "weight"]))
            rows.append(
                [
                    int(site.rank),
                    names.get(str(site.id), str(site.name)),
                    self.source_label(getattr(site, "source", "") or ""),
                    _coordinates(at),
                    len(places),
                    float(getattr(site, "added_weight", places["weight"].sum())),
                    self.name_list(places["demand_name"], places["walk_min"], places["demand_id"], status_of),
                ]
            )
        head = [
            t["rank"],
            t["proposed_site"],
            t["source"],
            t["location"],
            t["newly_places"],
            t["added_weight"].format(w=self.w),
            t["newly_names"],
        ]
        numbers = pd.DataFrame(rows, columns=head)  # the workbook's sheet: counts and weights as numbers
        shown = numbers.assign(
            **{
                head[0]: numbers[head[0]].map(str),
                head[4]: numbers[head[4]].map(str),
                head[5]: numbers[head[5]].map(_round),
            }
        )
        sites = _Table(shown, [True, "wide", "src", "loc", True, True, "wide"])
        unc = p.uncoverable
        unc_names = self.name_list(
            list(unc.get("demand_name", [])), [np.nan] * len(unc), list(unc.get("demand_id", [])), status_of, limit=40
        )
        return {
            "lines": lines,
            "sites": sites,
            "sites_numbers": numbers,
            "uncoverable": unc_names,
            "uncoverable_note": t["uncoverable_note"].format(t=self.threshold),
        }

    def proposed_names(self, *, short: bool = False) -> dict[str, str]:
        """Readable names of the proposed sites by id: their own, or the named street they stand by.

        ``short`` leaves out the candidate's generated name (for map labels).
        """
        p, after = self.proposal, self.result
        if p is None or not len(p.sites):
            return {}
        streets = nearest_streets(after.network, p.sites.geometry.x.to_numpy(), p.sites.geometry.y.to_numpy())
        return {
            str(site_id): self.proposed_name(name, site_id, street, short=short)
            for site_id, name, street in zip(p.sites["id"], p.sites["name"], streets)
        }

    def newly_by_proposed(self) -> dict[str, pd.DataFrame]:
        """Places each proposed site newly covers, in rank order (a place goes to the first site that covers it)."""
        p, after = self.proposal, self.result
        before = p.before.demand.set_index("demand_id")["covered"].reindex(after.demand["demand_id"]).fillna(False)
        covered = before.to_numpy(bool).copy()
        covers = after.matrix.covers(after.threshold_m)
        row_of = {sid: i for i, sid in enumerate(after.matrix.site_ids)}
        walk = after.matrix.to_csr()
        out = {}
        demand = after.demand.reset_index(drop=True)
        for site_id in p.sites["id"]:
            row = row_of.get(site_id)
            if row is None:
                continue
            cols = covers[row].indices
            new = np.sort(cols[~covered[cols]])
            covered[new] = True
            minutes = np.asarray(walk[row, new].todense()).ravel() / after.metres_per_minute if len(new) else []
            frame = pd.DataFrame(
                {
                    "demand_id": demand["demand_id"].to_numpy(object)[new],
                    "demand_name": demand["demand_name"].to_numpy(object)[new],
                    "walk_min": np.round(minutes, 2),
                    "weight": demand["weight"].to_numpy(float)[new],
                }
            )
            out[site_id] = frame.sort_values(["weight", "walk_min"], ascending=[False, True], kind="stable")
        return out

    def proposed_name(
        self, name: object, site_id: object, street: tuple[str, float] | None, *, short: bool = False
    ) -> str:
        """A name a director can read: the candidate's own, or the street it stands by (with the candidate's name or id)."""
        if readable_name(name):
            return str(name)
        t = self.t
        if street is None:
            place = t["no_street"]
        else:  # within a few metres the site is on the street itself
            place = t["by_street" if street[1] < 15 else "near_street"].format(street=street[0], d=street[1])
        if short:
            return place
        return place + t["candidate_id"].format(id=name if isinstance(name, str) and name.strip() else site_id)

    def source_label(self, source: str) -> str:
        for pattern, replacement in self.t["sources"]:
            if re.match(pattern, source):
                return re.sub(pattern, replacement, source)
        return source

    def network_check(self) -> str:
        """The network's QA in one line: pieces, dead ends, and lines crossing without a shared node."""
        t, net = self.t, self.result.network
        qa = net.quality_report()
        crossings = net.unnoded_crossings(self.result.cache_dir)
        unexplained = int((crossings["marked"] == "").sum())
        total = float(qa["length_m"].sum())
        text = t["p_network_check_value"].format(
            parts=len(qa),
            share=float(qa["length_m"].max()) / total if total > 0 else 1.0,
            dangling=int(qa["dangling_ends"].sum()),
            crossings=unexplained,
            marked=len(crossings) - unexplained,
        )
        return text + (t["p_network_check_noding"] if unexplained else "")

    def provenance(self) -> list[tuple[str, str]]:
        t, r = self.t, self.result
        m = r.manifest or {}
        rows: list[tuple[str, str]] = []
        scenario = m.get("scenario") or {}
        if scenario.get("path"):
            rows.append((t["p_scenario"], _file_line(scenario, t)))
        inputs = m.get("inputs") or {}
        for key, label in (("sites", t["p_sites"]), ("demand", t["p_demand"])):
            if key in inputs:
                rows.append((label, _file_line(inputs[key], t)))
        if self.weight_column:
            weight = t["p_weight_column"].format(w=self.weight_column)
        else:
            weight = t["p_weight_unnamed"] if self.weights_vary else t["p_weight_none"]
        rows.append((t["p_weight"], weight))
        net = m.get("network") or {**r.network.source.to_dict(), "nodes": r.network.n_nodes, "edges": r.network.n_edges}
        kind = t["p_network_kind"].get(net.get("kind"), net.get("kind") or "")
        where = Path(net["path"]).name if net.get("path") else (net.get("query") or "")
        rows.append((t["p_network"], " · ".join(x for x in (where, kind, _short_hash(net.get("sha256"))) if x)))
        snapshot = net.get("snapshot")
        basis = t["p_snapshot_basis"].get(net.get("snapshot_basis"), net.get("snapshot_basis") or "")
        rows.append(
            (
                t["p_snapshot"],
                f"{str(snapshot)[:10]} ({basis})" if snapshot and basis else str(snapshot or t["p_unknown"]),
            )
        )
        rows.append(
            (
                "",
                t["p_size"].format(
                    nodes=f"{int(net.get('nodes', r.network.n_nodes)):,}",
                    edges=f"{int(net.get('edges', r.network.n_edges)):,}",
                    km=round(float(net.get("walkable_km", r.network.edge_length.sum() / 1000)), 1),
                    parts=int(net.get("components", int(r.network.component.max()) + 1)),
                    crs=net.get("metric_crs") or r.network.crs.to_string(),
                ),
            )
        )
        rows.append((t["p_network_check"], self.network_check()))
        profile = t["profiles"].get(r.profile_name, r.profile_name)
        rows.append((t["p_profile"], t["p_profile_value"].format(profile=profile, v=r.speed_kmh)))
        if r.cost_model:
            rows.append((t["p_costs"], cost_paragraph(r.cost_model, self.lang)))
        rows.append((t["p_threshold"], t["p_threshold_value"].format(t=self.threshold, m=r.threshold_m)))
        if r.preset:
            rows.append((t["p_preset"], t["presets"].get(r.preset, r.preset)))
        rows.append((t["p_search"], t["p_search_value"].format(m=r.matrix.cutoff_m, t=self.search_min)))
        rows.append((t["p_legs"], t["p_legs_yes"] if r.matrix.include_access_legs else t["p_legs_no"]))
        rows.append((t["p_snap"], t["p_snap_value"].format(m=r.max_snap_m)))
        osm = m.get("osm_demand")
        if osm:
            rows.append((t["p_osm_demand"], _plain(osm)))
        for warning in m.get("warnings") or []:
            rows.append((t["p_warnings"], str(warning)))
        tool = m.get("tool") or {}
        if tool:
            rows.append(
                (t["p_tool"], f"{tool.get('name', '')} {tool.get('version', '')} · Python {tool.get('python', '')}")
            )
        if m.get("attribution"):
            rows.append((t["p_copyright"], str(m["attribution"])))
        return rows

    # ------------------------------------------------------------------ outputs
    def prepare(self) -> None:
        """Build the report's tables (those needing no image), once; `context` and `sheets` reuse them."""
        if hasattr(self, "_parts"):
            return
        reasons, left = self.left_out_tables()
        shared_note, shared = self.shared_table()
        diff, proposal = self.diff_part(), self.proposal_part()
        self._tables = {"reasons": reasons, "left": left, "shared": shared, "by_site": self.by_site_table()}
        self._parts = {"diff": diff, "proposal": proposal, "shared_note": shared_note}

    def context(self, map_png: bytes, histogram: bytes, group_parts, map_file: str | None) -> dict[str, Any]:
        t = self.t
        self.prepare()
        diff, proposal = self._parts["diff"], self._parts["proposal"]
        return {
            "html_lang": "zh-CN" if self.lang == "zh" else "en",
            "t": t,
            "fonts": Markup(_safe_css_families(css_families(self.lang))),
            "doc_title": f"{t['title']} — {self.name}" if self.name else t["title"],
            "rule": self.headline_rule(),
            "warnings": self.warnings(),
            "keyfigs": self.keyfigs(),
            "weight_note": None if self.weights_vary else t["equal_weights"],
            "map_png": base64.b64encode(map_png).decode(),
            "map_caption": t["map_caption"].format(t=self.threshold),
            "map_link": map_file,
            "proposal": None if proposal is None else {**proposal, "sites": proposal["sites"].html()},
            "diff": None
            if diff is None
            else {"counts": diff["counts"], "table": diff["table"].html(), "newly": diff["newly"].html()},
            "groups": [
                (title, table.html(), base64.b64encode(png).decode() if png else None)
                for title, table, png in group_parts
            ],
            "histogram": base64.b64encode(histogram).decode(),
            "by_site_note": t["by_site_note"].format(t=self.threshold),
            "by_site": self._tables["by_site"].html(),
            "shared_note": self._parts["shared_note"],
            "shared": self._tables["shared"].html(),
            "left_count": int((~self.result.demand["covered"]).sum()),
            "reasons": self._tables["reasons"].html(),
            "left_out": self._tables["left"].html(),
            "provenance": self.provenance(),
            "service": self.service.context() if self.service is not None else None,
        }

    def markdown(self, context: dict, group_parts) -> str:
        t = self.t
        lines = [f"# {markdown_text(context['doc_title'])}", "", markdown_text(context["rule"]), ""]
        for warning in context["warnings"]:
            lines += [f"> {markdown_text(warning)}", ""]
        for label, big, detail in context["keyfigs"]:
            lines.append(f"- {markdown_text(label)}: **{markdown_text(big)}** ({markdown_text(detail)})")
        lines.append("")
        if context["weight_note"]:
            lines += [markdown_text(context["weight_note"]), ""]
        lines += [f"## {t['map']}", "", f"![{t['map']}](map.png)", "", markdown_text(context["map_caption"]), ""]
        if context["map_link"]:
            lines += [f"{t['map_link']}{markdown_text(context['map_link'])}", ""]
        proposal = self._parts["proposal"]
        if proposal is not None:
            lines += [f"## {t['proposal']}", ""] + [markdown_text(x) + "\n" for x in proposal["lines"]]
            lines += [proposal["sites"].markdown(), ""]
            if proposal["uncoverable"]:
                lines += [f"### {t['uncoverable']}", "", markdown_text(proposal["uncoverable_note"]), ""]
                lines += [markdown_text(proposal["uncoverable"]), ""]
        diff = self._parts["diff"]
        if diff is not None:
            lines += [f"## {t['diff']}", "", markdown_text(diff["counts"]), "", diff["table"].markdown(), ""]
            if len(diff["newly"].frame):
                lines += [f"### {t['newly_list']}", "", diff["newly"].markdown(), ""]
        lines += [f"## {t['coverage']}", ""]
        for i, (title, table, png) in enumerate(group_parts):
            lines += [f"### {markdown_text(title)}", "", table.markdown(), ""]
            if png is not None:
                lines += [f"![{markdown_text(title)}](chart_{i + 1}.png)", ""]
        lines += [
            f"## {t['by_site']}",
            "",
            markdown_text(context["by_site_note"]),
            "",
            self._tables["by_site"].markdown(),
            "",
        ]
        lines += [
            f"### {t['shared']}",
            "",
            markdown_text(self._parts["shared_note"]),
            "",
            self._tables["shared"].markdown(),
            "",
        ]
        lines += [f"## {t['left_out']} ({context['left_count']})", ""]
        if context["left_count"]:
            lines += [
                f"### {t['reasons']}",
                "",
                self._tables["reasons"].markdown(),
                "",
                self._tables["left"].markdown(),
                "",
            ]
        else:
            lines += ["-", ""]
        if self.service is not None:
            lines += self.service.markdown()
        lines += [f"## {t['provenance']}", ""]
        prov = pd.DataFrame(context["provenance"], columns=["", " "])
        lines += [markdown_table(prov), "", markdown_text(t["provenance_note"]), ""]
        manifest = json.dumps(self.result.manifest, ensure_ascii=False, indent=2, default=str)
        # A fence longer than any run of backticks in the manifest (names are in it), so it cannot be closed early.
        fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", manifest)), default=0))
        lines += [f"### {t['manifest_heading']}", "", f"{fence}json", manifest, fence, ""]
        return "\n".join(lines)

    def sheets(self) -> dict[str, pd.DataFrame]:
        r = self.result
        sheets = {
            "coverage": r.table(),
            "summary": self.summary,
            "by_site": self.site_table,
            "site_places": self.pairs,
            "left_out": self.left_out_frame(ids=True, numeric=True),
        }
        if self.diff is not None:
            sheets.update(diff_places=self.diff.places, diff_summary=self.diff.summary)
        # A worker may write the workbook before `prepare` has run here: build only the proposal's part.
        proposal = self._parts["proposal"] if hasattr(self, "_parts") else self.proposal_part()
        if proposal is not None:
            sheets["proposal"] = proposal["sites_numbers"]
        if self.service is not None:
            sheets.update(self.service.sheets())
        out = {name: _for_excel(frame, self.lang) for name, frame in sheets.items()}
        if self.drive:  # machine names mean "travel": a drive run's headers say so
            out = {name: _drive_headers(frame, self.lang) for name, frame in out.items()}
        return out


def _colour_order(routes: pd.DataFrame) -> dict[Any, int]:
    """Each route's place in the colour cycle: the interactive map's order (routes sorted)."""
    return {r: i for i, r in enumerate(sorted(routes["route"].unique()))}


class _ServicePart:
    """What service planning adds to the report: load per site, volunteers, accessibility, equity, circuits, clinics."""

    def __init__(self, doc: _Document, service: ServiceTables) -> None:
        self.doc, self.s, self.t = doc, service, doc.t["svc"]
        self.lang = doc.lang
        #: Route maps a worker drew (`route_maps`), by route.
        self.drawn: dict[Any, bytes | None] = {}

    # ------------------------------------------------------------------ pieces
    def loads(self) -> dict | None:
        loads = self.s.site_loads
        if loads is None or not len(loads):
            return None
        t, d = self.t, self.doc
        statuses = _statuses(loads)
        frame = pd.DataFrame(
            {
                d.t["site"]: [
                    ("★ " if st == "proposed" else "") + str(n) for n, st in zip(loads["site_name"], statuses)
                ],
                t["assigned_places"]: loads["places"].map(lambda v: str(int(v))),
                t["load"]: loads["load"].map(_round),
                t["capacity"]: loads["capacity"].map(lambda v: t["unlimited"] if not np.isfinite(v) else _round(v)),
                t["load_per_capacity"]: loads["load_per_capacity"].map(_pct),
                t["spare"]: [self.spare(v) for v in loads["spare"]],
                t["nearest_load"]: loads["nearest_load"].map(_round),
            }
        )
        num = [False, True, True, True, True, True, True]
        if "mean_walk_min" in loads:
            frame[t["mean_min"]] = loads["mean_walk_min"].map(_minutes).to_numpy()
            num.append(True)
        out: dict[str, Any] = {"_table": _capped(frame, num, MAX_GROUP_ROWS, d.t)}
        summary = self.s.allocation_summary or {}
        method = t["method"].get(summary.get("method"), summary.get("method") or "")
        out["note"] = t["loads_note"].format(t=d.threshold, method=method)
        if summary:
            total = float(summary.get("total_load") or 0.0)
            out["line"] = t["alloc_line"].format(
                assigned=_round(summary.get("assigned_load") or 0.0),
                total=_round(total),
                share=_pct(summary.get("assigned_share")),
                capacity=_round(summary["total_capacity"])
                if np.isfinite(summary.get("total_capacity", np.inf))
                else t["unlimited"],
                full=_round(summary.get("unserved_capacity_load") or 0.0),
                unreach=_round(summary.get("unreachable_load") or 0.0),
                t=d.threshold,
            )
        else:
            out["line"] = ""
        return out

    def spare(self, value: float) -> str:
        if value is None or value != value:
            return ""
        if not np.isfinite(value):
            return self.t["unlimited"]
        return _round(value) if value >= 0 else self.t["over"].format(x=_round(-value))

    def grade(self) -> _Table | None:
        a = self.s.assignment
        if a is None or "community_class" not in a or not a["community_class"].notna().any():
            return None
        t = self.t
        rows = []
        for group, part in a.groupby(a["community_class"].fillna("(none)"), sort=True):
            load = float(part["load"].sum())
            got = float(part.loc[part["assigned"].astype(bool), "load"].sum())
            rows.append(
                [
                    self.doc.group_label(group),
                    str(len(part)),
                    _round(load),
                    str(int(part["assigned"].astype(bool).sum())),
                    _round(got),
                    _pct(got / load if load > 0 else float("nan")),
                ]
            )
        head = [t["grade_col"], self.doc.t["places"], t["load"], t["assigned_places"], t["assigned_load"]]
        frame = pd.DataFrame(rows, columns=[*head, t["assigned_share"]])
        return _Table(frame, [False, True, True, True, True, True])

    def volunteers(self) -> dict | None:
        v = self.s.volunteers
        if v is None or not len(v):
            return None
        t = self.t
        frame = pd.DataFrame(
            {
                self.doc.t["site"]: v["site_name"].astype(str).to_numpy(),
                t["load"]: v["load"].map(_round).to_numpy(),
                t["volunteers_n"]: v["volunteers"].map(lambda x: str(int(x))).to_numpy(),
                t["load_per_volunteer"]: v["load_per_volunteer"].map(lambda x: "" if x != x else f"{x:.3g}").to_numpy(),
            }
        )
        num = [False, True, True, True]
        if "current" in v:
            frame[t["current"]] = v["current"].map(lambda x: "" if x != x else _round(x)).to_numpy()
            frame[t["change"]] = v["change"].map(lambda x: "" if x != x else f"{x:+,.0f}").to_numpy()
            num += [True, True]
        total = self.s.volunteers_total if self.s.volunteers_total is not None else int(v["volunteers"].sum())
        ratio = v["load_per_volunteer"].to_numpy(float)
        ratio = ratio[np.isfinite(ratio)]
        line = t["volunteers_line"].format(
            total=f"{int(total):,}",
            n=len(v),
            lo=f"{ratio.min():.3g}" if len(ratio) else "—",
            hi=f"{ratio.max():.3g}" if len(ratio) else "—",
        )
        return {"line": line, "_table": _capped(frame, num, MAX_GROUP_ROWS, self.doc.t)}

    def access(self) -> dict | None:
        a = self.s.accessibility
        if a is None or not len(a):
            return None
        t = self.t
        score = a["access"].to_numpy(float)
        index = a["access_index"].to_numpy(float) if "access_index" in a else np.full(len(a), np.nan)
        stats = []
        for key, fn in (
            ("min", np.nanmin),
            ("p10", lambda x: np.nanpercentile(x, 10)),
            ("median", np.nanmedian),
            ("mean", np.nanmean),
            ("p90", lambda x: np.nanpercentile(x, 90)),
            ("max", np.nanmax),
        ):
            row = [t["stats"][key]]
            for values in (score, index):
                row.append(f"{fn(values):.4g}" if np.isfinite(values).any() else "—")
            stats.append(row)
        method = str(a["method"].iloc[0]) if "method" in a and len(a) else "2sfca"
        zero = int((np.nan_to_num(score) <= 0).sum())
        line = t["access_line"].format(method=t["access_methods"].get(method, method), n=len(a), zero=zero)
        low = a.assign(_s=score).sort_values(["_s", "demand_id"], kind="stable").head(10)
        lowest = pd.DataFrame(
            {
                self.doc.t["place"]: low["demand_name"].astype(str).to_numpy(),
                t["value"]: low["access"].map(lambda x: f"{x:.4g}").to_numpy(),
                t["index"]: (low["access_index"] if "access_index" in low else pd.Series(np.nan, index=low.index))
                .map(lambda x: "—" if x != x else f"{x:.3g}")
                .to_numpy(),
                t["sites_in_catchment"]: low["sites_in_catchment"].map(lambda x: str(int(x))).to_numpy()
                if "sites_in_catchment" in low
                else "",
            }
        )
        return {
            "line": line,
            "_stats": _Table(
                pd.DataFrame(stats, columns=[t["statistic"], t["value"], t["index"]]), [False, True, True]
            ),
            "_lowest": _Table(lowest, [False, True, True, True]),
        }

    def equity(self) -> dict | None:
        e = self.s.equity
        if e is None or not len(e):
            return None
        t = self.t
        cols = [
            ("weighting", t["weighting"], str),
            ("group", t["group"], lambda g: self.doc.t["by"]["all"] if g == "all" else self.doc.group_label(g)),
            ("places", self.doc.t["places"], lambda x: str(int(x))),
            ("weight", t["weight"], _round),
            ("covered_share", t["covered_share"], _pct),
            ("mean_walk_min", t["mean_walk"], _minutes),
            ("median_walk_min", t["median_walk"], _minutes),
            ("p90_walk_min", t["p90_walk"], _minutes),
            ("max_walk_min", t["max_walk"], _minutes),
            ("beyond_search_share", t["beyond_share"], _pct),
            ("gini_walk", t["gini"], lambda x: "" if x != x else f"{x:.3f}"),
        ]
        present = [c for c in cols if c[0] in e]
        if "weighting" in e and e["weighting"].nunique() <= 1:  # one weighting: the column says nothing
            present = [c for c in present if c[0] != "weighting"]
        frame = pd.DataFrame({label: e[col].map(fn).to_numpy() for col, label, fn in present})
        overall = e[e["group"] == "all"] if "group" in e else e.head(1)
        g = float(overall["gini_walk"].iloc[0]) if "gini_walk" in e and len(overall) else float("nan")
        num = [col not in ("weighting", "group") for col, _, _ in present]
        return {"line": t["equity_line"].format(g="—" if g != g else f"{g:.3f}"), "_table": _Table(frame, num)}

    def session_label(self, session: object) -> str:
        if session is None or (isinstance(session, float) and session != session):
            return ""
        return self.t["sessions"].get(int(session), self.t["session_n"].format(n=int(session)))

    def circuits(self) -> dict | None:
        sched, routes = self.s.circuit_schedule, self.s.circuit_routes
        if sched is None or routes is None or not len(sched):
            return None
        t, summary = self.t, self.s.circuit_summary or {}
        budget = float(summary.get("budget_min", float("nan")))
        stay = float(summary.get("stay_min", float("nan")))
        sep = "、" if self.lang == "zh" else "; "
        names = {
            r: sep.join(str(n) for n in g.loc[g["kind"] == "visit", "place_name"])
            for r, g in routes.sort_values(["route", "stop"]).groupby("route", sort=False)
        }
        frame = pd.DataFrame(
            {
                t["day"]: sched["day"].map(lambda x: str(int(x))).to_numpy(),
                t["session"]: sched["session"].map(self.session_label).to_numpy(),
                t["route"]: sched["route"].map(lambda x: str(int(x))).to_numpy(),
                t["studio"]: sched["depot_name"].astype(str).to_numpy(),
                t["start"]: sched["start_clock"].astype(str).to_numpy(),
                t["end"]: sched["end_clock"].astype(str).to_numpy(),
                t["stops"]: sched["stops"].map(lambda x: str(int(x))).to_numpy(),
                t["places"]: [names.get(r, "") for r in sched["route"]],
                t["total"]: sched["total_min"].map(lambda x: f"{x:.0f}").to_numpy(),
            }
        )
        order = np.lexsort((sched["route"].to_numpy(), sched["session"].to_numpy(), sched["day"].to_numpy()))
        frame = frame.iloc[order]
        schedule = _capped(frame, [True, "nw", True, False, "nw", "nw", True, "wide", True], MAX_LIST_ROWS, self.doc.t)
        order_of = _colour_order(routes)
        pages = [
            self.route_page(row, routes[routes["route"] == row["route"]], budget, order_of.get(row["route"], 0))
            for row in sched.to_dict("records")
        ]
        unsched = self.s.circuit_unscheduled
        unscheduled = _Table(
            pd.DataFrame(
                {
                    t["place"]: unsched["place_name"].astype(str).to_numpy() if unsched is not None else [],
                    t["reason"]: [self.reason(r) for r in unsched["reason"]] if unsched is not None else [],
                }
            ),
            [False, False],
        )
        line = t["circuits_line"].format(
            routes=len(sched),
            studios=int(sched["depot_id"].nunique()),
            visited=int((routes["kind"] == "visit").sum()),
            days=int(sched["day"].max()),
            budget=budget,
            stay=stay,
            speed=float(summary.get("speed_kmh", self.doc.result.speed_kmh)),
            unscheduled=0 if unsched is None else len(unsched),
        )
        return {
            "line": line,
            "_schedule": schedule,
            "_unscheduled": _capped(unscheduled.frame, [False, False], MAX_LEFT_OUT_ROWS, self.doc.t),
            "_pages": pages,
        }

    def reason(self, text: object) -> str:
        for pattern, replacement in self.t["reasons"]:
            if re.match(pattern, str(text)):
                return re.sub(pattern, replacement, str(text))
        return str(text)

    def route_maps(self) -> dict[Any, bytes | None]:
        """Each scheduled route's printed map (PNG) by route: the slow part of the route pages, drawn in a worker."""
        sched, routes = self.s.circuit_schedule, self.s.circuit_routes
        if sched is None or routes is None or not len(sched):
            return {}
        order_of = _colour_order(routes)
        return {
            row["route"]: self.route_map(
                row["route"], routes[routes["route"] == row["route"]].sort_values("stop"), order_of.get(row["route"], 0)
            )
            for row in sched.to_dict("records")
        }

    def route_map(self, route: Any, stops: pd.DataFrame, order: int) -> bytes | None:
        """One route's printed map (PNG), or None without legs or stops; taken from `drawn` when a worker drew it."""
        if route in self.drawn:
            return self.drawn[route]
        legs = self.s.circuit_legs
        if legs is None or not len(stops):
            return None
        from coverage_planner.outputs.static_map import route_map_png

        mine = legs[legs["route"] == route].to_crs(4326)
        colour = ROUTE_COLOURS[order % len(ROUTE_COLOURS)]
        return route_map_png(self.doc.result, mine, stops, self.lang, colour=colour)

    def route_page(self, row: dict, stops: pd.DataFrame, budget: float, order: int) -> dict:
        t = self.t
        stops = stops.sort_values("stop")
        png = self.route_map(row["route"], stops, order)
        table_rows = []
        for stop in stops.to_dict("records"):
            kind = stop["kind"]
            place = str(stop["place_name"])
            if kind == "depart":
                place = t["depart"].format(name=place)
            elif kind == "return":
                place = t["return"].format(name=place)
            stay = float(stop["leave_min"]) - float(stop["arrival_min"]) if kind == "visit" else None
            table_rows.append(
                [
                    str(int(stop["stop"])) if kind == "visit" else "",
                    place,
                    "" if kind == "depart" else str(stop["arrival_clock"]),
                    "" if kind == "return" else str(stop["leave_clock"]),
                    "" if stay is None else f"{stay:.0f}",
                    "" if kind == "depart" else f"{float(stop['leg_min']):.1f}",
                    "" if kind == "depart" else f"{float(stop['leg_m']):,.0f}",
                    "",
                ]
            )
        head = [t["order"], t["place"], t["arrival"], t["leave"], t["stay"], t["leg_min"], t["leg_m"], t["check"]]
        table = _Table(pd.DataFrame(table_rows, columns=head), [True, "wide", "nw", "nw", True, True, True, "check"])
        total = float(row["total_min"])
        over = total - budget if budget == budget and total > budget + 1e-9 else 0.0
        return {
            "title": t["route_title"].format(route=int(row["route"]), depot=row["depot_name"]),
            "when": t["route_when"].format(
                day=int(row["day"]),
                session=self.session_label(row["session"]),
                start=row["start_clock"],
                end=row["end_clock"],
            ),
            "budget": t["route_budget"].format(
                total=total,
                budget=budget,
                travel=float(row["travel_min"]),
                stay=float(row["stay_min"]),
                metres=f"{float(stops['leg_m'].sum()):,.0f}",
            ),
            "over": t["route_over"].format(x=over) if over else "",
            "_table": table,
            "map": base64.b64encode(png).decode() if png is not None else None,
            "file": f"route_{int(row['route'])}.png" if png is not None else None,
            "png": png,
        }

    def clinics(self) -> dict | None:
        c = self.s.clinics
        if c is None or not len(c):
            return None
        t = self.t
        frame = pd.DataFrame(
            {
                t["rank"]: c["rank"].map(lambda x: str(int(x))).to_numpy() if "rank" in c else range(1, len(c) + 1),
                t["venue"]: [
                    str(n) if isinstance(n, str) and n.strip() else str(i)
                    for n, i in zip(c.get("venue_name", c["venue_id"]), c["venue_id"])
                ],
                t["places_reached"]: c["places_reached"].map(lambda x: str(int(x))).to_numpy(),
                t["load_reached"]: c["load_reached"].map(_round).to_numpy(),
            }
        )
        summary = self.s.clinics_summary or {}
        line = ""
        if summary:
            line = t["clinics_line"].format(
                venues=summary.get("venues", len(c)),
                reached=summary.get("places_reached", ""),
                places=summary.get("places", ""),
                got=_round(summary.get("load_reached") or 0.0),
                load=_round(summary.get("load") or 0.0),
                share=_pct(summary.get("share_reached")),
            )
        return {"line": line, "_table": _capped(frame, [True, "wide", True, True], MAX_GROUP_ROWS, self.doc.t)}

    # ------------------------------------------------------------------ outputs
    def parts(self) -> dict:
        if not hasattr(self, "_parts"):
            self._parts = {
                "loads": self.loads(),
                "grade": self.grade(),
                "volunteers": self.volunteers(),
                "access": self.access(),
                "equity": self.equity(),
                "clinics": self.clinics(),
                "circuits": self.circuits(),
            }
        return self._parts

    def context(self) -> dict:
        """The parts for the HTML template: every `_Table` as its ``html()`` dict, under the key without ``_``."""

        def html(value):
            if isinstance(value, _Table):
                return value.html()
            if isinstance(value, dict):
                return {k.lstrip("_"): html(v) for k, v in value.items()}
            if isinstance(value, list):
                return [html(v) for v in value]
            return value

        return {k: html(v) for k, v in self.parts().items()}

    def markdown(self) -> list[str]:
        t, p = self.t, self.parts()
        lines = [f"## {markdown_text(t['heading'])}", ""]

        def section(title: str, *texts: str, tables: tuple = ()) -> None:
            lines.extend([f"### {markdown_text(title)}", ""])
            for text in texts:
                if text:
                    lines.extend([markdown_text(text), ""])
            for table in tables:
                lines.extend([table.markdown(), ""])

        if p["loads"]:
            section(t["loads"], p["loads"]["note"], p["loads"]["line"], tables=(p["loads"]["_table"],))
        if p["grade"]:
            section(t["grade"], tables=(p["grade"],))
        if p["volunteers"]:
            section(t["volunteers"], p["volunteers"]["line"], tables=(p["volunteers"]["_table"],))
        if p["access"]:
            section(t["access"], p["access"]["line"], tables=(p["access"]["_stats"],))
            section(t["lowest"], tables=(p["access"]["_lowest"],))
        if p["equity"]:
            section(t["equity"], p["equity"]["line"], tables=(p["equity"]["_table"],))
        if p["clinics"]:
            section(t["clinics"], p["clinics"]["line"], tables=(p["clinics"]["_table"],))
        c = p["circuits"]
        if c:
            section(t["circuits"], c["line"])
            section(t["schedule"], tables=(c["_schedule"],))
            if len(c["_unscheduled"].frame):
                section(t["unscheduled"], tables=(c["_unscheduled"],))
            for page in c["_pages"]:
                section(page["title"], page["when"], page["budget"], page["over"])
                if page["file"]:
                    lines.extend([f"![{markdown_text(page['title'])}]({page['file']})", ""])
                lines.extend([page["_table"].markdown(), ""])
        return lines

    def images(self) -> list[tuple[str, bytes]]:
        """The route maps as files (``route_<n>.png``) the Markdown report links to."""
        pages = (self.parts()["circuits"] or {}).get("_pages", [])
        return [(page["file"], page["png"]) for page in pages if page["png"] is not None]

    def sheets(self) -> dict[str, pd.DataFrame]:
        """Every table in full, numbers as numbers (geometry dropped)."""
        s = self.s
        frames = {
            "site_loads": s.site_loads,
            "assignment": s.assignment,
            "volunteers": s.volunteers,
            "accessibility": s.accessibility,
            "equity": s.equity,
            "circuit_schedule": s.circuit_schedule,
            "circuit_stops": s.circuit_routes,
            "circuit_legs": s.circuit_legs,
            "circuit_unscheduled": s.circuit_unscheduled,
            "clinics": s.clinics,
            "clinics_reached": s.clinics_reached,
        }
        out = {}
        for name, frame in frames.items():
            if frame is None:
                continue
            frame = pd.DataFrame(frame)
            out[name] = frame.drop(columns=[c for c in frame.columns if c in ("geometry", "_s")]).reset_index(drop=True)
        if self.lang == "zh":
            for name in ("site_loads",):
                if name in out and "status" in out[name]:
                    out[name]["status"] = out[name]["status"].map(lambda v: self.t["statuses"].get(v, v))
            for name in ("circuit_unscheduled", "assignment"):
                if name in out and "reason" in out[name]:
                    out[name]["reason"] = out[name]["reason"].map(self.reason)
        return out


def _drive_headers(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    """A drive run's sheet: 步行 in a Chinese header becomes 驾车, the word walk in an English one drive."""
    if lang == "zh":
        renamed = {c: str(c).replace("步行", "驾车") for c in frame.columns}
    else:
        renamed = {
            c: re.sub(r"\b([Ww])alk\b", lambda m: "Drive" if m.group(1) == "W" else "drive", str(c))
            for c in frame.columns
        }
    kinds = frame.attrs.get("kinds", {})
    out = frame.rename(columns=renamed)
    out.attrs["kinds"] = {renamed.get(c, c): k for c, k in kinds.items()}
    return out


def cost_paragraph(cost_model: dict[str, Any], lang: str = "zh") -> str:
    """The profile and each of its costs with its value, and what the costs met on the network, in one line.

    Parameters
    ----------
    cost_model : dict
        `CoverageResult.cost_model` (profile, mode, speed_kmh, plain, costs, found).
    lang : str, default "zh"
        ``zh`` or ``en``.

    Returns
    -------
    str
        Plain text (escape it for where it lands), e.g. ``frail … steps
        excluded …; found on the network: 311 steps edges, 14.0 km, excluded``.
    """
    t = TEXT[lang]
    name = str(cost_model.get("profile", ""))
    profile = t["profiles"].get(name, name)
    speed = float(cost_model.get("speed_kmh") or 0.0)
    costs, found = dict(cost_model.get("costs") or {}), dict(cost_model.get("found") or {})
    if cost_model.get("plain", False) and cost_model.get("mode") != "drive":
        return t["costs_none"].format(profile=profile)
    items, seen = t["cost_items"], t["found_items"]
    listed: list[str] = []
    if cost_model.get("mode") == "drive":
        if costs.get("use_maxspeed"):
            listed.append(items["use_maxspeed"].format(x=float(costs.get("maxspeed_factor", 1.0))))
        if costs.get("signal_delay_s"):
            listed.append(items["signal_delay_s"].format(x=float(costs["signal_delay_s"])))
        listed.append(items["direction"].format(x=costs.get("direction", "")))
        shown = [("one_way_edges", "n"), ("maxspeed_edges", "n"), ("signal_nodes", "n")]
    else:
        excluded_by = {"steps_factor": "exclude_steps", "unpaved_factor": "exclude_unpaved"}
        for key in ("steps_factor", "unpaved_factor", "unlit_factor", "no_sidewalk_factor"):
            # A factor on edges that are left out changes nothing: say "excluded" instead.
            if key in costs and float(costs[key]) != 1.0 and not costs.get(excluded_by.get(key, "")):
                listed.append(items[key].format(x=float(costs[key])))
        for key in ("exclude_steps", "exclude_unpaved"):
            if costs.get(key):
                listed.append(items[key])
        for key in ("crossing_wait_s", "signal_wait_s"):
            if float(costs.get(key) or 0.0):
                listed.append(items[key].format(x=float(costs[key])))
        shown = [("crossing_nodes", "n"), ("signal_crossing_nodes", "n")]
        shown += [(k, "km") for k in ("unpaved_m", "unlit_m", "no_sidewalk_m")]
    found_text: list[str] = []
    left_n, left_km = int(found.get("edges_left_out") or 0), float(found.get("metres_left_out") or 0.0) / 1000
    # The view has no steps left when they are excluded: what was left out is the steps (unless unpaved went too).
    only_steps_out = bool(costs.get("exclude_steps")) and not costs.get("exclude_unpaved") and left_n > 0
    if only_steps_out:
        found_text.append(seen["steps"].format(n=left_n, km=left_km) + ", " + seen["excluded"])
    elif found.get("steps_edges"):
        found_text.append(seen["steps"].format(n=int(found["steps_edges"]), km=float(found.get("steps_m", 0.0)) / 1000))
    for key, unit in shown:
        if found.get(key):
            value = found[key]
            found_text.append(seen[key].format(n=int(value)) if unit == "n" else seen[key].format(km=value / 1000))
    if left_n and not only_steps_out:
        found_text.append(
            seen["left_out"].format(n=int(found["edges_left_out"]), km=float(found.get("metres_left_out", 0)) / 1000)
        )
    if found and not found.get("tags_read", True):
        # Road classes alone still price steps and main-road crossings; only with neither did costs do nothing.
        by_class = cost_model.get("mode") != "drive" and (found.get("crossing_nodes") or found.get("steps_edges"))
        found_text.append(seen["class_only"] if by_class else seen["no_tags"])
    sep = "、" if lang == "zh" else ", "
    key = "costs_drive" if cost_model.get("mode") == "drive" else "costs_walk"
    return t[key].format(profile=profile, v=speed, costs=sep.join(listed) or "-", found="; ".join(found_text) or "-")


def _coordinates(at: dict) -> str:
    """WGS-84, and where they differ (in China) GCJ-02 too, from a row of `Proposal.coordinates`."""
    wgs = f"{at['lon']:.5f}, {at['lat']:.5f}"
    if at["lon_gcj02"] == at["lon"] and at["lat_gcj02"] == at["lat"]:
        return wgs
    return f"{wgs} (WGS-84); {at['lon_gcj02']:.5f}, {at['lat_gcj02']:.5f} (GCJ-02)"


def nearest_streets(network, lon: np.ndarray, lat: np.ndarray, max_m: float = 400.0) -> list[tuple[str, float] | None]:
    """The nearest named street of each point and its distance in metres (None when none within ``max_m``).

    Parameters
    ----------
    network : WalkNetwork
        Its OSM way names (``edge_name``) and metric edge shapes.
    lon, lat : numpy.ndarray
        WGS-84 points.
    max_m : float
        Farthest street looked for.

    Returns
    -------
    list of (str, float) or None
    """
    import shapely

    names = np.asarray([n if isinstance(n, str) and n.strip() else "" for n in network.edge_name], dtype=object)
    named = np.flatnonzero(names != "")
    out: list[tuple[str, float] | None] = [None] * len(lon)
    if not len(named) or not len(lon):
        return out
    tree = shapely.STRtree(network.edges_metric[named])
    points = shapely.points(*network.to_metric.transform(np.asarray(lon, float), np.asarray(lat, float)))
    (which, edge), dist = tree.query_nearest(points, max_distance=max_m, return_distance=True, all_matches=False)
    for i, e, d in zip(which, edge, dist):
        out[int(i)] = (str(names[named[e]]).split(";")[0], float(d))
    return out


def _recorded_weight_column(result: CoverageResult) -> str | None:
    """The demand file's weight column as the manifest (or the frame) recorded it."""
    demand_input = ((result.manifest or {}).get("inputs") or {}).get("demand") or {}
    name = demand_input.get("weight_column") or result.demand.attrs.get("weight_column")
    return str(name) if name else None


def _reasons(result: CoverageResult, t: dict) -> pd.DataFrame:
    """Why each place is outside: a ``reason`` key (``covered`` for the rest) and its sentence in ``text``.

    Off the network: farther from every walkable way than the snap limit. Cut
    off: on a piece of network no site is on. No site: reachable pieces, but
    no site within the search limit. Beyond: a site is reachable, farther than
    the threshold.
    """
    t_min = float(result.threshold_min)
    d = result.demand
    search_min = result.matrix.cutoff_m / result.metres_per_minute
    sites = result.sites
    site_parts = sites.loc[sites["component"] >= 0, "component"].astype(int).unique() if "component" in sites else []
    off = d["off_network"].to_numpy(bool) if "off_network" in d else np.zeros(len(d), bool)
    component = d["component"].to_numpy(int) if "component" in d else np.zeros(len(d), int)
    cut_off = ~off & ~np.isin(component, site_parts)
    walk = d["walk_min"].to_numpy(float)
    snap = d["snap_m"].to_numpy(float) if "snap_m" in d else np.full(len(d), np.nan)
    reason = np.select(
        [d["covered"].to_numpy(bool), off, cut_off, np.isnan(walk)],
        ["covered", "off_network", "cut_off", "no_site"],
        default="beyond",
    )
    texts = {
        "covered": lambda i: "",
        "beyond": lambda i: t["reason_beyond_row"].format(m=walk[i], t=t_min),
        "no_site": lambda i: t["reason_no_site_row"].format(s=search_min),
        "cut_off": lambda i: t["reason_cut_off_row"].format(c=component[i]),
        "off_network": lambda i: t["reason_off_network_row"].format(d=snap[i], limit=result.max_snap_m),
    }
    return pd.DataFrame({"reason": reason, "text": [texts[r](i) for i, r in enumerate(reason)]}, index=d.index)


def _statuses(frame: pd.DataFrame) -> np.ndarray:
    if "status" not in frame:
        return np.full(len(frame), "real", dtype=object)
    return frame["status"].fillna("real").astype(str).to_numpy(object)


def _capped(frame: pd.DataFrame, num: list[bool], limit: int, t: dict) -> _Table:
    if len(frame) <= limit:
        return _Table(frame.reset_index(drop=True), num)
    return _Table(frame.head(limit).reset_index(drop=True), num, t["rows_more"].format(shown=limit, total=len(frame)))


def _pct(value: float) -> str:
    return "—" if value is None or value != value else f"{value * 100:.1f}%"


def _minutes(value: float) -> str:
    return "" if value is None or value != value else f"{value:.1f}"


def _minutes_or(t: dict):
    return lambda v: t["unreachable"] if v is None or v != v else f"{v:.1f}"


def _round(value: float) -> str:
    value = float(value)
    return f"{value:,.0f}" if abs(value - round(value)) < 1e-9 else f"{value:,.1f}"


def _short_hash(digest: object) -> str:
    return f"SHA-256 {str(digest)[:12]}…" if digest else ""


def _file_line(info: dict, t: dict) -> str:
    if not info.get("path"):
        return t["p_memory"] + (f" · {t['p_rows'].format(rows=info['rows'])}" if info.get("rows") is not None else "")
    parts = [Path(str(info["path"])).name]
    if info.get("rows") is not None:
        parts.append(t["p_rows"].format(rows=info["rows"]))
    if info.get("sha256"):
        parts.append(_short_hash(info["sha256"]))
    return " · ".join(parts)


def _plain(value: object) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_plain(v)}" for k, v in value.items() if v not in (None, "", [], {}))
    if isinstance(value, list | tuple):
        return ", ".join(_plain(v) for v in value)
    return str(value)


def _safe_css_families(families: str) -> str:
    """Font names are file metadata: keep only letters, digits, spaces, hyphens, quotes and commas inside <style>."""
    return re.sub(r"[^\w \-\",]", "", families)


def _write_workbook(path: Path, sheets: dict[str, pd.DataFrame]) -> None:
    """One sheet per table, each column's numbers in the format of its kind (share, minutes, metres, count)."""
    from coverage_planner.outputs.xlsx import write_workbook

    number_formats = {
        name: {
            column: _EXCEL_FORMAT_OF[kind]
            for column, kind in frame.attrs.get("kinds", {}).items()
            if kind in _EXCEL_FORMAT_OF
        }
        for name, frame in sheets.items()
    }
    with _gc.paused():  # 130k cell strings: the cycle collector would rescan them again and again
        write_workbook(path, sheets, number_formats=number_formats)


# Machine column names → what a planner reads in Excel: (Chinese, English), one row per column any sheet
# can hold. English follows the report's own table words (report.html), capitalised as a header.
_EXCEL_HEADERS: dict[str, tuple[str, str]] = {
    # each place's answer (coverage, site_places, left_out, diff_places, assignment …)
    "demand_id": ("编号", "Place ID"),
    "id": ("编号", "Place ID"),  # left_out's English label for the place id
    "demand_name": ("名称", "Name"),
    "nearest_site_id": ("最近站点编号", "Nearest site ID"),
    "nearest_site_name": ("最近站点", "Nearest site"),
    "walk_m": ("步行距离(米)", "Walk distance (m)"),
    "walk_min": ("步行时间(分钟)", "Walk time (min)"),
    "covered": ("是否覆盖", "Covered"),
    "covered_before": ("之前覆盖", "Covered before"),  # a yes/no in diff_places, a count in diff_summary
    "covered_after": ("之后覆盖", "Covered after"),
    "snap_m": ("离路网距离(米)", "Distance to network (m)"),
    "off_network": ("不在路网上", "Off the network"),
    "component": ("路网片段", "Network piece"),
    "status": ("状态", "Status"),
    "source_row": ("源文件行号", "Row in source file"),
    "osm_element": ("OSM 要素", "OSM element"),
    "snap_edge": ("接入路段", "Network edge reached"),
    "route_steps": ("台阶段数", "Flights of steps"),
    "route_steps_m": ("台阶长度(米)", "Length of steps (m)"),
    "route_crossings": ("主干道过街", "Main-road crossings"),
    "route_signal_crossings": ("有信号灯的过街", "Crossings with signals"),
    "cost_extra_min": ("成本增加分钟", "Extra minutes from costs"),
    # place fields (places/reading.py)
    "lon": ("经度", "Longitude"),
    "lat": ("纬度", "Latitude"),
    "weight": ("权重", "Weight"),
    "type": ("类型", "Type"),
    "district": ("区", "District"),
    "subdistrict": ("街道", "Subdistrict"),
    "community": ("社区", "Community"),
    "community_class": ("社区类别", "Community class"),
    "address": ("地址", "Address"),
    "households": ("户数", "Households"),
    "population": ("人口", "Population"),
    "key_targets": ("重点服务对象", "Key service targets"),
    "capacity": ("容量", "Capacity"),
    "location_source": ("位置来源", "Location source"),
    "geocode_query": ("地址查询", "Geocode query"),
    "gate_lon": ("大门经度", "Gate longitude"),
    "gate_lat": ("大门纬度", "Gate latitude"),
    # summary, diff_summary
    "dimension": ("分组方式", "Dimension"),
    "group": ("分组", "Group"),
    "places": ("地点数", "Places"),
    "share": ("覆盖率", "Share covered"),
    "covered_weight": ("覆盖权重", "Covered weight"),
    "weight_share": ("加权覆盖率", "Weighted share covered"),
    "median_walk_min": ("步行时间中位数(分钟)", "Median walk (min)"),
    "placeholder_places": ("占位地点数", "Placeholder places"),
    "share_change": ("覆盖率变化", "Change in share covered"),
    "change_min": ("步行时间变化(分钟)", "Walk time change (min)"),
    "change": ("变化", "Change"),
    # by_site, site_places
    "site_id": ("站点编号", "Site ID"),
    "site_name": ("站点", "Site"),
    "nearest": ("是否最近站点", "Is the nearest site"),
    "sites_covering": ("覆盖该地点的站点数", "Sites covering the place"),
    "nearest_places": ("最近地点数", "Nearest to (places)"),
    "served_places": ("服务地点数(覆盖内)", "Places served"),
    "served_weight": ("服务权重", "Weight served"),
    "served_median_walk_min": ("服务地点步行中位数(分钟)", "Median walk of places served (min)"),
    "served_max_walk_min": ("服务地点最远步行(分钟)", "Longest walk of places served (min)"),
    "covered_places": ("覆盖地点数", "Places covered"),
    "shared_places": ("与其他站点共同覆盖", "Also covered by another site"),
    "sole_places": ("仅此站点覆盖", "Covered by this site only"),
    # service planning: site_loads, assignment, volunteers, accessibility, equity
    "load": ("服务量", "Load"),
    "load_per_capacity": ("服务量/容量", "Load / capacity"),
    "spare": ("剩余容量", "Spare capacity"),
    "over": ("是否超出", "Over capacity"),
    "nearest_load": ("按最近的服务量", "Load if nearest"),
    "mean_walk_min": ("平均时间(分钟)", "Mean walk (min)"),
    "assigned": ("是否分配", "Assigned"),
    "reason": ("原因", "Reason"),
    "moved": ("是否改派", "Moved from nearest site"),
    "volunteers": ("志愿者", "Volunteers"),
    "load_per_volunteer": ("人均服务量", "Load per volunteer"),
    "current": ("现有", "Volunteers now"),
    "needed_for_target": ("达标所需", "Needed for the target"),
    "meets_target": ("是否达标", "Meets the target"),
    "demand": ("需求", "Demand"),
    "access": ("可达性", "Accessibility"),
    "access_index": ("可达性指数", "Accessibility index (region = 1)"),
    "sites_in_catchment": ("范围内站点数", "Sites in reach"),
    "method": ("方法", "Method"),
    "weighting": ("权重方式", "Weighting"),
    "covered_share": ("覆盖率", "Share covered"),
    "p90_walk_min": ("90%分位时间(分钟)", "90th percentile walk (min)"),
    "max_walk_min": ("最长时间(分钟)", "Longest walk (min)"),
    "beyond_search_share": ("超出搜索范围占比", "Beyond search limit (share)"),
    "gini_walk": ("Gini", "Gini"),
    # circuits
    "route": ("路线", "Route"),
    "depot_id": ("工作室编号", "Studio ID"),
    "depot_name": ("工作室", "Studio"),
    "day": ("天", "Day"),
    "session": ("场次", "Session"),
    "start_clock": ("出发时间", "Leaves studio"),
    "end_clock": ("返回时间", "Back at studio"),
    "stops": ("站数", "Stops"),
    "place_ids": ("地点编号", "Place IDs"),
    "place_id": ("地点编号", "Place ID"),
    "place_name": ("地点", "Place"),
    "travel_min": ("路程(分钟)", "Travel (min)"),
    "stay_min": ("停留(分钟)", "Stay (min)"),
    "total_min": ("全程(分钟)", "Total (min)"),
    "stop": ("顺序", "Order"),
    "kind": ("类别", "Kind"),
    "leg_m": ("本段距离(米)", "Leg (m)"),
    "leg_min": ("本段时间(分钟)", "Leg (min)"),
    "arrival_min": ("到达(分钟)", "Arrives (min)"),
    "leave_min": ("离开(分钟)", "Leaves (min)"),
    "arrival_clock": ("到达时间", "Arrival time"),
    "leave_clock": ("离开时间", "Departure time"),
    "leg": ("段", "Leg"),
    "from_id": ("起点编号", "From ID"),
    "to_id": ("终点编号", "To ID"),
    "metres": ("距离(米)", "Distance (m)"),
    "minutes": ("时间(分钟)", "Time (min)"),
    # clinics
    "rank": ("序号", "Rank"),
    "venue_id": ("场所编号", "Venue ID"),
    "venue_name": ("场所", "Venue"),
    "places_reached": ("可达地点数", "Places reached"),
    "load_reached": ("可达服务量", "Load reached"),
    "already_covered": ("已被站点覆盖", "Already covered by a site"),
}
#: A diff's columns are a place column with a suffix: (Chinese prefix, English word).
_EXCEL_SUFFIXES = {"_before": ("之前", "before"), "_after": ("之后", "after")}
#: Values of the dimension/group/status/change columns, (Chinese, English); any other value is kept.
_EXCEL_VALUES: dict[str, tuple[str, str]] = {
    "all": ("全部", "all"),
    "real": ("实际", "real"),
    "placeholder": ("占位", "placeholder"),
    "proposed": ("拟建", "proposed"),
    "generated": ("生成", "generated"),
    "district": ("区", "district"),
    "subdistrict": ("街道", "subdistrict"),
    "community": ("社区", "community"),
    "type": ("类型", "type"),
    "community_class": ("社区类别", "community class"),
    "newly covered": ("新覆盖", "newly covered"),
    "no longer covered": ("不再覆盖", "no longer covered"),
    "faster": ("变快", "faster"),
    "slower": ("变慢", "slower"),
    "unchanged": ("不变", "unchanged"),
    "added": ("新增", "added"),
    "removed": ("移除", "removed"),
}
_EXCEL_VALUE_COLUMNS = ("dimension", "group", "status", "change")
#: Number format by kind of column: shares as percentages, minutes and metres as such.
_EXCEL_FORMAT_OF = {"share": "0.0%", "minutes": "0.0", "metres": "#,##0", "count": "#,##0"}


def _column_kind(column: str) -> str:
    name = str(column)
    if name.startswith("within_") or name.endswith("_places") or name in ("places", "covered"):
        return "count"
    if name.endswith("share") or name.startswith("share_") or name in ("覆盖率",):
        return "share"
    # The report's own labels (left_out): "步行分钟" / "walk minutes", "drive minutes" …
    if "walk_min" in name or name.endswith(("_min", " minutes")) or "分钟" in name:
        return "minutes"
    if name.endswith("_m") or "(米)" in name:
        return "metres"
    return ""


def _excel_header(column: str, lang: str) -> str:
    """A column's header in the workbook; a column the table does not know (the file's own) keeps its name."""
    i = 0 if lang == "zh" else 1
    if column in _EXCEL_HEADERS:
        return _EXCEL_HEADERS[column][i]
    match = re.fullmatch(r"within_(\d+(?:\.\d+)?)_min", column)
    if match:
        return f"{match.group(1)}分钟内地点数" if lang == "zh" else f"Within {match.group(1)} min"
    for suffix, words in _EXCEL_SUFFIXES.items():
        base = column.removesuffix(suffix)
        if base != column and base in _EXCEL_HEADERS:
            if lang == "zh":
                return words[0] + _EXCEL_HEADERS[base][0]
            head, unit = re.fullmatch(r"(.*?)( \(.*\))?", _EXCEL_HEADERS[base][1]).groups()
            return f"{head} {words[1]}{unit or ''}"  # "Walk time before (min)"
    if lang != "zh" and re.match(r"[a-z]+(?: |$)", column):
        return column[0].upper() + column[1:]  # a report label ("nearest site"), as a header
    return column


def _for_excel(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    """A table as a planner reads it in Excel: headers in the report's language, 是/否 in zh, formats by kind."""
    out = pd.DataFrame(frame).copy()
    kinds = {c: _column_kind(c) for c in out.columns}  # from the machine names, before renaming
    i = 0 if lang == "zh" else 1
    counts = set()  # "covered" is a yes/no per place, a count per group (summary)
    for column in out.columns:
        values = out[column]
        is_bool = values.dtype == bool or (values.dtype == object and values.map(type).isin([bool, np.bool_]).all())
        if is_bool:
            if lang == "zh":  # English keeps Excel's own TRUE/FALSE
                out[column] = values.map({True: "是", False: "否"})
        elif str(column) in _EXCEL_VALUE_COLUMNS and values.dtype.kind == "O":  # text (or categories), not numbers
            out[column] = values.map(lambda v: _EXCEL_VALUES[v][i] if isinstance(v, str) and v in _EXCEL_VALUES else v)
        elif str(column) == "covered" and values.dtype.kind in "iuf":
            counts.add(column)
    renamed = {c: _excel_header("covered_places" if c in counts else str(c), lang) for c in out.columns}
    out = out.rename(columns=renamed)
    out.attrs["kinds"] = {renamed[c]: k for c, k in kinds.items()}
    return out


__all__ = ["cost_paragraph", "write_report"]
