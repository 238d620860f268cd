"""Words of the planner's report in Chinese and English, and its HTML template (print CSS for A4 and PDF)."""

from __future__ import annotations

import jinja2

TEXT: dict[str, dict] = {
    "zh": {
        "title": "步行覆盖报告",
        "rule": "步行 {t:g} 分钟可达 (约 {m:.0f} 米, {profile}步速 {v:g} 公里/小时)",
        "preset_rule": "依据 {preset}",
        "keyfigs": "主要结果",
        "share_places": "地点覆盖率",
        "share_places_detail": "{covered} / {total} 个地点在 {t:g} 分钟内",
        "share_weight": "按{w}加权的覆盖率",
        "share_weight_detail": "{covered} / {total} ({w}) 在 {t:g} 分钟内",
        "equal_weights": "每个地点权重相同 (未指定权重列), 加权覆盖率与地点覆盖率相同。",
        "weight_generic": "权重",
        "sites_line": "站点",
        "sites_detail": "现有 {n} 个",
        "sites_proposed": ", 拟建 {n} 个",
        "sites_placeholder": " (其中 {n} 个为占位)",
        "left_line": "未覆盖",
        "left_detail": "{n} 个地点 (原因见“未覆盖的地点”一节)",
        "placeholder_warning": "注意: {sites} 个站点和 {places} 个地点为占位 (位置未核实, 由地址查询或示意坐标代替), 结果仅供参考; 表格和地图中均标注“占位”。",
        "placeholder_tag": " (占位)",
        "map": "覆盖地图",
        "map_caption": "图 1：{t:g} 分钟步行覆盖。灰线为步行路网 (OpenStreetMap), 色块为全部站点的步行范围 (仅示意), 点为需求地点。",
        "map_link": "可交互的地图: ",
        "proposal": "拟建站点方案",
        "method": {
            "mclp": "最大覆盖模型 (MCLP): 选 {k} 个新站点, 使覆盖的权重最大",
            "lscp": "最少站点覆盖模型 (LSCP): 用最少的新站点达到目标",
            "pmedian": "P 中位模型: 选 {k} 个新站点, 使加权步行距离之和最小",
            "pcenter": "P 中心模型: 选 {k} 个新站点, 使最远的步行距离最小",
        },
        "candidates_from": "候选站点 {n} 个, 来源: {sources}。",
        "source_count": "{source} {n} 个",
        "share_change": "{w}覆盖率 (占全部{w}): {before:.1%} → {after:.1%}",
        "coverable": "可覆盖的上限: 全部{w}的 {share:.1%}; 其余 {n} 个地点, 任何现有或候选站点在 {t:g} 分钟内都到不了 (见“无法覆盖的地点”)。",
        "of_coverable": "按可覆盖的{w}计: {before:.1%} → {after:.1%}",
        "target_all": "目标: 覆盖全部{w}的 {target:.1%}",
        "target_coverable": "目标: 覆盖可覆盖{w}的 {target:.1%} (即全部{w}的 {absolute:.1%})",
        "target_met": "已达到目标。",
        "target_missed": "未达到目标: 差 {gap:.1%}。",
        "rank": "序号",
        "proposed_site": "拟建站点",
        "source": "候选来源",
        "location": "位置 (经度, 纬度)",
        "street": "最近道路",
        "newly_places": "新覆盖地点数",
        "added_weight": "新增{w}",
        "newly_names": "新覆盖的小区 / 社区",
        "and_more": " 等 {n} 个",
        "near_street": "{street}附近 (约 {d:.0f} 米)",
        "by_street": "{street}旁",
        "no_street": "附近无有名称的道路",
        "candidate_id": " · 候选: {id}",
        "was": "; 之前 {share}",
        "uncoverable": "无法覆盖的地点",
        "uncoverable_note": "这些地点离所有现有和候选站点都超过 {t:g} 分钟 (或不在路网上), 需要新的候选位置。",
        "diff": "新增站点前后对比",
        "diff_counts": "新覆盖 {newly} 个地点; 不再覆盖 {lost} 个; 步行变快 {faster} 个。",
        "before": "之前",
        "after": "之后",
        "change": "变化 (百分点)",
        "newly_list": "新覆盖的地点",
        "coverage": "各区域覆盖情况",
        "by": {
            "all": "全部",
            "district": "区",
            "subdistrict": "街道",
            "community": "社区",
            "type": "类型",
            "community_class": "社区类别",
        },
        "group_title": "按{dim}",
        "dimension": "维度",
        "group": "分组",
        "places": "地点",
        "covered": "覆盖",
        "share": "覆盖率",
        "weighted_share": "按{w}加权",
        "median_walk": "中位步行 (分钟)",
        "placeholder_places": "占位地点",
        "none": "(未填)",
        "rows_more": "只列出 {shown} 行, 共 {total} 行; 全部见 tables.xlsx。",
        "by_site": "各站点服务情况",
        "by_site_note": "“服务”指该站点是地点最近的站点且步行在 {t:g} 分钟内; “5/10/15 分钟内”统计该站点步行可达的全部地点 (不论是否最近)。",
        "site": "站点",
        "status": "状态",
        "nearest_places": "最近的地点",
        "served_places": "服务地点",
        "served_weight": "服务{w}",
        "served_median": "中位步行 (分钟)",
        "within": "{b:g} 分钟内",
        "not_computed": "—",
        "not_computed_note": "超出本次计算搜索范围 ({s:g} 分钟) 的步行时间段未统计。",
        "served_names": "主要服务的小区 / 社区 (步行分钟)",
        "shared": "被两个及以上站点覆盖的地点",
        "shared_note": "{n} 个地点在 {t:g} 分钟内可到两个或更多站点。",
        "place": "地点",
        "n_sites": "站点数",
        "site_names": "可达的站点 (步行分钟)",
        "charts": "图表",
        "left_out": "未覆盖的地点",
        "reasons": "未覆盖的原因",
        "reason": "原因",
        "count": "地点数",
        "reason_beyond": "超过 {t:g} 分钟",
        "reason_beyond_row": "步行 {m:.1f} 分钟, 超过 {t:g} 分钟",
        "reason_no_site": "{s:g} 分钟内无站点",
        "reason_no_site_row": "{s:g} 分钟内无站点可达",
        "reason_cut_off": "所在路网片段与站点不相连",
        "reason_cut_off_row": "所在的路网片段 (编号 {c}) 上没有站点",
        "reason_off_network": "不在路网上",
        "reason_off_network_row": "离最近的可步行道路 {d:.0f} 米, 超过 {limit:g} 米",
        "name": "名称",
        "id": "编号",
        "nearest": "最近站点",
        "walk_min": "步行分钟",
        "unreachable": "不可达",
        "provenance": "数据来源与参数",
        "provenance_note": "完整记录 (含全部文件的 SHA-256) 见同一文件夹的 manifest.json。",
        "manifest_heading": "运行清单 (manifest.json 全文)",
        "p_scenario": "情景文件",
        "p_sites": "站点文件",
        "p_demand": "需求地点文件",
        "p_rows": "{rows} 行",
        "p_memory": "程序内传入 (无文件)",
        "p_weight": "权重",
        "p_weight_column": "列“{w}”",
        "p_weight_none": "未指定, 每个地点权重为 1",
        "p_weight_unnamed": "文件中的权重列",
        "p_network": "路网",
        "p_network_kind": {
            "osm-file": "OSM 文件",
            "graphml": "GraphML 文件",
            "osmnx-download": "从 OpenStreetMap 下载",
            "graph": "程序内传入",
        },
        "p_snapshot": "OSM 数据日期",
        "p_snapshot_basis": {
            "file header replication timestamp": "文件头的复制时间戳",
            "newest walkable way edit": "路网中最新的道路编辑时间",
            "recorded when the GraphML was saved": "保存 GraphML 时记录",
        },
        "p_unknown": "未知",
        "p_size": "{nodes} 个节点, {edges} 条路段, 可步行道路 {km:g} 公里, {parts} 个互不相连的片段; 投影 {crs}",
        "p_profile": "步行速度",
        "p_profile_value": "{profile}, {v:g} 公里/小时",
        "p_costs": "出行方式与成本",
        "p_network_check": "路网检查",
        "p_network_check_value": "{parts} 个连通片段 (最大片段占总长 {share:.1%}); 断头 {dangling:,} 个; 线相交但无共享节点 {crossings:,} 处 (另有桥梁/隧道/分层 {marked:,} 处)",
        "p_network_check_noding": "。无共享节点的相交多说明路网文件未在路口打断: 路线在那里不能转弯; 位置见 coverage.gpkg 的 network_crossings 图层",
        "rule_costs": "步行 {t:g} 分钟可达 ({profile}步速 {v:g} 公里/小时, 台阶与主干道过街计时; 分钟按成本计)",
        "rule_drive": "驾车 {t:g} 分钟可达 (按道路限速或道路等级车速, 单行道按方向)",
        "costs_none": "{profile}: 无额外成本, 时间 = 路网距离 ÷ 步速",
        "costs_walk": "{profile}, 步速 {v:g} 公里/小时; 成本: {costs}; 路网中发现: {found}。分钟按成本 (等效米 ÷ 每分钟米数) 计, walk_m 为所选路线实际长度。",
        "costs_drive": "驾车, 参考车速 {v:g} 公里/小时 (1 等效米 = 以参考车速行驶 1 米); 规则: {costs}; 路网中发现: {found}。",
        "cost_items": {
            "steps_factor": "台阶 ×{x:g}",
            "exclude_steps": "排除台阶",
            "crossing_wait_s": "主干道无信号过街等待 {x:g} 秒",
            "signal_wait_s": "信号灯过街等待 {x:g} 秒",
            "unpaved_factor": "未铺装路面 ×{x:g}",
            "exclude_unpaved": "排除未铺装路面",
            "unlit_factor": "无照明 ×{x:g}",
            "no_sidewalk_factor": "无人行道 ×{x:g}",
            "use_maxspeed": "按限速 ×{x:g}",
            "signal_delay_s": "信号灯延误 {x:g} 秒",
            "direction": "方向: {x}",
        },
        "found_items": {
            "steps": "台阶 {n:,} 段, {km:.1f} 公里",
            "excluded": "已排除",
            "crossing_nodes": "无信号主干道过街点 {n:,} 个",
            "signal_crossing_nodes": "信号灯过街点 {n:,} 个",
            "unpaved_m": "未铺装 {km:.1f} 公里",
            "unlit_m": "无照明 {km:.1f} 公里",
            "no_sidewalk_m": "无人行道 {km:.1f} 公里",
            "left_out": "排除路段 {n:,} 段 ({km:.1f} 公里)",
            "one_way_edges": "单行路段 {n:,} 段",
            "maxspeed_edges": "标有限速的路段 {n:,} 段",
            "signal_nodes": "信号灯 {n:,} 个",
            "no_tags": "路网未读取标签, 成本未生效",
            "class_only": "路网只有道路等级, 没有路面、照明、人行道、信号灯等标签: 只有按道路等级的成本生效 (台阶、主干道过街, 过街一律按无信号灯计)",
        },
        "route_steps": "台阶段数",
        "route_crossings": "主干道过街",
        "cost_extra_min": "成本增加分钟",
        "drive_min": "驾车分钟",
        "p_threshold": "阈值",
        "p_threshold_value": "{t:g} 分钟 = {m:.0f} 米",
        "p_preset": "标准",
        "p_search": "搜索范围",
        "p_search_value": "{m:.0f} 米 ({t:g} 分钟)",
        "p_legs": "接入段",
        "p_legs_yes": "从地点到最近道路的距离计入步行",
        "p_legs_no": "不计入",
        "p_snap": "不在路网上",
        "p_snap_value": "离最近可步行道路超过 {m:g} 米的地点",
        "p_osm_demand": "OSM 居住区",
        "p_warnings": "检查提示",
        "p_tool": "软件",
        "p_copyright": "数据版权",
        "profiles": {
            "adult": "成人",
            "elderly": "老年人",
            "frail": "体弱老人",
            "wheelchair": "轮椅使用者",
            "drive": "驾车",
            "custom": "自定义",
        },
        "presets": {
            "gb50180-5min": "GB 50180-2018 5 分钟生活圈 (≤ 300 米)",
            "gb50180-10min": "GB 50180-2018 10 分钟生活圈 (≤ 500 米)",
            "gb50180-15min": "GB 50180-2018 15 分钟生活圈 (800–1000 米, 取上限)",
        },
        "statuses": {"real": "真实", "placeholder": "占位 (未核实)", "proposed": "拟建", "generated": "生成"},
        "sources": [
            (r"^file (.+)$", r"文件 \1"),
            (r"^OSM (.+)$", r"OpenStreetMap \1"),
            (r"^network node every (\S+) m$", r"每 \1 米网格的路网节点"),
        ],
        "contents": "目录",
        "page_of": "第 {page} 页",
        "svc": {
            "heading": "服务规划",
            "method": {"max_coverage": "最大容量覆盖", "pmedian": "容量约束 P 中位"},
            "loads": "各站点服务量与容量",
            "loads_note": "每个地点分配给 {t:g} 分钟内可达的一个站点, 各站点不超过容量 ({method})。“按最近”: 不考虑容量、每个地点都去最近站点时的服务量。",
            "alloc_line": "已分配服务量 {assigned} / {total} ({share}); 站点总容量 {capacity}; 因容量已满未分配 {full}; {t:g} 分钟内无站点 {unreach}。",
            "assigned_places": "分配地点",
            "load": "服务量",
            "capacity": "容量",
            "load_per_capacity": "服务量 / 容量",
            "spare": "剩余容量",
            "over": "超出 {x}",
            "nearest_load": "按最近的服务量",
            "mean_min": "平均分钟",
            "unlimited": "不限",
            "volunteers": "志愿者分配",
            "volunteers_line": "共 {total} 名志愿者分配到 {n} 个站点, 使各站点人均服务量尽量均衡; 人均服务量 {lo} – {hi}。",
            "volunteers_n": "志愿者",
            "load_per_volunteer": "人均服务量",
            "current": "现有",
            "change": "变化",
            "access": "可达性 (两步移动搜索法)",
            "access_methods": {"2sfca": "2SFCA", "gaussian": "高斯 2SFCA", "e2sfca": "增强 2SFCA (E2SFCA)"},
            "access_line": "方法: {method}。供给为站点容量, 需求为各地点服务量; 可达性 = 范围内站点的供给 / 需求。{n} 个地点中 {zero} 个范围内没有站点 (可达性为 0)。",
            "statistic": "统计",
            "value": "可达性",
            "index": "指数 (全区 = 1)",
            "stats": {
                "min": "最低",
                "p10": "10% 分位",
                "median": "中位数",
                "mean": "平均",
                "p90": "90% 分位",
                "max": "最高",
            },
            "lowest": "可达性最低的地点",
            "sites_in_catchment": "范围内站点",
            "equity": "公平性",
            "equity_line": "全部地点到最近站点时间的 Gini 系数: {g}。0 表示人人相同, 越大越不均。",
            "weighting": "权重",
            "group": "分组",
            "weight": "权重合计",
            "covered_share": "覆盖率",
            "mean_walk": "平均分钟",
            "median_walk": "中位分钟",
            "p90_walk": "90% 分位分钟",
            "max_walk": "最长分钟",
            "beyond_share": "超出搜索范围",
            "gini": "Gini",
            "grade": "按社区类别的分配",
            "grade_col": "社区类别",
            "assigned_load": "已分配服务量",
            "assigned_share": "分配率",
            "circuits": "巡回调解",
            "circuits_line": "{routes} 条路线, 从 {studios} 个工作室出发, 走访 {visited} 个地点, 共 {days} 天; 每条路线不超过 {budget:g} 分钟 (每站停留 {stay:g} 分钟, 路程 {speed:g} 公里/小时)。{unscheduled} 个地点未能安排。",
            "schedule": "日程",
            "route": "路线",
            "day": "天",
            "session": "场次",
            "sessions": {1: "上午", 2: "下午"},
            "session_n": "第 {n} 场",
            "studio": "出发工作室",
            "start": "出发",
            "end": "返回",
            "stops": "站数",
            "places": "走访地点",
            "travel": "路程分钟",
            "stay_total": "停留分钟",
            "total": "全程分钟",
            "route_title": "巡回调解路线 {route}: {depot}",
            "route_when": "第 {day} 天{session} · {start} 出发, {end} 返回",
            "route_budget": "全程 {total:.0f} 分钟, 预算 {budget:g} 分钟 (路程 {travel:.0f} 分钟, 停留 {stay:.0f} 分钟, 共 {metres} 米)。",
            "route_over": "超出预算 {x:.0f} 分钟!",
            "order": "顺序",
            "place": "地点",
            "arrival": "到达",
            "leave": "离开",
            "stay": "停留 (分钟)",
            "leg_min": "本段分钟",
            "leg_m": "本段米数",
            "check": "签到 / 备注",
            "depart": "出发: {name}",
            "return": "返回: {name}",
            "sign": "走访人: ____________    日期: ____________",
            "unscheduled": "未能安排的地点",
            "reason": "原因",
            "reasons": [
                (r"^off the network$", "不在路网上"),
                (r"^no studio within a (\S+)-minute round trip$", r"\1 分钟内往返无工作室可达"),
                (r"^on a piece of network no studio reaches$", "所在路网片段与各工作室不相连"),
                (r"^more than (\d+) route\(s\) needed$", r"需要超过 \1 条路线"),
                (r"^assigned$", "已分配"),
                (r"^no site within reach$", "可达范围内无站点"),
                (r"^capacity full$", "容量已满"),
                (r"^no load$", "无服务量"),
            ],
            "clinics": "法律门诊",
            "clinics_line": "{venues} 个门诊场所可达 {reached} / {places} 个目标地点, 服务量 {got} / {load} ({share})。",
            "rank": "序号",
            "venue": "场所",
            "places_reached": "可达地点",
            "load_reached": "可达服务量",
            "place_ids": "地点编号",
            "statuses": {"existing": "现有", "proposed": "拟建"},
        },
    },
    "en": {
        "title": "Walking coverage report",
        "rule": "Within {t:g} minutes' walk (about {m:.0f} m at the {profile} pace of {v:g} km/h)",
        "preset_rule": "following {preset}",
        "keyfigs": "Key figures",
        "share_places": "Places covered",
        "share_places_detail": "{covered} of {total} places within {t:g} min",
        "share_weight": "Covered, weighted by {w}",
        "share_weight_detail": "{covered} of {total} ({w}) within {t:g} min",
        "equal_weights": "Every place has the same weight (no weight column given): the weighted share equals the share of places.",
        "weight_generic": "weight",
        "sites_line": "Sites",
        "sites_detail": "{n} existing",
        "sites_proposed": ", {n} proposed",
        "sites_placeholder": " ({n} of them placeholders)",
        "left_line": "Not covered",
        "left_detail": "{n} places (reasons under “Places left outside”)",
        "placeholder_warning": "Note: {sites} site(s) and {places} place(s) are placeholders (location not verified: a geocoded address or sketch point stands in), so read the results with care; tables and map mark them “placeholder”.",
        "placeholder_tag": " (placeholder)",
        "map": "Coverage map",
        "map_caption": "Figure 1: {t:g}-minute walking coverage. Grey lines: the walk network (OpenStreetMap); shading: the walk bands of all sites (display only); dots: demand places.",
        "map_link": "Interactive map: ",
        "proposal": "Proposed new sites",
        "method": {
            "mclp": "Maximal covering (MCLP): {k} new sites covering the most weight",
            "lscp": "Set covering (LSCP): the fewest new sites that reach the target",
            "pmedian": "p-median: {k} new sites with the least total weighted walk",
            "pcenter": "p-center: {k} new sites with the shortest longest walk",
        },
        "candidates_from": "{n} candidate sites, from: {sources}.",
        "source_count": "{source}: {n}",
        "share_change": "Covered {w} (share of all {w}): {before:.1%} → {after:.1%}",
        "coverable": "At most {share:.1%} of all {w} is coverable: {n} place(s) are beyond {t:g} minutes of every existing and candidate site (see “Places no candidate reaches”).",
        "of_coverable": "As a share of the coverable {w}: {before:.1%} → {after:.1%}",
        "target_all": "Target: {target:.1%} of all {w}",
        "target_coverable": "Target: {target:.1%} of the coverable {w} ({absolute:.1%} of all {w})",
        "target_met": "The target is met.",
        "target_missed": "The target is missed by {gap:.1%}.",
        "rank": "rank",
        "proposed_site": "proposed site",
        "source": "candidate source",
        "location": "location (lon, lat)",
        "street": "nearest street",
        "newly_places": "places newly covered",
        "added_weight": "{w} gained",
        "newly_names": "compounds / communities newly covered",
        "and_more": " and {rest} more",
        "near_street": "near {street} (about {d:.0f} m)",
        "by_street": "on {street}",
        "no_street": "no named street nearby",
        "candidate_id": " · candidate: {id}",
        "was": "; before: {share}",
        "uncoverable": "Places no candidate reaches",
        "uncoverable_note": "These places are more than {t:g} minutes from every existing and candidate site (or off the network): they need new candidate locations.",
        "diff": "Before and after adding sites",
        "diff_counts": "{newly} place(s) newly covered; {lost} no longer covered; {faster} with a shorter walk.",
        "before": "before",
        "after": "after",
        "change": "change (points)",
        "newly_list": "Places newly covered",
        "coverage": "Coverage by area",
        "by": {
            "all": "all",
            "district": "district",
            "subdistrict": "subdistrict",
            "community": "community",
            "type": "type",
            "community_class": "community class",
        },
        "group_title": "By {dim}",
        "dimension": "dimension",
        "group": "group",
        "places": "places",
        "covered": "covered",
        "share": "share",
        "weighted_share": "by {w}",
        "median_walk": "median walk (min)",
        "placeholder_places": "placeholder places",
        "none": "(blank)",
        "rows_more": "{shown} of {total} rows shown; all are in tables.xlsx.",
        "by_site": "What each site serves",
        "by_site_note": "A site serves a place when it is the place's nearest site within {t:g} minutes; “within 5/10/15 min” counts every place the site reaches (nearest or not).",
        "site": "site",
        "status": "status",
        "nearest_places": "nearest to",
        "served_places": "places served",
        "served_weight": "{w} served",
        "served_median": "median walk (min)",
        "within": "within {b:g} min",
        "not_computed": "—",
        "not_computed_note": "Bands beyond this run's search limit ({s:g} min) are not counted.",
        "served_names": "main compounds / communities served (walk min)",
        "shared": "Places two or more sites cover",
        "shared_note": "{n} place(s) reach two or more sites within {t:g} minutes.",
        "place": "place",
        "n_sites": "sites",
        "site_names": "sites reached (walk min)",
        "charts": "Charts",
        "left_out": "Places left outside",
        "reasons": "Why they are outside",
        "reason": "reason",
        "count": "places",
        "reason_beyond": "beyond {t:g} minutes",
        "reason_beyond_row": "{m:.1f} min walk, beyond {t:g} min",
        "reason_no_site": "no site within {s:g} minutes",
        "reason_no_site_row": "no site reachable within {s:g} min",
        "reason_cut_off": "on a piece of network with no site",
        "reason_cut_off_row": "its piece of network (no. {c}) has no site on it",
        "reason_off_network": "off the network",
        "reason_off_network_row": "{d:.0f} m from the nearest walkable way (limit {limit:g} m)",
        "name": "name",
        "id": "id",
        "nearest": "nearest site",
        "walk_min": "walk minutes",
        "unreachable": "unreachable",
        "provenance": "Sources and parameters",
        "provenance_note": "The full record (every file's SHA-256) is manifest.json in the same folder.",
        "manifest_heading": "Run manifest (manifest.json in full)",
        "p_scenario": "scenario file",
        "p_sites": "sites file",
        "p_demand": "demand file",
        "p_rows": "{rows} rows",
        "p_memory": "passed in memory (no file)",
        "p_weight": "weight",
        "p_weight_column": "column “{w}”",
        "p_weight_none": "none given: every place weighs 1",
        "p_weight_unnamed": "the file's weight column",
        "p_network": "network",
        "p_network_kind": {
            "osm-file": "OSM file",
            "graphml": "GraphML file",
            "osmnx-download": "downloaded from OpenStreetMap",
            "graph": "passed in memory",
        },
        "p_snapshot": "OSM data date",
        "p_snapshot_basis": {},
        "p_unknown": "unknown",
        "p_size": "{nodes} nodes, {edges} edges, {km:g} km of walkable ways, {parts} separate pieces; projection {crs}",
        "p_profile": "walking speed",
        "p_profile_value": "{profile}, {v:g} km/h",
        "p_costs": "Profile and costs",
        "p_network_check": "Network check",
        "p_network_check_value": "{parts} connected piece(s) (the largest {share:.1%} of the length); {dangling:,} dead ends; {crossings:,} place(s) where lines cross without a shared node (and {marked:,} bridges, tunnels or layers)",
        "p_network_check_noding": ". Crossings without a shared node usually mean the road file is not split at junctions: no route can turn there; they are in the network_crossings layer of coverage.gpkg",
        "rule_costs": "Within {t:g} minutes' walk (at the {profile} pace of {v:g} km/h, with steps and main-road crossings timed; minutes from cost)",
        "rule_drive": "Within {t:g} minutes' drive (speeds from maxspeed or road class, one-way streets respected)",
        "costs_none": "{profile}: no extra costs, time = network distance ÷ speed",
        "costs_walk": "{profile}, {v:g} km/h; costs: {costs}; found on the network: {found}. Minutes come from cost (equivalent metres ÷ metres a minute); walk_m is the chosen route's real length.",
        "costs_drive": "driving, reference speed {v:g} km/h (an equivalent metre is a metre at that speed); rules: {costs}; found on the network: {found}.",
        "cost_items": {
            "steps_factor": "steps ×{x:g}",
            "exclude_steps": "steps excluded",
            "crossing_wait_s": "main-road crossing wait {x:g} s",
            "signal_wait_s": "{x:g} s at signals",
            "unpaved_factor": "unpaved ×{x:g}",
            "exclude_unpaved": "unpaved excluded",
            "unlit_factor": "unlit ×{x:g}",
            "no_sidewalk_factor": "no sidewalk ×{x:g}",
            "use_maxspeed": "maxspeed ×{x:g}",
            "signal_delay_s": "signal delay {x:g} s",
            "direction": "direction: {x}",
        },
        "found_items": {
            "steps": "{n:,} steps edges, {km:.1f} km",
            "excluded": "excluded",
            "crossing_nodes": "{n:,} main-road crossings without signals",
            "signal_crossing_nodes": "{n:,} with signals",
            "unpaved_m": "{km:.1f} km unpaved",
            "unlit_m": "{km:.1f} km unlit",
            "no_sidewalk_m": "{km:.1f} km without sidewalk",
            "left_out": "{n:,} edges left out ({km:.1f} km)",
            "one_way_edges": "{n:,} one-way edges",
            "maxspeed_edges": "{n:,} edges with maxspeed",
            "signal_nodes": "{n:,} signals",
            "no_tags": "the network has no tags: costs had no effect",
            "class_only": "the network has road classes but no surface, lighting, sidewalk or signal tags: only the costs by road class apply (steps, main-road crossings, all counted as without signals)",
        },
        "route_steps": "flights of steps",
        "route_crossings": "main-road crossings",
        "cost_extra_min": "extra minutes from costs",
        "drive_min": "drive minutes",
        "p_threshold": "threshold",
        "p_threshold_value": "{t:g} min = {m:.0f} m",
        "p_preset": "standard",
        "p_search": "search limit",
        "p_search_value": "{m:.0f} m ({t:g} min)",
        "p_legs": "access legs",
        "p_legs_yes": "the way from a place to its street counts as walking",
        "p_legs_no": "not counted",
        "p_snap": "off the network",
        "p_snap_value": "places more than {m:g} m from any walkable way",
        "p_osm_demand": "OSM residential areas",
        "p_warnings": "checks",
        "p_tool": "software",
        "p_copyright": "data licence",
        "profiles": {
            "adult": "adult",
            "elderly": "older pedestrians'",
            "frail": "frail older pedestrians'",
            "wheelchair": "wheelchair users'",
            "drive": "driving",
            "custom": "custom",
        },
        "presets": {
            "gb50180-5min": "GB 50180-2018 5-minute life circle (≤ 300 m)",
            "gb50180-10min": "GB 50180-2018 10-minute life circle (≤ 500 m)",
            "gb50180-15min": "GB 50180-2018 15-minute life circle (800–1000 m, upper bound used)",
        },
        "statuses": {
            "real": "real",
            "placeholder": "placeholder (not verified)",
            "proposed": "proposed",
            "generated": "generated",
        },
        "sources": [],
        "contents": "Contents",
        "page_of": "page {page}",
        "svc": {
            "heading": "Service planning",
            "method": {"max_coverage": "maximal capacitated coverage", "pmedian": "capacitated p-median"},
            "loads": "Load and capacity of each site",
            "loads_note": "Each place is assigned to one site within {t:g} minutes, no site beyond its capacity ({method}). “Nearest”: the load if every place went to its nearest site, capacities ignored.",
            "alloc_line": "Load assigned {assigned} of {total} ({share}); total capacity {capacity}; left unassigned because sites are full {full}; no site within {t:g} min {unreach}.",
            "assigned_places": "places assigned",
            "load": "load",
            "capacity": "capacity",
            "load_per_capacity": "load / capacity",
            "spare": "spare capacity",
            "over": "over by {x}",
            "nearest_load": "load if nearest",
            "mean_min": "mean min",
            "unlimited": "unlimited",
            "volunteers": "Spreading the volunteers",
            "volunteers_line": "{total} volunteers spread over {n} sites so that the load per volunteer is as even as possible: {lo} – {hi} per volunteer.",
            "volunteers_n": "volunteers",
            "load_per_volunteer": "load per volunteer",
            "current": "now",
            "change": "change",
            "access": "Accessibility (two-step floating catchment)",
            "access_methods": {"2sfca": "2SFCA", "gaussian": "Gaussian 2SFCA", "e2sfca": "enhanced 2SFCA (E2SFCA)"},
            "access_line": "Method: {method}. Supply is the sites' capacity, demand the places' load; accessibility = supply of the sites in reach per unit of demand. {zero} of {n} places have no site in reach (accessibility 0).",
            "statistic": "statistic",
            "value": "accessibility",
            "index": "index (region = 1)",
            "stats": {
                "min": "lowest",
                "p10": "10th percentile",
                "median": "median",
                "mean": "mean",
                "p90": "90th percentile",
                "max": "highest",
            },
            "lowest": "Places with the lowest accessibility",
            "sites_in_catchment": "sites in reach",
            "equity": "Equity",
            "equity_line": "Gini index of the time to the nearest site over all places: {g} (0: everyone the same; higher: less even).",
            "weighting": "weighting",
            "group": "group",
            "weight": "weight",
            "covered_share": "covered",
            "mean_walk": "mean min",
            "median_walk": "median min",
            "p90_walk": "90th pct min",
            "max_walk": "longest min",
            "beyond_share": "beyond search limit",
            "gini": "Gini",
            "grade": "Allocation by community class",
            "grade_col": "community class",
            "assigned_load": "load assigned",
            "assigned_share": "share assigned",
            "circuits": "Circuit mediation",
            "circuits_line": "{routes} route(s) from {studios} studio(s) visiting {visited} place(s) over {days} day(s); each route within {budget:g} min ({stay:g} min at each stop, travelling at {speed:g} km/h). {unscheduled} place(s) could not be scheduled.",
            "schedule": "Schedule",
            "route": "route",
            "day": "day",
            "session": "session",
            "sessions": {1: "morning", 2: "afternoon"},
            "session_n": "session {n}",
            "studio": "studio",
            "start": "leaves",
            "end": "back",
            "stops": "stops",
            "places": "places visited",
            "travel": "travel min",
            "stay_total": "stay min",
            "total": "total min",
            "route_title": "Circuit route {route}: {depot}",
            "route_when": "Day {day} {session} · leaves {start}, back {end}",
            "route_budget": "{total:.0f} min in all, budget {budget:g} min ({travel:.0f} min travelling, {stay:.0f} min at stops, {metres} m).",
            "route_over": "Over the budget by {x:.0f} min!",
            "order": "order",
            "place": "place",
            "arrival": "arrives",
            "leave": "leaves",
            "stay": "stay (min)",
            "leg_min": "leg min",
            "leg_m": "leg m",
            "check": "signed / notes",
            "depart": "leave {name}",
            "return": "back at {name}",
            "sign": "Visited by: ____________    Date: ____________",
            "unscheduled": "Places not scheduled",
            "reason": "reason",
            "reasons": [],
            "clinics": "Legal clinics",
            "clinics_line": "{venues} clinic venue(s) reach {reached} of {places} target places, load {got} of {load} ({share}).",
            "rank": "rank",
            "venue": "venue",
            "places_reached": "places reached",
            "load_reached": "load reached",
            "place_ids": "place ids",
            "statuses": {"existing": "existing", "proposed": "proposed"},
        },
    },
}

