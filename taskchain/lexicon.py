"""Word lists for reading substance: function words and generic wording, in Chinese and English.

They decide what counts as *specific* content: a sentence made only of these words ("需要综合考虑
多方面因素", "We should take a holistic view of all the factors") says nothing about its subject.
The lists are general-purpose vocabulary, not phrases from any test answer.
"""

from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    """The whitespace-separated words of ``text``."""
    return frozenset(text.split())


# Abstract, all-purpose Chinese wording: verbs of intent, evaluative adjectives, vague nouns,
# discourse connectives. Removed longest first, before the remaining characters are counted.
ZH_GENERIC: frozenset[str] = _words(
    """
    阶段 前期 中期 后期 准备 任务 总结 经验 成果 第一 第二 第三 第四 第五 有关工作 各项工作 工作落实
    一些 一体化 一定 一方面 一步 一系列 一般来说 一般而言 不可或缺 不同 不容忽视 不断 不断地 与时俱进 中心 丰富 为中心 主动性 主要 举足轻重 之中 之间 也就是说 也是
    争取 事实上 事项 产生 亮点 从而 仔细 他们 以便 以免 以及 以期 价值 众多 优势 优化 传播 传播力 体现 体系 作出 作用 使之 使其 使命 依托 促进 保持 保证 保障
    借助 值得 值得注意 做出 做到 做好 健全 充分 充分考虑 充足 全力 全局 全方位 全过程 全面 共同 共赢 关于 关注 关注度 关系 关键 其实 其次 具体 具有 兼顾 内容
    准确 凸显 出发 刀刃 分析 切实 切实可行 创新 创造 判断 利用 前提下 力争 加强 务实 动态 助力 努力 包含 包括 包括但不限于 十分 升级 协同 协调 原则 及时 发力
    发展 发挥 取得 变化 另一方面 另外 可以 可持续 可能 可能性 可行 可行性 可靠 各个 各方 各方面 各环节 各种 各类 各阶段 各项 合理 合理性 合适 同时 吸引 吸引力
    品质 因地制宜 因此 因素 围绕 坚实 坚持 基于 基本 基础 基础上 增强 处理 复杂 复杂性 多个 多元 多层次 多方 多方面 多种 多维度 多角度 大家 大量 夯实 如此 妥善
    始终 存在 学以致用 完善 完备 完整 定位 实施 实现 实际 实际上 密切 对于 尤其 就是 尽力 层层 层次 层面 展现 属于 工作 巩固 布局 带来 常态化 平衡 并且 广泛
    应对 应当 应该 建立 建立健全 开展 引领 强化 当中 当前 当然 形式 形成 彰显 影响 影响力 很好 循序渐进 必不可少 必要 必要性 必须 思路 总之 总体 总体而言 总的来说
    总而言之 恰当 情况 情况下 情境 情形 意义 意图 意识 愿景 成为 成功 成效 我们 或者 所以 所学 手段 扎实 打通 打造 执行力 扩大 把控 把握 抓手 拓展 持之以恒 持续
    挑战 挖掘 换言之 掌握 探讨 推动 推进 措施 提供 提升 提高 搭建 支撑 改善 效果 整体 整体思路 整合 文化 新颖 新颖性 方向 方式 方案 方法 方面 日益 明显 明确
    显然 显著 普遍 更加 更好 最后 最大化 有些 有关 有关方面 有力 有序 有效 有效地 有效性 有机 有机结合 期待 期望 未来 本文 本步骤 本节 本质 本部分 机会 机制 机遇
    条件 条件下 来看 构建 某些 标准化 核心 根据 根本 检验 模式 正确 此外 氛围 水平 注意 注重 涉及 深入 深化 深层 深度 清晰 满足 激发 然后 特别 特别是 特色 状况
    环境 环环相扣 环节 现在 现实意义 理念 理解 生命力 用在刀刃上 由浅入深 痛点 目前 目标 目的 相互 相互促进 相互影响 相关 相关性 相关措施 相应 相辅相成 真实 着力
    着眼 着眼于 知名度 知识 短期 短板 研究 确保 科学 科学性 积极 积极性 稳中求进 稳定 稳步 突破 立体 立足 立足于 竞争力 等等 策略 管控 管理 精准 精益求精 精细
    系统 系统化 系统性 素养 紧密 细化 结合 结果 统一 统筹 统筹兼顾 维度 综上 综上所述 综合 综合来看 综合考虑 群体 考虑 考量 而且 联系 聚焦 能力 能够 自己 至关重要
    致力 致力于 良好 良性 范围内 获得 营造 落到实处 落地 落实 融合 行之有效 要素 观念 规划 规范 视角 角度 解决 认真 认知 认知度 认识 讨论 评估 诸多 调整 质量
    贯穿 赋能 越来越 路径 转型 较好 达到 过程 过程中 运用 还是 这一 这个 这些 进一步 进而 进行 适当 逐步 逐渐 通过 那个 那些 部分 都是 采取 采取措施 采用 释放
    重大 重要 重要性 重要意义 重视 针对性 长效 长期 闭环 问题 阶段性 需求 需要 需要注意 非常 面对 顺利 风险 首先 高度重视 高效 高质量 齐头并进
    """
)
# Single characters that carry grammar rather than content.
ZH_FUNCTION_CHARS: frozenset[str] = frozenset(
    "与且个为之也了于些从以会其则即又及和在地对将就并很得或所把是更最有的着等而能被要过还这那都"
)
# Question words and function words: where a target splits into its key phrases ("一家社区咖啡店
# 是否应该推出会员订阅制" -> 社区咖啡店, 推出会员订阅制).
ZH_PHRASE_BREAKS: frozenset[str] = _words(
    """
    是否 应该 应当 如何 怎样 怎么 为什么 什么 哪些 一家 一个 一种 一位 一款 一门 我们 以及 关于 进行
    能否 可否 要不要 该不该 的 对 与 和 及 在 了 把 为 被 从 向 或 并 而 以 于 之 其 中 让 给 用 做
    """
)

