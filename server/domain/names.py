"""Party-name matching for the "essentially identical transaction" check (DOMAIN.md §4).

Before granting a licence an authority must find every denial in force to the same consignee or
end-user, and the same party reaches the exchange spelt by different hands: transliterated under
different schemes, with or without its legal form, abbreviated, reordered, mistyped. This module
turns a name into a `NameKey` once (so screening many candidates is cheap) and compares two keys
into a scored, explained `NameMatch`. It only proposes candidates; a person decides.

Pure: no I/O, no clock; only rapidfuzz and anyascii besides the standard library.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from functools import cache, lru_cache
from typing import NamedTuple

from anyascii import anyascii
from rapidfuzz import fuzz

# Scores at or above this are proposed to the licensing officer as a probable match.
DEFAULT_THRESHOLD = 0.82
# Below this a comparison returns None: not worth showing at all.
MATCH_FLOOR = 0.5

_TOKEN_CUTOFF = 0.8  # token similarity below which two words do not correspond
_MERGE_CUTOFF = 0.9  # stricter for "Ural Vagon Zavod" ~ "Uralvagonzavod" joins
# rapidfuzz stops early below these (a hair under the cut-offs, which still decide)
_TOKEN_FLOOR = _TOKEN_CUTOFF * 100 - 0.01
_CONSONANT_FLOOR = _TOKEN_CUTOFF / 0.9 * 100 - 0.01
_MERGE_FLOOR = _MERGE_CUTOFF * 100 - 0.01
_SCORE_CAP_FUZZY = 0.97  # a fuzzy agreement never outranks an exact or reordered one
_SCORE_REORDERED = 0.98
_SCORE_ACRONYM = 0.92


class Tier(IntEnum):
    """How much a word says about which entity a name denotes."""

    DISTINCTIVE = 0  # "Kalashnikov", "Hikvision": the words that identify the entity
    NUMBER = 1  # "558", "2" in "Nord Stream 2": a different number is a different entity
    PLACE = 2  # countries, cities, compass words: a qualifier, decisive only when they conflict
    GENERIC = 3  # "technology", "trading", "industries": shared by thousands of unrelated firms
    KIND = 4  # "company", "concern", "plant", "bank": what sort of body it is, often translated
    SHORT = 5  # one- or two-letter leftovers such as initials ("V.A. Degtyarev")
    HONORIFIC = 6  # "imeni Dzerzhinskogo" (named after): often dropped, decisive if it differs


# weight when matched, cost when absent from the other name, cost when the other name has an
# unmatched word of the same tier in its place (a substitution or conflict).
_WEIGHT: dict[int, tuple[float, float, float]] = {
    Tier.DISTINCTIVE: (1.0, 1.0, 1.0),
    Tier.NUMBER: (1.0, 1.5, 1.5),
    Tier.PLACE: (0.6, 0.15, 0.8),
    Tier.GENERIC: (0.4, 0.25, 0.5),
    Tier.KIND: (0.25, 0.08, 0.15),
    Tier.SHORT: (0.3, 0.1, 0.1),
    Tier.HONORIFIC: (1.0, 0.15, 1.0),
}

# ---------------------------------------------------------------------------------------------
# Vocabulary. Every word is written in one plain romanisation; the tables are keyed by the
# phonetic skeleton, so the other schemes (and the native scripts, via anyascii) land on the same
# key. Kept small on purpose: a word missing here is still compared fuzzily, only weighted higher.
# ---------------------------------------------------------------------------------------------

_LEGAL_WORDS = (
    # Russia, Belarus, Ukraine, Kazakhstan (also as anyascii renders the Cyrillic abbreviations)
    "ooo oao zao pao ao nao jsc ojsc cjsc pjsc fgup gup mup fkp fsue sue gvtup rup chup odo tov "
    "prat pat vat zat too "
    # English-speaking and offshore
    "llc ltd limited plc inc incorporated llp lp pvt pty pte sdn bhd fze fzco fzc fz fzllc dmcc "
    "wll lc sal "
    # continental Europe
    "gmbh ag kg se sa sas sasu sarl spa srl bv nv doo dd ad kft zrt nyrt sro oy oyj ab aps asa "
    "ou sia uab eood ood ltda sl sae srls "
    # Greece, Turkey, Japan, China
    "ae abee avee aebe aeve epe ike oe as kk youxian gufen zeren"
)
_LEGAL_PHRASES = (
    "limited liability company",
    "limited liability partnership",
    "joint stock company",
    "public joint stock company",
    "open joint stock company",
    "closed joint stock company",
    "private limited",
    "aktsionernoe obshchestvo",
    "publichnoe aktsionernoe obshchestvo",
    "otkrytoe aktsionernoe obshchestvo",
    "zakrytoe aktsionernoe obshchestvo",
    "nepublichnoe aktsionernoe obshchestvo",
    "obshchestvo s ogranichennoy otvetstvennostyu",
    "federal state unitary enterprise",
    "state unitary enterprise",
    "federalnoe gosudarstvennoe unitarnoe predpriyatie",
    "gosudarstvennoe unitarnoe predpriyatie",
    "unitarnoe predpriyatie",
    "gesellschaft mit beschrankter haftung",
    "gesellschaft mit beschraenkter haftung",
    "aktiengesellschaft",
    "societas europaea",
    "societe anonyme",
    "societe par actions simplifiee",
    "societe a responsabilite limitee",
    "societa per azioni",
    "societa a responsabilita limitata",
    "besloten vennootschap",
    "naamloze vennootschap",
    "spolka z ograniczona odpowiedzialnoscia",
    "drustvo s ogranicenom odgovornoscu",
    "akcionarsko drustvo",
    "anonim sirketi",
    "limited sirketi",
    "sendirian berhad",
    "anonymi etaireia",
    "kabushiki kaisha",
    "sahami khass",
    "sahami khas",
    "sahami aam",
    "sahami am",
    "youxian zeren",
)

# (canonical word, its tier, its spellings separated by commas; "" keeps each spelling as is).
_LEXICON_SOURCE: tuple[tuple[str, Tier, str], ...] = (
    # -- what sort of body: translated freely between languages, so weighted low
    (
        "company",
        Tier.KIND,
        "company, companies, co, corp, corporation, corporations, compagnie, compania, "
        "companhia, kompaniya, kompanii, korporatsiya, korporatsii, korporacja, corporacion, "
        "firma, firm, sherkat, sherkate, sharika, sharikat, sharikah, sherkat-e, gongsi, hoesa, "
        "sirket, sirketi, managing company, upravlyayushchaya kompaniya",
    ),
    ("concern", Tier.KIND, "concern, kontsern, koncern, konzern"),
    (
        "group",
        Tier.KIND,
        "group, groups, gruppa, groupe, gruppe, jituan, gorooh, goruh, gorouh, grouh, guruh",
    ),
    ("holding", Tier.KIND, "holding, holdings, kholding, qabida, qabidah, al-qabida"),
    (
        "plant",
        Tier.KIND,
        "plant, plants, factory, factories, works, zavod, zavody, fabrika, kombinat, werk, "
        "werke, karkhaneh",
    ),
    ("enterprise", Tier.KIND, "enterprise, enterprises, predpriyatie, predpriyatiya, entreprise"),
    ("association", Tier.KIND, "association, obedinenie, obyedineniye, jamiya, jamiyat, jamiyya"),
    ("bureau", Tier.KIND, "bureau, byuro"),
    ("kb", Tier.KIND, "kb, design bureau, konstruktorskoe byuro, konstruktorskoye byuro"),
    ("okb", Tier.KIND, "okb, experimental design bureau, opytno konstruktorskoe byuro"),
    (
        "npo",
        Tier.KIND,
        "npo, scientific production association, scientific and production association, "
        "research and production association, nauchno proizvodstvennoe obedinenie, nauchno "
        "proizvodstvennoye obyedineniye",
    ),
    (
        "npk",
        Tier.KIND,
        "npk, research and production corporation, scientific production corporation, "
        "scientific and production corporation, nauchno proizvodstvennaya korporatsiya",
    ),
    (
        "npp",
        Tier.KIND,
        "npp, npf, scientific production enterprise, research and production enterprise, "
        "nauchno proizvodstvennoe predpriyatie, nauchno proizvodstvennaya firma",
    ),
    ("po", Tier.KIND, "po, production association, proizvodstvennoe obedinenie"),
    (
        "vpk",
        Tier.KIND,
        "vpk, mic, military industrial corporation, military industrial consortium, voenno "
        "promyshlennaya korporatsiya",
    ),
    ("nii", Tier.KIND, "nii, research institute, nauchno issledovatelskiy institut"),
    ("center", Tier.KIND, "center, centre, centers, tsentr, zentrum, markaz"),
    ("institute", Tier.KIND, "institute, institut, inst, xueyuan, yanjiusuo"),
    ("university", Tier.KIND, "university, univ, universitet, universite, universitat, daxue"),
    ("academy", Tier.KIND, "academy, akademiya, academie, yanjiuyuan"),
    ("bank", Tier.KIND, "bank, banka, banque, masraf"),
    (
        "organization",
        Tier.KIND,
        "organization, organisation, organizatsiya, sazman, sazeman, sazmane, sazemane, munazzama",
    ),
    ("establishment", Tier.KIND, "establishment, muassasa, muassasat, moassese, moasseseh"),
    (
        "shipyard",
        Tier.KIND,
        "shipyard, shipyards, verf, verfi, werft, nafpigeia, naupigeia, naypigeia",
    ),
    ("headquarters", Tier.KIND, "headquarters, hq, gharargah, qarargah, shtab"),
    (
        "airline",
        Tier.KIND,
        "airline, airlines, airways, air, aviakompaniya, havapeymayi, havapeymaii, tayaran, "
        "tayyaran",
    ),
    ("foundation", Tier.KIND, "foundation, fund, fond, bonyad"),
    # -- descriptive words shared by unrelated firms
    (
        "technology",
        Tier.GENERIC,
        "technology, technologies, tech, technologie, tekhnologii, tekhnologiya, teknoloji, "
        "keji, jishu",
    ),
    (
        "industry",
        Tier.GENERIC,
        "industry, industries, industrial, industrie, industriya, industrija, promyshlennost, "
        "promyshlennaya, sanaye, sanayi, sanayii, sanaie, sanayee, sanati, sanaati, "
        "viomichania, endustri, endustrisi, gongye, chanye",
    ),
    (
        "electronics",
        Tier.GENERIC,
        "electronics, electronic, elektronika, elektronik, elektronnye, elektronnyye, dianzi, "
        "electronique",
    ),
    (
        "trading",
        Tier.GENERIC,
        "trading, trade, torgovy, torgovaya, ticaret, maoyi, tic, tijara, tijarat, tejarat, "
        "tejarah",
    ),
    ("international", Tier.GENERIC, "international, intl, mezhdunarodny, guoji"),
    ("general", Tier.GENERIC, "general, generalnaya, zong"),
    (
        "engineering",
        Tier.GENERIC,
        "engineering, inzhiniring, gongcheng, muhendislik, handasiya, handasiyah, handassiya, "
        "handasia, handassia, handasa, handasah, mohandesi",
    ),
    ("systems", Tier.GENERIC, "systems, system, sistemy, sistema, systimata, sistem"),
    ("services", Tier.GENERIC, "services, service, servis"),
    ("development", Tier.GENERIC, "development, razvitiya, razvitie"),
    ("manufacturing", Tier.GENERIC, "manufacturing, zhizao"),
    ("production", Tier.GENERIC, "production, proizvodstvo, proizvodstvennoe, proizvodstvennaya"),
    ("import", Tier.GENERIC, "import, imports"),
    ("export", Tier.GENERIC, "export, exports, eksport"),
    ("national", Tier.GENERIC, "national, natsionalny, natsionalnaya"),
    (
        "united",
        Tier.GENERIC,
        "united, obedinennaya, obyedinennaya, obyedinyonnaya, obedinennyi, obedinennye",
    ),
    ("state", Tier.GENERIC, "state, gosudarstvennaya, gosudarstvennoe, gosudarstvenny"),
    (
        "science",
        Tier.GENERIC,
        "science, sciences, scientific, nauchny, nauchnoe, nauchno, ilmiya, ilmiyya",
    ),
    ("research", Tier.GENERIC, "research, issledovatelskiy, buhuth, yanjiu, recherche, recherches"),
    ("studies", Tier.GENERIC, "studies, dirasat, etudes"),
    ("information", Tier.GENERIC, "information, informatsionnye, xinxi"),
    ("digital", Tier.GENERIC, "digital, tsifrovoy, shuzi"),
    (
        "communications",
        Tier.GENERIC,
        "communications, communication, telecommunications, telecommunication, telecom, "
        "tongxun, tongxin, svyaz",
    ),
    ("commercial", Tier.GENERIC, "commercial, kommercheskiy, tijari, tejari"),
    ("islamic", Tier.GENERIC, "islamic, eslami, islami"),
    ("republic", Tier.GENERIC, "republic, jomhuri, jomhouri, jumhuri, respublika"),
    ("shahid", Tier.GENERIC, "shahid, shaheed"),
    (
        "machinebuilding",
        Tier.GENERIC,
        "machinebuilding, machine building, mashinostroeniya, mashinostroyeniya, "
        "mashinostroenie, mashinostroitelny, mashinostroitelnoe, mashinostroitelnyi, "
        "mashinostroitelnaya",
    ),
    ("shipping", Tier.GENERIC, "shipping, keshtirani, kashtirani"),
    (
        "industrytrade",
        Tier.GENERIC,
        "sanayi ve ticaret, sanayii ve ticaret, san ve tic, sanayi ticaret",
    ),
    (
        "vko",
        Tier.GENERIC,
        "vko, air and space defence, air and space defense, aerospace defence, vozdushno "
        "kosmicheskoy oborony",
    ),
    ("lines", Tier.GENERIC, "lines, line"),
    # -- sector words that differ only by language; still distinctive
    ("aviation", Tier.DISTINCTIVE, "aviation, aviatsionny, aviatsionnyy, aviatsionnyi, hangkong"),
    ("aerospace", Tier.DISTINCTIVE, "aerospace, hangtian, aerokosmicheskiy"),
    (
        "defence",
        Tier.DISTINCTIVE,
        "defence, defense, oborony, oboronny, amyntika, amyntika, difa, defa",
    ),
    ("shipbuilding", Tier.DISTINCTIVE, "shipbuilding, sudostroitelnaya, sudostroitelny"),
    ("mechanical", Tier.DISTINCTIVE, "mechanical, mekhanicheskiy, mekhanicheskii, mekhanichesky"),
    (
        "electromechanical",
        Tier.DISTINCTIVE,
        "electromechanical, elektromekhanicheskiy, elektromekhanichesky",
    ),
    ("repair", Tier.DISTINCTIVE, "repair, remontny, remontnyy, remontnyi"),
    # -- places: qualifiers that only decide when two different ones meet
    ("russia", Tier.PLACE, "russia, russian, rossii, rossiya, rossiyskaya, rossiyskoy, rf"),
    ("china", Tier.PLACE, "china, chinese, zhongguo, prc, zhonghua"),
    ("iran", Tier.PLACE, "iran, iranian"),
    ("korea", Tier.PLACE, "korea, korean, dprk, dprkn, chosun, choson, joseon"),
    ("syria", Tier.PLACE, "syria, syrian, suri, suriya, suriyah, souria, syrie"),
    (
        "greece",
        Tier.PLACE,
        "greece, greek, hellenic, hellas, elliniki, ellinika, elliniko, ellinikon, ellinikis, "
        "helliniki, ellada",
    ),
    ("turkey", Tier.PLACE, "turkey, turkish, turk, turkiye"),
    ("belarus", Tier.PLACE, "belarus, belarusian, byelorussia"),
    ("ukraine", Tier.PLACE, "ukraine, ukrainian, ukrainy"),
    ("europe", Tier.PLACE, "europe, european, evropa, europa"),
    ("germany", Tier.PLACE, "germany, german, deutschland, germania"),
    ("israel", Tier.PLACE, "israel, israeli"),
    ("lebanon", Tier.PLACE, "lebanon, lebanese"),
    ("iraq", Tier.PLACE, "iraq, iraqi"),
    ("hongkong", Tier.PLACE, "hongkong, hong kong, xianggang"),
    ("shenzhen", Tier.PLACE, "shenzhen, sz"),
    ("harbin", Tier.PLACE, "harbin, haerbin"),
    ("northwest", Tier.PLACE, "northwest, northwestern, xibei"),
    ("northeast", Tier.PLACE, "northeast, northeastern, dongbei"),
    ("southwest", Tier.PLACE, "southwest, southwestern, xinan"),
    ("southeast", Tier.PLACE, "southeast, southeastern"),
    ("isfahan", Tier.PLACE, "isfahan, esfahan"),
    ("elefsina", Tier.PLACE, "elefsina, elefsinas, elefsis, eleusis"),
    ("moscow", Tier.PLACE, "moscow, moskva, moskovskiy, moskovsky"),
    ("petersburg", Tier.PLACE, "petersburg, peterburg, sankt, st, saint"),
    ("north", Tier.PLACE, "north, severny, severnaya, severnoe, severnoye"),
    ("south", Tier.PLACE, "south, yuzhny, yuzhnaya"),
    (
        "",
        Tier.PLACE,
        "japan, malaysia, singapore, switzerland, swiss, thailand, pakistan, emirates, uae, "
        "dubai, sharjah, india, taiwan, macau, serbia, armenia, kazakhstan, minsk, tula, "
        "izhevsk, kazan, kovrov, ural, urals, yekaterinburg, ekaterinburg, novosibirsk, kurgan, "
        "votkinsk, kolomna, tomsk, zelenograd, samara, perm, omsk, tver, kaluga, tehran, "
        "shiraz, tabriz, mashhad, qeshm, kish, karaj, beijing, peking, shanghai, hangzhou, "
        "zhejiang, nanjing, xian, tianjin, wuhan, chengdu, sichuan, guangzhou, guangdong, "
        "jiangsu, hubei, hunan, shaanxi, hefei, anhui, dalian, shenyang, xiamen, fujian, "
        "chongqing, shandong, qingdao, suzhou, changsha, zhengzhou, henan, heilongjiang, "
        "damascus, aleppo, beirut, baghdad, pyongyang, athens, athina, skaramangas, east, west, "
        "central",
    ),
)

# Compass compounds abbreviate with both initials ("North-Western": NW).
_COMPASS_INITIALS = {"northwest": "nw", "northeast": "ne", "southwest": "sw", "southeast": "se"}

# Compounds that stand for several words.
_EXPANSIONS = {
    "goskorporatsiya": ("state", "company"),
    "goskorporatsii": ("state", "company"),
}


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# "named after": what follows is the person the body is named after.
_HONORIFIC_MARKERS = frozenset({"im", "imeni", "named", "after"})
# Connectives, articles and ezafe, in the languages entity names come in.
_STOP_WORDS = _HONORIFIC_MARKERS | _word_set(
    "and of the for de des du d la le l et en y e i ve va wa und der die "
    "das di del della al el ol ul ash as ad li lil ye o"
)

# Han words used only to cut a run of characters into words; the pinyin comes from anyascii.
_HAN_WORDS = _word_set(
    "中国 中华 有限 责任 公司 股份 集团 科技 技术 电子 大学 学院 研究所 研究院 "
    "工业 产业 信息 航天 航空 通讯 通信 制造 国际 贸易 进出口 数字 工程 总公司 "
    "北京 上海 深圳 杭州 浙江 南京 哈尔滨 西安 天津 香港 武汉 成都 广州 "
    "解放军 人民 国防 物理 兵器 集成电路 创新"
)
_HAN_DROP = frozenset("市省")  # "city", "province" after a place name

# Arabic-script words whose romanisation anyascii cannot give (no short vowels): mapped to the
# usual Latin spelling, which the lexicon then canonicalises. Keys in normalised letters.
_ABJAD_WORDS = {
    "صنایع": "sanaye",
    "صناعات": "sanaye",
    "صنعتی": "sanati",
    "گروه": "group",
    "مجموعه": "group",
    "شرکت": "sherkat",
    "شرکه": "sharika",
    "سازمان": "sazman",
    "منظمه": "organization",
    "موسسه": "muassasa",
    "بانک": "bank",
    "بنک": "bank",
    "مصرف": "masraf",
    "هواپیمایی": "havapeymayi",
    "طیران": "tayaran",
    "کشتیرانی": "keshtirani",
    "قرارگاه": "gharargah",
    "مرکز": "markaz",
    "جمعیه": "jamiya",
    "قابضه": "qabida",
    "تجاری": "tijari",
    "تجاره": "tijara",
    "جمهوری": "jomhuri",
    "اسلامی": "eslami",
    "ایران": "iran",
    "سوری": "suri",
    "سوریه": "suriya",
    "دراسات": "dirasat",
    "بحوث": "buhuth",
    "علمیه": "ilmiya",
    "الکترونیک": "electronic",
    "شهید": "shahid",
    "هندسیه": "handasiya",
    "هندسه": "handasa",
    "مهندسی": "mohandesi",
    # legal forms: ذ.م.م (UAE LLC), ش.م.ل (Lebanese SAL), سهامی خاص / عام (Iranian joint stock)
    "ذمم": "llc",
    "شذمم": "llc",
    "شمل": "sal",
    "سهامی": "sahami",
    "خاص": "khass",
    "عام": "aam",
}
_ABJAD_LETTERS = str.maketrans(
    {"ي": "ی", "ى": "ی", "ئ": "ی", "ك": "ک", "ة": "ه", "أ": "ا", "إ": "ا", "آ": "ا", "ؤ": "و"}
)
_ABJAD_PREFIXES = ("وال", "بال", "فال", "كال", "کال", "لل", "ال")
# Consonant classes of the skeleton, letter by letter. Long vowels and alef carry no consonant;
# ض ظ ذ are d in Arabic romanisations but z in Persian ones ("D" tries both).
_ABJAD_SOUNDS = {
    **dict.fromkeys("اآأإءئؤعىوی", ""),
    "ي": "",
    **dict.fromkeys("خغقهحكک", "k"),
    "گ": "g",
    **dict.fromkeys("شچژج", "c"),
    **dict.fromkeys("ثسصزز", "s"),
    **dict.fromkeys("ضظذ", "D"),
    "ة": "",  # ta marbuta: a vowel ending (-a, -ah, -at)
    "ت": "t",
    "ط": "t",
    "د": "d",
    "ب": "b",
    "پ": "p",
    "ف": "v",
    "ر": "r",
    "ل": "l",
    "م": "m",
    "ن": "n",
}

# Latin letters whose diacritic carries a sound anyascii would drop (scientific transliteration
# of Cyrillic, ISO 9). Turkish ş/ç are left to anyascii: Turkish names are written s/c in Latin.
_LATIN_FOLD = str.maketrans(
    {"š": "sh", "č": "ch", "ž": "zh", "ŝ": "shch", "ć": "ch", "đ": "dj", "ß": "ss", "ł": "l"}
)

# Phonetic skeleton: collapses the differences between romanisation schemes. Order matters.
_SKELETON_STEPS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), repl)
    for pattern, repl in (
        ("['`]", ""),
        ("(?<=te)ch(?=n)|(?<![st])ch(?=[rl])", "k"),  # "techno", "chrome": Greek-derived ch
        ("shch|tsch|sch|tch|sh|ch|zh", "S"),  # ш/щ/ч/ж in English, German, French spellings
        ("gh|q", "k"),  # Persian ق/غ: q / gh
        ("ph|f", "v"),  # ph / f / v; Greek αυ ευ are av/af, ev/ef
        ("kh|h", "k"),  # х: kh / h / (English) c; Arabic خ ح ه (German ch is left to fuzziness)
        ("ck", "k"),
        ("x", "ks"),
        ("ts|tz|c", "k"),  # ц: ts / tz / c; and English hard c
        ("z", "s"),  # German s for з
        ("w", "v"),
        ("ou", "u"),  # French u
        ("eo", "o"),  # Korean: Revised Romanization eo, McCune-Reischauer ŏ
        ("ee", "i"),
        ("oo", "u"),
        ("[yj]", "i"),  # й/ы/и: y / j / i; я ю: ya / ja / ia
        ("i[eo]", "e"),  # е/ё after a vowel or soft sign: ye / je / yo / io
        (r"(.)\1+", r"\1"),  # doubled letters
        ("S", "c"),  # the ш/ч/ж class, written with the letter that "c" -> "k" set free
    )
)
_VOWELS = re.compile("[aeiou]")
# single letters joined by dots, the last dot optional: "L.L.C.", "S.p.A", "ذ.م.م"
_DOTTED_ABBREVIATION = re.compile(r"(?<!\w)[^\W\d_](?:\.[^\W\d_])+\.?(?!\w)")
_GREEK_DIPHTHONG = re.compile("(?<=[αεηάέή])[υύ]")
_ELISION = re.compile(r"(?<!\w)(d|l|j|qu)['’]", re.IGNORECASE)
_WORD = re.compile(r"[^\W_]+(?:['’`ʹʺ][^\W_]+)*")
_APOSTROPHES = re.compile("['’`ʹʺ]")
_ADJECTIVE_ENDINGS = ("skaia", "skoe", "skogo", "skie", "ski", "aia", "oe", "ogo", "i")


@lru_cache(maxsize=1 << 15)
def _skeleton(word: str) -> str:
    for pattern, repl in _SKELETON_STEPS:
        word = pattern.sub(repl, word)
    return word


_DOUBLED = re.compile(r"(.)\1+")


@lru_cache(maxsize=1 << 17)
def _consonants(skeleton: str) -> str:
    return _DOUBLED.sub(r"\1", _VOWELS.sub("", skeleton))


@dataclass(frozen=True)
class _Entry:
    canonical: str
    tier: Tier


def _build_lexicon() -> tuple[dict[tuple[str, ...], _Entry], int]:
    lexicon: dict[tuple[str, ...], _Entry] = {}

    def add(phrase: str, entry: _Entry) -> None:
        words = [w for w in re.split(r"[\s-]+", phrase) if w]
        kept = [w for w in words if w not in _STOP_WORDS] or words
        lexicon.setdefault(tuple(_skeleton(w) for w in kept), entry)

    legal = _Entry("", Tier.KIND)  # canonical "" marks a legal form: dropped from the name
    for word in _LEGAL_WORDS.split():
        add(word, legal)
    for phrase in _LEGAL_PHRASES:
        add(phrase, legal)
    for canonical, tier, spellings in _LEXICON_SOURCE:
        for spelling in spellings.split(","):
            spelling = spelling.strip()
            add(spelling, _Entry(canonical or spelling, tier))
    longest = max(len(k) for k in lexicon)
    return lexicon, longest


_LEXICON, _LONGEST_PHRASE = _build_lexicon()
# First words of the lexicon's phrases: a name's word that starts none is looked up alone.
_PHRASE_HEADS = frozenset(k[0] for k in _LEXICON if len(k) > 1)

# Russian compound names end in shared stems ("Tula|mashzavod", "Ural|mashzavod"): when both
# names end in the same ones, the words are compared on what precedes them.
_COMPOUND_ENDINGS = tuple(
    _skeleton(w) for w in _word_set("zavod mash prom neft gaz energo eksport stroy khim flot bank")
)


# ---------------------------------------------------------------------------------------------
# Keys
# ---------------------------------------------------------------------------------------------


# The caches below hold tens of thousands of keys and words. They keep them as plain tuples of
# strings and numbers, which the garbage collector stops visiting after it has seen them once:
# as objects, they would make every full collection (and the pause of the event loop with it)
# take hundreds of milliseconds. Keys and words are named tuples, so turning one into the other
# costs little.

PlainToken = tuple[str, str, str, int, str, tuple[str, ...], bool]
PlainKey = tuple[
    str, str, tuple[str, ...], str, tuple[PlainToken, ...], tuple[str, ...], tuple[str, ...], str
]


class NameToken(NamedTuple):
    """One word of a name after transliteration, with what it is worth for matching."""

    text: str  # canonical form: the lexicon's word, or the skeleton
    skeleton: str  # phonetic skeleton of the word as written (for joins and fuzzy comparison)
    consonants: str  # skeleton without vowels (Arabic-script names carry no short vowels)
    tier: int  # a Tier, as a plain number (see above)
    raw: str  # ascii as written (words of a phrase separated by spaces), for acronyms
    abjad: tuple[str, ...] = ()  # from Arabic script: the consonant skeletons it may stand for
    caps: bool = False  # written in capitals, as acronyms are

    @property
    def initial(self) -> str:
        """First letter for acronyms, with C/K/Q folded together."""
        return _fold_acronym(self.raw[:1])

    def abbreviations(self) -> tuple[str, ...]:
        """What this word can contribute to an acronym: a short prefix, or a phrase's initials."""
        words = self.raw.split()
        if len(words) > 1:
            return (_fold_acronym("".join(w[0] for w in words)),)
        raw = _fold_acronym(self.raw)
        compass = _COMPASS_INITIALS.get(self.text, "")
        return (raw[:3], raw[:2], compass, raw[:1]) if compass else (raw[:3], raw[:2], raw[:1])

    @property
    def weight(self) -> float:
        """What agreeing on this word is worth: distinctive words count, legal-ish ones barely."""
        return _WEIGHT[self.tier][0]


