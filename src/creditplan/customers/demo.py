"""Deterministic demo data: the same seed always gives the same branches, staff and customers.

Why its own module: the generator is also used by tests and load benchmarks that need thousands of
realistic, valid customers (correct ID check digits, real province codes, plausible incomes).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from creditplan.core.ids import USCC_ALPHABET, make_resident_id, make_uscc

# (code, name, English name, level, parent, GB/T 2260 region code)
BRANCHES: list[tuple[str, str, str, str, str | None, str]] = [
    ("HO", "总行", "Head office", "head_office", None, "110000"),
    ("BJ", "北京分行", "Beijing branch", "branch", "HO", "110100"),
    ("BJ01", "北京海淀支行", "Beijing Haidian sub-branch", "sub_branch", "BJ", "110108"),
    ("BJ02", "北京朝阳支行", "Beijing Chaoyang sub-branch", "sub_branch", "BJ", "110105"),
    ("SH", "上海分行", "Shanghai branch", "branch", "HO", "310100"),
    ("SH01", "上海浦东支行", "Shanghai Pudong sub-branch", "sub_branch", "SH", "310115"),
    ("SH02", "上海徐汇支行", "Shanghai Xuhui sub-branch", "sub_branch", "SH", "310104"),
    ("GZ", "广州分行", "Guangzhou branch", "branch", "HO", "440100"),
    ("GZ01", "广州天河支行", "Guangzhou Tianhe sub-branch", "sub_branch", "GZ", "440106"),
    ("CD", "成都分行", "Chengdu branch", "branch", "HO", "510100"),
    ("CD01", "成都武侯支行", "Chengdu Wuhou sub-branch", "sub_branch", "CD", "510107"),
    ("HZ", "杭州分行", "Hangzhou branch", "branch", "HO", "330100"),
    ("HZ01", "杭州西湖支行", "Hangzhou Xihu sub-branch", "sub_branch", "HZ", "330106"),
]

DEMO_PASSWORD = "creditplan-demo"

# (username, role, branch, display name)
STAFF: list[tuple[str, str, str | None, str]] = [
    ("admin", "admin", "HO", "系统管理员 Admin"),
    ("planner", "planner", "HO", "计划部 王计划"),
    ("planner2", "planner", "HO", "计划部 郑调剂"),
    ("risk", "risk_manager", "HO", "风险部 李风控"),
    ("risk2", "risk_manager", "HO", "风险部 孙模型"),
    ("auditor", "auditor", "HO", "审计部 赵审计"),
    ("ops", "operations", "HO", "运营部 钱运营"),
    ("officer_bj", "loan_officer", "BJ01", "客户经理 张伟"),
    ("approver_bj", "approver", "BJ", "审批人 刘洋"),
    ("officer_sh", "loan_officer", "SH01", "客户经理 陈静"),
    ("approver_sh", "approver", "SH", "审批人 杨帆"),
    ("officer_gz", "loan_officer", "GZ01", "客户经理 黄磊"),
    ("officer_cd", "loan_officer", "CD01", "客户经理 周敏"),
    ("officer_hz", "loan_officer", "HZ01", "客户经理 吴婷"),
    ("customer", "customer", None, "客户 演示"),
]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华飞玉兰萍红鹏建华琳晨浩宇欣怡子涵梓萱一诺思远俊杰嘉怡雨桐博文天佑"
EMPLOYERS = ["国家电网有限公司", "中国移动通信集团", "华为技术有限公司", "腾讯科技(深圳)有限公司", "北京市第一中学",
             "上海交通大学医学院附属瑞金医院", "个体经营", "中国建筑第八工程局", "比亚迪股份有限公司", "美团",
             "阿里巴巴(中国)有限公司", "顺丰速运有限公司", "四川省人民医院", "杭州市西湖区人民政府", "自由职业"]
COMPANY_WORDS = ["华信", "鼎盛", "恒通", "瑞丰", "宏远", "金桥", "天成", "博达", "汇智", "新元", "东方", "中科",
                 "锦程", "万达", "联创", "安泰", "永利", "盛世", "宏图", "启明"]
COMPANY_KINDS = [("科技有限公司", "I65"), ("商贸有限公司", "F51"), ("建筑工程有限公司", "E48"),
                 ("食品有限公司", "C14"), ("物流有限公司", "G54"), ("餐饮管理有限公司", "H62"),
                 ("机械制造有限公司", "C34"), ("农业发展有限公司", "A01"), ("医疗器械有限公司", "C35"),
                 ("文化传媒有限公司", "R86")]



def customer_rows(count: int, *, seed: int, today: dt.date, branch_codes: list[str] | None = None,
                  regions: dict[str, str] | None = None) -> Iterator[dict[str, Any]]:
    """`count` valid customer records, about 92 % individuals and 8 % companies, spread over the lending
    branches and onboarded over the last 24 months (more recently, more customers)."""
    rnd = random.Random(seed)
    lending = branch_codes or [b[0] for b in BRANCHES if b[3] == "sub_branch"]
    region_of = regions or {b[0]: b[5] for b in BRANCHES}
    seen: set[str] = set()
    for _ in range(count):
        branch = rnd.choice(lending)
        region = region_of.get(branch, "110101")
        onboarded = today - dt.timedelta(days=int(730 * (1 - rnd.random() ** 0.7)))
        if rnd.random() < 0.92:
            while True:
                age = rnd.randint(20, 64)
                birth = dt.date(today.year - age, rnd.randint(1, 12), rnd.randint(1, 28))
                sex = rnd.choice("MF")
                number = make_resident_id(region, birth, rnd.randint(0, 499), sex)
                if number not in seen:
                    seen.add(number)
                    break
            income = Decimal(rnd.choice([3, 4, 5, 6, 8, 10, 12, 15, 20, 30, 50])) * 1000 + rnd.randint(0, 99) * 10
            yield {
                "kind": "individual", "branch": branch, "region_code": region,
                "name": rnd.choice(SURNAMES) + "".join(rnd.choice(GIVEN) for _ in range(rnd.choice([1, 2]))),
                "id_number": number, "phone": f"1{rnd.choice('3456789')}{rnd.randint(0, 999999999):09d}",
                "monthly_income": income, "employer": rnd.choice(EMPLOYERS), "onboarded_on": onboarded,
            }
        else:
            while True:
                org_code = "".join(rnd.choice(USCC_ALPHABET) for _ in range(9))
                uscc = make_uscc("91" + region + org_code)
                if uscc not in seen:
                    seen.add(uscc)
                    break
            suffix, industry = rnd.choice(COMPANY_KINDS)
            city = {"11": "北京", "31": "上海", "44": "广州", "51": "成都", "33": "杭州"}.get(region[:2], "")
            yield {
                "kind": "company", "branch": branch, "region_code": region, "uscc": uscc,
                "name": f"{city}{rnd.choice(COMPANY_WORDS)}{rnd.choice(COMPANY_WORDS)}{suffix}",
                "industry_code": industry, "phone": f"1{rnd.choice('3456789')}{rnd.randint(0, 999999999):09d}",
                "onboarded_on": onboarded,
            }
