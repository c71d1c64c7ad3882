"""The relevance gate decides from local evidence: a named bank, community work and a
grassroots unit in one passage that the story is about; never from counts over a long text."""

from __future__ import annotations

import pytest

from casebook.data import load_data
from scraper.classify import judge_story

STATISTICS = ["国家统计局今天发布数据，前三季度国内生产总值同比增长百分之五点二，社会消费品零售总额持续恢复。",
              "前三季度，人民币贷款新增19.75万亿元，同比多增1.58万亿元，制造业中长期贷款保持较快增长。",
              "普惠型小微企业贷款新增4.8万亿元，平均利率比去年下降0.4个百分点，金融支持力度持续加大。",
              "专家表示，四季度经济有望延续回升向好态势，宏观政策将继续加力，扩大内需的效果将进一步显现。"]


@pytest.fixture(scope="module")
def data():
    return load_data()


def test_bank_and_community_work_in_one_passage(data):
    verdict = judge_story("建行进社区", ["建行成华支行的客户经理走进白莲池社区，为老年人上门办理社保卡激活业务。"], data)
    assert verdict.relevant
    assert verdict.reason.startswith("中国建设银行 + ") and "建行成华支行的客户经理走进白莲池社区" in verdict.reason


def test_volume_over_a_long_text_never_adds_up(data):
    # The bank in one paragraph, the community in another, far apart: no passage holds both.
    blocks = ["工商银行发布三季度业绩，营业收入保持稳定增长，资产质量总体稳定。", *STATISTICS, "社区居民志愿者走进小区，帮助老年人学习使用智能手机，开展便民服务。", *STATISTICS]
    verdict = judge_story("三季度经济数据发布", blocks, data)
    assert not verdict.relevant and "no passage puts it beside community work" in verdict.reason


def test_one_paragraph_amid_national_statistics_is_not_the_story(data):
    blocks = [*STATISTICS, "在西藏墨脱县，农业银行格当支行不久前正式营业，周边的15个村从此有了家门口的银行网点，"
                           "工作人员还上门为村民办理业务。", *STATISTICS]
    verdict = judge_story("金融服务实体经济质效不断增强", blocks, data)
    assert not verdict.relevant
    assert "only in one passage" in verdict.reason and "格当支行" in verdict.reason


def test_short_aliases_policy_banks_and_money_totals_are_not_evidence(data):
    noise = judge_story("城市声环境", ["建筑施工行业的工作人员走进社区，为居民提供降噪服务。"], data)
    assert not noise.relevant and noise.reason.startswith("names no bank")
    policy = judge_story("国开行支持城市更新", ["国家开发银行的工作人员走进小区，为居民讲解老旧小区改造贷款政策。"], data)
    assert not policy.relevant
    totals = judge_story("农行支持春耕", ["农业银行各地支行今年已向农户发放贷款500亿元，服务春耕备耕。"], data)
    assert not totals.relevant


def test_a_community_story_that_names_no_bank(data):
    verdict = judge_story("社区食堂开张", ["街道在小区开设社区食堂，志愿者上门为老人送餐，居民纷纷点赞。"], data)
    assert not verdict.relevant and verdict.reason == "names no bank or credit cooperative"