class NameKey(NamedTuple):
    """Everything precomputed for one name, so matching many candidates is cheap."""

    original: str
    normalized: str  # ascii, lowercase, legal forms removed, org words canonical, skeleton applied
    tokens: tuple[str, ...]
    acronym: str  # initials of the significant words ("cetc" style, before canonicalisation)
    parts: tuple[NameToken, ...] = ()
    legal_forms: tuple[str, ...] = ()
    scripts: tuple[str, ...] = ()  # non-Latin scripts seen, for the explanation
    compact: str = ""  # skeletons joined without spaces, for spacing variants

    def to_json(self) -> str:
        """The key as stored next to a denial, so screening need not transliterate it again."""
        # Spelled out: this runs for every name of every denial recorded.
        data = {
            "original": self.original,
            "normalized": self.normalized,
            "tokens": self.tokens,
            "acronym": self.acronym,
            "parts": [
                {
                    "text": p.text,
                    "skeleton": p.skeleton,
                    "consonants": p.consonants,
                    "tier": p.tier,
                    "raw": p.raw,
                    "abjad": p.abjad,
                    "caps": p.caps,
                }
                for p in self.parts
            ],
            "legal_forms": self.legal_forms,
            "scripts": self.scripts,
            "compact": self.compact,
        }
        return _KEY_ENCODER.encode(data)

    @classmethod
    def from_json(cls, text: str) -> NameKey:
        """A key stored with `to_json`; fails closed on anything else."""
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.keys() != _KEY_FIELDS:
                raise TypeError("not an object of the key's fields")
            parts = []
            for p in data["parts"]:
                if p.keys() != _TOKEN_FIELDS:
                    raise TypeError("a word without the token's fields")
                parts.append(
                    NameToken(
                        p["text"],
                        p["skeleton"],
                        p["consonants"],
                        int(Tier(p["tier"])),
                        p["raw"],
                        tuple(p["abjad"]),
                        p["caps"],
                    )
                )
            key = cls(
                data["original"],
                data["normalized"],
                tuple(data["tokens"]),
                data["acronym"],
                tuple(parts),
                tuple(data["legal_forms"]),
                tuple(data["scripts"]),
                data["compact"],
            )
        except (TypeError, ValueError, KeyError, AttributeError) as e:
            raise ValueError(f"malformed name key: {e}") from e
        if not isinstance(key.original, str) or key.normalized != " ".join(key.tokens):
            raise ValueError("malformed name key: tokens do not match the normalized name")
        return key

    def plain(self) -> PlainKey:
        """The key as tuples only (see PlainToken above), for caches."""
        parts = tuple(
            (p.text, p.skeleton, p.consonants, p.tier, p.raw, p.abjad, p.caps) for p in self.parts
        )
        return (
            self.original,
            self.normalized,
            self.tokens,
            self.acronym,
            parts,
            self.legal_forms,
            self.scripts,
            self.compact,
        )

    @classmethod
    def from_plain(cls, plain: PlainKey) -> NameKey:
        token = NameToken._make
        return cls._make((*plain[:4], tuple([token(t) for t in plain[4]]), *plain[5:]))

    @property
    def acronym_letters(self) -> str:
        """The letters, if this name is one acronym (plus words for the kind of body): "IRGC"."""
        core = [p for p in self.parts if p.tier not in (Tier.KIND, Tier.SHORT)]
        if len(core) != 1 or core[0].abjad or core[0].tier != Tier.DISTINCTIVE:
            return ""
        letters = _fold_acronym(core[0].raw)
        if not letters.isalpha() or not 2 <= len(letters) <= 8:
            return ""
        return letters if core[0].caps or len(letters) <= 5 else ""


