"""Portal words in Chinese and English (中文 / English), and which language a visitor reads.

The language comes from the ``xinyi_lang`` cookie (set by the switch in the page header), then the browser's
``Accept-Language``, then Chinese. Every label a template shows is a key of ``TEXTS`` with both languages.
"""

from __future__ import annotations

from typing import Literal

Language = Literal["zh", "en"]
LANGUAGES: tuple[Language, ...] = ("zh", "en")
DEFAULT_LANGUAGE: Language = "zh"
LANG_COOKIE = "xinyi_lang"

TEXTS: dict[str, tuple[str, str]] = {
    # frame
    "app.title": ("信易贷预授信门户", "Xinyi pre-credit portal"),
    "nav.score": ("我的评分", "My score"),
    "nav.authorisations": ("授权管理", "Authorisations"),
    "nav.access_log": ("访问记录", "Access log"),
    "nav.objections": ("异议", "Objections"),
    "nav.coverage": ("平台覆盖", "Coverage"),
    "nav.lending": ("信用贷款", "Credit lending"),
    "nav.timeliness": ("回传及时性", "Report timeliness"),
    "nav.quality": ("数据质量", "Data quality"),
    "nav.declines": ("政策拒绝", "Policy declines"),
    "nav.monitoring": ("模型监测", "Model monitoring"),
    "nav.logout": ("退出登录", "Log out"),
    "nav.language": ("语言", "Language"),
    "nav.main": ("主导航", "Main navigation"),
    "common.signed_in_as": ("当前用户", "Signed in as"),
    "common.download_csv": ("下载 CSV", "Download CSV"),
    "common.none": ("暂无数据", "Nothing yet"),
    "common.submit": ("提交", "Submit"),
    "common.apply": ("应用", "Apply"),
    "common.status": ("状态", "Status"),
    "common.at": ("时间", "When"),
    # login
    "login.title": ("登录", "Log in"),
    "login.intro": ("企业和监管用户使用账号编号和密码登录。银行请使用 API 密钥调用接口。",
                    "Enterprises and regulators log in with their account number and password. Banks use the API "
                    "with their keys."),
    "login.account_id": ("账号编号", "Account number"),
    "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Log in"),
    "login.failed": ("账号或密码不正确。", "The account number or password is not right."),
    "login.throttled": ("登录失败次数过多，请稍后再试。", "Too many failed logins; try again later."),
    "login.expired": ("页面已过期，请重新登录。", "The page expired; please log in again."),
    # errors
    "error.title": ("无法完成", "Not possible"),
    "error.forbidden": ("您的账号无权查看此页面。", "Your account may not see this page."),
    "error.csrf": ("表单已失效（缺少或错误的安全令牌），未保存任何内容。请返回重新提交。",
                   "The form was refused (missing or wrong security token); nothing was stored. Go back and "
                   "submit it again."),
    "error.not_found": ("未找到。", "Not found."),
    "error.back": ("返回", "Back"),
    "error.invalid": ("输入有误，未保存任何内容：", "The input was refused and nothing was stored:"),
    "error.conflict": ("与当前状态冲突，未保存任何内容：", "It clashes with the current state; nothing was stored:"),
    "error.field": ("字段", "Field"),
    "error.rule": ("规则", "Rule"),
    # enterprise: score
    "score.title": ("我的预授信评分", "My pre-credit score"),
    "score.intro": ("这是银行现在查询时会得到的评估，基于同一画像、模型和规则；本页查看不会留给银行。",
                    "This is the assessment a bank would get now, from the same profile, model and rules; viewing "
                    "it here gives nothing to any bank."),
    "score.score": ("评分", "Score"),
    "score.grade": ("等级", "Grade"),
    "score.pd": ("违约概率", "Probability of default"),
    "score.decision": ("预授信结论", "Pre-credit decision"),
    "score.decision.approve": ("通过", "approve"),
    "score.decision.refer": ("转人工审核", "refer to a loan officer"),
    "score.decision.decline": ("拒绝", "decline"),
    "score.profile_as_of": ("画像日期", "Profile as of"),
    "score.model": ("模型", "Model"),
    "score.lowering": ("拉低评分的因素", "What lowers the score"),
    "score.raising": ("提升评分的因素", "What raises the score"),
    "score.points": ("分值", "Points"),
    "score.reason": ("原因", "Reason"),
    "score.advice": ("改进建议", "Improvement advice"),
    "score.advice_target": ("目标等级", "Target grade"),
    "score.advice_none": ("暂无可行的改进建议。", "No feasible improvement found."),
    "score.policy_hits": ("适用的政策规则", "Policy rules that apply"),
    "score.insufficient": ("数据不足，无法评分：", "Not enough data to score:"),
    "score.no_profile": ("平台尚无贵企业的画像。", "The platform has no profile of your enterprise yet."),
    "score.no_model": ("评分模型暂未加载，请稍后再试。", "No scoring model is loaded; try again later."),
    # enterprise: authorisations
    "auth.title": ("授权管理", "Authorisations"),
    "auth.intro": ("授权某家银行在一定期限内查询贵企业的预授信评分；撤销立即生效。",
                   "Let a bank obtain your pre-credit score for a while; a revocation takes effect at once."),
    "auth.grant": ("新增授权", "Grant an authorisation"),
    "auth.bank": ("银行", "Bank"),
    "auth.purpose": ("用途", "Purpose"),
    "auth.purpose.pre_credit": ("贷前预授信", "pre-credit"),
    "auth.purpose.post_loan": ("贷后管理", "post-loan"),
    "auth.scopes": ("范围", "Scopes"),
    "auth.scope.score": ("评分", "score"),
    "auth.scope.profile": ("画像", "profile"),
    "auth.scope.tax": ("纳税信息", "tax records"),
    "auth.scope.social_insurance": ("社保信息", "social insurance"),
    "auth.scope.housing_fund": ("公积金信息", "housing fund"),
    "auth.scope.utilities": ("水电气信息", "utilities"),
    "auth.days": ("有效天数", "Days valid"),
    "auth.granted_at": ("授权时间", "Granted"),
    "auth.expires_at": ("到期时间", "Expires"),
    "auth.revoke": ("撤销", "Revoke"),
    "auth.receipt_granted": ("已授权，回执编号", "Granted; receipt number"),
    "auth.receipt_revoked": ("已撤销，回执编号", "Revoked; receipt number"),
    "auth.status.active": ("有效", "active"),
    "auth.status.expired": ("已到期", "expired"),
    "auth.status.revoked": ("已撤销", "revoked"),
    "auth.list": ("我的授权", "My authorisations"),
    # enterprise: access log
    "access.title": ("访问记录", "Who accessed my data"),
    "access.intro": ("银行、运营和监管对贵企业数据的每一次访问，无论是否被允许。",
                     "Every request about your enterprise by a bank, operator or regulator, allowed or refused."),
    "access.who": ("访问方", "Who"),
    "access.action": ("操作", "What"),
    "access.outcome": ("结果", "Outcome"),
    "access.grant": ("依据的授权", "Under grant"),
    "access.outcome.allowed": ("允许", "allowed"),
    "access.outcome.denied": ("拒绝", "refused"),
    "access.outcome.error": ("出错", "failed"),
    "access.total": ("共", "Total"),
    "access.older": ("更早", "Older"),
    "access.newer": ("更新", "Newer"),
    # enterprise: objections
    "obj.title": ("异议", "Objections"),
    "obj.intro": ("对某条记录有异议时提交；处理完毕前该来源的特征会标为“有异议”。",
                  "Dispute one record; features from its source are flagged disputed until it is decided."),
    "obj.file": ("提交异议", "File an objection"),
    "obj.source": ("记录来源", "Record source"),
    "obj.record_key": ("记录编号", "Record key"),
    "obj.reason": ("理由", "Reason"),
    "obj.list": ("我的异议", "My objections"),
    "obj.history": ("处理经过", "History"),
    "obj.note": ("处理意见", "Decision note"),
    "obj.filed": ("已提交，异议编号", "Filed; objection number"),
    "obj.status.submitted": ("已提交", "submitted"),
    "obj.status.in_review": ("处理中", "in review"),
    "obj.status.corrected": ("已更正", "corrected"),
    "obj.status.rejected": ("已驳回", "rejected"),
    # regulator
    "reg.coverage.title": ("平台覆盖率", "Platform coverage"),
    "reg.coverage.intro": ("注册、授权企业占存量企业的比例，以及接入银行占比，对照目标。",
                           "Registered and authorised enterprises over existing ones, and banks connected, against "
                           "their targets."),
    "reg.lending.title": ("信用贷款规模与年增速", "Credit-loan volume and year-on-year growth"),
    "reg.lending.intro": ("按月的信用贷款发放额（柱）与同比增速（线），可按银行、地区、行业、规模筛选。",
                          "Credit loans disbursed by month (bars) and year-on-year growth (line), by bank, region, "
                          "industry or size."),
    "reg.lending.by": ("维度", "Break down by"),
    "reg.lending.group": ("取值", "Value"),
    "reg.lending.chart_volume": ("信用贷款发放额（元）", "Credit loans disbursed (yuan)"),
    "reg.lending.chart_yoy": ("发放额同比增速", "Disbursed, year on year"),
    "reg.lending.chart_balance": ("月末余额（元）", "Month-end balance (yuan)"),
    "reg.dim.platform": ("全平台", "whole platform"),
    "reg.dim.bank": ("银行", "bank"),
    "reg.dim.region": ("地区", "region"),
    "reg.dim.industry": ("行业", "industry"),
    "reg.dim.size_class": ("企业规模", "size"),
    "reg.timeliness.title": ("银行回传及时性与完整性", "Banks' loan-report timeliness and completeness"),
    "reg.timeliness.intro": ("每家银行报送贷款事件的时滞、按时率、跟进率和结清率。",
                             "Each bank's reporting lag, on-time rate, follow-up and resolution of its loans."),
    "reg.quality.title": ("数据质量", "Data quality"),
    "reg.quality.intro": ("各数据来源及提供部门的合格率、错误及重复统一社会信用代码比例。",
                          "Qualified rate, wrong and duplicate USCC rates per source and providing department."),
    "reg.declines.title": ("政策拒绝（联合惩戒）", "Policy declines (联合惩戒)"),
    "reg.declines.intro": ("各政策规则命中的评分、企业数和拒绝数。",
                           "Scores, enterprises and declines per policy rule."),
    "reg.monitoring.title": ("模型监测", "Model monitoring"),
    "reg.monitoring.intro": ("评分分布漂移（PSI，0.1 / 0.25 警戒线）与各等级的实际违约率。",
                             "Score drift (PSI against the training baseline, 0.1 / 0.25 bands) and the realised "
                             "default rate by grade."),
    "reg.monitoring.psi_chart": ("各月 PSI", "PSI by month"),
    "reg.monitoring.default_chart": ("各等级实际违约率", "Realised default rate by grade"),
    "reg.monitoring.alerts": ("预警", "Alerts"),
    "reg.monitoring.realised": ("实际违约率", "Realised default rate"),
    "reg.monitoring.mean_pd": ("平均预测违约概率", "Mean predicted PD"),
    "reg.monitoring.model": ("冠军模型版本", "Champion model version"),
    "reg.monitoring.baseline": ("基准", "Baseline"),
    "reg.monitoring.table.drift": ("评分漂移（PSI）", "Score drift (PSI)"),
    "reg.monitoring.table.grades": ("各等级表现", "Performance by grade"),
    "reg.monitoring.table.alerts": ("预警", "Alerts"),
    "reg.monitoring.no_alerts": ("无预警。", "No alerts."),
    "reg.alert.score_drift": ("{subject} 的评分分布偏离训练基准：PSI {value} ≥ {threshold}（{count} 个评分）",
                              "Scores of {subject} drifted from the training baseline: PSI {value} ≥ {threshold} "
                              "({count} scores)"),
    "reg.alert.discrimination": ("到期贷款上的 AUC {value} 低于下限 {threshold}（训练时样本外 AUC 减允许降幅）",
                                 "AUC on matured loans {value} is below {threshold} (the out-of-time AUC at "
                                 "training less the allowed drop)"),
    "reg.severity.watch": ("关注", "watch"),
    "reg.severity.act": ("须处置", "act"),
    "reg.unavailable": ("暂无此项数据：", "Not available yet:"),
}
"""Every label the portal shows: key → (中文, English)."""

