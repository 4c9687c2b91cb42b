"""End to end in a real browser (Debian's Chromium, headless, through Playwright) against
the app served on localhost: what a street office does on a working day. Screenshots
of the key pages are kept in test-artifacts/."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import Workbook

from models import now

from .conftest import screenshot
from .helpers import PASSWORD

pytestmark = pytest.mark.live


def login(page, username: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/")


def pick(page, field: str, text: str, search: str | None = None) -> None:
    """Choose in a Select2 field (Flask-Admin's dropdowns and ajax look-ups)."""
    page.click(f"#s2id_{field} .select2-choice, #s2id_{field} .select2-choices")
    if search is not None:
        page.fill("#select2-drop .select2-input", search)
    page.click(f"#select2-drop .select2-results li.select2-result-selectable:has-text('{text}')")


def save(page, endpoint: str) -> None:
    """Press 保存 on a create form and wait to leave it."""
    page.click("input[type=submit][value='保存'], button:has-text('保存')")
    page.wait_for_url(f"**/admin/{endpoint}/**")


def test_log_in_and_see_the_dashboard(page):
    page.goto("/admin/")
    assert "/login" in page.url                      # anonymous: the login page
    screenshot(page, "01-login")
    login(page, "street")
    assert page.inner_text("#stat-estates") == "56"
    page.wait_for_selector("#chart-classes")
    assert page.evaluate("() => Chart.getChart('chart-classes').data.datasets[0].data") == [15, 21, 20]
    assert "现在已超期" in page.inner_text("#dashboard")
    screenshot(page, "02-dashboard")


def test_create_an_estate(page):
    login(page, "street")
    page.goto("/admin/estate/new/")
    page.fill("#name", "浏览器测试小区")
    pick(page, "community", "江滨社区", search="江滨")
    pick(page, "estate_class", "二类")
    page.fill("#households", "188")
    screenshot(page, "03-estate-form")
    save(page, "estate")
    page.goto("/admin/estate/?search=浏览器测试")
    assert "浏览器测试小区" in page.inner_text("table.model-list")
    screenshot(page, "04-estate-list")


def test_import_a_spreadsheet_with_one_bad_row(page, tmp_path):
    login(page, "street")
    book = Workbook()
    for row in (["小区名称", "所属社区", "小区类别", "户数"], ["导入甲小区", "江滨社区", "一类", 120],
                ["导入乙小区", "江滨社区", "二类", "120户"]):
        book.active.append(row)
    path = tmp_path / "小区台账.xlsx"
    book.save(path)
    page.goto("/admin/estate/")
    page.click("#import-link")
    page.set_input_files("#file", str(path))
    page.click("#import-form button[type=submit]")
    page.wait_for_selector("#import-result")
    assert "发现 1 处问题" in page.inner_text("#import-result")
    assert "第3行「户数」：应为数字" in page.inner_text(".import-problems")
    assert page.locator("#import-preview td.table-danger").count() == 1
    screenshot(page, "05-import-error")


def test_a_large_import_shows_its_progress_while_it_is_checked(page, tmp_path):
    # over 200 KB, a file is checked in a thread of the server while the page polls its
    # status: the counter must move through the rows, then the page shows the outcome
    rows = 20_000
    path = tmp_path / "小区台账（大）.csv"
    with open(path, "w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["小区名称", "所属社区", "地址", "小区类别", "户数"])
        for n in range(rows):
            writer.writerow([f"进度测试小区{n:05d}", "江滨社区", f"江滨路{n}号（进度测试用的较长地址）", "二类", 100])
    assert path.stat().st_size > 200 * 1024
    login(page, "street")
    page.goto("/admin/estate/import/")
    page.set_input_files("#file", str(path))
    page.click("#import-form button[type=submit]")
    page.wait_for_selector("#import-job #processed")
    status_url = page.get_attribute("#import-job", "data-status-url")
    seen, shot = [], None  # the figures the page's own polling reads, sampled more often than it does
    for _ in range(1200):  # two minutes at most: a job that never ends fails, not hangs
        seen.append(page.request.get(status_url).json())
        if seen[-1]["state"] != "checking":
            break
        counter = page.locator("#processed")
        if not shot and counter.count() and counter.inner_text() not in ("0", ""):
            shot = screenshot(page, "05b-import-progress")  # the bar as the user sees it move
        page.wait_for_timeout(100)
    assert seen[-1]["state"] == "valid", seen[-3:]
    moving = sorted({s["processed"] for s in seen if 0 < s["processed"] < rows and s["total"] == rows})
    assert len(moving) >= 2, seen      # the counter moved through the rows
    page.wait_for_selector("#import-result", timeout=60_000)
    assert page.inner_text("#import-result") == f"检查通过：共 {rows} 行，没有发现问题。"


def test_export_and_open_the_file(page):
    login(page, "community")                          # 江滨社区 only
    page.goto("/admin/estate/")
    page.click("a.dropdown-toggle:has-text('导出')")
    with page.expect_download() as download:
        page.click("a.dropdown-item:has-text('csv')")
    saved = download.value
    assert saved.suggested_filename.startswith("小区_") and saved.suggested_filename.endswith(".csv")
    content = open(saved.path(), "rb").read()
    assert content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[0][:2] == ["小区名称", "所属社区"]
    assert {r[1] for r in rows[1:]} == {"江滨社区"}


def test_record_an_inspection(page):
    login(page, "committee")                          # 永乐花园's four-in-one group
    page.goto("/admin/inspection/new/")
    pick(page, "estate", "永乐花园", search="永乐")
    page.fill("#inspected_on", now().date().isoformat())
    pick(page, "kind", "日常检查")
    page.fill("#findings", "浏览器测试：单元门禁损坏")
    page.click("#items-button")
    pick(page, "items-0-indicator", "路灯完好率", search="路灯")
    page.fill("#items-0-value", "96")
    screenshot(page, "06-inspection-form")
    save(page, "inspection")
    page.goto("/admin/inspection/")
    assert "永乐花园" in page.inner_text("table.model-list")
    page.goto("/admin/standing/")
    row = page.locator("tr[data-name='路灯完好率']")
    assert "table-danger" in row.get_attribute("class")
    screenshot(page, "07-standing")


def test_advance_a_rollout_phase(page):
    login(page, "coordinator")
    page.goto("/admin/rollout/")
    screenshot(page, "08-rollout-overview")
    page.click(".timeline a:has-text('4. 推广')")
    page.click("a.btn:has-text('开始阶段')")
    page.fill("#started_on", now().date().isoformat())
    page.click("form button[type=submit]:has-text('开始阶段')")
    page.wait_for_selector(".state-badge")
    assert page.inner_text(".state-badge") == "进行中"
    screenshot(page, "09-phase-started")


def test_the_monthly_report_and_a_forbidden_action(page):
    login(page, "leader")
    page.goto("/admin/report/")
    assert "物业管理工作月报" in page.inner_text("h1")
    screenshot(page, "10-monthly-report")
    page.goto("/admin/estate/new/")
    assert "没有权限" in page.inner_text("body")


def test_the_page_works_under_the_content_security_policy(page):
    """Filters, bulk actions and confirmations run from static/js/app.js, not from inline
    handlers the policy refuses (the page fixture fails the test on any refusal)."""
    login(page, "street")
    page.goto("/admin/community/new/")
    page.fill("#name", "浏览器删除测试社区")
    pick(page, "street", "示例街道", search="示例")
    save(page, "community")
    page.goto("/admin/community/?search=浏览器删除测试")
    rows = page.locator("table.model-list tbody tr:has-text('浏览器删除测试社区')")
    assert rows.count() == 1

    listed_at = page.url
    page.click("li:has(.field-filters) > a.dropdown-toggle")        # add a filter
    page.click(".field-filters a.filter >> nth=0")
    assert page.locator("table.filters tr").count() == 1
    assert page.url == listed_at                                       # the menu links stay put

    asked = []
    page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    button = rows.locator("button[data-confirm]")
    button.click()                                                     # delete, then cancel
    page.wait_for_timeout(300)
    assert asked == [button.get_attribute("data-confirm")] and asked[0]
    assert page.url == listed_at
    page.reload()
    assert rows.count() == 1                                           # cancelled: still there

    rows.locator("input.action-checkbox").check()
    page.click("li:has([data-model-action]) > a.dropdown-toggle")
    page.once("dialog", lambda d: d.accept())
    with page.expect_navigation():
        page.click("[data-model-action='delete']")                     # bulk delete, confirmed
    page.goto("/admin/community/?search=浏览器删除测试")
    assert rows.count() == 0

    page.goto("/admin/no-such-page/")
    assert "页面不存在" in page.inner_text("body")
    page.click("a[data-back]")                                         # 返回上一页
    page.wait_for_url("**/admin/community/**")


def test_the_policy_refuses_injected_script(browser, live_server):
    """An injected inline script or event handler does not run, and the browser says why."""
    from .conftest import csp_violations

    context = browser.new_context(base_url=live_server, locale="zh-CN")
    tab = context.new_page()
    tab.set_default_timeout(15000)
    refused = csp_violations(tab)
    try:
        login(tab, "street")
        tab.goto("/admin/estate/")
        tab.evaluate("""() => {
            const s = document.createElement('script');
            s.textContent = 'window.injected = 1';
            document.body.appendChild(s);
            const b = document.createElement('button');
            b.id = 'injected-button';
            b.setAttribute('onclick', 'window.clicked = 1');
            b.textContent = 'x';
            document.body.prepend(b);
        }""")
        tab.click("#injected-button")
        tab.wait_for_timeout(300)
        assert tab.evaluate("() => window.injected") is None
        assert tab.evaluate("() => window.clicked") is None
        assert any("inline script" in r for r in refused), refused
        assert any("event handler" in r for r in refused), refused
    finally:
        context.close()