_KEY_FIELDS = set(NameKey._fields)
_KEY_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_TOKEN_FIELDS = set(NameToken._fields)


class _Word(NamedTuple):
    raw: str  # ascii lowercase as written
    abjad: tuple[str, ...] = ()  # Arabic script: its possible consonant skeletons


@lru_cache(maxsize=1 << 12)
def _script_of(ch: str) -> str:
    if ch.isascii():
        return "Latin"
    name = unicodedata.name(ch, "")
    for script in ("CYRILLIC", "GREEK", "ARABIC", "CJK", "HANGUL", "HEBREW", "ARMENIAN"):
        if name.startswith(script):
            return script.title() if script != "CJK" else "Han"
    return "Latin"


def _han_words(run: str) -> list[str]:
    """Cut a run of Han characters at known words; unknown stretches stay one word."""
    words: list[str] = []
    pending = ""
    i = 0
    while i < len(run):
        for size in (4, 3, 2):
            if run[i : i + size] in _HAN_WORDS:
                if pending:
                    words.append(pending)
                    pending = ""
                words.append(run[i : i + size])
                i += size
                break
        else:
            if run[i] not in _HAN_DROP:
                pending += run[i]
            i += 1
    if pending:
        words.append(pending)
    return [anyascii(w).lower() for w in words]


