"""Names for the demo county's communities, villages, cells and housing estates, drawn from the
words of the place."""

from __future__ import annotations

import numpy as np

# ---------------------------------------------------------------- names

SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董程曹袁邓许沈彭吕苏卢蒋蔡贾"
    "丁魏薛叶闫余潘杜戴夏钟汪田任姜范方石姚谭邹熊金陆郝孔白崔康毛邱秦史顾侯邵孟龙段雷钱"
    "尹黎常武乔贺牛樊葛邢安齐庞翟申耿焦柴靳岳司宁聂裴梅")
VILLAGE_SUFFIXES = ("庄", "庄", "庄", "庄", "屯", "营", "寨", "集", "楼", "店", "岗", "堤",
                    "口", "湾", "寺", "固", "坊", "桥", "园", "洼", "庙", "辛庄", "家庄", "家寨")
VILLAGE_PREFIXES = "东西南北前后大小新"
LANDSCAPE = "河岗堤滩湖洼寨营店集楼桥园庄屯街关井林"
CITY_WORDS = """
宏力 幸福 和平 建设 文明 新华 人民 锦绣 蒲城 城关 振兴 兴业 翰林 书香 阳光 东方 南关 北关
西关 东关 惠民 康宁 安居 平安 和谐 长青 丽景 紫荆 金桥 滨河 如意 博爱 育才 民生 繁荣 太平
朝阳 向阳 红旗 东风 胜利 解放 光明 团结 友谊 学府 御景 瑞丰 嘉和 吉祥 富民 兴华 德邻 卫华
山海 英才 文化 新区 开元 湖畔 春晖 秋实 明珠 银河 星光 彩虹 金色 翠园 桂园 兰亭 荷塘 柳园
松柏 竹林 梅园 杏林 桃园 枫林 玉兰 海棠 牡丹 芙蓉 紫薇 丁香 百合 锦华 锦江 华庭 华苑 华府
嘉园 佳苑 雅居 雅苑 怡景 怡和 祥和 瑞祥 福星 福源 福寿 龙泉 龙湖 凤鸣 凤凰 麒麟 天然 天誉
天成 永安 永兴 永康 长兴 长乐 长安 宁远 安康 安泰 泰和 泰安 康乐 乐园 乐居 欣苑 新城 新苑
新风 新兴 新元 鑫源 聚源 清泉 清华 青年 育英 启明 启航 拓新 创业 创新 科技 未来 世纪 时代
华夏 中州 中原 豫北 蒲韵 古城 老城 城南 城北 城东 城西 站前 府前 府后 前进 先锋 红星 卫东
东升 旭日 曙光 晨光 晨曦 朝霞 紫金 金水 金地 银杏 翡翠 碧水 绿洲 绿园 绿城 锦城 锦苑 金苑
玉苑 康馨 馨园 温馨 雍和 和苑 和美 美景 秀水 秀园 丰收 丰泽 泽润 润园 信和 仁和 崇德 尚德
德馨 厚德 怀德 明德 至善 兴隆 昌盛 隆盛 盛世 盛华 恒泰 恒通 通达 顺达 腾飞 飞龙 鸿运 鸿福
宏达 宏远 远航 江南 水岸 锦程 鹏程 同心 同乐 同福 益民 便民 利民 乐民 安民 亲民 为民 爱民
""".split()
GIVEN_NAMES = """
伟 芳 娜 敏 静 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超 霞 平 刚 鹏 飞 斌 辉 波 宁 琳 颖 倩 莉 婷 雪
慧 佳 鑫 凯 帅 阳 亮 瑞 博 宇 晨 航 旭 昊 峰 雷 龙 华 林 萍 燕 玲 红 梅 兰 英 云 凤 荣 琴 丹 楠
秀英 桂英 建华 建国 建军 志强 国强 海燕 红梅 晓东 晓燕 文博 子涵 浩然 欣怡 俊杰 雪梅 玉兰
春花 秋菊 振华 新民 卫东 立新 永刚 海涛 德明 学军 红霞 丽娟 国庆 建平 卫国 素芳 淑珍 玉梅
保国 红伟 金凤 彦军 利娟 俊峰 亚楠 晓丽 少华 新华 凤英 春燕 留成 海洋 向阳 振宇 思远 一鸣
""".split()
ESTATES = """
学府花园 御景苑 阳光城 锦绣华庭 书香苑 翡翠城 和园 名门世家 水岸花城 香榭里 公园壹号
龙城国际 世纪城 幸福里 金色家园 江南春 东方花园 如意家园 帝景苑 玉兰苑 紫薇苑 桂花苑
银杏苑 铂悦府 上城 滨河花园 蒲城印象 观澜苑 悦府 天悦湾 中央公园 清华园 状元府 凤凰城
锦华苑 盛世华庭 润园 泰和园 嘉禾苑 雅居苑 怡景园 明珠花园 康乐苑 阳光水岸 翰林苑 书香门第
百合园 枫林苑 金桥花园 星河湾 和谐家园 丽景花园 春晖园 时代广场 壹号院 锦园
""".split()
DEVELOPERS = ("宏力", "蒲城", "德邻", "卫华", "山海", "锦华", "瑞丰")
PLAIN_ESTATES = ("教师新村", "电业小区", "粮食局家属院", "水利局家属院", "建设小区", "育才小区",
                 "供销社家属院", "医院家属院", "棉纺厂家属院", "农机小区")


