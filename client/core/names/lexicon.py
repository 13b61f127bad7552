"""The words of party names and what they are worth: legal forms, organisation words
across languages, places, and the phonetic skeleton that absorbs romanisation schemes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache


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
WEIGHT: dict[int, tuple[float, float, float]] = {
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
COMPASS_INITIALS = {"northwest": "nw", "northeast": "ne", "southwest": "sw", "southeast": "se"}


# Compounds that stand for several words.
EXPANSIONS = {
    "goskorporatsiya": ("state", "company"),
    "goskorporatsii": ("state", "company"),
}


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# "named after": what follows is the person the body is named after.
HONORIFIC_MARKERS = frozenset({"im", "imeni", "named", "after"})


# Connectives, articles and ezafe, in the languages entity names come in.
STOP_WORDS = HONORIFIC_MARKERS | _word_set(
    "and of the for de des du d la le l et en y e i ve va wa und der die "
    "das di del della al el ol ul ash as ad li lil ye o"
)


# Han words used only to cut a run of characters into words; the pinyin comes from anyascii.
HAN_WORDS = _word_set(
    "中国 中华 有限 责任 公司 股份 集团 科技 技术 电子 大学 学院 研究所 研究院 "
    "工业 产业 信息 航天 航空 通讯 通信 制造 国际 贸易 进出口 数字 工程 总公司 "
    "北京 上海 深圳 杭州 浙江 南京 哈尔滨 西安 天津 香港 武汉 成都 广州 "
    "解放军 人民 国防 物理 兵器 集成电路 创新"
)


HAN_DROP = frozenset("市省")  # "city", "province" after a place name


# Arabic-script words whose romanisation anyascii cannot give (no short vowels): mapped to the
# usual Latin spelling, which the lexicon then canonicalises. Keys in normalised letters.
ABJAD_WORDS = {
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


ABJAD_LETTERS = str.maketrans(
    {"ي": "ی", "ى": "ی", "ئ": "ی", "ك": "ک", "ة": "ه", "أ": "ا", "إ": "ا", "آ": "ا", "ؤ": "و"}
)


ABJAD_PREFIXES = ("وال", "بال", "فال", "كال", "کال", "لل", "ال")


# Consonant classes of the skeleton, letter by letter. Long vowels and alef carry no consonant;
# ض ظ ذ are d in Arabic romanisations but z in Persian ones ("D" tries both).
ABJAD_SOUNDS = {
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
LATIN_FOLD = str.maketrans(
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
DOTTED_ABBREVIATION = re.compile(r"(?<!\w)[^\W\d_](?:\.[^\W\d_])+\.?(?!\w)")


GREEK_DIPHTHONG = re.compile("(?<=[αεηάέή])[υύ]")


ELISION = re.compile(r"(?<!\w)(d|l|j|qu)['’]", re.IGNORECASE)


WORD = re.compile(r"[^\W_]+(?:['’`ʹʺ][^\W_]+)*")


APOSTROPHES = re.compile("['’`ʹʺ]")


ADJECTIVE_ENDINGS = ("skaia", "skoe", "skogo", "skie", "ski", "aia", "oe", "ogo", "i")


@lru_cache(maxsize=1 << 15)
def phonetic_skeleton(word: str) -> str:
    for pattern, repl in _SKELETON_STEPS:
        word = pattern.sub(repl, word)
    return word


_DOUBLED = re.compile(r"(.)\1+")


@lru_cache(maxsize=1 << 17)
def consonant_skeleton(skeleton: str) -> str:
    return _DOUBLED.sub(r"\1", _VOWELS.sub("", skeleton))


@dataclass(frozen=True)
class LexiconEntry:
    canonical: str
    tier: Tier


def _build_lexicon() -> tuple[dict[tuple[str, ...], LexiconEntry], int]:
    lexicon: dict[tuple[str, ...], LexiconEntry] = {}

    def add(phrase: str, entry: LexiconEntry) -> None:
        words = [w for w in re.split(r"[\s-]+", phrase) if w]
        kept = [w for w in words if w not in STOP_WORDS] or words
        lexicon.setdefault(tuple(phonetic_skeleton(w) for w in kept), entry)

    legal = LexiconEntry("", Tier.KIND)  # canonical "" marks a legal form: dropped from the name
    for word in _LEGAL_WORDS.split():
        add(word, legal)
    for phrase in _LEGAL_PHRASES:
        add(phrase, legal)
    for canonical, tier, spellings in _LEXICON_SOURCE:
        for spelling in spellings.split(","):
            spelling = spelling.strip()
            add(spelling, LexiconEntry(canonical or spelling, tier))
    longest = max(len(k) for k in lexicon)
    return lexicon, longest


LEXICON, LONGEST_PHRASE = _build_lexicon()


# First words of the lexicon's phrases: a name's word that starts none is looked up alone.
PHRASE_HEADS = frozenset(k[0] for k in LEXICON if len(k) > 1)


# Russian compound names end in shared stems ("Tula|mashzavod", "Ural|mashzavod"): when both
# names end in the same ones, the words are compared on what precedes them.
COMPOUND_ENDINGS = tuple(
    phonetic_skeleton(w)
    for w in _word_set("zavod mash prom neft gaz energo eksport stroy khim flot bank")
)