def _abjad_word(word: str) -> _Word:
    if word.translate(_ABJAD_LETTERS) in _ABJAD_WORDS:
        return _Word(_ABJAD_WORDS[word.translate(_ABJAD_LETTERS)])
    for prefix in _ABJAD_PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= 3:
            word = word[len(prefix) :]
            break
    if word.translate(_ABJAD_LETTERS) in _ABJAD_WORDS:
        return _Word(_ABJAD_WORDS[word.translate(_ABJAD_LETTERS)])
    raw = re.sub("[^a-z0-9]", "", anyascii(word).lower())
    # letter by letter: digraph rules must not join two letters ("p"+"h" is not "f")
    letters = [_ABJAD_SOUNDS.get(c, re.sub("[^a-z0-9]", "", anyascii(c).lower())) for c in word]
    skeletons = {"".join(letters).replace("D", sound) for sound in ("d", "s")}
    consonants = tuple(sorted(_consonants(s) for s in skeletons))
    return _Word(raw, consonants)


def _words(name: str) -> tuple[list[_Word], frozenset[str]]:
    text = unicodedata.normalize("NFKC", name).casefold()
    if not text.isascii():
        text = "".join(
            c for c in text if not (unicodedata.category(c) == "Mn" and _script_of(c) == "Arabic")
        )
    text = _GREEK_DIPHTHONG.sub("β", text)
    text = text.replace("&", " and ").replace("+", " and ")
    text = _ELISION.sub(r"\1 ", text)
    text = _DOTTED_ABBREVIATION.sub(lambda m: m.group(0).replace(".", "") + " ", text)
    scripts: set[str] = set()
    out: list[_Word] = []
    for word in _WORD.findall(text):
        parts, word_scripts = _word_parts(word)
        scripts.update(word_scripts)
        out.extend(_Word._make(p) for p in parts)
    return out, frozenset(scripts)


