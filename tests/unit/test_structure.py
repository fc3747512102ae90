"""Reading an output's sections and items the way people write them."""

from __future__ import annotations

import pytest

from taskchain.items import items
from taskchain.structure import SectionName, read_sections

RISKS = SectionName("risks", ("风险清单", "Risks", "主要风险", "key risks"))
PLAN = SectionName("plan", ("实施方案", "Implementation plan"))
QUESTION = SectionName("core", ("核心问题", "Core question"))
WANTED = (QUESTION, RISKS, PLAN)


@pytest.mark.parametrize(
    "title_line",
    [
        "## 风险清单",
        "### 3. 风险清单",
        "**风险清单**",
        "**风险清单：**",
        "【风险清单】",
        "一、风险清单",
        "（二）风险清单",
        "第二部分 风险清单",
        "2. 风险清单",
        "风险清单：",
        "风险清单（按严重程度排序）",
        "## Key risks",
        "**The key risks**",
        "Risks:",
        # a slide or part number before the title
        "## Slide 3 — Risks",
        "## 第3页｜风险清单",
        "**Part 2: Key risks**",
        "Slide 3 — Risks",
        "第3页｜风险清单",
    ],
)
def test_a_section_title_is_read_in_any_common_form(title_line: str) -> None:
    # GIVEN a section opened by a title written in one of the forms people use
    text = f"## 核心问题\n要不要推出月卡。\n\n{title_line}\n- 供应商涨价\n- 店员流失\n"

    # WHEN the output is read THEN the section is found with its items
    found = read_sections(text, WANTED)
    assert "risks" in found
    assert items(found["risks"].body) == ("供应商涨价", "店员流失")


@pytest.mark.parametrize(
    "lead_in",
    [
        "主要风险如下：",
        "以下是我们识别出的风险：",
        "The main risks are:",
        "必须满足的需求：",
        "需要四类事实：平台费用、物流成本",
    ],
)
def test_a_lead_in_line_stays_inside_its_section(lead_in: str) -> None:
    # GIVEN a lead-in line under a section heading (the complaint that opened issue 6)
    text = f"## 风险清单\n\n{lead_in}\n\n1. 供应商涨价\n2. 店员流失\n3. 房租上涨\n"

    # THEN it does not end the section: the three items are still the section's
    assert len(items(read_sections(text, WANTED)["risks"].body)) == 3


@pytest.mark.parametrize(
    "sub",
    [
        "### 步骤一：签约",
        "**第1–2周：准备**",
        "**Must have:**",
        "【短期】",
        "In order of priority:",
    ],
)
def test_sub_headings_and_bold_sub_labels_belong_to_the_section(sub: str) -> None:
    text = (
        f"## 实施方案\n\n{sub}\n- 与两家供应商签年约\n- 培训两名店员\n\n## 风险清单\n- 房租上涨\n"
    )

    body = read_sections(text, WANTED)["plan"].body
    assert "与两家供应商签年约" in body
    assert "房租上涨" not in body


def test_a_heading_of_the_same_rank_ends_the_section_and_is_reported() -> None:
    text = "## 风险清单\n- 供应商涨价\n\n## 背景\n- 这一段不属于风险\n"

    found = read_sections(text, WANTED)["risks"]
    assert "背景" not in found.body
    assert found.ended_by == "## 背景"


def test_a_chinese_numbered_item_inside_a_markdown_section_does_not_end_it() -> None:
    text = "## 风险清单\n一、供应商涨价\n二、店员流失\n三、房租上涨\n\n## 实施方案\n- 签约\n"

    assert len(items(read_sections(text, WANTED)["risks"].body)) == 3


def test_a_section_named_again_inside_itself_is_content() -> None:
    text = "## 风险清单\n主要风险：\n- 涨价\n- 流失\n"

    assert len(items(read_sections(text, WANTED)["risks"].body)) == 2


def test_a_label_that_merely_contains_a_section_word_does_not_open_it() -> None:
    # "继续做实战项目练习：" contains no section name at its start: it stays where it is
    exercises = SectionName("ex", ("练习任务", "练习设计"))
    nxt = SectionName("next", ("后续建议",))
    text = "## 后续建议\n（一）继续做实战项目练习：每月一个\n（二）学 SQL：约 40 小时\n"

    found = read_sections(text, (exercises, nxt))
    assert "ex" not in found
    assert len(items(found["next"].body)) == 2


CONCEPTS = SectionName("concepts", ("核心概念", "Core concepts"))
CONNECTIONS = SectionName("connections", ("概念之间的联系", "How the concepts connect"))


@pytest.mark.parametrize("title_line", ["## Connections", "**Connections:** ", "Connection:"])
def test_an_english_title_of_a_sections_own_words_names_it(title_line: str) -> None:
    # "Connections" is one of the words of "How the concepts connect" and of no other section's
    text = f"## Core concepts\n- scale\n- contours\n\n{title_line}\nScale turns map distance into paces.\n"

    found = read_sections(text, (CONCEPTS, CONNECTIONS))

    assert found["connections"].body.endswith("into paces.")
    assert found["concepts"].body == "- scale\n- contours"