EN_STOP: frozenset[str] = _words(
    """
    a about above again all also although am an and any are as at be because been being below
    both but by can could did do does doing done down each every few for from further get gets
    got had has have having he her here his how i if in into is it its just let lets may me
    might mine more most must my no nor not of off on once one ones only or other our out over
    own s same shall she should so some such t than that the their them then there these they
    this those though to too under up us very was we were what when where whether which while
    who whom whose why will with would you your
    """
)
# All-purpose English wording: evaluative and abstract words that say nothing about a subject.
EN_GENERIC: frozenset[str] = _words(
    """
    ability able account achieve achieved achieving across actually additionally address
    addressed addressing adequate adequately align aligned alignment alike always analyse
    analysing analysis analyze analyzing approach approaches appropriate appropriately area
    areas aspect aspects assess assessment attention aware awareness balance balanced basically
    best best-practice better broad broader capacity careful carefully center central centre
    certainly challenge challenges clear clearly closely comprehensive comprehensively concept
    concepts connect connected connection connections connects consider consideration
    considerations considered considering consistent consistently constantly context contexts
    continuous continuously core correct correctly critical crucial current currently
    cutting-edge deal dealing deep deeply depth develop developing development different
    dimension dimensions direction directions drive driving effective effectively effectiveness
    efficient efficiently element elements empower empowering engagement engaging enhance
    enhanced ensure ensures ensuring entire essential essentially evaluate evaluating
    expectation expectations factor factors focus focused focusing forward foster fostering
    foundation foundational framework frameworks fundamental fundamentals furthermore future
    game-changing general generally goal goals going good great growth handle handling heart
    hence holistic holistically however impact impactful impacts importance important improve
    improved improvement improvements include includes including indeed innovation innovative
    integrate integrated integrating involve involves involving issue issues journey key level
    levels leverage leveraging likely logical logically long maintain maintaining make making
    manage management managing many matter matters meaningful meaningfully method methods
    moreover moving multiple nature necessary need needed needs next-level objective objectives
    obviously often ongoing opportunities opportunity optimisation optimise optimised
    optimization optimize optimized outcome outcomes overall part particular particularly parts
    path pathway perspective perspectives plan planning plans play playing plays point points
    possible possibly potential potentially practices principle principles priorities prioritise
    prioritize priority process processes proper properly provide providing purpose purposes
    quality really reflect reflecting reflection regard regarding regular regularly related
    relating relation relevance relevant relevantly requirement requirements resource resources
    respect result results review reviewing risk risks robust role roles seamless seamlessly
    section several short significant significantly situation situations solid solution
    solutions specific specifically stakeholder stakeholders step steps strategic strategies
    strategy streamline streamlined strength strengths success successful successfully suitable
    suitably support supporting sure sustainability sustainable synergies synergy take taking
    technique techniques term terms thereby therefore thing things thorough thoroughly
    throughout thus together tool tools typically ultimately understand understanding understood
    unlock unlocking usually valuable value values variety various view views way ways weakness
    weaknesses well whole wide wider within world-class
    """
)
# Words that introduce an example: a sentence that gives one is not filler.
EXAMPLE_MARKERS: tuple[str, ...] = (
    "例如",
    "比如",
    "譬如",
    "举例",
    "例：",
    "如：",
    "案例",
    "e.g.",
    "for example",
    "for instance",
    "such as",
    "i.e.",
)