#: What a drive run's report says instead of the walking words (merged over `TEXT`).
TEXT_DRIVE: dict[str, dict] = {
    "zh": {
        "title": "驾车覆盖报告",
        "map_caption": "图 1：{t:g} 分钟驾车覆盖。灰线为车行路网 (OpenStreetMap), 色块为全部站点的驾车范围 (仅示意), 点为需求地点。",
        "diff_counts": "新覆盖 {newly} 个地点; 不再覆盖 {lost} 个; 驾车变快 {faster} 个。",
        "median_walk": "中位驾车 (分钟)",
        "by_site_note": "“服务”指该站点是地点最近的站点且驾车在 {t:g} 分钟内; “5/10/15 分钟内”统计该站点驾车可达的全部地点 (不论是否最近)。",
        "served_median": "中位驾车 (分钟)",
        "not_computed_note": "超出本次计算搜索范围 ({s:g} 分钟) 的驾车时间段未统计。",
        "served_names": "主要服务的小区 / 社区 (驾车分钟)",
        "site_names": "可达的站点 (驾车分钟)",
        "reason_beyond_row": "驾车 {m:.1f} 分钟, 超过 {t:g} 分钟",
        "reason_off_network_row": "离最近的车行道路 {d:.0f} 米, 超过 {limit:g} 米",
        "walk_min": "驾车分钟",
        "p_size": "{nodes} 个节点, {edges} 条路段, 车行道路 {km:g} 公里, {parts} 个互不相连的片段; 投影 {crs}",
        "p_profile": "出行方式",
        "p_profile_value": "{profile}, 参考车速 {v:g} 公里/小时",
        "p_legs_yes": "从地点到最近道路的距离计入行程",
        "p_snap_value": "离最近车行道路超过 {m:g} 米的地点",
        "method": {
            "mclp": "最大覆盖模型 (MCLP): 选 {k} 个新站点, 使覆盖的权重最大",
            "lscp": "最少站点覆盖模型 (LSCP): 用最少的新站点达到目标",
            "pmedian": "P 中位模型: 选 {k} 个新站点, 使加权驾车时间之和最小",
            "pcenter": "P 中心模型: 选 {k} 个新站点, 使最远的驾车时间最小",
        },
    },
    "en": {
        "title": "Driving coverage report",
        "map_caption": "Figure 1: {t:g}-minute driving coverage. Grey lines: the drive network (OpenStreetMap); shading: the drive-time bands of all sites (display only); dots: demand places.",
        "diff_counts": "{newly} place(s) newly covered; {lost} no longer covered; {faster} with a shorter drive.",
        "median_walk": "median drive (min)",
        "by_site_note": "A site serves a place when it is the place's nearest site within {t:g} minutes' drive; “within 5/10/15 min” counts every place the site reaches (nearest or not).",
        "served_median": "median drive (min)",
        "served_names": "main compounds / communities served (drive min)",
        "site_names": "sites reached (drive min)",
        "reason_beyond_row": "{m:.1f} min drive, beyond {t:g} min",
        "reason_off_network_row": "{d:.0f} m from the nearest road open to cars (limit {limit:g} m)",
        "walk_min": "drive minutes",
        "p_size": "{nodes} nodes, {edges} edges, {km:g} km of roads open to cars, {parts} separate pieces; projection {crs}",
        "p_profile": "travel mode",
        "p_profile_value": "{profile}, reference speed {v:g} km/h",
        "p_legs_yes": "the way from a place to its street counts in the time",
        "p_snap_value": "places more than {m:g} m from any road open to cars",
        "method": {
            "mclp": "Maximal covering (MCLP): {k} new sites covering the most weight",
            "lscp": "Set covering (LSCP): the fewest new sites that reach the target",
            "pmedian": "p-median: {k} new sites with the least total weighted drive time",
            "pcenter": "p-center: {k} new sites with the shortest longest drive",
        },
    },
}

