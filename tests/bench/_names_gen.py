"""Seeded synthetic denials and screening queries for the screening benchmark.

Party names are built from parts (distinctive words, descriptors, places, a legal form), each
part written in every spelling its family has: the native script and one or more
romanisations. A name is one rendering of those parts (a `Style`: spelling, word order, legal
form and where it stands, an optional one-letter typo), so a variant of a stored name is the same
parts rendered another way.

Families: Latin-script firms with their local legal forms (Gulf LLC/FZE/FZCO/DMCC, Turkish A.Ş.,
Sdn Bhd, Pte Ltd, Pvt Ltd, d.o.o., GmbH/AG), Russian/Belarusian/Kazakh firms in Cyrillic or in
one of four romanisations (BGN/PCGN, German, ISO 9, French), Greek firms (ELOT 743 or phonetic
spelling), Arabic and Persian firms (Arabic script, or English-, French- or strict-style
romanisation), Chinese firms (Han characters, pinyin, or the English trade name).

Only the standard library: the client process imports nothing of it, and the test imports it
without pulling in the matcher it benchmarks.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

VARIANT_KINDS = ("transliterated", "reordered", "legal_form", "typo")


# ---------------------------------------------------------------------------------------------
# Parts of names
# ---------------------------------------------------------------------------------------------


@dataclass
class Word:
    """One part of a name in every spelling of its family."""

    forms: dict[str, str]
    core: bool = False  # a distinctive word (typos go there; reorderings swap these)
    movable: bool = False  # a city or kind of body that may also stand after the name

    def text(self, scheme: str) -> str:
        return self.forms.get(scheme) or next(iter(self.forms.values()))


@dataclass
class Legal:
    """A legal form: its spelling per scheme, and what else the same form is written as."""

    forms: dict[str, str]
    alternatives: tuple[str, ...]  # in Latin letters
    front: bool = False  # written before the name in its native scheme
    native_alternatives: tuple[str, ...] = ()  # in the native script


@dataclass
class Entity:
    family: str
    country: str
    schemes: tuple[str, ...]  # the first is the native one
    words: list[Word]
    legal: Legal | None
    key: tuple[str, ...]  # what makes it a different entity from all others

    @property
    def native(self) -> str:
        return self.schemes[0]


@dataclass(frozen=True)
class Style:
    scheme: str
    order: tuple[int, ...]
    legal: str | None
    legal_front: bool
    quoted: bool = False
    typo: tuple[int, int, str, str] | None = None  # word index, position, op, letter


def _split(words: str) -> tuple[str, ...]:
    return tuple(words.split())


# ---------------------------------------------------------------------------------------------
# Transliteration
# ---------------------------------------------------------------------------------------------

_CYR_LETTERS = "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"
_CYR_SCHEMES: dict[str, tuple[str, ...]] = {
    "bgn": _split("a b v g d e yo zh z i y k l m n o p r s t u f kh ts ch sh shch - y - e yu ya"),
    "german": _split(
        "a b w g d e jo sch s i j k l m n o p r s t u f ch z tsch sch schtsch - y - e ju ja"
    ),
    "iso9": _split("a b v g d e ë ž z i j k l m n o p r s t u f h c č š ŝ ʺ y ʹ è û â"),
    "french": _split(
        "a b v g d e io j z i ï k l m n o p r s t ou f kh ts tch ch chtch - y - e iou ia"
    ),
}
_CYR_MAPS = {
    scheme: {c: ("" if t == "-" else t) for c, t in zip(_CYR_LETTERS, table, strict=True)}
    for scheme, table in _CYR_SCHEMES.items()
}

_GREEK_DIGRAPHS = {
    "elot": {"ου": "ou", "αυ": "av", "ευ": "ev", "μπ": "mp", "ντ": "nt", "γκ": "gk", "γγ": "ng"},
    "phonetic": {
        "ου": "ou",
        "αι": "e",
        "ει": "i",
        "οι": "i",
        "αυ": "af",
        "ευ": "ef",
        "μπ": "b",
        "ντ": "d",
        "γκ": "g",
        "γγ": "ng",
    },
}
_GREEK_LETTERS = {
    "elot": dict(
        zip(
            "αβγδεζηθικλμνξοπρσςτυφχψω",
            _split("a v g d e z i th i k l m n x o p r s s t y f ch ps o"),
            strict=True,
        )
    ),
    "phonetic": dict(
        zip(
            "αβγδεζηθικλμνξοπρσςτυφχψω",
            _split("a v g d e z i th i k l m n ks o p r s s t i f h ps o"),
            strict=True,
        )
    ),
}


def _recase(source: str, text: str) -> str:
    if len(source) > 1 and source.isupper():
        return text.upper()
    if source[:1].isupper():
        return text[:1].upper() + text[1:]
    return text


def cyrillic_to_latin(word: str, scheme: str) -> str:
    table = _CYR_MAPS[scheme]
    capitals = len(word) > 1 and word.isupper()
    out: list[str] = []
    for c in word:
        text = table.get(c.lower(), c)
        if c.isupper():
            text = text.upper() if capitals else text[:1].upper() + text[1:]
        out.append(text)
    return "".join(out)


def greek_to_latin(word: str, scheme: str) -> str:
    plain = "".join(
        c for c in unicodedata.normalize("NFD", word.lower()) if unicodedata.category(c) != "Mn"
    )
    digraphs, letters = _GREEK_DIGRAPHS[scheme], _GREEK_LETTERS[scheme]
    out: list[str] = []
    i = 0
    while i < len(plain):
        pair = plain[i : i + 2]
        if pair in digraphs:
            out.append(digraphs[pair])
            i += 2
        else:
            out.append(letters.get(plain[i], plain[i]))
            i += 1
    return _recase(word, "".join(out))


# Arabic-script phonemes: letter (Persian / Arabic), then English-, French- and strict-style
# Latin. Short vowels are not written in the script.
_CONSONANTS: dict[str, tuple[str, str, str, str, str]] = {
    "b": ("ب", "ب", "b", "b", "b"),
    "p": ("پ", "پ", "p", "p", "p"),
    "t": ("ت", "ت", "t", "t", "t"),
    "th": ("ث", "ث", "th", "th", "th"),
    "j": ("ج", "ج", "j", "dj", "j"),
    "ch": ("چ", "چ", "ch", "tch", "ch"),
    "H": ("ح", "ح", "h", "h", "h"),
    "kh": ("خ", "خ", "kh", "kh", "kh"),
    "d": ("د", "د", "d", "d", "d"),
    "r": ("ر", "ر", "r", "r", "r"),
    "z": ("ز", "ز", "z", "z", "z"),
    "zh": ("ژ", "ژ", "zh", "j", "zh"),
    "s": ("س", "س", "s", "s", "s"),
    "sh": ("ش", "ش", "sh", "ch", "sh"),
    "S": ("ص", "ص", "s", "s", "s"),
    "T": ("ط", "ط", "t", "t", "t"),
    "gh": ("غ", "غ", "gh", "gh", "gh"),
    "f": ("ف", "ف", "f", "f", "f"),
    "q": ("ق", "ق", "q", "k", "q"),
    "k": ("ک", "ك", "k", "k", "k"),
    "g": ("گ", "گ", "g", "g", "g"),
    "l": ("ل", "ل", "l", "l", "l"),
    "m": ("م", "م", "m", "m", "m"),
    "n": ("ن", "ن", "n", "n", "n"),
    "v": ("و", "و", "v", "v", "v"),
    "w": ("و", "و", "w", "ou", "w"),
    "h": ("ه", "ه", "h", "h", "h"),
    "y": ("ی", "ي", "y", "y", "y"),
}
_LONG_VOWELS = {"A": ("ا", "a", "a", "a"), "I": ("ی", "ee", "i", "i"), "U": ("و", "oo", "ou", "u")}
_PERSIAN_CONSONANTS = _split("b p t j ch kh d r z zh s sh gh f q k g l m n v h y")
_ARABIC_CONSONANTS = _split("b t th j H kh d r z s sh S T gh f q k l m n w h y")
_ARABIC_SCHEMES = ("native", "en", "fr", "plain")
# Letters a hand confuses by a dot: the script's one-letter typos.
_DOT_SLIPS = dict(zip("بتثجحخدذرزسشصضطظعغفقنی", "تثتحخحذدزرشسضصظطغعقفتن", strict=True))


def _abjad(phonemes: Sequence[str], lang: str) -> dict[str, str]:
    """Native spelling and three romanisations of a word given as phonemes."""
    arabic = lang == "arabic"
    native: list[str] = []
    latin: list[list[str]] = [[], [], []]
    for i, p in enumerate(phonemes):
        if p in _CONSONANTS:
            letters = _CONSONANTS[p]
            native.append(letters[1] if arabic else letters[0])
            for k in range(3):
                latin[k].append(letters[2 + k])
        elif p in _LONG_VOWELS:
            letter, *spellings = _LONG_VOWELS[p]
            if arabic and letter == "ی":
                letter = "ي"
            if i == 0:
                alef = "آ" if p == "A" and not arabic else "ا"
                native.append(alef + ("" if p == "A" else letter))
            else:
                native.append(letter)
            for k in range(3):
                latin[k].append(spellings[k])
        else:  # a short vowel: written only at the start of a word
            if i == 0:
                native.append("ا")
            for k in range(3):
                latin[k].append("ou" if k == 1 and p == "u" else p)
    forms = {"native": "".join(native)}
    for scheme, letters in zip(_ARABIC_SCHEMES[1:], latin, strict=True):
        text = "".join(letters)
        forms[scheme] = text[:1].upper() + text[1:]
    return forms


def _fixed(native: str, en: str, fr: str, plain: str) -> dict[str, str]:
    return {"native": native, "en": en, "fr": fr, "plain": plain}


# ---------------------------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------------------------

_LATIN_ONSETS = _split(
    "Ar Bel Cor Dan El Fal Gal Hel Is Kar Lum Mar Nor Or Pol Quin Ros Sol Tar Val Ver Xen Zar "
    "Tel Ven Cal Dar Mer Sen Tor Lan Bar Kor Nex Ax Om Tri Vi Stra Ne Bri Cas Del Fer Gra Jor "
    "Lex Mon Pra Sar Tav Ul Vor Zen Al Ber Cyr Dor Ev Fin"
)
_LATIN_MIDDLES = _split("a i o e an en on ar er or el il ol ex ix u")
_LATIN_ENDINGS = _split("tek tron ex on is ia ar ix a ent ova ium ico ant ell ora yx us en ing ax")
_LATIN_WORDS = _split(
    "Falcon Summit Horizon Crescent Pioneer Atlas Delta Apex Zenith Orbit Vertex Nova Polaris "
    "Meridian Sterling Phoenix Titan Aurora Vector Quantum Matrix Eagle Sapphire Cobalt Onyx "
    "Granite Harbor Oasis Pinnacle Sentinel Trident Vanguard Keystone Equinox Lumina Optima"
)
_LATIN_DESCRIPTORS = (
    "General Trading",
    "Trading",
    "Technologies",
    "Technology",
    "Electronics",
    "Engineering",
    "Industrial",
    "Systems",
    "Solutions",
    "Components",
    "Logistics",
    "Precision",
    "Aerospace",
    "Marine",
    "Instruments",
    "Supply",
    "Equipment",
    "International",
    "Machinery",
    "Defence Systems",
    "Optics",
    "Materials",
    "Energy",
    "Automation",
    "Controls",
)
# country: its legal forms, each with what else the same form is written as
_LATIN_LEGAL: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "AE": [
        ("LLC", ("L.L.C.", "FZE", "FZCO", "Limited Liability Company")),
        ("FZE", ("FZCO", "FZ-LLC", "LLC")),
        ("FZCO", ("FZE", "LLC", "FZ LLC")),
        ("DMCC", ("LLC", "FZE", "DMCC Branch")),
    ],
    "MY": [("Sdn Bhd", ("Sdn. Bhd.", "Bhd", "Berhad", "Sendirian Berhad"))],
    "SG": [("Pte Ltd", ("Pte. Ltd.", "Private Limited", "Ltd"))],
    "IN": [("Pvt Ltd", ("Pvt. Ltd.", "Private Limited", "Ltd", "Limited"))],
    "PK": [("(Pvt) Ltd", ("Pvt Ltd", "Private Limited", "Ltd"))],
    "RS": [("d.o.o.", ("doo", "LLC", "Ltd"))],
    "AM": [("LLC", ("CJSC", "OOO", "Ltd"))],
    "CH": [("AG", ("GmbH", "SA", "Ltd")), ("GmbH", ("AG", "Sarl", "Ltd")), ("SA", ("AG", "Sarl"))],
    "TH": [("Co., Ltd.", ("Co Ltd", "Company Limited", "Ltd"))],
}
_LATIN_COUNTRIES = ("AE", "AE", "AE", "MY", "SG", "IN", "PK", "RS", "AM", "CH", "TH")

_TURKISH_SYLLABLES = _split(
    "öz ka ya çe lik baş yıl dı rım ak de mir kar taş gü neş ay dın er sa han tek can soy kök "
    "tun ça şa hin ö zel ba ğış kı lıç yü cel"
)
_TURKISH_DESCRIPTORS = ("Makina", "Elektronik", "Savunma", "Teknoloji", "Kimya", "Havacılık")
_TURKISH_LEGAL = [
    ("A.Ş.", ("AS", "A.S.", "Inc.", "JSC")),
    ("Ltd. Şti.", ("Ltd Sti", "Ltd.", "Limited")),
]
_TURKISH_ASCII = str.maketrans("şçğıöüŞÇĞİÖÜ", "scgiouSCGIOU")

_RU_PREFIXES = _split(
    "Техно Спец Энерго Электро Радио Авиа Гидро Нефте Пром Интер Евро Сиб Урал Волго Микро "
    "Опто Термо Мета Агро Строй Хим Маш Вектор Квант Гранит Кристалл Альфа Сигма Зенит Полюс"
)
_RU_SUFFIXES = _split(
    "сервис пром строй маш прибор комплект снаб техника систем лаб трейд экспорт оптика "
    "электроника тех ком инвест монтаж автоматика связь деталь металл лит хим ресурс контракт "
    "поставка"
)
_RU_SYLLABLES = _split(
    "ва ле ри ко на то ми ру ла се да ни ло ра ге бо ту ки мо за ре ди по ка не си жа ше чи лю "
    "тя хо цы вер мир слав гор дар стан бор град лит кон тек рон вал щи юр зо"
)
_RU_KINDS = ("НПП", "НПО", "ТД", "КБ", "НИИ", "Завод")
_RU_PLACES = ("Урал", "Сибирь", "Волга", "Балтика", "Север", "Дон", "Кама", "Нева", "Восток")
_RU_LEGAL = {
    "RU": [
        (
            "ООО",
            ("LLC", "Limited Liability Company", "Obshchestvo s Ogranichennoy Otvetstvennostyu"),
        ),
        ("АО", ("JSC", "Joint Stock Company", "Aktsionernoe Obshchestvo")),
        ("ПАО", ("PJSC", "Public Joint Stock Company")),
        ("ЗАО", ("CJSC", "Closed Joint Stock Company")),
        ("ОАО", ("OJSC", "Open Joint Stock Company")),
        ("ФГУП", ("FSUE", "Federal State Unitary Enterprise")),
    ],
    "BY": [
        ("ООО", ("LLC", "Limited Liability Company")),
        ("ОАО", ("OJSC", "Open Joint Stock Company")),
        ("ЧУП", ("PUE", "Private Unitary Enterprise")),
    ],
    "KZ": [
        ("ТОО", ("LLP", "Limited Liability Partnership")),
        ("АО", ("JSC", "Joint Stock Company")),
    ],
}
_CYR_SCHEME_NAMES = ("native", "bgn", "german", "iso9", "french")
_CYR_ALPHABET = "абвгдежзиклмнопрстуфхцчшщыэюя"

_GREEK_ONSETS = _split("κ λ μ ν π ρ σ τ θ χ φ δ γ β ζ ξ μπ ντ στ τρ κρ πλ")
_GREEK_VOWELS = _split("α ε η ι ο υ ω ου αι ει οι")
_GREEK_ENDINGS = _split("ος ας ης α η ο ια ων")
_GREEK_ACCENT = str.maketrans("αεηιουω", "άέήίόύώ")
_GREEK_DESCRIPTORS = _split(
    "Συστήματα Τεχνολογίες Ηλεκτρονικά Εμπορική Ναυτιλιακή Βιομηχανική Αμυντικά Μηχανική"
)
_GREEK_LEGAL = [
    ({"native": "Α.Ε.", "elot": "A.E.", "phonetic": "AE"}, ("SA", "S.A.", "AE")),
    ({"native": "Ε.Π.Ε.", "elot": "E.P.E.", "phonetic": "EPE"}, ("Ltd", "EPE")),
    ({"native": "Ι.Κ.Ε.", "elot": "I.K.E.", "phonetic": "IKE"}, ("PC", "IKE", "Ltd")),
]
_GREEK_ALPHABET = "αβγδεζηθικλμνξοπρστυφχψω"

_PERSIAN_POOL = [
    _fixed("پارس", "Pars", "Pars", "Pars"),
    _fixed("نوین", "Novin", "Novine", "Novin"),
    _fixed("پیشرو", "Pishro", "Pichro", "Pishrow"),
    _fixed("آریا", "Arya", "Aria", "Aryā"),
    _fixed("البرز", "Alborz", "Alborz", "Alborz"),
    _fixed("سپهر", "Sepehr", "Sepehr", "Sepehr"),
    _fixed("نیرو", "Niroo", "Nirou", "Niru"),
    _fixed("کاوش", "Kavosh", "Kavoch", "Kavosh"),
    _fixed("اندیشه", "Andisheh", "Andiche", "Andishe"),
    _fixed("راهبرد", "Rahbord", "Rahbord", "Rahbord"),
    _fixed("پژوهش", "Pazhouhesh", "Pajouhech", "Pazhuhesh"),
    _fixed("ستاره", "Setareh", "Setare", "Setare"),
    _fixed("کیان", "Kian", "Kiane", "Kiyan"),
    _fixed("رایان", "Rayan", "Rayane", "Rayan"),
    _fixed("پرداز", "Pardaz", "Pardaz", "Pardaz"),
    _fixed("سامانه", "Samaneh", "Samane", "Samane"),
    _fixed("آسمان", "Asman", "Asmane", "Āsman"),
    _fixed("خلیج", "Khalij", "Khalidj", "Khalij"),
]
_PERSIAN_FRONT = [
    _fixed("شرکت", "Sherkat", "Cherkat", "Sherkat"),
    _fixed("صنایع", "Sanaye", "Sanaye", "Sanaye'"),
    _fixed("گروه", "Gorooh", "Gorouh", "Goruh"),
]
_PERSIAN_DESCRIPTORS = [
    _fixed("مهندسی", "Mohandesi", "Mohandessi", "Mohandesi"),
    _fixed("بازرگانی", "Bazargani", "Bazargani", "Bāzargāni"),
    _fixed("فناوری", "Fanavari", "Fanavari", "Fanāvari"),
    _fixed("تولیدی", "Tolidi", "Toulidi", "Towlidi"),
    _fixed("الکترونیک", "Electronic", "Electronique", "Elektronik"),
]
_ARABIC_POOL = [
    _fixed("النور", "Al-Noor", "El Nour", "al-Nur"),
    _fixed("الفجر", "Al-Fajr", "El Fajr", "al-Fajr"),
    _fixed("الأمين", "Al-Ameen", "El Amine", "al-Amin"),
    _fixed("السلام", "Al-Salam", "Es Salam", "as-Salam"),
    _fixed("الرشيد", "Al-Rasheed", "El Rachid", "ar-Rashid"),
    _fixed("البركة", "Al-Baraka", "El Baraka", "al-Barakah"),
    _fixed("الخليج", "Al-Khaleej", "El Khalij", "al-Khalij"),
    _fixed("الشام", "Al-Sham", "Ech Cham", "ash-Sham"),
    _fixed("النخبة", "Al-Nukhba", "En Noukhba", "an-Nukhbah"),
    _fixed("الرافدين", "Al-Rafidain", "Er Rafidayn", "ar-Rafidayn"),
    _fixed("الهدى", "Al-Huda", "El Houda", "al-Huda"),
    _fixed("المستقبل", "Al-Mustaqbal", "El Moustakbal", "al-Mustaqbal"),
    _fixed("الريادة", "Al-Riyada", "Er Riyada", "ar-Riyadah"),
]
_ARABIC_FRONT = [
    _fixed("شركة", "Sharika", "Charika", "Sharikat"),
    _fixed("مؤسسة", "Muassasa", "Mouassassa", "Mu'assasat"),
]
_ARABIC_DESCRIPTORS = [
    _fixed("للتجارة", "lil-Tijara", "lil-Tidjara", "lil-tijarah"),
    _fixed("التجارية", "al-Tijariya", "et-Tidjariya", "al-tijariyah"),
    _fixed("الهندسية", "al-Handasiya", "el-Handassiya", "al-handasiyah"),
]
_ARABIC_COUNTRIES = ("AE", "AE", "SY", "IQ", "LB", "OM", "QA")
_ARABIC_LLC = Legal(
    _fixed("ذ.م.م", "LLC", "SARL", "L.L.C."),
    ("LLC", "L.L.C.", "FZE", "Co.", "WLL"),
    native_alternatives=("ذمم", "ش.ذ.م.م"),
)
_PERSIAN_PJS = Legal(
    _fixed("سهامی خاص", "PJS", "Sahami Khass", "Sahami Khas"),
    ("PJS", "Private Joint Stock Company", "Co.", "Sahami Khas"),
    native_alternatives=("سهامی عام",),
)

# Han characters with their pinyin (standard readings, which a romaniser may not share).
_HAN = _split(
    "华hua 信xin 新xin 鑫xin 兴xing 星xing 宏hong 鸿hong 达da 科ke 泰tai 恒heng 通tong 同tong "
    "天tian 海hai 瑞rui 锐rui 金jin 晋jin 龙long 隆long 光guang 广guang 盛sheng 晟sheng "
    "源yuan 远yuan 元yuan 博bo 创chuang 航hang 安an 明ming 铭ming 德de 东dong 联lian 捷jie "
    "凯kai 奥ao 众zhong 力li 立li 利li 丰feng 峰feng 嘉jia 佳jia 精jing 亿yi 益yi 诚cheng "
    "成cheng 威wei 伟wei 腾teng 飞fei 辉hui 汇hui 融rong 荣rong 昌chang 万wan 美mei 泽ze "
    "振zhen 永yong 祥xiang 翔xiang 宇yu 裕yu 致zhi 智zhi 芯xin 迅xun 讯xun 赛sai 拓tuo 卓zhuo"
)
_HAN_CHARS = [(item[0], item[1:]) for item in _HAN]
_HAN_CITIES = [
    ("深圳", "Shenzhen"),
    ("上海", "Shanghai"),
    ("北京", "Beijing"),
    ("广州", "Guangzhou"),
    ("西安", "Xi'an"),
    ("成都", "Chengdu"),
    ("武汉", "Wuhan"),
    ("南京", "Nanjing"),
    ("杭州", "Hangzhou"),
    ("天津", "Tianjin"),
    ("苏州", "Suzhou"),
    ("东莞", "Dongguan"),
    ("宁波", "Ningbo"),
    ("厦门", "Xiamen"),
]
# (Han, pinyin, English); the last few are words a matcher's vocabulary may well lack.
_HAN_DESCRIPTORS = [
    ("电子", "Dianzi", "Electronic"),
    ("科技", "Keji", "Technology"),
    ("技术", "Jishu", "Technology"),
    ("贸易", "Maoyi", "Trading"),
    ("国际", "Guoji", "International"),
    ("通信", "Tongxin", "Communication"),
    ("航空", "Hangkong", "Aviation"),
    ("工程", "Gongcheng", "Engineering"),
    ("信息", "Xinxi", "Information"),
    ("制造", "Zhizao", "Manufacturing"),
    ("精密", "Jingmi", "Precision"),
    ("机械", "Jixie", "Machinery"),
    ("仪器", "Yiqi", "Instruments"),
]
_HAN_LEGAL = [
    Legal(
        {
            "native": "有限公司",
            "pinyin": "Youxian Gongsi",
            "english": "Co., Ltd.",
            "spaced": "Co Ltd",
        },
        ("Co., Ltd.", "Co. Ltd", "Company Limited", "Limited", "Ltd."),
        native_alternatives=("股份有限公司", "有限责任公司"),
    ),
    Legal(
        {
            "native": "股份有限公司",
            "pinyin": "Gufen Youxian Gongsi",
            "english": "Co., Ltd.",
            "spaced": "Co Ltd",
        },
        ("Co., Ltd.", "Company Limited", "Corporation", "Corp."),
        native_alternatives=("有限公司", "集团股份有限公司"),
    ),
]
_HK_LEGAL = Legal(
    {"native": "有限公司", "pinyin": "Youxian Gongsi", "english": "Limited", "spaced": "Ltd"},
    ("Co., Limited", "Company Limited", "Ltd", "Co. Ltd"),
    native_alternatives=("集团有限公司",),
)

# Control-list entries of both regimes (EU Common Military List; Annex I of Reg. 2021/821).
MILITARY_ENTRIES = _split(
    "ML1.a ML2.a ML3.a ML4.a ML4.b.2 ML5.a ML5.c ML6.a ML6.b.1 ML7.a ML8.a.1 ML9.a ML10.a "
    "ML10.c ML10.d ML11.a ML11.b ML13.c ML14 ML15.a ML15.c ML16 ML17.a ML18.a ML21.a ML22.a"
)
DUAL_USE_ENTRIES = _split(
    "0A001.a 1A004.a 1B001.a 1C010.b 1C011.a 2A001.a 2B001.b.2 2B201.a 3A001.a.1 3A001.b.2 "
    "3A090.a 3A991.a 3B001.f.1 3B090.a 3C001 4A003.b 5A001.b.5 5A002.a 5A992.c 5D002.c.1 "
    "6A002.a.1 6A003.b.4 6A008.d 7A003.a 7A103.a 9A004 9A012.a 9E003.a.1"
)
_GOODS = {
    "MILITARY": (
        "Small-arms ammunition components",
        "Fire-control sensors",
        "Armoured vehicle spare parts",
        "Naval gun mounts and spares",
        "Military training simulators",
        "UAV airframes and ground stations",
    ),
    "DUAL_USE": (
        "Lithography exposure tool",
        "Five-axis machine tools",
        "Thermal imaging cameras",
        "Encryption modules",
        "Carbon-fibre prepreg",
        "High-speed analogue-to-digital converters",
        "Inertial measurement units",
    ),
}
_END_USES = (
    "Stated: civil research",
    "Stated: oil and gas exploration",
    "Stated: telecommunications network",
    "Stated: university laboratory",
    "Stated: coastal surveillance",
    "Stated: maintenance of existing equipment",
)
MILITARY_LICENCES = ("EXPORT",) * 8 + ("BROKERING", "TRANSIT")
DUAL_USE_LICENCES = ("EXPORT",) * 7 + (
    "BROKERING",
    "TRANSIT",
    "INTANGIBLE_TRANSFER",
    "TECHNICAL_ASSISTANCE",
)
DUAL_USE_GROUNDS = (
    "INTERNATIONAL_OBLIGATIONS",
    "SANCTIONS",
    "FOREIGN_SECURITY_POLICY",
    "END_USE_DIVERSION_RISK",
    "CATCH_ALL",
)
ALL_DESTINATIONS = _split(
    "RU BY KZ CN HK IR SY IQ LB AE OM QA TR MY SG IN PK RS AM CH TH CY GR KG UZ VN EG SA"
)

# Share of end users per family; consignees (intermediaries) lean to trading hubs.
_END_USER_FAMILIES = (
    ("latin", 0.22),
    ("turkish", 0.06),
    ("cyrillic", 0.28),
    ("chinese", 0.18),
    ("persian", 0.10),
    ("arabic", 0.10),
    ("greek", 0.06),
)
_CONSIGNEE_FAMILIES = (
    ("latin", 0.40),
    ("turkish", 0.12),
    ("cyrillic", 0.15),
    ("chinese", 0.18),
    ("arabic", 0.15),
)


# ---------------------------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------------------------


@dataclass
class PartySpec:
    entity: Entity
    style: Style
    name: str
    aliases: list[str] = field(default_factory=list)


@dataclass
class DenialSpec:
    reference: str
    issuer: str  # participant id: nl de fr es it
    state: str  # NL DE FR ES IT
    regime: str  # MILITARY | DUAL_USE
    licence_type: str
    denial_date: str
    destination: str
    end_user: PartySpec
    consignee: PartySpec | None
    control_entries: list[str]
    criterion: int  # military denials
    ground: str  # dual-use denials
    goods: str
    end_use: str
    quantity: str
    value_eur: int

    def names(self) -> list[str]:
        out = [self.end_user.name, *self.end_user.aliases]
        if self.consignee is not None:
            out += [self.consignee.name, *self.consignee.aliases]
        return out


@dataclass(frozen=True)
class Query:
    """One screening: a party name, planted (variant of a stored name) or absent."""

    id: int
    name: str
    country: str
    regime: str
    destination: str
    entries: tuple[str, ...]
    kind: str  # a VARIANT_KINDS member, or "absent"
    family: str
    source: str | None = None  # reference of the denial the name was derived from
    stored_name: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# ---------------------------------------------------------------------------------------------
# The generator
# ---------------------------------------------------------------------------------------------


class NameGenerator:
    """Entities, denials and queries from one seed; every draw goes through `self.rng`."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self._keys: set[tuple[str, ...]] = set()

    # -- entities ---------------------------------------------------------------------------

    def entity(self, *, consignee: bool = False) -> Entity:
        families = _CONSIGNEE_FAMILIES if consignee else _END_USER_FAMILIES
        family = self.rng.choices([f for f, _ in families], [w for _, w in families])[0]
        for _ in range(1000):
            made = getattr(self, f"_{family}")()
            if made.key not in self._keys:
                self._keys.add(made.key)
                return made
        raise RuntimeError(f"cannot make a new {family} name")

    def _latin_word(self) -> str:
        r = self.rng
        middle = r.choice(_LATIN_MIDDLES) if r.random() < 0.4 else ""
        return r.choice(_LATIN_ONSETS) + middle + r.choice(_LATIN_ENDINGS)

    def _latin(self) -> Entity:
        r = self.rng
        country = r.choice(_LATIN_COUNTRIES)
        cores = [self._latin_word()]
        if r.random() < 0.35:
            cores.append(r.choice(_LATIN_WORDS) if r.random() < 0.5 else self._latin_word())
            r.shuffle(cores)
        if country == "AE" and r.random() < 0.3:
            cores.insert(0, "Al")
        words = [Word({"latin": c}, core=c != "Al") for c in cores]
        for descriptor in r.sample(_LATIN_DESCRIPTORS, r.choice((0, 1, 1, 2))):
            words.append(Word({"latin": descriptor}))
        text, alternatives = r.choice(_LATIN_LEGAL[country])
        legal = Legal({"latin": text}, alternatives)
        return Entity("latin", country, ("latin",), words, legal, ("latin", *cores))

    def _turkish(self) -> Entity:
        r = self.rng
        core = "".join(r.choice(_TURKISH_SYLLABLES) for _ in range(r.choice((2, 3))))
        core = core[:1].upper() + core[1:]
        words = [Word({"native": core, "ascii": core.translate(_TURKISH_ASCII)}, core=True)]
        if r.random() < 0.3:
            other = "".join(r.choice(_TURKISH_SYLLABLES) for _ in range(2))
            other = other[:1].upper() + other[1:]
            words.append(Word({"native": other, "ascii": other.translate(_TURKISH_ASCII)}, True))
        descriptor = r.choice(_TURKISH_DESCRIPTORS)
        words.append(Word({"native": descriptor, "ascii": descriptor.translate(_TURKISH_ASCII)}))
        words.append(Word({"native": "Sanayi", "ascii": "Sanayi"}))
        words.append(Word({"native": "ve", "ascii": "ve"}))
        words.append(Word({"native": "Ticaret", "ascii": "Ticaret"}))
        text, alternatives = r.choice(_TURKISH_LEGAL)
        legal = Legal({"native": text, "ascii": text.translate(_TURKISH_ASCII)}, alternatives)
        key = ("turkish", *(w.forms["native"] for w in words if w.core))
        return Entity("turkish", "TR", ("native", "ascii"), words, legal, key)

    def _ru_word(self) -> str:
        r = self.rng
        if r.random() < 0.45:
            word = r.choice(_RU_PREFIXES) + r.choice(_RU_SUFFIXES)
        else:
            word = "".join(r.choice(_RU_SYLLABLES) for _ in range(r.choice((2, 3, 3))))
        return word[:1].upper() + word[1:]

    def _cyrillic(self) -> Entity:
        r = self.rng
        country = r.choices(("RU", "BY", "KZ"), (0.75, 0.15, 0.10))[0]
        natives: list[tuple[str, bool]] = []
        if r.random() < 0.25:
            natives.append((r.choice(_RU_KINDS), False))
        core = self._ru_word()
        if r.random() < 0.3:
            core += "-" + (r.choice(_RU_PLACES) if r.random() < 0.5 else self._ru_word())
        natives.append((core, True))
        if r.random() < 0.3:
            natives.append((self._ru_word(), True))
        words = [
            Word(_cyrillic_forms(text), core=is_core, movable=not is_core)
            for text, is_core in natives
        ]
        text, alternatives = r.choice(_RU_LEGAL[country])
        others = tuple(t for t, _ in _RU_LEGAL[country] if t != text)
        legal = Legal(_cyrillic_forms(text), alternatives, front=True, native_alternatives=others)
        key = ("cyrillic", *(t for t, _ in natives))
        return Entity("cyrillic", country, _CYR_SCHEME_NAMES, words, legal, key)

    def _greek_word(self) -> str:
        r = self.rng
        count = r.randint(1, 2)
        syllables = [r.choice(_GREEK_ONSETS) + r.choice(_GREEK_VOWELS) for _ in range(count)]
        last = syllables[-1]
        syllables[-1] = last[:-1] + last[-1].translate(_GREEK_ACCENT)
        word = "".join(syllables) + r.choice(_GREEK_ONSETS[:14]) + r.choice(_GREEK_ENDINGS)
        return word[:1].upper() + word[1:]

    def _greek(self) -> Entity:
        r = self.rng
        cores = [self._greek_word() for _ in range(r.choice((1, 1, 2)))]
        natives = [(c, True) for c in cores] + [(r.choice(_GREEK_DESCRIPTORS), False)]
        words = [Word(_greek_forms(t), core=is_core) for t, is_core in natives]
        forms, alternatives = r.choice(_GREEK_LEGAL)
        undotted = forms["native"].replace(".", "")
        legal = Legal(dict(forms), alternatives, native_alternatives=(undotted,))
        country = r.choice(("GR", "CY"))
        return Entity(
            "greek", country, ("native", "elot", "phonetic"), words, legal, ("greek", *cores)
        )

    def _abjad_word(self, lang: str) -> dict[str, str]:
        r = self.rng
        consonants = _ARABIC_CONSONANTS if lang == "arabic" else _PERSIAN_CONSONANTS
        shorts = ("a", "i", "u") if lang == "arabic" else ("a", "e", "o")
        phonemes: list[str] = []
        for _ in range(r.choice((2, 2, 3))):
            phonemes.append(r.choice(consonants))
            phonemes.append(r.choice(("A", "I", "U")) if r.random() < 0.45 else r.choice(shorts))
        if r.random() < 0.6:
            phonemes.append(r.choice(consonants))
        return _abjad(phonemes, lang)

    def _persian(self) -> Entity:
        r = self.rng
        cores: list[dict[str, str]] = [self._abjad_word("persian")]
        if r.random() < 0.7:
            cores.insert(r.randint(0, 1), dict(r.choice(_PERSIAN_POOL)))
        words = [Word(dict(r.choice(_PERSIAN_FRONT)))]
        if r.random() < 0.5:
            words.append(Word(dict(r.choice(_PERSIAN_DESCRIPTORS))))
        words += [Word(c, core=True) for c in cores]
        legal = _PERSIAN_PJS if r.random() < 0.3 else None
        key = ("persian", *(c["native"] for c in cores))
        schemes = _ARABIC_SCHEMES
        return Entity("persian", "IR", schemes, words, legal, key)

    def _arabic(self) -> Entity:
        r = self.rng
        country = r.choice(_ARABIC_COUNTRIES)
        cores: list[dict[str, str]] = [self._abjad_word("arabic")]
        if r.random() < 0.6:
            cores.insert(0, dict(r.choice(_ARABIC_POOL)))
        words = [Word(dict(r.choice(_ARABIC_FRONT)))] if r.random() < 0.6 else []
        words += [Word(c, core=True) for c in cores]
        if r.random() < 0.6:
            words.append(Word(dict(r.choice(_ARABIC_DESCRIPTORS))))
        legal = _ARABIC_LLC if country == "AE" and r.random() < 0.6 else None
        key = ("arabic", *(c["native"] for c in cores))
        return Entity("arabic", country, _ARABIC_SCHEMES, words, legal, key)

    def _chinese(self) -> Entity:
        r = self.rng
        hk = r.random() < 0.2
        chars = r.sample(_HAN_CHARS, r.choice((2, 2, 3)))
        core_native = "".join(c for c, _ in chars)
        pinyin = "".join(p for _, p in chars)
        core = Word(
            {
                "native": core_native,
                "pinyin": pinyin.capitalize(),
                "english": pinyin.capitalize(),
                "spaced": " ".join(p.capitalize() for _, p in chars),
            },
            core=True,
        )
        words: list[Word] = []
        if not hk and r.random() < 0.7:
            city, city_latin = r.choice(_HAN_CITIES)
            native_city = city + ("市" if r.random() < 0.4 else "")
            words.append(
                Word(
                    {
                        "native": native_city,
                        "pinyin": city_latin,
                        "english": city_latin,
                        "spaced": city_latin,
                    },
                    movable=True,
                )
            )
        words.append(core)
        weights = [3] * 10 + [1] * (len(_HAN_DESCRIPTORS) - 10)
        picked: list[tuple[str, str, str]] = []
        for _ in range(r.choice((1, 2, 2))):
            d = r.choices(_HAN_DESCRIPTORS, weights)[0]
            if d not in picked:
                picked.append(d)
        for han, pin, english in picked:
            forms = {"native": han, "pinyin": pin, "english": english, "spaced": english}
            words.append(Word(forms))
        legal = _HK_LEGAL if hk else r.choice(_HAN_LEGAL)
        country = "HK" if hk else "CN"
        schemes = ("native", "pinyin", "english", "spaced")
        return Entity("chinese", country, schemes, words, legal, ("chinese", core_native))

    # -- renderings -------------------------------------------------------------------------

    def stored_style(self, entity: Entity) -> Style:
        """How a denial writes the party: mostly in Latin letters, often in the native script."""
        r = self.rng
        family = entity.family
        if family == "latin":
            scheme = "latin"
        elif family == "turkish":
            scheme = r.choice(("native", "ascii"))
        elif family == "chinese":
            native_share = 0.15 if entity.country == "HK" else 0.4
            scheme = "native" if r.random() < native_share else r.choice(("english", "pinyin"))
        else:
            scheme = "native" if r.random() < 0.4 else r.choice(entity.schemes[1:])
        return self._style(entity, scheme, tuple(range(len(entity.words))))

    def _style(self, entity: Entity, scheme: str, order: tuple[int, ...]) -> Style:
        r = self.rng
        legal = entity.legal
        if legal is None:
            return Style(scheme, order, None, False)
        if scheme == entity.native or scheme not in ("bgn", "german", "iso9", "french"):
            text = legal.forms.get(scheme) or next(iter(legal.forms.values()))
            front = legal.front and (scheme == "native" or r.random() < 0.5)
            return Style(scheme, order, text, front, quoted=front and entity.family == "cyrillic")
        # a romanised Russian name: "OOO Tekhnoservis" or "Tekhnoservis LLC"
        if r.random() < 0.5:
            return Style(scheme, order, legal.forms[scheme], True)
        return Style(scheme, order, legal.alternatives[0], False)

    def render(self, entity: Entity, style: Style) -> str:
        texts = [entity.words[i].text(style.scheme) for i in style.order]
        if style.typo is not None:
            index, pos, op, letter = style.typo
            at = style.order.index(index)
            texts[at] = _apply_typo(texts[at], pos, op, letter)
        han = entity.family == "chinese" and style.scheme == "native"
        body = ("" if han else " ").join(texts)
        if style.quoted:
            body = f"«{body}»"
        if style.legal is None:
            return body
        if style.legal_front:
            return f"{style.legal} {body}"
        return f"{body}{style.legal}" if han else f"{body} {style.legal}"

    def alias(self, entity: Entity, style: Style) -> str:
        """A listed alias: the name in another spelling, or its distinctive words alone."""
        r = self.rng
        others = [s for s in entity.schemes if s != style.scheme]
        if others and r.random() < 0.5:
            return self.render(entity, self._style(entity, r.choice(others), style.order))
        cores = tuple(i for i in style.order if entity.words[i].core)
        return self.render(entity, Style(style.scheme, cores, None, False))

    # -- variants ---------------------------------------------------------------------------

    def kinds_for(self, entity: Entity, style: Style) -> list[str]:
        kinds = ["legal_form"]
        if len(entity.schemes) > 1:
            kinds.append("transliterated")
        cores = sum(1 for i in style.order if entity.words[i].core)
        if cores >= 2 or any(entity.words[i].movable for i in style.order):
            kinds.append("reordered")
        if any(_typo_fits(entity, style, i) for i in style.order):
            kinds.append("typo")
        return kinds

    def variant(self, entity: Entity, style: Style, kind: str) -> Style:
        """Another rendering of the same entity, differing from `style` in one respect."""
        r = self.rng
        if kind == "transliterated":
            if style.scheme == entity.native:
                choices = list(entity.schemes[1:])
            else:
                choices = [s for s in entity.schemes if s != style.scheme]
                if entity.native in choices and r.random() < 0.5:
                    choices = [entity.native]
            return self._style(entity, r.choice(choices), style.order)
        if kind == "reordered":
            # two distinctive words swap, or a city / kind of body moves behind the name
            order = list(style.order)
            cores = [k for k, i in enumerate(order) if entity.words[i].core]
            if len(cores) >= 2:
                a, b = r.sample(cores, 2)
                order[a], order[b] = order[b], order[a]
            else:
                moved = next(i for i in order if entity.words[i].movable)
                order.remove(moved)
                order.append(moved)
            return dataclasses.replace(style, order=tuple(order))
        if kind == "legal_form":
            # dropped, written another way, or another form (a Russian ZAO reorganised as AO)
            legal = entity.legal
            options: list[str | None] = [None]
            non_latin = style.scheme == "native" and entity.family not in ("latin", "turkish")
            if legal is None:
                family_form = {"arabic": _ARABIC_LLC, "persian": _PERSIAN_PJS}.get(entity.family)
                if non_latin and family_form is not None:
                    options.append(family_form.forms["native"])
                elif not non_latin:
                    options += ["LLC", "Co.", "Ltd", "Company"]
            elif non_latin:
                options += [legal.forms["native"], *legal.native_alternatives]
            else:
                options += [legal.forms.get(style.scheme), *legal.alternatives]
                if entity.family == "cyrillic":
                    options += [_cyrillic_forms(t)[style.scheme] for t in legal.native_alternatives]
            choices = [o for o in dict.fromkeys(options) if o != style.legal]
            text = r.choice(choices)
            front = style.legal_front
            if entity.family == "cyrillic" and style.scheme != "native" and r.random() < 0.4:
                front = not front  # "OOO Tekhnoservis" / "Tekhnoservis OOO"
            quoted = style.quoted and front and text is not None
            return dataclasses.replace(style, legal=text, legal_front=front, quoted=quoted)
        if kind == "typo":
            return dataclasses.replace(style, typo=self._typo(entity, style))
        raise ValueError(kind)

    def _typo(self, entity: Entity, style: Style) -> tuple[int, int, str, str]:
        r = self.rng
        index = r.choice([i for i in style.order if _typo_fits(entity, style, i)])
        text = entity.words[index].text(style.scheme)
        if entity.family == "chinese" and style.scheme == "native":
            # a pinyin input method picks the wrong character of the same sound
            pos = r.randrange(len(text))
            reading = dict(_HAN_CHARS)[text[pos]]
            same = [c for c, p in _HAN_CHARS if p == reading and c != text[pos]]
            return index, pos, "sub", r.choice(same or [c for c, _ in _HAN_CHARS])
        if style.scheme == "native" and entity.family in ("arabic", "persian"):
            slips = [k for k, c in enumerate(text) if c in _DOT_SLIPS and k > 0]
            if slips:
                pos = r.choice(slips)
                return index, pos, "sub", _DOT_SLIPS[text[pos]]
            return index, r.randrange(1, len(text)), "del", ""
        alphabet = {"cyrillic": _CYR_ALPHABET, "greek": _GREEK_ALPHABET}.get(entity.family, "")
        if style.scheme != "native" or not alphabet:
            alphabet = "abcdefghijklmnopqrstuvwxyz"
        op = r.choice(("sub", "del", "ins"))
        # never the first letter, never a space or hyphen between parts
        if op == "ins":
            pos = r.randrange(1, len(text) + 1)
        else:
            pos = r.choice([k for k in range(1, len(text)) if text[k].isalpha()])
        letter = r.choice([c for c in alphabet if text[pos : pos + 1].lower() != c])
        return index, pos, op, letter

    # -- denials ----------------------------------------------------------------------------

    def denials(self, count: int, issuers: dict[str, str], today: dt.date) -> list[DenialSpec]:
        """`count` denials in force on `today` from the issuers (participant id → state),
        each issuer numbering its own references."""
        r = self.rng
        numbers = dict.fromkeys(issuers, 0)
        end_users: list[PartySpec] = []
        intermediaries: list[tuple[PartySpec, list[int]]] = []
        out: list[DenialSpec] = []
        for _ in range(count):
            issuer = r.choice(list(issuers))
            state = issuers[issuer]
            numbers[issuer] += 1
            if end_users and r.random() < 0.08:
                end_user = r.choice(end_users)  # denied again, by this or another state
            else:
                end_user = self._party(consignee=False)
                end_users.append(end_user)
            consignee: PartySpec | None = None
            uses = [0]
            if r.random() < 0.7:
                # intermediaries recur: the same trading house ships for several end users
                if intermediaries and r.random() < 0.5:
                    consignee, uses = r.choice(intermediaries[-2000:])
                    uses[0] += 1
                if consignee is None or uses[0] > 6:
                    consignee = self._party(consignee=True)
                    intermediaries.append((consignee, [1]))
            destination = end_user.entity.country
            if destination == state:
                destination = r.choice([c for c in ALL_DESTINATIONS if c != state])
            regime = "MILITARY" if r.random() < 0.45 else "DUAL_USE"
            pool = MILITARY_ENTRIES if regime == "MILITARY" else DUAL_USE_ENTRIES
            licences = MILITARY_LICENCES if regime == "MILITARY" else DUAL_USE_LICENCES
            out.append(
                DenialSpec(
                    reference=f"{state}-B-{numbers[issuer]:06d}",
                    issuer=issuer,
                    state=state,
                    regime=regime,
                    licence_type=r.choice(licences),
                    denial_date=(today - dt.timedelta(days=r.randint(0, 1090))).isoformat(),
                    destination=destination,
                    end_user=end_user,
                    consignee=consignee,
                    control_entries=r.sample(pool, r.choice((1, 1, 2, 3))),
                    criterion=r.randint(1, 8),
                    ground=r.choice(DUAL_USE_GROUNDS),
                    goods=r.choice(_GOODS[regime]),
                    end_use=r.choice(_END_USES),
                    quantity=f"{r.randint(1, 500)} units",
                    value_eur=r.randint(5, 5000) * 1000,
                )
            )
        return out

    def _party(self, *, consignee: bool) -> PartySpec:
        entity = self.entity(consignee=consignee)
        style = self.stored_style(entity)
        party = PartySpec(entity, style, self.render(entity, style))
        if self.rng.random() < 0.15:
            alias = self.alias(entity, style)
            if alias != party.name:
                party.aliases.append(alias)
        return party

    # -- queries ----------------------------------------------------------------------------

    def queries(self, denials: Sequence[DenialSpec], planted: int, absent: int) -> list[Query]:
        """`planted` variants of stored names (one variant kind each, spread evenly over the
        kinds) and `absent` names of entities no denial names, shuffled together."""
        r = self.rng
        stored = {n for d in denials for n in d.names()}
        out: list[Query] = []
        for i in range(planted):
            wanted = VARIANT_KINDS[i % len(VARIANT_KINDS)]
            for _ in range(1000):
                denial = r.choice(denials)
                party = denial.end_user
                if denial.consignee is not None and r.random() < 0.3:
                    party = denial.consignee
                if wanted not in self.kinds_for(party.entity, party.style):
                    continue
                style = self.variant(party.entity, party.style, wanted)
                name = self.render(party.entity, style)
                if name not in stored:
                    break
            else:
                raise RuntimeError(f"no {wanted} variant found")
            entries = [r.choice(denial.control_entries)]
            destination = denial.destination if r.random() < 0.7 else r.choice(ALL_DESTINATIONS)
            out.append(
                Query(
                    id=0,
                    name=name,
                    country=party.entity.country,
                    regime=denial.regime,
                    destination=destination,
                    entries=tuple(entries),
                    kind=wanted,
                    family=party.entity.family,
                    source=denial.reference,
                    stored_name=party.name,
                )
            )
        for _ in range(absent):
            entity = self.entity(consignee=r.random() < 0.3)
            style = self.stored_style(entity)
            regime = r.choice(("MILITARY", "DUAL_USE"))
            pool = MILITARY_ENTRIES if regime == "MILITARY" else DUAL_USE_ENTRIES
            out.append(
                Query(
                    id=0,
                    name=self.render(entity, style),
                    country=entity.country,
                    regime=regime,
                    destination=entity.country,
                    entries=(r.choice(pool),),
                    kind="absent",
                    family=entity.family,
                )
            )
        r.shuffle(out)
        return [dataclasses.replace(q, id=i) for i, q in enumerate(out)]