@lru_cache(maxsize=1 << 15)
def _word_parts(word: str) -> tuple[tuple[tuple[str, tuple[str, ...]], ...], tuple[str, ...]]:
    """The words one written word stands for, and its scripts other than Latin; words recur
    across names ("trading", "llc", the cities), so this is kept."""
    word = _APOSTROPHES.sub("", word)
    word_scripts = {_script_of(c) for c in word if c.isalpha()}
    out: list[_Word] = []
    if "Han" in word_scripts:
        for part in re.findall(r"[^\W\d_]+|\d+", word):
            if any(_script_of(c) == "Han" for c in part):
                out.extend(_Word(w) for w in _han_words(part) if w)
            else:
                out.append(_Word(anyascii(part).lower()))
    elif "Arabic" in word_scripts:
        abjad_word = _abjad_word(word)
        if abjad_word.raw:
            out.append(abjad_word)
    else:
        ascii_form = anyascii(word.translate(_LATIN_FOLD)).lower()
        out.extend(_Word(w) for w in re.findall("[a-z0-9]+", ascii_form))
    return tuple((w.raw, w.abjad) for w in out), tuple(sorted(word_scripts - {"Latin"}))


def _place_by_adjective(skeleton: str) -> _Entry | None:
    """Russian adjectives of place: "Kovrovskiy", "Izhevskiy" name the town."""
    for ending in _ADJECTIVE_ENDINGS:
        if skeleton.endswith(ending) and len(skeleton) - len(ending) >= 4:
            entry = _LEXICON.get((skeleton[: -len(ending)],))
            if entry is not None and entry.tier == Tier.PLACE:
                return entry
    return None


