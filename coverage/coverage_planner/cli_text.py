"""Words the command line prints, in Chinese and English (``--lang zh|en``).

Placeholders are `str.format` fields; names, paths and numbers are filled in
by `coverage_planner.cli`, which prints them literally (no markup).
"""

from __future__ import annotations

from typing import Any

from coverage_planner._errors import CoverageError

TEXT: dict[str, dict[str, Any]] = {
    "en": {
        "note": "note: ",
        "warning": "warning: ",
        "error": "error: ",
        "summary_title": "Coverage within {t:g} min ({m:.0f} m at {v:g} km/h)",
        "dimension": "dimension",
        "group": "group",
        "places": "places",
        "covered": "covered",
        "share": "share",
        "change": "change",
        "by": {
            "all": "all",
            "district": "district",
            "subdistrict": "subdistrict",
            "community": "community",
            "type": "type",
            "community_class": "community class",
        },
        "placeholders": "{n} place(s) are placeholders (status = placeholder), not real locations.",
        "wrote": "Wrote {files} to {folder}",
        "wrote_file": "Wrote {path}",
        "timings_title": "Time per stage",
        "stage": "stage",
        "seconds": "seconds",
        "total": "total",
        "now": "now",
        "before": "before",
        "with_new": "with the new site(s)",
        "added": "Added {names}; the previous sites file is kept as {backup}",
        "walked": "Walked from {computed} new site(s); {reused} came from the cache",
        "covered_places": "Covered places: {before:.1%} → {after:.1%}; {n} newly covered",
        "list_sep": ", ",
        "names_follow": ": ",
        "wrote_rerun": "Wrote the rerun's tables{parts} to {folder}",
        "part_map": ", map",
        "part_report": ", report",
        "diff_title": "Coverage share: {before} → {after}",
        "changes": {
            "newly covered": "newly covered",
            "no longer covered": "no longer covered",
            "faster": "faster",
            "slower": "slower",
            "unchanged": "unchanged",
            "added": "added",
            "removed": "removed",
        },
        "changed_title": "Places that changed: {n}",
        "place": "place",
        "site_before": "nearest site ({label})",
        "min_before": "min ({label})",
        "more_rows": "… and {n} more",
        "propose_title": "{method}: {n} new site(s) from {m} candidates",
        "rank": "rank",
        "id": "id",
        "name": "name",
        "source": "source",
        "added_weight": "added weight",
        "share_line": "Covered weight share: {before:.1%} → {after:.1%} "
        "(at most {coverable:.1%} is coverable by existing and candidate sites)",
        "exact_line": "Exact (HiGHS): objective {objective:g}, bound {bound:g}, gap {gap:.2%}, {seconds:.2f} s, {status}",
        "greedy_line": "Greedy: objective {objective:g}, {seconds:.3f} s",
        "uncoverable": "{n} place(s) no existing or candidate site reaches within the threshold, e.g. {names}",
        "wrote_proposal": "Wrote {files} to {folder}; add them with: {command}",
        "capacity": "capacity",
        "load": "load",
        "volunteers": "volunteers",
        "per_volunteer": "load per volunteer",
        "allocate_title": "Capacitated allocation ({method}), {total} volunteers spread",
        "allocate_line": "Load served: {served:g} of {total:g} ({share:.1%}); left for want of capacity: {full:g}; "
        "out of reach: {unreachable:g}; exact gap {gap:.2%}",
        "route": "route",
        "studio": "studio",
        "day": "day",
        "session": "session",
        "sessions": {1: "morning", 2: "afternoon"},
        "session_n": "session {n}",
        "start": "start",
        "end": "end",
        "stops": "stops",
        "minutes": "min",
        "circuits_title": "{n} circuit route(s), each within {budget:g} min ({stay:g} min per stop)",
        "circuits_line": "{visited} place(s) visited; {left} left out (see circuit_unscheduled.csv)",
        "clinics_title": "{n} clinic venue(s)",
        "clinics_line": "Places outside the threshold reached by a clinic: {reached} of {places} ({share:.1%} of their load)",
    },
    "zh": {
        "note": "提示: ",
        "warning": "警告: ",
        "error": "错误: ",
        "summary_title": "步行 {t:g} 分钟覆盖 (约 {m:.0f} 米, 步速 {v:g} 公里/小时)",
        "dimension": "维度",
        "group": "分组",
        "places": "地点",
        "covered": "已覆盖",
        "share": "覆盖率",
        "change": "变化",
        "by": {
            "all": "全部",
            "district": "区",
            "subdistrict": "街道",
            "community": "社区",
            "type": "类型",
            "community_class": "社区类别",
        },
        "placeholders": "{n} 个地点为占位 (status = placeholder), 不是核实的位置。",
        "wrote": "已写入 {folder}: {files}",
        "wrote_file": "已写入 {path}",
        "timings_title": "各步骤用时",
        "stage": "步骤",
        "seconds": "秒",
        "total": "合计",
        "now": "现在",
        "before": "之前",
        "with_new": "新增站点后",
        "added": "已添加 {names}; 原站点文件保留为 {backup}",
        "walked": "从 {computed} 个新站点计算步行; {reused} 个来自缓存",
        "covered_places": "地点覆盖率: {before:.1%} → {after:.1%}; 新覆盖 {n} 个",
        "list_sep": "、",
        "names_follow": ": ",
        "wrote_rerun": "重新计算的表格{parts}已写入 {folder}",
        "part_map": "、地图",
        "part_report": "、报告",
        "diff_title": "覆盖率: {before} → {after}",
        "changes": {
            "newly covered": "新覆盖",
            "no longer covered": "不再覆盖",
            "faster": "步行变快",
            "slower": "步行变慢",
            "unchanged": "不变",
            "added": "新增地点",
            "removed": "移除地点",
        },
        "changed_title": "有变化的地点: {n} 个",
        "place": "地点",
        "site_before": "最近站点 ({label})",
        "min_before": "分钟 ({label})",
        "more_rows": "… 另有 {n} 个",
        "propose_title": "{method}: 从 {m} 个候选中选出 {n} 个新站点",
        "rank": "序号",
        "id": "编号",
        "name": "名称",
        "source": "来源",
        "added_weight": "新增权重",
        "share_line": "加权覆盖率: {before:.1%} → {after:.1%} (现有和候选站点最多可覆盖 {coverable:.1%})",
        "exact_line": "精确解 (HiGHS): 目标值 {objective:g}, 界 {bound:g}, 差距 {gap:.2%}, {seconds:.2f} 秒, {status}",
        "greedy_line": "贪心解: 目标值 {objective:g}, {seconds:.3f} 秒",
        "uncoverable": "{n} 个地点在阈值内没有任何现有或候选站点可达, 例如 {names}",
        "wrote_proposal": "已写入 {folder}: {files}; 添加这些站点: {command}",
        "capacity": "容量",
        "load": "负荷",
        "volunteers": "志愿者",
        "per_volunteer": "人均负荷",
        "allocate_title": "容量约束分配 ({method}), 分配 {total} 名志愿者",
        "allocate_line": "已分配负荷: {served:g} / {total:g} ({share:.1%}); 因容量不足未分配: {full:g}; "
        "不可达: {unreachable:g}; 精确解差距 {gap:.2%}",
        "route": "路线",
        "studio": "工作室",
        "day": "天",
        "session": "时段",
        "sessions": {1: "上午", 2: "下午"},
        "session_n": "第 {n} 场",
        "start": "开始",
        "end": "结束",
        "stops": "站数",
        "minutes": "分钟",
        "circuits_title": "{n} 条巡回路线, 每条不超过 {budget:g} 分钟 (每站停留 {stay:g} 分钟)",
        "circuits_line": "走访 {visited} 个地点; {left} 个未排入 (见 circuit_unscheduled.csv)",
        "clinics_title": "{n} 个法律门诊地点",
        "clinics_line": "阈值外地点由门诊覆盖: {reached} / {places} (负荷的 {share:.1%})",
    },
}
#: The languages the command line speaks, the first the default.
LANGS = ("zh", "en")


def words(lang: str) -> dict[str, Any]:
    """The command line's words in one language.

    Parameters
    ----------
    lang : {"zh", "en"}
        The language, as given to ``--lang``.

    Returns
    -------
    dict
        Message templates by key (see `TEXT`).

    Raises
    ------
    CoverageError
        When ``lang`` is not one of `LANGS`.
    """
    if lang not in TEXT:
        raise CoverageError(f"--lang must be {' or '.join(LANGS)}, not {lang!r}")
    return TEXT[lang]