def _cyrillic_forms(native: str) -> dict[str, str]:
    forms = {"native": native}
    for scheme in _CYR_SCHEME_NAMES[1:]:
        forms[scheme] = cyrillic_to_latin(native, scheme)
    return forms


def _greek_forms(native: str) -> dict[str, str]:
    return {
        "native": native,
        "elot": greek_to_latin(native, "elot"),
        "phonetic": greek_to_latin(native, "phonetic"),
    }


def _typo_fits(entity: Entity, style: Style, index: int) -> bool:
    """A distinctive word long enough that one slip leaves it recognisable: five letters, or
    three in Arabic script (which leaves out short vowels); any word in Han characters."""
    word = entity.words[index]
    if not word.core:
        return False
    if entity.family == "chinese":
        return True
    abjad = style.scheme == "native" and entity.family in ("arabic", "persian")
    return len(word.text(style.scheme)) >= (3 if abjad else 5)


def _apply_typo(text: str, pos: int, op: str, letter: str) -> str:
    if op == "sub":
        if text[pos : pos + 1].isupper():
            letter = letter.upper()
        return text[:pos] + letter + text[pos + 1 :]
    if op == "del":
        return text[:pos] + text[pos + 1 :]
    return text[:pos] + letter + text[pos:]


__all__ = [
    "DUAL_USE_ENTRIES",
    "MILITARY_ENTRIES",
    "VARIANT_KINDS",
    "DenialSpec",
    "NameGenerator",
    "PartySpec",
    "Query",
]