def _fold_acronym(text: str) -> str:
    """C/K and Q/K stand for one sound across languages ("CETC", "KRET" for Концерн)."""
    return text.replace("c", "k").replace("q", "k")


def _token(word: _Word, skeleton: str, entry: _Entry, original: str, raw: str = "") -> NameToken:
    raw = raw or word.raw
    if word.abjad and entry.tier == Tier.DISTINCTIVE:
        skeleton = word.abjad[0]
        entry = _Entry(skeleton, entry.tier)
    return NameToken(
        text=entry.canonical,
        skeleton=skeleton,
        consonants=word.abjad[0] if word.abjad else _consonants(skeleton),
        tier=int(entry.tier),
        raw=raw,
        abjad=word.abjad,
        caps=raw.isascii() and raw.upper() in original,
    )


def name_key(name: str) -> NameKey:
    """Precompute a name once so that comparing it with many candidates is cheap."""
    return NameKey.from_plain(_plain_name_key(name))


@lru_cache(maxsize=65536)
def _plain_name_key(name: str) -> PlainKey:
    return _name_key(name).plain()


def _name_key(name: str) -> NameKey:
    words, scripts = _words(name)
    skeletons = [_skeleton(w.raw) for w in words]
    stop = [w.raw in _STOP_WORDS for w in words]
    parts: list[NameToken] = []
    legal: list[str] = []
    honorific = False  # after "imeni" / "named after": the person the body is named after
    i = 0
    while i < len(words):
        word, skel = words[i], skeletons[i]
        if not skel or stop[i]:
            honorific = honorific or word.raw in _HONORIFIC_MARKERS
            i += 1
            continue
        entry: _Entry | None = None
        size = 1
        longest = 1 if skel not in _PHRASE_HEADS else min(_LONGEST_PHRASE, len(words) - i)
        for n in range(0 if word.abjad else longest, 0, -1):
            if n > 1 and stop[i + n - 1]:
                continue
            window = tuple(skeletons[k] for k in range(i, i + n) if not stop[k])
            found = _LEXICON.get(window)
            if found is not None:
                entry, size = found, n
                break
        span = words[i : i + size]
        raw = " ".join(w.raw for w in span if w.raw not in _STOP_WORDS)
        if entry is not None and entry.canonical == "":
            legal.append(raw)
        elif entry is None and word.raw in _EXPANSIONS:
            for canonical in _EXPANSIONS[word.raw]:
                found = _LEXICON[(_skeleton(canonical),)]
                parts.append(_token(word, _skeleton(canonical), found, name, raw=canonical))
        else:
            if entry is None and not word.abjad:
                entry = _place_by_adjective(skel)
            if entry is None:
                if any(c.isdigit() for c in word.raw):
                    tier = Tier.NUMBER
                elif len(word.raw) <= 2:
                    tier = Tier.SHORT
                else:
                    tier = Tier.HONORIFIC if honorific else Tier.DISTINCTIVE
                entry = _Entry(skel, tier)
            parts.append(_token(word, "".join(skeletons[i : i + size]), entry, name, raw=raw))
        i += size
    if not parts and legal:
        # a name that is nothing but a legal form: keep it rather than lose the name
        parts = [
            _token(_Word(w), _skeleton(w), _Entry(_skeleton(w), Tier.DISTINCTIVE), name)
            for w in " ".join(legal).split()
        ]
        legal = []
    tokens = tuple(p.text for p in parts)
    return NameKey(
        original=name,
        normalized=" ".join(tokens),
        tokens=tokens,
        acronym="".join(p.abbreviations()[-1] for p in parts if p.tier != Tier.SHORT),
        parts=tuple(parts),
        legal_forms=tuple(legal),
        scripts=tuple(sorted(scripts)),
        compact="".join(p.skeleton for p in parts if p.tier not in (Tier.KIND, Tier.SHORT)),
    )