def test_a_title_whose_words_several_sections_share_names_none_of_them() -> None:
    text = "## Concepts\nScale turns map distance into paces and contours into slopes.\n"
    assert read_sections(text, (CONCEPTS, CONNECTIONS)) == {}


@pytest.mark.parametrize(
    ("body", "count"),
    [
        ("- 甲方案成本低\n- 乙方案见效快\n- 丙方案风险小", 3),
        ("1. 甲方案\n2. 乙方案", 2),
        ("1) 甲方案\n2) 乙方案", 2),
        ("① 甲方案\n② 乙方案\n③ 丙方案", 3),
        ("(1) 甲方案\n(2) 乙方案", 2),
        ("一、甲方案\n二、乙方案", 2),
        ("| 方案 | 成本 |\n|---|---|\n| 甲 | 3 万 |\n| 乙 | 5 万 |\n| 丙 | 8 万 |", 3),
        ("### 方案一\n内容\n### 方案二\n内容", 2),
        ("**方案一**：成本低\n**方案二**：见效快", 2),
        ("我们的判断一是成本偏高，二是人手不足，三是时间太紧。", 3),
        ("我们的判断：一是成本偏高；二是人手不足；三是时间太紧。", 3),
        ("首先要稳住老客户，其次要控制成本，最后再考虑扩张。", 3),
        ("First, keep the regulars. Second, cut waste. Finally, expand.", 3),
        ("The first risk is supply. The second risk is staff turnover.", 2),
        ("- 甲方案\n  - 细节一\n  - 细节二\n- 乙方案", 2),
        (
            "甲方案的成本最低，每月约三万元，适合先试点半年。\n\n乙方案见效最快，但需要额外招聘两名店员负责配送。",
            2,
        ),
        ("只有一句话。", 0),
        # points that follow on with "also" / "finally" (此外 / 最后): each sentence is one
        (
            "A good answer will rest on volunteers' own words. It will also distinguish newer "
            "volunteers from experienced ones. Finally, it will say where findings are thin.",
            3,
        ),
        (
            "好的回答要以志愿者自己的话为依据。此外，它要区分新志愿者和资深志愿者。最后，它要说明证据薄弱之处。",
            3,
        ),
        # one "also" is ordinary prose, not an enumeration
        ("The plan cuts costs by a tenth. It also shortens the queue at lunch.", 0),
        # ordinals inside a sentence, after a comma or "and"
        (
            "The goals are, first, to pull three shots in a row within 2 g of the target, and "
            "second, to taste the difference between a 20-second and a 35-second shot.",
            2,
        ),
        # sentences that open alike but for their number
        (
            "Stage 1 is complete when the puck is even. Stage 2 is complete when three shots land "
            "within 2 g. Stage 3 is complete when a new coffee settles within five shots.",
            3,
        ),
        (
            "第一阶段结束时能读准四个声调。第二阶段结束时能读准轻声。第三阶段结束时能完成三分钟说话。",
            3,
        ),
        # a lead-in that announces how many points follow, then one sentence per point
        (
            "Two misconceptions trip beginners up. One is that thick crema means a good shot. "
            "The other is that tamping harder fixes a fast shot.",
            2,
        ),
        (
            "Four habits matter most. Keep the map set to the ground. Predict the ground before "
            "each leg. Trust the bearing over instinct. Turn back early when unsure of the way.",
            4,
        ),
        (
            "常见误解有两个。有人认为轻声就是读得小声，其实关键是短。也有人把儿化读成单独的 er 音，其实是卷舌。",
            2,
        ),
        # numbers inside running text
        (
            "The musts are clear. 1) The decision rests on our own cohort data. 2) Placement "
            "works without a test score. 3) Scholarship grids are rewritten on GPA.",
            3,
        ),
        ("必须满足：1）许可证按时批下来；2）首月现金流为正；（3）店员到岗。", 3),
        ("见附注（1）的说明，另见第（3）条。", 0),
        # a count that more sentences do not follow announces nothing
        ("The shop has two owners. They opened it in 2019 and serve 180 cups a day.", 1),
    ],
)
def test_items_are_counted_however_they_are_written(body: str, count: int) -> None:
    assert len(items(body)) == count, items(body)


@pytest.mark.parametrize(
    "body",
    [
        "- **Must**\n  - 许可证按时批下来\n  - 首月现金流为正\n- **Nice to have**\n  - 会员小程序\n",
        "- Must:\n  - Licence granted on time\n  - Cash-positive first month\n- Should:\n"
        "  - A loyalty app\n",
    ],
)
def test_items_grouped_under_bare_labels_are_the_items(body: str) -> None:
    # GIVEN a list whose top-level entries only label groups ("Must", "Should") of sub-items
    # THEN the sub-items are the items, not the labels
    assert len(items(body)) == 3, items(body)


def test_a_first_that_is_part_of_a_word_is_not_an_ordinal() -> None:
    assert items("Deep first-box discounts buy sign-ups; they cancel later.") == ()