_ENV = jinja2.Environment(autoescape=True, loader=jinja2.BaseLoader(), trim_blocks=True, lstrip_blocks=True)

TEMPLATE = _ENV.from_string("""<!DOCTYPE html>
<html lang="{{ html_lang }}"><head><meta charset="utf-8">
<title>{{ doc_title }}</title>
<meta name="generator" content="coverage-planner">
<style>
@page { size: A4; margin: 16mm 15mm 17mm 15mm;
  @bottom-left { content: string(doctitle); font-size: 7.5pt; color: #777; }
  @bottom-right { content: counter(page) " / " counter(pages); font-size: 7.5pt; color: #777; } }
html { font-family: {{ fonts }}; font-size: 9.5pt; line-height: 1.45; color: #1f1f1f; }
body { margin: 0 auto; max-width: 180mm; }
@media screen { body { max-width: 1000px; padding: 1.5em 2em; font-size: 1.05em; } }
h1 { font-size: 19pt; margin: 0 0 .15em; string-set: doctitle content(); color: #14365e; }
.rule { font-size: 10.5pt; margin: 0 0 .8em; color: #333; }
h2 { font-size: 13pt; color: #14365e; border-bottom: 1.5pt solid #2166ac; padding-bottom: 1.5pt; margin: 1.4em 0 .5em; break-after: avoid; page-break-after: avoid; }
h3 { font-size: 10.5pt; margin: 1em 0 .3em; break-after: avoid; page-break-after: avoid; }
p { margin: .3em 0 .5em; }
table { border-collapse: collapse; width: 100%; margin: .3em 0 .9em; font-size: 8.3pt; }
thead { display: table-header-group; }
tr { break-inside: avoid; page-break-inside: avoid; }
th { background: #e8eef5; text-align: left; font-weight: bold; }
th, td { border: .6pt solid #c9d2dc; padding: 1.6pt 4pt; vertical-align: top; }
td.n, th.n { text-align: right; }
td.n { white-space: nowrap; }
th.n { min-width: 12mm; }
td.loc, td.nw { white-space: nowrap; }
td.loc { font-size: 7.5pt; }
td.wide { min-width: 26mm; }
td.src { min-width: 20mm; }
table.key td { vertical-align: middle; border: none; border-bottom: .6pt solid #dde3ea; padding: 4pt 6pt; font-size: 9.5pt; }
table.key td.big { font-size: 17pt; font-weight: bold; color: #14365e; white-space: nowrap; width: 25mm; }
table.key td.label { width: 50mm; color: #444; }
table.prov td:first-child { width: 32mm; color: #444; }
figure { margin: .4em 0 1em; break-inside: avoid; page-break-inside: avoid; text-align: center; }
figure img { max-width: 100%; }
figure.map img { max-width: 100%; max-height: 150mm; }
figure.chart img { width: 88%; }
figcaption { font-size: 8pt; color: #555; text-align: left; margin-top: .2em; }
.warn { background: #fff3cd; border: .8pt solid #e0b94f; padding: .45em .8em; margin: .6em 0; }
.note { font-size: 8pt; color: #555; }
.ph { color: #b35806; font-weight: bold; }
section.prov { break-inside: avoid; page-break-inside: avoid; }
a { color: #2166ac; }
{% if service %}
section.route-page { break-before: page; page-break-before: always; }
section.route-page h2 { margin-top: 0; }
section.route-page table { font-size: 9.5pt; }
section.route-page th, section.route-page td { padding: 4pt 5pt; }
td.check { min-width: 30mm; }
p.sign { margin-top: 2.5em; font-size: 10pt; }
figure.route-map img { width: 100%; max-height: 105mm; object-fit: contain; }
p.over { color: #b2182b; font-weight: bold; }
div.after-routes { break-before: page; page-break-before: always; }
{% endif %}
</style></head><body>
{% macro table(t, cls="") %}
{% if t.rows %}
<table{% if cls %} class="{{ cls }}"{% endif %}><thead><tr>{% for h in t.head %}<th{% if t.num[loop.index0] %} class="{{ t.num[loop.index0] }}"{% endif %}>{{ h }}</th>{% endfor %}</tr></thead>
<tbody>{% for row in t.rows %}<tr>{% for cell in row %}<td{% if t.num[loop.index0] %} class="{{ t.num[loop.index0] }}"{% endif %}>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table>
{% if t.note %}<p class="note">{{ t.note }}</p>{% endif %}
{% endif %}
{% endmacro %}
<h1>{{ doc_title }}</h1>
<p class="rule">{{ rule }}</p>
{% for w in warnings %}<p class="warn">{{ w }}</p>{% endfor %}
<table class="key"><tbody>
{% for label, big, detail in keyfigs %}<tr><td class="label">{{ label }}</td><td class="big">{{ big }}</td><td>{{ detail }}</td></tr>
{% endfor %}</tbody></table>
{% if weight_note %}<p class="note">{{ weight_note }}</p>{% endif %}

<h2>{{ t.map }}</h2>
<figure class="map"><img alt="{{ t.map }}" src="data:image/png;base64,{{ map_png }}">
<figcaption>{{ map_caption }}{% if map_link %} {{ t.map_link }}{% if for_pdf %}{{ map_link }}{% else %}<a href="{{ map_link }}">{{ map_link }}</a>{% endif %}{% endif %}</figcaption></figure>

{% if proposal %}
<h2>{{ t.proposal }}</h2>
{% for line in proposal.lines %}<p>{{ line }}</p>{% endfor %}
{{ table(proposal.sites) }}
{% if proposal.uncoverable %}<h3>{{ t.uncoverable }}</h3><p class="note">{{ proposal.uncoverable_note }}</p><p>{{ proposal.uncoverable }}</p>{% endif %}
{% endif %}

{% if diff %}
<h2>{{ t.diff }}</h2>
<p>{{ diff.counts }}</p>
{{ table(diff.table) }}
{% if diff.newly.rows %}<h3>{{ t.newly_list }}</h3>{{ table(diff.newly) }}{% endif %}
{% endif %}

<h2>{{ t.coverage }}</h2>
{% for title, tab, chart in groups %}
<h3>{{ title }}</h3>
{{ table(tab) }}
{% if chart %}<figure class="chart"><img alt="{{ title }}" src="data:image/png;base64,{{ chart }}"></figure>{% endif %}
{% endfor %}
<figure class="chart"><img alt="{{ t.charts }}" src="data:image/png;base64,{{ histogram }}"></figure>

<h2>{{ t.by_site }}</h2>
<p class="note">{{ by_site_note }}</p>
{{ table(by_site) }}
<h3>{{ t.shared }}</h3>
<p>{{ shared_note }}</p>
{{ table(shared) }}

<h2>{{ t.left_out }} ({{ left_count }})</h2>
{% if left_count %}
<h3>{{ t.reasons }}</h3>
{{ table(reasons) }}
{{ table(left_out) }}
{% else %}<p>—</p>{% endif %}

{% if service %}
<h2>{{ t.svc.heading }}</h2>
{% if service.loads %}
<h3>{{ t.svc.loads }}</h3>
<p class="note">{{ service.loads.note }}</p>
{% if service.loads.line %}<p>{{ service.loads.line }}</p>{% endif %}
{{ table(service.loads.table) }}
{% endif %}
{% if service.grade %}<h3>{{ t.svc.grade }}</h3>{{ table(service.grade) }}{% endif %}
{% if service.volunteers %}
<h3>{{ t.svc.volunteers }}</h3>
<p>{{ service.volunteers.line }}</p>
{{ table(service.volunteers.table) }}
{% endif %}
{% if service.access %}
<h3>{{ t.svc.access }}</h3>
<p>{{ service.access.line }}</p>
{{ table(service.access.stats) }}
<h3>{{ t.svc.lowest }}</h3>
{{ table(service.access.lowest) }}
{% endif %}
{% if service.equity %}
<h3>{{ t.svc.equity }}</h3>
<p>{{ service.equity.line }}</p>
{{ table(service.equity.table) }}
{% endif %}
{% if service.clinics %}
<h3>{{ t.svc.clinics }}</h3>
{% if service.clinics.line %}<p>{{ service.clinics.line }}</p>{% endif %}
{{ table(service.clinics.table) }}
{% endif %}
{% if service.circuits %}
<h3>{{ t.svc.circuits }}</h3>
<p>{{ service.circuits.line }}</p>
<h3>{{ t.svc.schedule }}</h3>
{{ table(service.circuits.schedule) }}
{% if service.circuits.unscheduled.rows %}<h3>{{ t.svc.unscheduled }}</h3>{{ table(service.circuits.unscheduled) }}{% endif %}
{% for page in service.circuits.pages %}
<section class="route-page">
<h2>{{ page.title }}</h2>
<p class="rule">{{ page.when }}</p>
<p>{{ page.budget }}</p>
{% if page.over %}<p class="over">{{ page.over }}</p>{% endif %}
{% if page.map %}<figure class="route-map"><img alt="{{ page.title }}" src="data:image/png;base64,{{ page.map }}"></figure>{% endif %}
{{ table(page.table) }}
<p class="sign">{{ t.svc.sign }}</p>
</section>
{% endfor %}
<div class="after-routes"></div>
{% endif %}
{% endif %}
<section class="prov">
<h2>{{ t.provenance }}</h2>
<table class="prov"><tbody>
{% for label, value in provenance %}<tr><td>{{ label }}</td><td>{{ value }}</td></tr>
{% endfor %}</tbody></table>
<p class="note">{{ t.provenance_note }}</p>
</section>
</body></html>
""")