def query_tokens(key: NameKey) -> set[str]:
    """The keys a screened name looks up. A name of several distinctive words seeks acronyms only
    among names that are acronyms ("A:"), not among the thousands that merely share its initials;
    an acronym, or a name of one word, keeps its initials as they are its only short key."""
    keys = index_tokens(key)
    if key.acronym_letters or sum(p.tier == Tier.DISTINCTIVE for p in key.parts) <= 1:
        return keys
    return {"A:" + k[2:] if k.startswith("a:") else k for k in keys}


def index_tokens(key: NameKey) -> set[str]:
    """Blocking keys for an inverted index: a true variant shares at least one with the original."""
    keys: set[str] = set()
    for part in key.parts:
        if part.tier == Tier.KIND:
            continue
        if len(part.text) >= 3:
            keys.add("w:" + part.text)
        if part.tier in (Tier.DISTINCTIVE, Tier.NUMBER):
            if len(part.skeleton) >= 4:
                keys.add("p:" + part.skeleton[:4])
            if len(part.skeleton) >= 5:
                # the ending too, so that a slip early in the word still shares a key
                keys.add("e:" + part.skeleton[-4 if len(part.skeleton) >= 7 else -3 :])
            for consonants in part.abjad or (part.consonants,):
                if len(consonants) >= 2:
                    keys.add("c:" + consonants[:3])
    if len(key.compact) >= 4:
        keys.add("p:" + key.compact[:4])
    # acronyms: the two letters an acronym of this name could start with, leaving out at most
    # the first word and two more that do not identify the entity
    significant = [p for p in key.parts if p.tier != Tier.SHORT]
    for start in range(min(2, len(significant))):
        first = significant[start]
        keys.update("a:" + option for option in first.abbreviations() if len(option) == 2)
        for following in significant[start + 1 : start + 4]:
            keys.add("a:" + first.initial + following.initial)
            if following.tier in (Tier.DISTINCTIVE, Tier.NUMBER):
                break
        if first.tier in (Tier.DISTINCTIVE, Tier.NUMBER):
            break  # an acronym cannot leave out an identifying word
    if key.acronym_letters:
        keys.add("a:" + key.acronym_letters[:2])
        keys.add("A:" + key.acronym_letters[:2])  # what a written-out query looks for
    if key.normalized and not any(k.startswith("w:") for k in keys):
        # only short words (a short name in Arabic script is one or two consonants): the whole
        # name is the key, or it would share nothing rarer than its initials
        keys.add("n:" + key.normalized)
    return keys


# ---------------------------------------------------------------------------------------------
# Matching
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NameMatch:
    """How similar two names are, and in words why, for the officer who decides."""

    score: float  # 0..1
    how: str  # "exact", "alias" (set by the caller), "reordered", "acronym", "fuzzy"
    detail: str


def _token_similarity(a: NameToken, b: NameToken) -> float:
    if a.text == b.text:
        return 1.0
    if a.tier == Tier.NUMBER or b.tier == Tier.NUMBER:
        return 0.0
    if a.tier == Tier.KIND and b.tier == Tier.KIND:
        return 0.0  # two different kinds of body, both recognised
    if a.abjad or b.abjad:
        # Arabic script writes no short vowels: compare consonants, strictly when there are few
        best = 0.0
        for x in a.abjad or _arabic_readings(a.raw):
            for y in b.abjad or _arabic_readings(b.raw):
                if min(len(x), len(y)) < 2:
                    continue
                score = fuzz.ratio(x, y, score_cutoff=_TOKEN_FLOOR) / 100.0
                if min(len(x), len(y)) > 3 or score >= 0.85:
                    best = max(best, score)
        return best if best >= _TOKEN_CUTOFF else 0.0
    x, y = _distinct_stems(a.skeleton, b.skeleton)
    if min(len(x), len(y)) <= 3:
        return 1.0 if x == y else 0.0
    score = fuzz.ratio(x, y, score_cutoff=_TOKEN_FLOOR) / 100.0
    x, y = _consonants(x), _consonants(y)
    if min(len(x), len(y)) >= 4:
        score = max(score, 0.9 * fuzz.ratio(x, y, score_cutoff=_CONSONANT_FLOOR) / 100.0)
    return score if score >= _TOKEN_CUTOFF else 0.0


@lru_cache(maxsize=65536)
def _arabic_readings(raw: str) -> tuple[str, ...]:
    """Consonants of a Latin word read as romanised Arabic: j is ج, a final -ah/-at is ة."""
    arabic = re.sub("(?<=[aeiou])[ht]$", "", raw.replace(" ", "")).replace("j", "zh")
    return tuple({_consonants(_skeleton(raw.replace(" ", ""))), _consonants(_skeleton(arabic))})


@lru_cache(maxsize=1 << 17)
def _compound_endings(word: str) -> tuple[str, ...]:
    return tuple(e for e in _COMPOUND_ENDINGS if word.endswith(e))


def _distinct_stems(a: str, b: str) -> tuple[str, str]:
    endings = _compound_endings(a)
    if not any(e in endings for e in _compound_endings(b)):
        return a, b
    stripped = True
    while stripped:
        stripped = False
        for ending in _COMPOUND_ENDINGS:
            size = len(ending)
            if a.endswith(ending) and b.endswith(ending) and min(len(a), len(b)) > size + 2:
                a, b, stripped = a[:-size], b[:-size], True
    return a, b


@dataclass(frozen=True)
class _Pair:
    left: tuple[int, ...]
    right: tuple[int, ...]
    similarity: float


def _candidate_pairs(a: NameKey, b: NameKey) -> list[_Pair]:
    pairs: list[_Pair] = []
    for i, x in enumerate(a.parts):
        for j, y in enumerate(b.parts):
            sim = _token_similarity(x, y)
            if sim > 0:
                pairs.append(_Pair((i,), (j,), sim))
    # one word on one side written as two to four on the other ("Rosoboron Export")
    for many, one, flip in ((a.parts, b.parts, False), (b.parts, a.parts, True)):
        targets = [
            (j, y, len(y.skeleton))
            for j, y in enumerate(one)
            if len(y.skeleton) >= 6 and y.tier != Tier.KIND
        ]
        if not targets:
            continue
        for start in range(len(many)):
            for size in range(2, min(4, len(many) - start) + 1):
                span = many[start : start + size]
                length = sum(len(p.skeleton) for p in span)
                abjad = any(p.abjad for p in span)
                skeleton = ""
                for j, y, y_length in targets:
                    # fuzz.ratio is at most 2*shorter/(sum of lengths): skip hopeless joins unjoined
                    bound = 200 * min(length, y_length) / (length + y_length)
                    if bound < _MERGE_FLOOR and not (abjad or y.abjad):
                        continue
                    skeleton = skeleton or "".join(p.skeleton for p in span)
                    sim = fuzz.ratio(skeleton, y.skeleton, score_cutoff=_MERGE_FLOOR) / 100.0
                    if abjad or y.abjad:
                        consonants = _consonants("".join(p.consonants for p in span))
                        found = fuzz.ratio(consonants, y.consonants, score_cutoff=_MERGE_FLOOR)
                        sim = max(sim, found / 100.0)
                    if sim >= _MERGE_CUTOFF:
                        idx = tuple(range(start, start + size))
                        pairs.append(_Pair((j,), idx, sim) if flip else _Pair(idx, (j,), sim))
    return pairs