class Names:
    """Deterministic, county-wide unique place and person names."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.used: set[str] = set()
        words = list(dict.fromkeys(CITY_WORDS))
        self.city_words = [words[i] for i in rng.permutation(len(words))]
        zipf = 1.0 / (np.arange(len(SURNAMES)) + 6.0)  # 王李张 more common than 聂裴
        self.surname_p = zipf / zipf.sum()

    def surname(self) -> str:
        """A surname, the common ones more often."""
        return SURNAMES[int(self.rng.choice(len(SURNAMES), p=self.surname_p))]

    def reserve(self, name: str) -> str:
        """Take a name; a second use is an error."""
        if name in self.used:
            raise ValueError(f"duplicate demo name {name!r}")
        self.used.add(name)
        return name

    def city_community(self) -> str:
        """A community name for the city: 宏力社区, 幸福社区."""
        while self.city_words:
            name = self.city_words.pop(0) + "社区"
            if name not in self.used:
                return self.reserve(name)
        raise ValueError("out of community names")

    def village(self) -> str:
        """A village name: 张庄村, 后李屯村, 后河村."""
        for _ in range(1000):
            u = self.rng.random()
            surname = self.surname()
            suffix = VILLAGE_SUFFIXES[self.rng.integers(len(VILLAGE_SUFFIXES))]
            if u < 0.58:
                stem = surname + suffix
            elif u < 0.86:
                stem = VILLAGE_PREFIXES[self.rng.integers(len(VILLAGE_PREFIXES))] + surname + suffix
            else:
                stem = (VILLAGE_PREFIXES[self.rng.integers(len(VILLAGE_PREFIXES))]
                        + LANDSCAPE[self.rng.integers(len(LANDSCAPE))])
            name = stem + "村"
            if name not in self.used:
                return self.reserve(name)
        raise ValueError("out of village names")

    def person(self) -> str:
        """A person's name: 王伟, 李秀英."""
        for _ in range(1000):
            name = (self.surname()
                    + GIVEN_NAMES[self.rng.integers(len(GIVEN_NAMES))])
            if self.rng.random() < 0.3 and len(name) == 2:
                name += GIVEN_NAMES[self.rng.integers(len(GIVEN_NAMES))][:1]
            if name not in self.used:
                return self.reserve(name)
        raise ValueError("out of person names")
