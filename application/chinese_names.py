"""Plausible Chinese person and company names for the synthetic bank.

Hand-written character lists instead of a name library: the demo must not
grow a dependency, and a fixed list keeps the output identical for a seed
on every machine and Python version.
"""

from __future__ import annotations

from random import Random

# Common surnames, most frequent first; weights fall with rank so 王/李/张 dominate.
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
    "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国文辉鹏飞玲晓红云志宇浩然子涵欣怡梓轩一诺思远"
    "雨萱俊佳琪宏亮海燕春梅丹慧婷晨阳昊天嘉怡诗雅博睿泽楷凯瑶婉清雪峰斌彬"
)
CITIES = ("杭州", "宁波", "温州", "嘉兴", "湖州", "绍兴", "金华", "台州", "苏州", "无锡",
          "常州", "南京", "合肥", "福州", "厦门", "义乌", "慈溪", "余姚")
TRADE_NAME = "华信达恒瑞泰鑫宏盛源丰嘉辉博创联通利祥隆兴和宇天正新金永德海川润安佳美星晟"
INDUSTRIES = ("科技", "贸易", "机械制造", "纺织", "建材", "电子", "食品", "物流", "化工", "医药",
              "服饰", "建设工程", "农业开发", "新能源", "包装", "印务", "家居", "汽车配件",
              "进出口", "餐饮管理", "环保科技", "信息技术")
LEGAL_FORMS = ("有限公司",) * 6 + ("股份有限公司", "有限责任公司")

_SURNAME_WEIGHTS = [1.0 / (rank + 8) for rank in range(len(SURNAMES))]


class NameGenerator:
    """Deterministic names from its own random stream (independent of the business stream)."""

    def __init__(self, rng: Random) -> None:
        self._rng = rng

    def person(self) -> str:
        surname = self._rng.choices(SURNAMES, weights=_SURNAME_WEIGHTS)[0]
        length = 2 if self._rng.random() < 0.7 else 1
        return surname + "".join(self._rng.choice(GIVEN) for _ in range(length))

    def company(self) -> str:
        trade = "".join(self._rng.sample(TRADE_NAME, 2))
        return (self._rng.choice(CITIES) + trade + self._rng.choice(INDUSTRIES)
                + self._rng.choice(LEGAL_FORMS))
