"""Personal data out of free text before the exchange log keeps it, as typed placeholders.

`redact` replaces e-mail addresses, phone numbers, card numbers, IBANs, postcodes, street
addresses and names with "[email]", "[phone]", "[card]", "[iban]", "[postcode]", "[address]"
and "[name]". It is rules only: the project's spaCy pipeline is a blank English tokenizer with
an EntityRuler for the brand's own entities and no NER model (`bot/ops/spacy_pipeline.py`), so
a name is found only after a phrase that introduces one ("my name is", "I'm", "this is",
"name:", "call me") or in a sign-off ("Thanks, Anna", "Regards,\nJohn Smith"), and only as
capitalised words that are not common English words. A name typed in lower case or with no
such phrase stays as it is.

Numbers: 13-19 digits (spaces or dashes between) that pass the Luhn check are a card; 8-15
digits are a phone (E.164 allows at most 15), so a bare 10-digit tracking number or a numeric
id is redacted as a phone too; 16-19 digits that fail the Luhn check, written plain or like a
card ("4111 1111 1111 1112"), are neither and stay: reference numbers look like that, and a
card number that fails its own check is not a usable one. Kept as they are: the brand's order
numbers ("RP-204518"), SKUs ("LO-0001"), dates ("12/03/2025"), money ("€120.50", "120 EUR"),
decimals and numbers of fewer than 8 digits. A number glued to its label by "=", ".", "-" or
"/" ("phone=07700900123", "ref/07700900123") counts when it starts with "+" or "0" or has 8
or more digits; card groups may be split by dots ("4111.1111.1111.1111").

Postcodes: UK, Dutch and Canadian by their shape; a 4- or 5-digit one (US ZIP, German, French)
only after "zip"/"postcode"/"postal code", after a US state ("CA 90210") or before a city
("75001 Paris").

Each pattern is bounded or a single greedy character class anchored where a run starts, so the
work stays linear in the text's length (`re` backtracks; nested open repeats would not). The
e-mail shape and E.164 check are `bot.conversation.identity`'s; Telegram's `international_phone`
lives in `channels/`, which `bot/` does not import.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, Optional

from bot.conversation.identity import _EMAIL, normalise_phone  # what verification accepts

Span = tuple[int, int, Optional[str]]  # start, end, placeholder kind (None: keep as it is)
_MASK = "\x00"  # what a found span becomes in the working copy, so later rules skip it
_MAX_DEPTH = 100

# --- kept as they are -----------------------------------------------------------------------
_ORDER_NUMBER = re.compile(r"\b(?i:RP[ ]?[-‐–]?[ ]?(?=[A-Z]{0,11}\d)[A-Z0-9]{3,12})\b")
_SKU = re.compile(r"\b[A-Z]{2}-\d{4}\b")
_DATE = re.compile(r"(?<![\d./-])(?:\d{1,2}[./-]\d{1,2}[./-](?:\d{4}|\d{2})|\d{4}-\d{1,2}-\d{1,2})"
                   r"(?![./-]?\d)")
_MONEY = re.compile(r"[€$£][ ]?\d[\d.,]*"
                    r"|(?<![\w.,])\d[\d.,]*[ ]?(?:[€$£]|(?i:eur|euros?|usd|gbp|dollars?|pounds?)\b)")

# --- numbers: cards and phones --------------------------------------------------------------
_NUMBER_RUN = re.compile(r"(?<![\w+(&%])(?:\(\+|\+\(|[+(])?\d[0-9 ().\-/]*")
_GLUE = frozenset("/.=-")  # "phone=0770…", "tel.0770…": a number glued to its label
_MIN_GLUED_DIGITS = 8
_PIECE = re.compile(r"\S+")
_DIGIT_GROUP = re.compile(r"\d+")
_MAX_WINDOW_PIECES = 20
_CARD_LAYOUT = re.compile(r"\d{4}(?:[ .-]\d{3,6}){2,4}")  # 4-4-4-4, 4-6-5, 4-4-4-4-3
_WIDE_GAP = re.compile(r"\D{4}")  # "12    34": not one number

# --- IBAN -----------------------------------------------------------------------------------
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}[0-9]{2}(?:[ ]?[A-Za-z0-9]){11,30}")

# --- postcodes ------------------------------------------------------------------------------
_UK = r"[A-Z]{1,2}[0-9][A-Z0-9]?[ ]?[0-9][ABD-HJLNP-UW-Z]{2}"
_NL = r"[1-9][0-9]{3}[ ]?[A-Z]{2}"
_CA = r"[ABCEGHJ-NPRSTVXY][0-9][ABCEGHJ-NPRSTV-Z][ ]?[0-9][ABCEGHJ-NPRSTV-Z][0-9]"
_NOT_DUTCH = frozenset({"SA", "SD", "SS", "MB", "GB", "KB", "TB", "ML", "CM", "MM", "KG", "KM",
                        "EU", "UK", "US", "AM", "PM", "OK", "AD", "BC", "HP", "TV", "PC"})
_POSTCODE_AFTER_WORD = re.compile(
    r"\b(?i:zip(?:[ ]?code)?|post(?:al)?[ ]?code|code[ ]postal|postleitzahl)[ \t]*"
    r"(?i:is[ \t]+|[:=#-][ \t]*)?"
    rf"(?P<code>(?i:{_UK}|{_NL}|{_CA})|[0-9]{{5}}(?:-[0-9]{{4}})?|[0-9]{{4}})(?![\w])")
_US_STATES = ("AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE "
              "NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC").split()
_ZIP_AFTER_STATE = re.compile(
    rf"\b(?:{'|'.join(_US_STATES)}),?[ ](?P<code>[0-9]{{5}}(?:-[0-9]{{4}})?)(?![\w-])")
_POSTCODE_BEFORE_CITY = re.compile(
    r"(?<![\w.,-])(?P<code>[0-9]{5})[ ](?=(?P<city>[A-ZÀ-Þ][a-zß-ÿ]{2,30})\b)")
_POSTCODE_SHAPE = re.compile(rf"(?<![\w-])(?:(?P<uk>{_UK})|(?P<nl>{_NL})|(?P<ca>{_CA}))(?![\w-])")

# --- street addresses -----------------------------------------------------------------------
_WORD = r"[A-ZÀ-Þ][a-zß-ÿ'’]+(?:-[A-Za-zÀ-ÿ][a-zß-ÿ'’]+)*"  # "Paix", "Champs-Élysées"
_PARTICLE = r"(?:(?:de|du|des|la|le|les|del|della|dei|di|da|do|dos|das|el|van|der|den|von)[ ]" \
            r"|[ld]['’])"
_ADDRESS_NUMBER_FIRST = re.compile(  # "221B Baker Street", "1600 Pennsylvania Avenue NW"
    r"(?<![\w-])\d{1,5}[A-Za-z]?(?:[-/]\d{1,4}[A-Za-z]?)?,?[ ](?:[A-Z][A-Za-z'’.-]*[ ]){1,4}"
    r"(?i:street|st|road|rd|avenue|ave|lane|ln|way|drive|dr|boulevard|blvd|court|ct|place|pl"
    r"|terrace|crescent|close|square|sq|parkway|pkwy|highway|hwy|row|grove|gardens|mews"
    r"|circle|alley|walk)\b\.?(?:[ ](?:NW|NE|SW|SE|N|S|E|W)\b)?")
_ADDRESS_FRENCH = re.compile(  # "12 rue de la Paix", "5bis avenue des Champs-Élysées"
    r"(?<![\w-])\d{1,5}(?:[ ]?(?:bis|ter)|[A-Za-z])?,?[ ]"
    r"(?i:rue|avenue|av\.|boulevard|bd|place|chemin|allée|allee|impasse|quai)[ ]"
    rf"{_PARTICLE}{{0,3}}{_WORD}(?:[ ]{_WORD}){{0,3}}")
_ADDRESS_NUMBER_AFTER = re.compile(  # "Calle Mayor 5", "Via Roma 10", "Laan van Meerdervoort 10"
    r"(?<![\w-])(?:Calle|Carrer|Avenida|Plaza|Paseo|Via|Viale|Corso|Piazza|Largo|Rua|Travessa"
    r"|Praça|Rue|Avenue|Boulevard|Laan|Straat|Weg)[ ]"
    rf"{_PARTICLE}{{0,3}}{_WORD}(?:[ ]{_PARTICLE}{{0,2}}{_WORD}){{0,3}},?[ ](?:n[º°o.][ ]?)?"
    r"\d{1,5}[A-Za-z]?(?![\w])")
_ADDRESS_COMPOUND = re.compile(  # "Hauptstraße 5", "Berliner Straße 12", "Keizersgracht 123"
    r"(?<![\w-])[A-ZÄÖÜ][a-zäöüß]+(?:-[A-ZÄÖÜ][a-zäöüß]+)*[ -]?"
    r"(?i:straße|strasse|str\.|weg|gasse|platz|allee|damm|straat|laan|gracht|kade|plein|steeg"
    r"|dijk|singel)[ ]?\d{1,4}[a-zA-Z]?(?![\w])")

# --- names ----------------------------------------------------------------------------------
_NAME_INTRO = re.compile(
    r"\b(?i:(?:(?:sur)?name[ ](?:is|'s|’s)|i['’]m|im|i[ ]am|this[ ]is|call[ ]me)\b"
    r"|(?:sur)?name[ \t]*:)[ \t]*")
_SIGN_OFF = re.compile(
    r"\b(?i:many[ ]thanks|thanks[ ]again|thank[ ]you|thanks|thx|cheers|best[ ]wishes"
    r"|(?:kind|best|warm|warmest)[ ]regards|regards|(?:yours[ ])?sincerely"
    r"|yours[ ](?:truly|faithfully))(?![\w])[ \t]*[,!.:-]?[ \t]*(?:\r?\n[ \t]*){0,2}"
    r"|(?:^|(?<=\n))[ \t]*(?i:best|yours),[ \t]*(?:\r?\n[ \t]*){0,2}")
_TITLE = re.compile(r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir)\.?[ ]")
_NAME_TOKEN = re.compile(r"[A-ZÀ-Þ][A-Za-zß-ÿ]*(?:['’-][A-Za-zÀ-ÿ]+)*")
_NAME_GAP = re.compile(r"[ ](?:(?:van|der|den|de|da|di|del|della|von|le|la|du|bin|al|ter|ten)"
                       r"[ ]){0,2}")
_MAX_NAME_WORDS = 4
_COMMON_WORDS = frozenset("""
a about above after again against all almost also although always am an and another any
anybody anyone anything anyway anywhere are around as at back be because been before being
below between both but by can cannot could did do does doing done down during each either
else enough even ever every everybody everyone everything few for from further get gets
getting go goes going gone got had has have having he her here hers herself him himself his
how however i if in into is it its itself just least less like many may me might mine more
most much must my myself neither never no nobody none nor not nothing now of off often on
once one only or other others our ours ourselves out over own per perhaps please quite rather
really same she should since so some somebody someone something sometimes still such than
that the their theirs them themselves then there these they this those though through thus
to too toward towards under until up upon us very was we well were what whatever when where
whether which while who whom whose why will with within without would yet you your yours
yourself yourselves i'm i'll i've i'd it's that's there's what's we're they're you're don't
doesn't didn't can't won't isn't wasn't aren't haven't hasn't couldn't shouldn't wouldn't
let's hi hello hey dear thanks thank cheers regards bye goodbye ok okay yes yeah yep nope sure
sorry welcome morning afternoon evening night today tomorrow yesterday tonight asap actually
honestly basically seriously literally angry annoyed upset furious frustrated disappointed
unhappy happy glad pleased satisfied dissatisfied sad worried concerned confused lost stuck
tired fed sick fine good great bad awful terrible horrible poor excellent amazing awesome
perfect lovely nice cool afraid scared certain unsure serious finished ready busy available
late early new old home away interested curious grateful thankful impressed shocked
surprised stunned appalled outraged livid gutted delighted thrilled excited hopeful patient
impatient desperate calling writing waiting asking wondering looking trying hoping extremely
totally completely absolutely pretty unable able wrong right correct incorrect missing broken
damaged faulty defective cracked scratched dented delayed stolen empty full cheap expensive
ridiculous unacceptable outrageous absurd insane crazy useless pointless frustrating annoying
disgusting disgraceful shameful embarrassing confusing strange weird odd urgent important
simple easy hard difficult impossible possible real true false fake different whole half
first second third last next final main best better worse worst several various order
orders customer client account package parcel delivery shipment refund return returns
exchange replacement complaint issue problem question help support service team agent
manager bot assistant human person product item items price payment invoice receipt card
bank email mail phone number address postcode name message chat website site app store shop
warranty guarantee courier driver box cast iron skillet copper saucepan set nonstick frying
pan dutch oven stainless stockpot chef chef's knife santoku bread block arc floor lamp brass
desk rattan pendant light linen table duvet cover percale sheet wool throw pillow electric
kettle espresso machine stand mixer toaster slice hand blender stoneware dinner wine glasses
glass oak chopping board ceramic mug serving bowl side walnut bookshelf velvet cushion rug
english british american german french spanish italian belgian european canadian irish
scottish welsh australian monday tuesday wednesday thursday friday saturday sunday january
february march april june july august september october november december god mate
guys folks buddy all everyone
""".split())

Finder = Callable[[str], Iterator[Span]]


def redact(text: str) -> str:
    """`text` with personal data replaced by typed placeholders ("[email]", "[phone]", ...)."""
    if not isinstance(text, str):
        raise TypeError(f"redact() takes a str, not {type(text).__name__}")
    masked, found = text, []
    for finder in _FINDERS:
        spans = [span for span in finder(masked) if span[0] < span[1]]
        if spans:
            masked = _mask(masked, spans)
            found += spans
    pieces, position = [], 0
    for start, end, kind in sorted(found):
        if kind is not None:
            pieces += [text[position:start], f"[{kind}]"]
            position = end
    return "".join(pieces) + text[position:]


def redact_value(value: Any) -> Any:
    """`value` with every string in it redacted: dict values, list, tuple and set items.

    A number that reads as a phone or card once written out (an entity value such as
    4111111111111111) comes back as the redacted string ("[card]"); other numbers stay.
    """
    return _redact_value(value, set(), 0)


def _redact_value(value: Any, open_containers: set[int], depth: int) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _redact_number(value)
    if not isinstance(value, (dict, list, tuple, set, frozenset)):
        return value
    if id(value) in open_containers:
        raise ValueError("redact_value: the value contains itself")
    if depth >= _MAX_DEPTH:
        raise ValueError(f"redact_value: nested deeper than {_MAX_DEPTH} levels")
    open_containers.add(id(value))
    try:
        if isinstance(value, dict):
            return {key: _redact_value(item, open_containers, depth + 1)
                    for key, item in value.items()}
        items = [_redact_value(item, open_containers, depth + 1) for item in value]
        return items if isinstance(value, list) else type(value)(items)
    finally:
        open_containers.discard(id(value))


def _redact_number(value: int | float) -> int | float | str:
    integral = isinstance(value, int) or (value == value and abs(value) < 1e19
                                          and float(value).is_integer())
    written = str(int(value)) if integral else str(value)
    redacted = redact(written)
    return value if redacted == written else redacted


def _mask(text: str, spans: list[Span]) -> str:
    pieces, position = [], 0
    for start, end, _ in sorted(spans):
        pieces += [text[position:start], _MASK * (end - start)]
        position = end
    return "".join(pieces) + text[position:]


def _every(pattern: re.Pattern[str], kind: Optional[str], group: int | str = 0) -> Finder:
    def find(text: str) -> Iterator[Span]:
        for match in pattern.finditer(text):
            yield match.start(group), match.end(group), kind
    return find


def _ibans(text: str) -> Iterator[Span]:
    for match in _IBAN.finditer(text):
        candidate = match.group()
        glued = match.end() < len(text) and text[match.end()].isalnum()
        ends = [len(candidate)] if not glued else []
        ends += [i for i in range(len(candidate) - 1, 14, -1) if candidate[i] == " "]
        for end in ends:
            compact = candidate[:end].replace(" ", "").upper()
            if 15 <= len(compact) <= 34 and _mod97_valid(compact):
                yield match.start(), match.start() + end, "iban"
                break


def _mod97_valid(iban: str) -> bool:
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def _postcodes_before_city(text: str) -> Iterator[Span]:
    for match in _POSTCODE_BEFORE_CITY.finditer(text):
        if match.group("city").lower() not in _COMMON_WORDS:
            yield match.start("code"), match.end("code"), "postcode"


def _postcode_shapes(text: str) -> Iterator[Span]:
    for match in _POSTCODE_SHAPE.finditer(text):
        if match.group("nl") and match.group("nl")[-2:] in _NOT_DUTCH:
            continue
        yield match.start(), match.end(), "postcode"


def _numbers(text: str) -> Iterator[Span]:
    """Cards and phones in each run of digits and separators; other numbers stay."""
    for run in _NUMBER_RUN.finditer(text):
        if run.start() and text[run.start() - 1] in _GLUE and not _may_be_glued(run.group()):
            continue  # "v-1.2", "page/12": a short number after punctuation is not personal
        whole = _number_at(text, run.start(), run.end())
        if whole is not None:
            yield whole
            continue
        offset = run.start()
        for segment in run.group().split("/"):  # "(020) 7946-0958 / 06 12 34 56 78"
            found = _number_at(text, offset, offset + len(segment))
            if found:
                yield found
            elif not _CARD_LAYOUT.fullmatch(segment.strip()):  # "4111 1111 1111 1112" stays
                yield from _numbers_in_pieces(text, offset, segment)
            offset += len(segment) + 1


def _may_be_glued(run: str) -> bool:
    """Whether a run written right after "/", ".", "=" or "-" may be a phone or card."""
    return (run.lstrip("(")[:1] in ("+", "0")
            or sum(ch.isdigit() for ch in run) >= _MIN_GLUED_DIGITS)


def _numbers_in_pieces(text: str, offset: int, segment: str) -> Iterator[Span]:
    """Numbers side by side ("0612345678 0687654321"): the shortest window of 10+ digits."""
    pieces = [(offset + m.start(), offset + m.end(), sum(ch.isdigit() for ch in m.group()))
              for m in _PIECE.finditer(segment)]
    first = 0
    while first < len(pieces):
        chosen, digits, single_digits = None, 0, 0
        for last in range(first, min(first + _MAX_WINDOW_PIECES, len(pieces))):
            digits += pieces[last][2]
            single_digits += pieces[last][2] == 1
            if digits > 19 or single_digits >= 3:  # longer windows cannot be numbers either
                break
            if digits < 8:
                continue
            found = _number_at(text, pieces[first][0], pieces[last][1])
            if found is not None:
                chosen = (found, last)
                if digits >= 10:
                    break
        if chosen is None:
            first += 1
        else:
            yield chosen[0]
            first = chosen[1] + 1


def _number_at(text: str, start: int, end: int) -> Optional[Span]:
    candidate = text[start:end]
    stripped = candidate.lstrip(" -./")
    start += len(candidate) - len(stripped)
    candidate = stripped.rstrip(" -./(")
    while candidate.endswith(")") and candidate.count(")") > candidate.count("("):
        candidate = candidate[:-1].rstrip(" -./(")
    if candidate.startswith("(") and (candidate.endswith(")") and candidate.count("(") == 1
                                      or candidate.count("(") > candidate.count(")")):
        candidate, start = candidate[1:], start + 1
        candidate = candidate[:-1] if candidate.endswith(")") else candidate
    end = start + len(candidate)
    if not candidate or (end < len(text) and text[end].isalnum()):
        return None
    kind = _number_kind(candidate)
    return (start, end, kind) if kind else None


def _number_kind(candidate: str) -> Optional[str]:
    groups = _DIGIT_GROUP.findall(candidate)
    digits = "".join(groups)
    separators = set(candidate) - set("0123456789")
    if len(digits) < 8 or _WIDE_GAP.search(candidate):
        return None
    card_layout = separators <= {" ", "-"} or (separators == {"."}
                                               and _CARD_LAYOUT.fullmatch(candidate))
    if (13 <= len(digits) <= 19 and candidate[0] in "123456789" and card_layout
            and _luhn_valid(digits)):
        return "card"
    if len(digits) > 15 or sum(len(group) == 1 for group in groups) >= 3:
        return None
    if len(groups) > 1 and all(len(g) == 4 and g[:2] in ("19", "20") for g in groups):
        return None  # "2023 2024": years
    if separators == {"."} and (len(groups) == 2 or all(len(g) == 3 for g in groups[1:])):
        return None  # "3.14159265", "12.345.678": decimals and thousands
    if "+" in candidate:
        return "phone" if normalise_phone("+" + candidate.lstrip("(+")) else None
    return "phone"


def _luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _name_candidates(text: str) -> Iterator[Span]:
    for pattern in (_NAME_INTRO, _SIGN_OFF):
        for match in pattern.finditer(text):
            position = match.end()
            title = _TITLE.match(text, position)
            span = _name_at(text, title.end() if title else position)
            if span is not None:
                yield span


def _name_at(text: str, start: int) -> Optional[Span]:
    """The capitalised, uncommon words from `start` ("Anna van der Berg"), or None."""
    token = _NAME_TOKEN.match(text, start)
    if token is None or not _is_name_word(token.group()) or (
            token.group().lower().endswith("ing") and len(token.group()) > 5):
        return None  # "I'm Waiting"
    end = token.end()
    for _ in range(_MAX_NAME_WORDS - 1):
        gap = _NAME_GAP.match(text, end)
        token = _NAME_TOKEN.match(text, gap.end()) if gap else None
        if token is None or not _is_name_word(token.group()):
            break
        end = token.end()
    return start, end, "name"


def _is_name_word(word: str) -> bool:
    return (len(word) >= 2 and any(ch.islower() for ch in word)
            and word.lower().replace("’", "'") not in _COMMON_WORDS)


def _names(text: str) -> Iterator[Span]:
    """Names from both rules (introduction, sign-off), each word in one span at most."""
    last_end = -1
    for start, end, kind in sorted(_name_candidates(text)):
        if start >= last_end:
            yield start, end, kind
            last_end = end


_FINDERS: tuple[Finder, ...] = (
    _every(_EMAIL, "email"),
    _every(_ORDER_NUMBER, None), _every(_SKU, None), _every(_DATE, None), _every(_MONEY, None),
    _ibans,
    _every(_POSTCODE_AFTER_WORD, "postcode", "code"),
    _every(_ZIP_AFTER_STATE, "postcode", "code"),
    _postcodes_before_city,
    _postcode_shapes,
    _numbers,
    _every(_ADDRESS_NUMBER_FIRST, "address"),
    _every(_ADDRESS_FRENCH, "address"),
    _every(_ADDRESS_NUMBER_AFTER, "address"),
    _every(_ADDRESS_COMPOUND, "address"),
    _names,
)