def _acronym_matches(letters: str, parts: Sequence[NameToken]) -> bool:
    """Whether `letters` abbreviate `parts`: each word gives a prefix of one to three letters
    (a phrase its initials), and only words that do not identify the entity may be left out."""
    options = [p.abbreviations() for p in parts]
    skippable = [p.tier in (Tier.KIND, Tier.GENERIC, Tier.PLACE, Tier.SHORT) for p in parts]

    @cache
    def walk(i: int, j: int, used: int) -> bool:
        if i == len(letters):
            return used >= 2 and all(skippable[j:])
        if j == len(parts):
            return False
        if skippable[j] and walk(i, j + 1, used):
            return True
        return any(
            letters.startswith(option, i) and walk(i + len(option), j + 1, used + 1)
            for option in set(options[j])
            if option
        )

    return len(parts) >= 2 and walk(0, 0, 0)


def _absorb_acronyms(
    a: Sequence[NameToken], b: Sequence[NameToken], used_a: set[int], used_b: set[int]
) -> list[tuple[int, tuple[int, ...], bool]]:
    """A short unmatched word that abbreviates a run of unmatched words on the other side."""
    found: list[tuple[int, tuple[int, ...], bool]] = []
    for short, long, used_s, used_l, flip in (
        (a, b, used_a, used_b, False),
        (b, a, used_b, used_a, True),
    ):
        for i, token in enumerate(short):
            letters = _fold_acronym(token.raw)
            if i in used_s or token.tier != Tier.DISTINCTIVE or not 2 <= len(letters) <= 5:
                continue
            for start in range(len(long)):
                size = len(letters)
                idx = tuple(range(start, start + size))
                if idx[-1] >= len(long) or used_l.intersection(idx):
                    continue
                if "".join(long[k].initial for k in idx) == letters:
                    used_s.add(i)
                    used_l.update(idx)
                    found.append((i, idx, flip))
                    break
    return found


def _fuzzy(key_a: NameKey, key_b: NameKey) -> tuple[float, list[str]]:
    a, b = key_a.parts, key_b.parts
    pairs = sorted(
        _candidate_pairs(key_a, key_b),
        key=lambda p: (p.similarity, len(p.left) + len(p.right) == 2),
        reverse=True,
    )
    used_a: set[int] = set()
    used_b: set[int] = set()
    matched = cost = 0.0
    notes: list[str] = []
    for pair in pairs:
        if used_a.intersection(pair.left) or used_b.intersection(pair.right):
            continue
        used_a.update(pair.left)
        used_b.update(pair.right)
        weight = sum(a[i].weight for i in pair.left) + sum(b[j].weight for j in pair.right)
        matched += weight * pair.similarity
        cost += weight * (1.0 - pair.similarity)
        if pair.similarity < 1.0 or len(pair.left) + len(pair.right) > 2:
            left = " ".join(a[i].raw for i in pair.left)
            right = " ".join(b[j].raw for j in pair.right)
            notes.append(f"{left}≈{right}")
    for i, idx, flip in _absorb_acronyms(a, b, used_a, used_b):
        short, long = (b, a) if flip else (a, b)
        weight = short[i].weight + sum(long[k].weight for k in idx)
        matched += weight * 0.9
        cost += weight * 0.1
        notes.append(f"{short[i].raw}=initials of {' '.join(long[k].raw for k in idx)}")
    left_over = [
        [t.tier for k, t in enumerate(side) if k not in used]
        for side, used in ((a, used_a), (b, used_b))
    ]
    for mine, theirs in (left_over, left_over[::-1]):
        for tier in mine:
            _, missing, conflict = _WEIGHT[tier]
            cost += conflict if tier in theirs else missing
    total = matched + cost
    if matched <= 0 or total <= 0:
        return 0.0, notes
    return matched / total, notes


_SCRIPT_NAMES = {"Arabic": "Arabic script", "Han": "Chinese characters (pinyin)"}


def _explain(query: NameKey, candidate: NameKey) -> str:
    extras: list[str] = []
    scripts = sorted({*query.scripts, *candidate.scripts})
    if scripts:
        names = (_SCRIPT_NAMES.get(s, s) for s in scripts)
        extras.append("after transliteration from " + ", ".join(names))
    if set(query.legal_forms) != set(candidate.legal_forms):
        forms = sorted(set(query.legal_forms) ^ set(candidate.legal_forms))
        extras.append("legal form ignored (" + ", ".join(forms) + ")")
    return "; ".join(extras)


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def match_names(query: NameKey, candidate: NameKey) -> NameMatch | None:
    """Score two names; None when they are too far apart to be worth a look."""
    if not query.parts or not candidate.parts:
        return None
    context = _explain(query, candidate)
    if query.normalized == candidate.normalized:
        return NameMatch(1.0, "exact", _join("same name", context))
    if sorted(query.tokens) == sorted(candidate.tokens):
        return NameMatch(_SCORE_REORDERED, "reordered", _join("same words, other order", context))
    for short, long in ((query, candidate), (candidate, query)):
        letters = short.acronym_letters
        if (
            letters
            and not long.acronym_letters
            and all(_fold_acronym(p.raw) != letters for p in long.parts)
            and _acronym_matches(letters, long.parts)
        ):
            return NameMatch(
                _SCORE_ACRONYM,
                "acronym",
                _join(f"'{short.original}' abbreviates '{long.original}'", context),
            )
    score, notes = _fuzzy(query, candidate)
    score = min(score, _SCORE_CAP_FUZZY)
    if score < MATCH_FLOOR:
        return None
    detail = f"fuzzy {score:.2f}"
    if notes:
        detail += " (" + ", ".join(notes[:4]) + ")"
    return NameMatch(round(score, 4), "fuzzy", _join(detail, context))


def match_with_aliases(
    query: NameKey, name: NameKey, aliases: Iterable[NameKey] = ()
) -> NameMatch | None:
    """Best match against a party's name or any alias listed with it; alias hits say so."""
    best = match_names(query, name)
    for alias in aliases:
        found = match_names(query, alias)
        if found is not None and (best is None or found.score > best.score):
            detail = f"listed alias '{alias.original}': {found.how}, {found.detail}"
            best = NameMatch(found.score, "alias", detail)
    return best


__all__ = [
    "DEFAULT_THRESHOLD",
    "MATCH_FLOOR",
    "NameKey",
    "NameMatch",
    "NameToken",
    "PlainKey",
    "PlainToken",
    "Tier",
    "index_tokens",
    "match_names",
    "match_with_aliases",
    "name_key",
    "query_tokens",
]