COLUMNS: dict[str, tuple[str, str]] = {
    "measure": ("指标", "measure"), "numerator": ("分子", "numerator"), "denominator": ("分母", "denominator"),
    "rate": ("比例", "rate"), "target": ("目标", "target"), "target_rule": ("目标规则", "target rule"),
    "meets_target": ("是否达标", "meets target"), "denominator_source": ("分母来源", "denominator source"),
    "period": ("期间", "period"), "group": ("分组", "group"), "loans_disbursed": ("发放笔数", "loans disbursed"),
    "disbursed_amount": ("发放金额", "amount disbursed"), "borrowers": ("借款企业数", "borrowers"),
    "first_time_borrowers": ("首贷户", "first-time borrowers"), "balance": ("月末余额", "balance"),
    "disbursed_yoy": ("发放额同比", "disbursed, year on year"), "balance_yoy": ("余额同比", "balance, year on year"),
    "bank": ("银行", "bank"), "events": ("报送事件数", "events reported"),
    "median_lag_days": ("报送时滞中位数（天）", "median lag (days)"),
    "p90_lag_days": ("报送时滞 P90（天）", "p90 lag (days)"),
    "on_time_rate": ("按时率", "on-time rate"), "loans": ("贷款笔数", "loans"),
    "disbursed_loans": ("已发放贷款", "disbursed loans"), "due_follow_up": ("应跟进", "due a follow-up"),
    "followed_up": ("已跟进", "followed up"), "follow_up_rate": ("跟进率", "follow-up rate"),
    "matured": ("已到期", "matured"), "resolved": ("已结清或违约", "resolved"),
    "resolution_rate": ("结果报送率", "resolution rate"), "source": ("数据来源", "source"),
    "department": ("提供部门", "department"), "read": ("读入行数", "rows read"), "accepted": ("接收", "accepted"),
    "quarantined": ("隔离", "quarantined"), "qualified_rate": ("合格率", "qualified rate"),
    "uscc_wrong_rate": ("代码错误率", "wrong USCC rate"),
    "uscc_wrong_meets_target": ("代码错误率达标", "wrong USCC on target"),
    "duplicate_rate": ("重复率", "duplicate rate"), "duplicate_meets_target": ("重复率达标", "duplicates on target"),
    "rule_id": ("规则", "rule"), "rule_version": ("规则版本", "rule version"), "action": ("处置", "action"),
    "hits": ("命中评分数", "scores hit"), "enterprises": ("企业数", "enterprises"), "declines": ("拒绝数", "declines"),
    "month": ("月份", "month"), "scores": ("评分数", "scores"), "psi": ("PSI", "PSI"), "band": ("区间", "band"),
    "grade": ("等级", "grade"), "defaults": ("违约数", "defaults"),
    "realised_default_rate": ("实际违约率", "realised default rate"), "mean_pd": ("平均 PD", "mean PD"),
    "auc": ("AUC", "AUC"), "kind": ("类型", "kind"), "subject": ("对象", "subject"), "value": ("数值", "value"),
    "threshold": ("阈值", "threshold"), "severity": ("级别", "severity"), "message": ("说明", "message"),
    "text_zh": ("说明（中文）", "words (Chinese)"), "text_en": ("说明（英文）", "words (English)"),
}
"""Column headings of the regulator tables; a column not listed shows its own name."""


def text(key: str, lang: Language) -> str:
    """The label in ``lang``; an unknown key shows itself, so a missing label is visible, never a crash."""
    pair = TEXTS.get(key)
    if pair is None:
        return key
    return pair[0] if lang == "zh" else pair[1]


def column(name: str, lang: Language) -> str:
    """A table column's heading in ``lang``, or its own name when it has none."""
    pair = COLUMNS.get(name)
    return name if pair is None else (pair[0] if lang == "zh" else pair[1])


def choose_language(cookie: str | None, accept_language: str | None) -> Language:
    """The cookie's language if it names one, else the first of ``Accept-Language`` (by q) we speak, else zh."""
    if cookie in LANGUAGES:
        return cookie
    offers: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        offers.append((-quality, position, tag.strip().lower().split("-")[0]))
    for negative_q, _, primary in sorted(offers):
        if negative_q < 0 and primary in LANGUAGES:
            return primary
    return DEFAULT_LANGUAGE
