"""What a customer's message says beyond its NLU intent, so replies can be read in context.

The intent says what a message is mostly about; the dialogue layer also needs to know whether
"no, that's not acceptable" declines the offer on the table, whether someone got hurt, when to
call back, or that "why do you need my email??" is a question about the process. `read_message`
answers those with regexes and word lists: deterministic, no model, no I/O.

Precision over recall: each field drives what the bot does, so a reading fires on the usual
wording and stays quiet on look-alikes ("no idea what my order number is" is not a "no",
"burnt toast setting" is not a burn, "leave it with the neighbour" is not a stop).
Only the first `MAX_CHARS` characters are read and every pattern uses bounded repetition only,
so a reading costs time linear in the (capped) message length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Optional

from bot.complaints.severity import PUBLIC_SIGNALS, detect_escalation_signals
from bot.conversation.feedback import parse_rating

MAX_CHARS = 2000

HAZARDS = ("electrical", "fire", "burn", "cut", "injury")
REMEDIES = ("refund", "replacement", "voucher", "callback")
PROCESS_QUESTIONS = ("why_contact", "what_needed", "what_next", "order_number_help")
OTHER_NEEDS = ("returns", "delivery_times", "refund_timing", "order_status", "complaint")


@dataclass(frozen=True)
class Reading:
    """One customer message, read beyond its intent; the caller decides what matters in context.

    Fields are independent: "no, I want a refund" both declines and wants a refund, "yes but the
    handle is broken too" affirms and the caller keeps the detail.
    """

    hazard: Optional[str] = None  # one of HAZARDS; someone hurt (burn, cut, injury) outranks
    # a product hazard (electrical, fire): "it sparked and burnt my hand" is "burn"
    declines: bool = False  # "no", "not good enough", "I don't want a voucher"
    wants_remedy: Optional[str] = None  # one of REMEDIES: the first one asked for, not negated
    affirms: bool = False  # "yes", "ok do it", "sounds good"
    callback_time: Optional[str] = None  # "tomorrow morning", "Friday after 5pm", "at 14:30";
    # only when the message asks for a call or is nothing but a time
    phone: Optional[str] = None  # as typed: "+31 6 1234 5678"
    rating: Optional[int] = None  # 1-5, only when the message is a rating ("a solid 4")
    stop: bool = False  # abandon the current task: "forget it", "I don't want to give my email"
    start_over: bool = False  # "start over", "from the beginning"
    process_question: Optional[str] = None  # one of PROCESS_QUESTIONS
    closing: bool = False  # "that's all", "thx bye"
    public_threat: bool = False  # social media, reviews, press or legal (bot/complaints/severity.py's signals)
    strong_anger: bool = False  # shouting, profanity, "furious", "never again"
    other_needs: tuple[str, ...] = ()  # needs of OTHER_NEEDS named, in that order: all of them
    # when two or more are named; a lone "order_status" or "complaint" is the message's own need
    # (its intent) and is left out. The caller drops one its intent already covers.


# --- preparing the text --------------------------------------------------------------------------

_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"',
                         "\u00b4": "'", "`": "'", "\u00a0": " "})
_REPEATED_LETTERS = re.compile(r"([a-z])\1{2,}")  # "nooo" -> "no", "yesss" -> "yes"
_SPACES = re.compile(r"[ \t]+")
_TOKEN = re.compile(r"[a-z0-9']+")
_SPELLINGS = {
    "dont": "don't", "doesnt": "doesn't", "didnt": "didn't", "cant": "can't", "wont": "won't",
    "wouldnt": "wouldn't", "couldnt": "couldn't", "shouldnt": "shouldn't", "isnt": "isn't",
    "wasnt": "wasn't", "arent": "aren't", "werent": "weren't", "havent": "haven't",
    "hasnt": "hasn't", "hadnt": "hadn't", "thats": "that's", "whats": "what's",
    "wheres": "where's", "theres": "there's", "im": "i'm", "ive": "i've", "youre": "you're",
    "lets": "let's", "hows": "how's", "thatll": "that'll", "itll": "it'll", "id've": "i'd've",
    "u": "you", "ur": "your", "r": "are", "pls": "please", "plz": "please", "plse": "please",
    "pleas": "please", "thx": "thanks", "thnx": "thanks", "thanx": "thanks", "thnks": "thanks",
    "thks": "thanks", "ty": "thanks", "tx": "thanks", "thankyou": "thanks", "thank-you": "thanks",
    "nvm": "never mind", "nevermind": "never mind", "tmrw": "tomorrow", "tmr": "tomorrow",
    "tmw": "tomorrow", "tmrow": "tomorrow", "tomoz": "tomorrow", "2moro": "tomorrow",
    "2morrow": "tomorrow", "2mrw": "tomorrow", "tommorow": "tomorrow", "tomorow": "tomorrow",
    "tommorrow": "tomorrow", "tomorrw": "tomorrow", "tonite": "tonight", "2nite": "tonight",
    "2day": "today", "arvo": "afternoon", "okay": "ok", "okey": "ok", "okie": "ok", "oki": "ok",
    "k": "ok", "kk": "ok", "ye": "yeah", "yea": "yeah", "yeh": "yeah", "yh": "yeah", "ya": "yeah",
    "yah": "yeah", "yep": "yeah", "yup": "yeah", "yas": "yes", "yus": "yes", "nah": "no",
    "naw": "no", "nope": "no", "nop": "no", "wanna": "want to", "gonna": "going to",
    "gimme": "give me", "cos": "because", "coz": "because", "cuz": "because", "abt": "about",
    "ppl": "people", "msg": "message", "asap": "as soon as possible", "b4": "before",
    "l8r": "later", "aft": "afternoon", "mins": "minutes", "hrs": "hours",
    "info": "information", "yess": "yes", "noo": "no", "e-mail": "email", "tho": "though",
    "rly": "really",
    # common misspellings of the words the readings look for
    "acceptible": "acceptable", "acceptabel": "acceptable", "accetable": "acceptable",
    "unacceptible": "unacceptable", "unnacceptable": "unacceptable", "vocher": "voucher",
    "vouher": "voucher", "voutcher": "voucher", "vouchure": "voucher", "mornin": "morning",
    "moring": "morning", "mornign": "morning", "evenin": "evening", "afternon": "afternoon",
    "bak": "back", "refnd": "refund", "refud": "refund", "refumd": "refund", "refunf": "refund",
    "mony": "money", "moeny": "money", "wat": "what", "wot": "what", "replacment": "replacement",
    "replacemnt": "replacement", "replacemet": "replacement", "recieve": "receive",
    "recieved": "received", "adress": "address", "emial": "email", "ordr": "order",
    "numbr": "number", "definately": "definitely", "defo": "definitely", "rediculous": "ridiculous",
    "ridiculus": "ridiculous", "disgustin": "disgusting", "cancell": "cancel", "nothin": "nothing",
    "someting": "something", "hosptial": "hospital", "hospitol": "hospital", "brun": "burn",
    "brunt": "burnt", "burnd": "burned", "shcok": "shock", "electic": "electric",
}


# Only as a whole message: "n" or "nee" is an answer; inside a sentence it may be anything.
_SINGLE_LETTER_ANSWERS = {"y": "yes", "n": "no", "ja": "yes", "oui": "yes", "si": "yes",
                          "nee": "no", "nein": "no", "non": "no"}


@dataclass(frozen=True)
class _Text:
    raw: str  # capped, quotes straightened, case kept (for shouting and phone numbers)
    low: str  # lower case, spellings normalised, one space between words

    def has(self, pattern: re.Pattern[str]) -> bool:
        return pattern.search(self.low) is not None


def _prepare(text: str) -> _Text:
    raw = (text or "")[:MAX_CHARS].translate(_QUOTES)
    low = _REPEATED_LETTERS.sub(r"\1", raw.lower())
    low = _TOKEN.sub(lambda match: _SPELLINGS.get(match.group(), match.group()), low)
    low = _SPACES.sub(" ", low).strip()
    return _Text(raw, _SINGLE_LETTER_ANSWERS.get(low.rstrip(".!"), low))


def _any(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{pattern})" for pattern in patterns))


def _before(text: str, start: int, width: int = 40) -> str:
    return text[max(0, start - width):start]


_OPENERS = (r"(?:(?:oh|well|um|erm|uh|ah|hmm|so|er|hi|hey|hello|ollie|lol|haha|ugh|look|sorry|"
            r"honestly|tbh|thanks|thanks but|ok)[\s,.!-]+)*")

# A word that negates what follows within three words ("don't want a voucher",
# "not asking for a refund"). A comma or full stop ends its reach.
_NEGATED = re.compile(
    r"\b(?:don't|do not|didn't|did not|doesn't|does not|won't|will not|wouldn't|would not|never|"
    r"can't|cannot|can not|no need for|not|no|without|instead of|rather than|"
    r"other than)\s+(?:[\w'-]+\s+){0,3}$")
_NOT_A_NEGATION = re.compile(r"(?:\bwhy\s+|\b(?:can|could|would|will)\s+(?:i|you|we|someone)\s+)$")


def _negated(text: str, start: int) -> bool:
    """Whether the words just before `start` negate it ("why can't I ..." does not)."""
    window = _before(text, start, 45)
    match = _NEGATED.search(window)
    return match is not None and not _NOT_A_NEGATION.search(window[:match.start()])


# --- hazards -------------------------------------------------------------------------------------

_BODY = (r"(?:hands?|fingers?|thumbs?|arms?|legs?|face|skin|wrists?|palms?|feet|foot|toes?|chest|"
         r"lips?|mouth|tongue|knees?|shins?|ankles?|head|eyes?|neck|back|shoulders?|stomach|belly|"
         r"tummy|forearms?|knuckles?|nails?|body|paws?)")
_KIN = (r"(?:son|sons|daughters?|child|children|kids?|baby|babies|toddler|boy|girl|husband|wife|"
        r"partner|mum|mom|mother|dad|father|friend|gran|grandma|nan|grandad|grandmother|"
        r"grandfather|sister|brother|neighbou?r|dog|cat|puppy|kitten|cleaner|flatmate|housemate|"
        r"guest|fianc[eé]e?|boyfriend|girlfriend|grandson|granddaughter|niece|nephew)")
_OWNER = r"(?:my|our|his|her|their|your|the|a)"
_BODY_OWNER = r"(?:my|our|his|her|their|your)"
_SIDE = (r"(?:(?:left|right|little|whole|poor|own|upper|lower|index|middle|ring|big|bare|tiny|"
         r"baby's|son's|daughter's|child's|kid's) ){0,2}")
_HARMED = (rf"(?:(?:the (?:back|palm|side|top|tip|inside) of )?{_BODY_OWNER} {_SIDE}{_BODY}\b|"
           rf"(?:myself|himself|herself|themselves|ourselves|yourself|someone|somebody|anyone|"
           rf"anybody)\b|{_OWNER} (?:[\w-]+ ){{0,3}}?{_KIN}\b)")
_SUBJECT = (rf"(?:\bi|\bhe|\bshe|\bwe|\bthey|\bsomeone|\bsomebody|\b(?:my|our|his|her|their|"
            rf"the) (?:[\w-]+ ){{0,3}}?{_KIN})")
_BECAME = (r"(?:got|gets|get|getting|was|were|been|is|are|has been|have been|had been|ended up|'s|"
           r"could have been|could've been|nearly|almost)")
_HOW = r"(?:(?:badly|really|quite|seriously|severely|slightly|a bit|nastily|very|so) )?"


def _harm(verbs: str) -> str:
    """`verbs` done to a person or a body part, or a person who got `verbs`."""
    return (rf"\b(?:{verbs})\b (?:open )?{_HARMED}|"
            rf"{_SUBJECT} (?:[\w'-]+ ){{0,2}}?{_BECAME} {_HOW}(?:{verbs})\b(?! off| out| up)")


_WHOSE_BODY = rf"(?:(?:{_BODY_OWNER}|[a-z]+'s) {_SIDE}{_BODY})"
_IS = (r"(?:is|was|got|has been|have been|are|were|'s|'re) (?:badly |really |quite |a bit |very |"
       r"all )?")
_DEVICE = (r"(?:machine|kettle|toaster|lamp|light|appliance|cable|cord|wire|socket|plug|handle|"
           r"dishwasher|fridge|iron|heater|mixer|blender|fryer|grinder|hob|oven|microwave|fan|"
           r"charger|switch|base|metal|casing)")
_HAZARD_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("burn", _any(
        rf"\b{_WHOSE_BODY} {_IS}(?:burn(?:ed|t)|scalded|blistered)\b",
        _harm(r"burn(?:ed|t|s)?|scald(?:ed|s)?"),
        rf"\bburns? (?:on|to|all over) {_BODY_OWNER} {_SIDE}{_BODY}\b",
        r"\b(?:first|second|third|1st|2nd|3rd)[ -]degree burns?\b",
        r"\b(?:has|have|had|got|suffered|suffering|with) (?:a |some )?(?:nasty |bad |painful |"
        r"serious |severe |horrible )?burns?\b(?! marks?)",
        rf"\b(?:boiling|hot|scalding) (?:water|oil|tea|coffee|liquid|steam|soup|"
        rf"milk)\b[^.!?\n]{{0,40}}\b(?:over|on|onto|into|down) {_HARMED}",
        rf"\bscalding (?:\w+ )?(?:on|over) {_HARMED}",
    )),
    ("cut", _any(
        rf"\b{_WHOSE_BODY} {_IS}(?:cut|bleeding|sliced)\b(?! off)",
        rf"\b(?:cut|cuts|sliced|slashed|gashed|nicked|"
        rf"sliced open) (?:open )?(?:{_BODY_OWNER} {_SIDE}{_BODY}\b|(?:myself|himself|herself|"
        rf"themselves|ourselves|yourself)\b|{_OWNER} (?:[\w-]+ ){{0,3}}?{_KIN}\b(?! off))",
        rf"{_SUBJECT} (?:[\w'-]+ ){{0,2}}?{_BECAME} {_HOW}(?:cut|sliced|gashed)\b(?! off| out| up)",
        r"\bbleed(?:ing|s)?\b(?! (?:the |a |my |your )?(?:radiators?|keys?|valves?|brakes?))|"
        r"\bbled\b",
        r"\bblood\b(?! (?:orange|red))",
        r"\b(?:needed|need|needs|needing|getting|got|get|had) (?:\d+ |a few |some |several |two |"
        r"three |four |five |six |ten )?stitches\b(?! (?:loose|coming|undone|missing|came))",
        rf"\bcuts? (?:on|to|all over) {_BODY_OWNER} {_SIDE}{_BODY}\b",
        r"\b(?:deep|nasty|bad|serious|painful) cuts?\b(?! (?:in|into|on) (?:the|it))",
        rf"\b(?:glass|shards?|splinters?)\b[^.!?\n]{{0,20}}\b(?:in|into|"
        rf"stuck in) {_OWNER} {_SIDE}{_BODY}\b",
    )),
    ("injury", _any(
        rf"\b{_WHOSE_BODY} (?:hurts|is hurting|was hurting|{_IS}(?:injured|bruised|swollen|broken|"
        rf"fractured|crushed|trapped))\b",
        r"\binjur(?:y|ies|ed|es|ing)\b",
        rf"\bhurt(?:s|ing)? (?:{_BODY_OWNER} {_SIDE}{_BODY}\b|(?:myself|himself|herself|themselves|"
        rf"ourselves|yourself|someone|somebody|anyone|a child)\b|"
        rf"{_OWNER} (?:[\w-]+ ){{0,3}}?{_KIN}\b)",
        rf"{_SUBJECT} (?:[\w'-]+ ){{0,2}}?{_BECAME} {_HOW}(?:hurt|injured|bruised|concussed)\b",
        r"\b(?:could|would|might|nearly|almost)(?: have|'ve| of)? (?:\w+ )?(?:hurt|injured|killed|"
        r"maimed) (?:someone|somebody|anyone|a child|a kid|my|him|her|us|them|me)\b",
        r"\b(?:to|in|into) (?:the )?hospital\b|\bhospitali[sz]ed\b|(?<!\w)a ?& ?e(?!\w)",
        r"\ba and e\b|\bemergency (?:room|department)\b|\bambulance\b|\bparamedics?\b",
        r"\b(?:see|saw|seen|seeing|go to|went to|gone to|visit|visited|call|called) (?:a |the |my |"
        r"our |his |her )?(?:doctor|doctors|gp|dr)\b",
        r"\b(?:broke|broken|fractured|sprained|crushed|trapped|bruised) (?:my|his|her|their|our) "
        rf"{_SIDE}(?:arm|arms|leg|legs|wrist|toe|toes|finger|fingers|nose|foot|ankle|"
        r"ribs?|collarbone|tooth|teeth|bone|hand|thumb)\b",
        rf"\b(?:hit|struck|smacked|whacked|trapped|crushed|pinned|landed on|"
        rf"fell on) (?:{_OWNER} (?:[\w-]+ ){{0,3}}?{_KIN}\b|(?:me|him|her|us|them) (?:in|"
        rf"on) the {_BODY}\b)",
        r"\bconcuss(?:ed|ion)\b|\bchok(?:ed|ing) (?:on|hazard)\b",
        rf"\b(?:fell|landed|collapsed|dropped|toppled|tipped) (?:over )?(?:on|"
        rf"onto) (?:{_BODY_OWNER} {_SIDE}{_BODY}|{_OWNER} (?:[\w-]+ ){{0,3}}?{_KIN}|me|him|her|us|"
        rf"them)\b",
    )),
    ("electrical", _any(
        r"\bspark(?:s|ed|ing|y)?\b(?! plugs?)",
        r"\belectric(?:al)? ?shocks?\b|\belectrocut\w*|\belectrified\b",
        r"\bshock(?:s|ed)? (?:me |him |her |us )?(?:off|from) (?:the|it|my|this|that|a|an|your)\b",
        r"\b(?:got|get|gets|getting|gave|given|give|gives|giving|had|felt|received|took)\b (?:me |"
        r"him |her |us |them |my [\w-]+ )?(?:a |an |"
        r"another )?(?:\w+ )?shocks?\b[^.!?\n]{0,40}\b(?:touch\w*|plug\w*|switch\w*|"
        r"turn\w* (?:it )?on|unplug\w*|socket|outlet|machine|kettle|toaster|lamp|appliance|cable|"
        r"cord|wire|metal|handle|button)",
        rf"\b(?:touch\w*|plug\w*|switch\w*|unplug\w*|{_DEVICE})\b[^.!?\n]{{0,40}}\b(?:got|get|gets|"
        rf"gave|give|gives|had|felt|received) (?:me |him |her |us |them |my [\w-]+ )?(?:a |an |"
        rf"another )?(?:\w+ )?shocks?\b",
        rf"\b{_DEVICE}s? (?:\w+ ){{0,2}}?shocked (?:me|him|her|us|them|my)\b|\bshocked (?:me|him|"
        rf"her|us|them|my [\w-]+) when (?:i|he|she|we|they) (?:touch|plug|switch|turn|unplug|pick)",
        r"\b(?:plug|plugs|socket|sockets|outlet|outlets|cable|cord|wire|wires|wiring|fuse|lead|"
        r"flex|adapter|charger)\b[^.!?\n]{0,30}\b(?:smok\w*|spark\w*|melt\w*|scorch\w*|burn\w*|"
        r"fizz\w*|crackl\w*|flash\w*|caught fire|on fire)",
        r"\b(?:smok\w*|spark\w*|melt\w*|scorch\w*|burn\w*|fizz\w*|"
        r"crackl\w*)\b[^.!?\n]{0,30}\b(?:plug|plugs|socket|sockets|outlet|outlets|cable|cord|wire|"
        r"wires|wiring|fuse|mains)\b",
        r"\b(?:tripped|blew|blown|blow|trips|tripping) (?:the |our |my |all the )?(?:fuses?|"
        r"electrics|breaker|circuit breaker|circuit|power|rcd|trip switch|mains)\b",
        r"\b(?:fuses?|breaker|electrics|rcd|trip switch) (?:blew|blown|tripped|trips|went|"
        r"keeps tripping)\b",
        r"\b(?:exposed|bare|live|frayed) (?:wires?|wiring|cables?|cords?)\b",
        r"\bwires? (?:exposed|sticking out|showing|hanging out)\b",
    )),
    ("fire", _any(
        r"\b(?:caught|catch|catching|catches) (?:on )?fire\b|\bon fire\b|\bset (?:\w+ )?on fire\b",
        r"\bstarted a fire\b|\bburst into flames?\b|\bwent up in flames\b",
        r"\b(?:a|the) (?:small |little |kitchen |big )?fire\b(?![ -]?(?:pit|place|guard|side|wood|"
        r"logs?|starters?|lighters?|bowl|basket|screen|proof|resistant|retardant|safe|door|exit|"
        r"escape|sale|blanket|extinguisher))",
        r"\bfire (?:brigade|service|department|engine|fighters?|crew)\b",
        r"\b(?:fire|smoke) alarms? (?:went|go|goes|going) off\b|\bset off (?:the |our |"
        r"my )?(?:fire|smoke) alarms?\b|\b(?:used|grabbed|needed) (?:the |a |my |"
        r"our )?fire (?:extinguisher|blanket)\b",
        r"\bflames\b(?![ -]?(?:red|orange|effect|colou?r|retardant|proof|resistant|grill|gun))",
        r"\b(?:a|the|big|huge|massive|small) flame\b(?![ -]?(?:red|orange|effect|colou?r|retardant|"
        r"proof|resistant|grill|gun|casserole|dish|pan|pot|kettle|version|range|set))",
        r"\bsmok(?:e|ing)\b(?![ -]?(?:grey|gray|glass|colou?r|oak|effect|tinted|detectors?|free))",
        r"\bburn(?:ing|t) (?:smell|odou?r|plastic|rubber)\b|\bsmell(?:s|ed|ing)? (?:of |"
        r"like )?(?:\w+ )?burn(?:ing|t)\b",
        r"\b(?:something|it|its)(?:'s| is| was| started| kept| keeps| began)? burning\b(?! hot)",
        r"\bscorch(?:ed|ing|es)?\b|\bscorch marks?\b|\bsinged\b|\bcharred\b",
        r"\bmelt(?:ed|ing|s)?\b(?! in (?:the )?(?:transit|heat|sun|post|van|warehouse|delivery))",
    )),
)


_FIGURATIVE_BURN = re.compile(
    r"^[^.!?\n]{0,15}\b(?:by|with) (?:you|your|this|that|the company|lumen|them|these|companies|"
    r"online|retailers?|shops?)\b|^\s*(?:before|again|too many times|once)\b")


_FOOD = re.compile(r"\b(?:butter|chocolate|cheese|sugar|wax|ice|snow|marshmallows?|caramel)\b")
_NOT_HURT_HERE = re.compile(r"hospital|doctor|gp\b|dr\b")
_MISSED_DELIVERY = re.compile(r"\b(?:miss\w*|deliver\w*|courier|driver|parcel|package|work|works|"
                              r"working|nurse|address|reception)\b")


def _sentence(text: str, start: int, end: int) -> str:
    """The sentence around text[start:end], at most 150 characters either side."""
    before = re.split(r"[.!?\n]", text[max(0, start - 150):start])[-1]
    after = re.split(r"[.!?\n]", text[end:end + 150])[0]
    return before + text[start:end] + after


def _hazard(text: _Text) -> Optional[str]:
    for hazard, pattern in _HAZARD_PATTERNS:
        for match in pattern.finditer(text.low):
            if (hazard == "injury" and _NOT_HURT_HERE.search(match.group())
                    and _MISSED_DELIVERY.search(_sentence(text.low, match.start(), match.end()))):
                continue  # "I was in hospital so I missed the delivery"
            if hazard == "fire" and match.group().startswith("melt") and _FOOD.search(
                    _sentence(text.low, match.start(), match.end())):
                continue  # "I melted butter in the pan"
            if hazard == "burn" and _FIGURATIVE_BURN.search(text.low[match.end():match.end() + 40]):
                continue  # "I got burned by your company before"
            if hazard == "cut" and re.search(r"(?:colou?rs?|dye|ink|paint|wash)\b[^.!?\n]{0,30}$",
                                             _before(text.low, match.start())):
                continue  # "the colours bled in the wash"
            return hazard
    return None


# --- yes and no ----------------------------------------------------------------------------------

_NO_THEN = (r"(?:[\s,.!-]*$|[\s]*[,.!;:-]|\s+(?:thanks|thank|cheers|ta|way|chance|sorry|i|i'm|i'd|"
            r"i'll|i've|that|that's|this|it|it's|its|not|no|definitely|absolutely|certainly|just|"
            r"please|mate|sir|madam|we|we'd|you|because|but|to|don't|won't|can't|rather|instead|"
            r"need(?! to (?:apologi[sz]e|worry|be sorry))|deal|ollie|that'll|a refund|refund|"
            r"replacement|voucher|money|at all)\b)")
_DECLINE_PATTERNS = _any(
    rf"^{_OPENERS}no{_NO_THEN}",
    r"^(?:not really|not at all|not now|not interested|not for me|decline|i decline|i refuse|"
    r"refuse|no deal|let's not)\b|\bi'll pass\b|^\W*pass\W*(?:thanks\W*)?$",
    rf"^{_OPENERS}(?:that's |that is |this is |totally |completely |simply |absolutely |just |so |"
    rf"frankly |how |what an? )*(?:unacceptable|ridiculous|pathetic|laughable|insulting|a joke|"
    rf"an insult|a disgrace|rubbish|a piss ?take)\b",
    r"\bnot (?:really |at all |even |remotely )?(?:acceptable|good enough|enough|satisfactory|"
    r"sufficient|what i (?:want|wanted|asked for|need|needed|paid for))\b",
    r"\b(?:that|this|that's|which|it's|thats|that is|this is) (?:not|isn't|"
    r"is not) (?:really )?(?:ok|okay|fine|on|good|fair|right|acceptable)\b",
    r"\bthat's unacceptable\b|\bthat is unacceptable\b",
    r"\bno way\b|\bno chance\b|\bno thanks?\b|\bno thank you\b|\bhell no\b|\bbut no\s*(?:thanks|"
    r"thank you|[.!]|$)",
    r"\b(?:absolutely|definitely|certainly|of course|obviously) not\b(?:\s*[.!,;]|\s*$|"
    r" (?:acceptable|good|ok|interested|happy|a chance|going to|accepting|taking|thanks))",
    r"\b(?:don't|do not) (?:really |even )?(?:want|need) (?:a |an |the |your |that\b|this\b|it\b|"
    r"any |another |one\b|vouchers?|refund|replacement|store credit|credit|to wait|to accept|"
    r"to take|to settle)",
    r"\b(?:that|this|which|that'll|that'd|it) (?:doesn't|does not|won't|will not|wouldn't|"
    r"would not|isn't going to) (?:really )?(?:work|suit|do)\b(?! anything)",
    r"\b(?:doesn't|does not|won't|will not|wouldn't|would not|not going to) (?:really )?(?:work|"
    r"suit|do) for (?:me|us)\b",
    r"\brather not\b|\bnot interested\b",
    r"\bnot (?:happy|satisfied|ok|okay|content) with (?:that|this|it|the offer|your offer|"
    r"a voucher)\b",
    r"^\W*(?:yeah|yes) no\b",
    r"^\W*(?:i )?don't think so\b|^\W*(?:that's |that is )?(?:wrong|incorrect|not correct|negative|"
    r"not that one)\W*$",
    r"\b(?:i|we) (?:won't|will not|can't|cannot|refuse to|am not going to|"
    r"'m not going to) (?:accept|take|settle for)\b|\bnot (?:accepting|taking|"
    r"settling for) (?:that|this|a|an|it)\b",
    r"\b(?:that's|that is|this is|is this|what) (?:a|such a) joke\b|\b(?:you're|you are|are you|"
    r"you must be|you've got to be|you have got to be|you have to be) (?:joking|kidding|"
    r"having a laugh|serious\?)|\btaking the piss\b",
    r"\b(?:is that|that's|thats) (?:all|it|the best you can do)\s*\?",
    r"\b(?:keep|stuff|shove|stick|forget) (?:your|the|that|this) (?:\w+ )?(?:vouchers?|offer|"
    r"discount|credit|gift ?card|coupon|replacement|refund)\b",
    r"\b(?:vouchers?|offer|discount|credit|gift ?card|coupon|that|this|it) (?:is|was|"
    r"sounds like) (?:a joke|an insult|insulting|laughable|pathetic|ridiculous|rubbish|useless)\b",
)
_YES_STRONG = (r"(?:yes|yeah|aye|sure|deal|agreed|i guess so|i suppose so|i think so|guess so|"
               r"suppose so|yes please|go ahead|please go ahead|please do|sounds good|sounds great|"
               r"sounds fine|sounds perfect|sounds like a plan|that works|that'll work|"
               r"that would work|that'd work|works for me|i accept|let's do it|let's do that|"
               r"go for it|correct|exactly|that's right|that is right|that's correct|"
               r"that is correct|indeed|fine by me|fine with me|uh huh|yes that's it)")
_YES_WEAK = (r"(?:ok|alright|all right|fine|right|great|perfect|lovely|brilliant|excellent|cool|"
             r"please|go on|do it|do that|absolutely|definitely|certainly|of course|why not)")
_YES_CONTINUES = (r"(?:[\s,.!]*$|[\s,.!]+(?:then|thanks|thank|cheers|please|go on|go ahead|do it|"
                  r"do that|let's|sounds|that works|that's (?:fine|great|good|perfect|ok)|sure|yes|"
                  r"yeah|deal|i'll take|i'd like|i accept|fine|ok|great|perfect|lovely|brilliant|"
                  r"that'd be|that would be|send|refund|replace|book|arrange|call|whatever|i guess|"
                  r"i'll wait|i can wait|i'll take|i'll go with)\b)")
_AFFIRM_PATTERNS = _any(
    rf"^{_OPENERS}(?:ok[\s,.!]+|alright[\s,.!]+|well[\s,.!]+)?{_YES_STRONG}\b(?! not\b| right\b|"
    rf" no\b)",
    rf"^{_OPENERS}(?:ok[\s,.!]+)?{_YES_WEAK}{_YES_CONTINUES}",
    r"^\W*(?:👍|✅|👌)",
    r"\b(?:sounds good|sounds great|sounds perfect|that works|that'll work|works for me|(?:that's|"
    r"that is|that'd be|that would be|that will be|it's|its) (?:fine|great|perfect|lovely|ok|"
    r"brilliant|good|wonderful|helpful)|happy with that|i'll take (?:it|that|the|a|one)|i accept|"
    r"let's do (?:it|that)|please go ahead|go ahead and|yes please|that suits me|i'd like that|"
    r"i would like that)\b",
)
_NEGATED_AFFIRM = re.compile(r"(?:\bnot|n't|\bnever|\bno)\s+(?:really\s+|that\s+|very\s+)?$")


def _declines(text: _Text) -> bool:
    return text.has(_DECLINE_PATTERNS)


def _affirms(text: _Text) -> bool:
    for match in _AFFIRM_PATTERNS.finditer(text.low):
        if not _NEGATED_AFFIRM.search(_before(text.low, match.start(), 20)):
            return True
    return False


# --- remedies ------------------------------------------------------------------------------------

_WANT_BEFORE = re.compile(
    r"\b(?:want|wanted|wants|would like|'d like|i'd like|need|needs|expect|expecting|demand|"
    r"demanding|request|requesting|prefer|preferably|rather|give me|give us|get|getting|can i|"
    r"could i|may i|take|just|instead|go for|go with|opt for|choose|full|issue|issuing|process|"
    r"asking for|ask for|apply for|claim|claiming|entitled to|deserve|arrange|organi[sz]e|send|"
    r"sending|offer me|please|happy with|settle for|accept|or|and|prefer a)\b[^.!?;,\n]{0,30}$")
_WANT_AFTER = re.compile(
    r"^\s*(?:or|and|/)\s|^[^.!?;\n]{0,3}(?:please|instead|then|is what i want|would be (?:better|"
    r"best|great|good|preferable|fine|nice)|preferably|if possible|as soon as possible|now|"
    r"thanks)\b|^\s*[!?]")
_REMEDY_WORDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("refund", re.compile(r"\b(?:refund|full refund|partial refund|reimburse(?:ment)?|"
                          r"chargeback)\b|\bmoney back\b|\bmy money\b")),
    ("replacement", re.compile(r"\b(?:replacements?|exchange(?! rate)|swap)\b|\b(?:a|"
                               r"another) (?:new|fresh|working|undamaged) one\b|\bnew one\b|"
                               r"\banother one\b")),
    ("voucher", re.compile(r"\b(?:vouchers?|gift ?cards?|store credit|credit note|discount code|"
                           r"coupon|discount)\b")),
    ("callback", re.compile(r"\b(?:call ?back|phone call|a call|a ring|a bell)\b")),
)
# Asking in so many words: "refund me", "send a new one", "call me".
_REMEDY_DIRECT: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("refund", re.compile(r"\brefund (?:me|us|it|them|this|the order|the item|my order|the lot|"
                          r"everything)\b|\bpay me back\b|\bgive me (?:my|the) money\b")),
    ("replacement", re.compile(
        r"\b(?:replace|exchange|swap|resend|reship|re-send|re-ship) (?:it|them|this|that|the|my|"
        r"one)\b|\bsend (?:me |us )?(?:a |another |the )?(?:new|replacement|fresh|working|right|"
        r"correct|proper|undamaged)\b|\bsend (?:me |us )?another\b|\bsend (?:it|one) again\b|"
        r"\b(?:rather|just want to|just wanna|prefer to) (?:just )?(?:have|get|receive) (?:the|my|a "
        r"working|a proper) [a-z ]{1,30}\bi (?:paid for|ordered|bought)\b")),
    ("callback", re.compile(
        r"\b(?:call|ring|phone|bell|buzz) (?:me|us)\b(?! (?:a |an |by |[a-z]+ [a-z]+ said))|"
        r"\b(?:call|ring|phone) (?:me |us )?back\b|\bgive (?:me|us) (?:a )?(?:call|ring|bell|"
        r"buzz)\b|\b(?:someone|somebody|an agent|a person|you) (?:to |can |could |please )?(?:call|"
        r"ring|phone) (?:me|us)\b|\bcallback\b|\bcall-back\b|\b(?:talk|speak|chat) (?:to|"
        r"with) (?:someone|somebody|a person|a human|an agent|a real person|a manager) (?:on|over|"
        r"by) the phone\b|^\W*(?:please )?call(?: me)?(?: please)?\W*$")),
)
_PAST_OR_REPORTED = re.compile(
    r"\b(?:said|promised|told|supposed to|meant to|was going to|were going to|didn't|did not|never|"
    r"i'd get|i would get|i'd be getting|i should get|i'd receive|should have|should've|haven't|"
    r"hasn't|has not|have not|no one|nobody|already|you'd|you would|would've|got|received|"
    r"was given|were given|gave me|gave us|issued|was sent|sent me|sent us|had|looks like|"
    r"last time)\b(?:(?!\b(?:so|and|but|then|now|just|please|can|could|will|want|need)\b)"
    r"[^.!?;,\n]){0,25}$")  # "I got a broken one so replace it" still asks
_DISMISSED = re.compile(r"\b(?:keep|stuff|shove|stick|forget)\s+(?:[\w']+\s+){0,2}$|\b(?:pay|"
                        r"paying|paid|use|using|used|redeem|redeeming|spend|apply|applied|enter|"
                        r"entered|add|added)\s+(?:with\s+|by\s+|via\s+)?(?:[\w']+\s+){0,2}$")
_TIMING_NEAR = re.compile(
    r"\b(?:when|how long|how soon|how many days|still waiting|waiting for|haven't|hasn't|not yet|"
    r"where is|where's|status|been processed|arrive|arrived|come through|gone through|show up|"
    r"showing|received|yet)\b")


def _wants_remedy(text: _Text) -> Optional[str]:
    low = text.low
    found: list[tuple[int, str]] = []
    short = len(low.split()) <= 4
    for remedy, pattern in _REMEDY_DIRECT:
        for match in pattern.finditer(low):
            if not _negated(low, match.start()) and not _PAST_OR_REPORTED.search(
                    _before(low, match.start())):
                found.append((match.start(), remedy))
                break
    for remedy, pattern in _REMEDY_WORDS:
        for match in pattern.finditer(low):
            before, after = _before(low, match.start()), low[match.end():match.end() + 40]
            if _negated(low, match.start()) or _PAST_OR_REPORTED.search(before) or \
                    _DISMISSED.search(before) or re.match(
                    r" (?:policy|policies|rules|terms|process|processing|status|form|request|time|"
                    r"times|timing|timeline)\b|[\w ]{0,12}\b(?:doesn't|does not|isn't|is not|won't|"
                    r"didn't|wasn't|not|has expired|expired|is invalid|invalid)\b", after):
                continue
            clause = re.split(r"[.!?;\n]", before)[-1] + low[match.start():match.end()] + \
                re.split(r"[.!?;\n]", after)[0]
            asked = (_WANT_BEFORE.search(before) or _WANT_AFTER.search(after)
                     or (short and not before.endswith(("your ", "the ", "my "))))
            if remedy == "refund" and _TIMING_NEAR.search(clause) and not re.search(
                    r"\b(?:want|would like|'d like|need|demand|expect|instead)\b", clause):
                continue  # "when will my refund arrive" asks about a refund already agreed
            if asked:
                found.append((match.start(), remedy))
                break
    return min(found)[1] if found else None


# --- callback time -------------------------------------------------------------------------------

_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_SHORT = {"mon": "monday", "tue": "tuesday", "tues": "tuesday", "wed": "wednesday",
              "weds": "wednesday", "thu": "thursday", "thur": "thursday", "thurs": "thursday",
              "fri": "friday", "sat": "saturday", "sun": "sunday"}
_DAY = re.compile(
    r"\b(?:(?P<next>next|this|on|coming) )?(?P<day>today|tonight|tomorrow|monday|tuesday|wednesday|"
    r"thursday|friday|saturday|sunday|mon|tues?|weds?|thu|thurs?|fri|sat|sun|weekend|"
    r"weekdays?)\b(?P<tail> (?:morning|afternoon|evening|night|am|pm|at|after|before|between|from|"
    r"around|anytime|any time)\b)?")
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
           "october", "november", "december")
_DATE = re.compile(
    r"\b(?:the )?(?P<n>[1-9]|[12]\d|3[01])(?:st|nd|rd|th)(?: of)?(?: (?P<m1>jan|feb|mar|apr|may|"
    r"jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*)?\b|\b(?P<n2>[1-9]|[12]\d|3[01]) (?P<m2>jan|feb|mar|"
    r"apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\b")
_WEEK = re.compile(r"\b(?P<week>(?:next|this|later this|early next) week|any ?day(?: next week|"
                   r" this week)?)\b")
_PART = re.compile(r"\b(?:(?P<this>this|in the|tomorrow|late|early) )?(?P<part>morning|afternoon|"
                   r"evening|lunchtime|lunch time|lunch|night|mornings|afternoons|evenings)\b")
_CLOCK = (r"(?:(?:half|quarter) (?:past |to )?\d{1,2}\b|\d{1,2}(?:[:.]\d{2})?(?: ?(?:am|pm|a\.m\.|"
          r"p\.m\.|o'clock|h))?|noon|midday|midnight)")
_NOT_A_TIME = (r"(?! ?(?:days?|weeks?|months?|years?|working|business|items?|euros?|eur|pounds?|"
               r"quid|%|percent|minutes?|hours?|times|x|of|stars?|out|pieces?|pcs|packs?|orders?|"
               r"parcels?|boxes|people|pans?|mugs?|plates?|/|-?\d))")
_RANGE = re.compile(rf"\b(?:between|from) (?P<a>{_CLOCK}) ?(?:and|to|till|until|"
                    rf"-) ?(?P<b>{_CLOCK}){_NOT_A_TIME}|(?<![\d/.:-])(?P<c>\d{{1,2}}(?: ?(?:am|"
                    rf"pm))?) ?(?:-|till|until|to) ?(?P<d>\d{{1,2}}(?: ?(?:am|pm)))\b")
_POINT = re.compile(rf"\b(?P<word>after|before|at|around|about|from|by|till|until|not before|"
                    rf"not after|any time after|anytime after|any time before|"
                    rf"anytime before) (?P<time>{_CLOCK}){_NOT_A_TIME}\b|"
                    rf"(?<![\d/.:-])(?P<bare>\d{{1,2}}(?:[:.]\d{{2}})? ?(?:am|pm)|"
                    rf"\d{{1,2}}[:]\d{{2}})(?![\d%])")
_SOFT = re.compile(r"\b(?P<soft>all day|during the day|whenever|after work|after lunch|"
                   r"after school|end of (?:the )?day|later today|later on|later|any ?time|"
                   r"as soon as possible|right now|straight away|now|in (?:an|1|2|3|half an|"
                   r"a couple of) (?:hours?|minutes?|minutes))\b")
_SOFT_NEEDS_CALL = frozenset({"now", "right now", "straight away", "as soon as possible", "later"})
_POINT_WORDS = {"about": "around", "till": "until", "anytime after": "after",
                "any time after": "after", "not before": "after", "anytime before": "before",
                "any time before": "before", "not after": "before"}
_SOFT_WORDS = {"now": "as soon as possible", "right now": "as soon as possible",
               "straight away": "as soon as possible", "anytime": "any time", "later on": "later",
               "whenever": "any time", "end of the day": "end of day"}
_GREETING_TIME = re.compile(r"\bgood (?:morning|afternoon|evening|night|day)\b")
# What may surround a time in a reply that is only a time ("tomorrow morning works for me").
_TIME_FILLER = re.compile(
    r"\b(?:is|are|best|works?|fine|ok|please|would|be|good|great|for|me|i'm|any|time|then|maybe|"
    r"probably|how about|what about|ish|perhaps|or|and|either|thanks|that|suits?|the|in|on|at|"
    r"after|before|from|between|until|till|by|yes|yeah|sure|ideally|preferably|if possible|"
    r"possible|if|of|better|around|about|perfect|lovely|sometime|some time|earliest|latest|"
    r"no later than|later than|earlier|better for me|best for me)\b|[^\w\s]")


def _only_a_time(low: str) -> bool:
    """Whether `low` is a time and nothing else ("tonight if possible", not "open on sunday?")."""
    for pattern in (_RANGE, _POINT, _DATE, _WEEK, _DAY, _PART, _SOFT):
        low = pattern.sub(" ", low)
    return not _TIME_FILLER.sub(" ", low).split()


def _ordinal(number: int) -> str:
    if 10 <= number % 100 <= 20:
        return f"{number}th"
    return f"{number}" + {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")


def _clock(value: str) -> str:
    """"5 pm" -> "5pm", "9.30" -> "9:30"."""
    value = value.replace(".", ":") if re.fullmatch(r"\d{1,2}\.\d{2}", value) else value
    return re.sub(r"(\d) (am|pm)\b", r"\1\2", value.replace("a.m.", "am").replace("p.m.", "pm"))


def _day_phrase(low: str) -> Optional[str]:
    """"tomorrow", "Friday", "next Monday", "this weekend", "December 3", "next week"."""
    day = _DAY.search(low)
    # "sat" or "sun" alone are words too ("I sat on it"): only with "on", "next" or a time
    if day and (day.group("day") not in _DAY_SHORT or day.group("next") or day.group("tail")):
        name = _DAY_SHORT.get(day.group("day"), day.group("day"))
        if name.startswith("weekday"):
            return "weekdays"
        if name == "weekend":
            return {"this": "this weekend", "next": "next weekend"}.get(day.group("next") or "",
                                                                         "the weekend")
        if name in _DAYS:
            return ("next " if day.group("next") == "next" else "") + name.capitalize()
        return name
    date = _DATE.search(low)
    if date:
        number = date.group("n") or date.group("n2")
        month = date.group("m1") or date.group("m2")
        month_name = next((name for name in _MONTHS if month and name.startswith(month)), "")
        return f"{month_name.capitalize()} {number}" if month_name else \
            f"the {_ordinal(int(number))}"
    week = _WEEK.search(low)
    return week.group("week").replace("anyday", "any day") if week else None


def _part_phrase(low: str, day: Optional[str]) -> tuple[Optional[str], Optional[str]]:
    """(the day, adjusted, and the part of it): ("tomorrow", "morning"), ("this", "evening")."""
    part = _PART.search(low)
    if not part:
        return day, None
    word = part.group("part")
    word = "lunchtime" if word in ("lunch", "lunch time") else word.rstrip("s")
    qualifier = part.group("this")
    if day == "today":
        day = "this"
    elif day == "tonight":
        return day, None
    elif day is None and qualifier in ("this", "tomorrow"):
        day = qualifier
    if qualifier in ("early", "late"):
        word = f"{qualifier} {word}"
    return day, word


def _clock_phrase(low: str) -> Optional[str]:
    """"between 9 and 11", "after 5pm", "at 14:30", "until 6"."""
    span = _RANGE.search(low)
    if span:
        first, second = span.group("a") or span.group("c"), span.group("b") or span.group("d")
        return f"between {_clock(first)} and {_clock(second)}"
    point = _POINT.search(low)
    if point and point.group("time"):
        word = _POINT_WORDS.get(point.group("word"), point.group("word"))
        if word == "until" and re.search(r"\bafter (?:that|then)\b", low[point.end():]):
            word = "after"  # "I'm at work until 6, call me after that"
        return f"{word} {_clock(point.group('time'))}"
    if point and point.group("bare"):
        return f"at {_clock(point.group('bare'))}"
    return None


def _time_phrase(low: str, asks_for_call: bool) -> Optional[str]:
    """The time in `low` as a short phrase from its words: "Friday afternoon after 2"."""
    day, part = _part_phrase(low, _day_phrase(low))
    parts = [word for word in (day, part, _clock_phrase(low)) if word]
    if not parts:
        soft = _SOFT.search(low)
        if soft and (asks_for_call or soft.group("soft") not in _SOFT_NEEDS_CALL):
            parts.append(_SOFT_WORDS.get(soft.group("soft"), soft.group("soft")))
    if not parts:
        return None
    phrase = " ".join(parts)
    return re.sub(r"^weekdays (morning|afternoon|evening)", r"weekday \1s", phrase)


_CALL_ASKED = re.compile(
    r"\b(?:call|ring|phone|callback|reach me|contact me|available|free|i'm (?:in|home|around)|"
    r"best time|good time)\b")


def _callback_time(text: _Text) -> Optional[str]:
    """A time to call back: in the sentence asking for a call, or a reply that is only a time."""
    low = _GREETING_TIME.sub(" ", _strip_numbers(text.low))
    asked = _REMEDY_DIRECT[2][1].search(low) or _CALL_ASKED.search(low)
    if asked:
        # "It broke on Monday. Can you call me tomorrow?" is about tomorrow.
        found = _time_phrase(_sentence(low, asked.start(), asked.end()), True)
        if found:
            return found
        # "Call me. Tomorrow after 5": another sentence that is nothing but a time
        times = (_time_phrase(sentence, True) for sentence in re.split(r"[.!?\n]", low)
                 if sentence.strip() and _only_a_time(sentence))
        return next((phrase for phrase in times if phrase), None)
    if len(low.split()) > 8 or not _only_a_time(low):
        return None
    return _time_phrase(low, False)


# --- phone numbers, order numbers ------------------------------------------------------------

_PHONE = re.compile(r"(?<![\w+/-])(?:\+|00|0)\d(?:[ \-.]?(?:\(0\)[ ]?)?\(?\d\)?){6,16}(?![\w])")
_ORDER = re.compile(r"\brp\s?[-‐–]?\s?\d{6}\b", re.IGNORECASE)
_POSTCODE = re.compile(r"\b\d{4} ?[a-z]{2}\b")
_EMAIL = re.compile(r"[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){0,5}")
_MONEY = re.compile(r"(?:€|\$|£|eur)\s?\d[\d.,]{0,12}|\d[\d.,]{0,12}\s?(?:€|euros?|eur|pounds?|"
                    r"quid)")


def _phone(text: _Text) -> Optional[str]:
    for match in _PHONE.finditer(text.raw):
        digits = sum(char.isdigit() for char in match.group())
        if 9 <= digits <= 15:
            return match.group().strip()
    return None


def _strip_numbers(low: str) -> str:
    """`low` without order numbers, phones, e-mails, postcodes and prices (not ratings or times)."""
    for pattern in (_ORDER, _EMAIL, _PHONE, _POSTCODE, _MONEY):
        low = pattern.sub(" ", low)
    return _SPACES.sub(" ", low).strip()


# --- rating --------------------------------------------------------------------------------------

_RATING_FILLER = re.compile(
    r"\b(?:i'd|i would|i will|i'll|id|i) (?:say|give|rate)(?: (?:it|you|ollie|that|this|the bot|"
    r"the chat|him|her|them|the service))?\b|\b(?:give|rate|rating|score|my rating is|"
    r"my score is)(?: (?:it|you|ollie|that|this|him|her|them))?\b|\b(?:a solid|solid|an easy|easy|"
    r"easily|a|an|definitely|probably|maybe|about|around|hmm|um|erm|ok|well|so|it's|its|that's|"
    r"i guess|honestly|for sure|thanks|cheers|please|stars?|out of (?:5|five)|the|overall|just|"
    r"only|like|rating|score|is|for|you|really|then|ollie)\b|/\s?5\b|[!.,?:)(\-*~]|⭐|★")
_RATING_TOKEN = re.compile(r"^(?:[1-5]|one|two|three|four|five)$")
_NUMBER_AS_THING = re.compile(  # "that's the one", "which one", "one of the mugs"
    r"\b(?:the|that|this|which|another|new|other|no|any|every|each|those|these) (?:one|two|three|"
    r"four|five)\b|\b(?:one|two|three|four|five) of\b")
_RATING_WORDS = re.compile(r"\b(?:stars?|out of (?:5|five)|rate|rating|score)\b|/\s?5\b|⭐|★")


def _rating(text: _Text) -> Optional[int]:
    low = _strip_numbers(text.low)
    if not low or _NUMBER_AS_THING.search(low):
        return None
    residue = _RATING_FILLER.sub(" ", low).split()
    pure = len(residue) == 1 and _RATING_TOKEN.match(residue[0]) is not None
    stars_only = not residue and ("⭐" in low or "★" in low)
    if pure or stars_only or (_RATING_WORDS.search(low) and len(low.split()) <= 25):
        return parse_rating(low)
    return None


# --- stopping and starting over ------------------------------------------------------------------

_STOP_THEN = (r"(?:[\s,.!-]*$|[\s,.!-]+(?:please|it|that|this|now|then|thanks|asking|the chat|"
              r"the conversation|everything|all|this chat|this conversation|i'll|i'm|i've|i found|"
              r"doesn't matter|not important|forget|never mind|it's fine|its fine|no|ok|i don't|"
              r"don't|i'd rather|sorry)\b)")
_STOP_PATTERNS = _any(
    rf"^{_OPENERS}(?:no[\s,.!]+|ok[\s,.!]+|please[\s,.!]+|just[\s,.!]+)?(?:stop|cancel|quit|exit|"
    rf"abort|end|enough|halt|scrap that|scrap it){_STOP_THEN}",
    rf"^{_OPENERS}(?:no[\s,.!]+|ok[\s,.!]+|just[\s,.!]+)?leave it{_STOP_THEN}",
    r"\b(?:forget it|forget about it|not bothered anymore|scrap that|cancel that|cancel this|"
    r"cancel the (?:request|callback|call-back|call back|complaint|chat|conversation|form)|"
    r"stop this|end (?:the|this) chat|i'll (?:do|sort) it myself)\b",
    r"\b(?:drop it|scratch that|let's stop here|let's leave it (?:there|here)|"
    r"cancel the whole thing|(?:i'm )?not doing this any ?more)\b",
    r"^\W*(?:let's not|(?:i've |i )?changed my mind|that's enough|enough now)[\s,.!]*$",
    # These also start ordinary sentences ("never mind the box, the kettle is broken"), so they
    # count only when nothing but punctuation or a sign-off follows.
    r"\b(?:never mind|don't worry about it|i give up|(?:it )?doesn't matter)(?:[\s,.!]*$|"
    r"\s*[,.!;-]|\s+(?:then|it|forget|i'll|it's fine|its fine|i found|sorted|thanks|about it|i've|"
    r"leave it|not important|anymore|now)\b)",
    r"\b(?:just )?leave it(?:[\s,.!]*$|[\s,.!]+(?:then|for now|please|thanks|it's fine|its fine|"
    r"doesn't matter|i'll|never mind|forget it)\b)",
    r"\bdon't bother(?:[\s,.!]*$|[\s,.!]+(?:then|calling|ringing|with (?:it|that)|i'll|it's|its|"
    r"thanks|mate|anymore)\b)",
    r"\b(?:don't|do not|won't|will not|not going to|rather not|not comfortable|refuse to|"
    r"not happy to) (?:want to )?(?:give|giving|share|sharing|say|provide|providing|hand over|"
    r"tell you)(?: you| out)? (?:my|an?|the|any|that|this|those)\b[^.!?\n]{0,20}\b(?:email|"
    r"postcode|post code|details|phone|number|address|name|information|data|contact|dob|"
    r"date of birth)\b",
    r"\bnot giving (?:you )?(?:my|that|this|any)\b",
    r"\b(?:rather not|don't want to|do not want to|not going to) (?:continue|carry on|go on)\b",
)
_STOP_EXCEPTIONS = re.compile(
    r"^(?:\W*)(?:please )?(?:cancel|stop) (?:my|the|this|an?|that) (?:order|subscription|purchase|"
    r"delivery|account|payment|refund|return|item|items|parcel)\b|^\W*stop (?:sending|emailing|"
    r"calling|charging|texting)\b|\b(?:don't|didn't|never|won't) (?:forget it|never mind)\b")
_START_OVER_PATTERNS = _any(
    r"\bstart (?:all )?(?:over|again|afresh|anew|from (?:the )?(?:beginning|start|scratch|top))\b",
    r"^(?:\W*)(?:please |can we |can i |let's |lets )?(?:restart|reset|start again|"
    r"begin again)(?:[\s,.!?]*$|[\s,.!]+(?:please|the chat|the conversation|this|this chat|"
    r"everything|again|from)\b)",
    r"\b(?:restart|reset) (?:the|this) (?:chat|conversation)\b",
    r"\b(?:start|begin|restart|redo|do it all|try again|again|over|let's|lets|go back|back|"
    r"(?:can we|could we|shall we|let's|lets|"
    r"please) go)\b[^.!?\n]{0,20}\bfrom (?:the )?(?:beginning|start|scratch|top)\b",
    r"^(?:\W*)from (?:the )?(?:beginning|start|scratch|top)\b",
    r"\b(?:back to|go back to) (?:the )?(?:start|beginning)\b",
    r"\b(?:start|open|begin|want|have|let's have) (?:a )?(?:new|fresh) (?:chat|conversation|"
    r"session)\b|^\W*(?:a )?(?:new|fresh) (?:chat|conversation|session)\W*$|\bbegin again\b",
)
_START_OVER_EXCEPTIONS = re.compile(
    r"\b(?:won't|wouldn't|doesn't|didn't|can't|couldn't|keeps|kept|not|never|will not|does not|"
    r"did not) (?:\w+ )?(?:start|restart|reset)")


def _stop(text: _Text) -> bool:
    return text.has(_STOP_PATTERNS) and not text.has(_STOP_EXCEPTIONS)


def _start_over(text: _Text) -> bool:
    return text.has(_START_OVER_PATTERNS) and not text.has(_START_OVER_EXCEPTIONS)


# --- questions about the process -----------------------------------------------------------------

_CONTACT_DATA = (r"(?:email|email address|postcode|post code|zip|details|phone|phone number|number|"
                 r"mobile|address|name|information|data|date of birth|dob|personal details|"
                 r"order number)")
_PROCESS_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("order_number_help", _any(
        r"\b(?:where|how) (?:do|can|would|will|should) i (?:find|get|look for|locate|"
        r"see)\b[^.!?\n]{0,20}\border (?:number|no|nr|#|ref|reference|id|code)",
        r"\bwhere(?:'s| is) (?:the|my) order (?:number|no|nr|ref|reference|id|code)\b",
        r"\b(?:don't|do not|haven't|have not|didn't|never|can't|cannot|couldn't|can not) (?:have|"
        r"got|get|receive|received|keep|kept|know|remember|see|find|"
        r"locate)\b[^.!?\n]{0,20}\b(?:order (?:number|no|nr|ref|reference|id|code)|confirmation)",
        r"\b(?:have no|got no|no idea (?:what|where)|not sure (?:what|where)|no|without an?|"
        r"without my|without the|forgot|forgotten|lost|lost my|deleted|deleted my|can't find|"
        r"cannot find|can not find|can't see|couldn't find)\b[^.!?\n]{0,20}\b(?:order (?:number|no|"
        r"nr|ref|reference|id|code)|confirmation (?:email|mail|e-mail|message)|receipt email|"
        r"email receipt)",
        r"\bwhat(?:'s| is| does) (?:an|the|my|a) order (?:number|no|ref|reference)\b(?! is rp)",
        r"\bwhat does (?:an|the) order (?:number|no|ref|reference) look like\b",
        r"\b(?:which|what) (?:number|one) is (?:the|my) order\b",
    )),
    ("why_contact", _any(
        rf"\bwhy (?:do|would|does|did|are|should|must|d') ?(?:you|u|i|ollie|the bot|it)? ?(?:need|"
        rf"want|ask|asking|require|have to give|have to provide|need to give|need to know|"
        rf"want to know)(?: for| to know| to have| to see| me for| me to give|"
        rf" me to provide)?(?: you| u)? (?:(?:my|the|your|all|our|this|that|his|her|"
        rf"an?) )?(?:[\w-]+ )?{_CONTACT_DATA}\b",
        r"\bwhy (?:do|would|does|did) (?:you|u|ollie|it) (?:need|want|ask for|require) (?:that|"
        r"this|those|these|all that|to know)\b",
        rf"\bwhat (?:do|does|would|will) (?:you|u|ollie) (?:need|want|use) (?:my |the |that |"
        rf"this )?(?:[\w-]+ )?(?:{_CONTACT_DATA}|it|that|this)\b[^.!?\n]{{0,15}}\bfor\b",
        r"\bwhat(?:'s| is) (?:my|the) (?:email|postcode|post code|phone|number|address|name) for\b",
        r"\bwhy (?:do you want to know|are you asking|the questions|does that matter|"
        r"does it matter|is that needed|is that necessary)\b",
        r"\b(?:is|will) my (?:data|information|details|email|personal data|"
        r"privacy) (?:be )?(?:safe|secure|protected|shared|sold|stored|kept)\b",
        r"\bwhat (?:will|do|are) you (?:going to )?(?:do|doing) with my\b|\bwho (?:can|"
        r"will) see my\b",
        r"\bwhy should i (?:trust you|give|tell|share|hand over)\b",
        r"\b(?:gdpr|data protection|privacy policy)\b|\bdo you (?:store|keep|sell|share) my\b",
        r"\bis it (?:safe|ok|okay|secure) to (?:give|share|send|type|put)\b",
    )),
    ("what_needed", _any(
        r"\bwhat (?:else )?(?:do|would|will) (?:you|u|ollie) (?:need|want|require)(?: (?:from|"
        r"off) (?:me|us))?(?: to (?:know|see|have|sort|do))?\s*(?:[?.!]|$|from me|now|exactly|"
        r"then)",
        r"\bwhat (?:information|details|info|documents?|photos?|pictures?|proof|"
        r"evidence)\b[^.!?\n]{0,20}\b(?:need|want|send|give|provide|require)",
        r"\bwhat (?:should|do|must|shall) i (?:need to )?(?:send|give|provide|upload|attach|share|"
        r"include|do)\b(?! with my| now| next| then)",
        r"\bhow (?:do|can|should) i (?:send|upload|attach|share|give) (?:you |them )?(?:a |the |"
        r"my |some |any )?(?:photos?|pictures?|pics?|images?|proof|evidence|receipt|video)\b",
        r"\b(?:what )?do i (?:need|have) to (?:send|give|provide|do|upload|attach)\b",
        r"\b(?:do|will|would) you (?:need|want) (?:a |any |some )?(?:photos?|pictures?|pics?|proof|"
        r"evidence|receipt)\b|\bshould i send (?:a |any |some )?(?:photos?|pictures?|pics?|"
        r"proof)\b",
        r"\bwhat do you want from me\b",
    )),
    ("what_next", _any(
        r"\bwhat (?:happens|will happen|is going to happen|'s going to happen) (?:now|next|then|"
        r"after (?:that|this|i|you|we))\b|\bwhat (?:happens|will happen)(?: now)?\s*\?",
        r"\bwhat(?:'s| is| are) (?:the )?next(?: steps?)?\b|\bnow what\b|\bwhat now\b|"
        r"\bthen what\b",
        r"\bwhat do (?:i|we) do (?:now|next)\b|\bwhat (?:are|is) the next steps?\b",
        r"\bhow long (?:will|does|would|is|do|might) (?:it|this|that|that all|the process|all this|"
        r"everything|you|it all|this process|all of this)(?: (?:take|be|need|"
        r"usually take))?(?:[\s?.!]*$|[\s?.!]+(?:then|now|please|roughly)\b| (?:to (?:sort|fix|"
        r"resolve|process|hear|get back)|for (?:someone|you|a reply|an answer)))",
        r"\bhow long (?:until|till|before) (?:i|you|someone|somebody|we) (?:hear|get a reply|"
        r"get an answer|get back|know)\b",
        r"\bwhen (?:will|do|would|should|can) (?:i|we) (?:hear|hear back|get an answer|get a reply|"
        r"hear from you|know)\b",
    )),
)


def _process_question(text: _Text) -> Optional[str]:
    low = text.low
    if _ORDER.search(low) and not re.search(r"\?|\bwhere\b|\bfind\b", low):
        low = _ORDER.sub(" ", low)
    for question, pattern in _PROCESS_PATTERNS:
        for match in pattern.finditer(low):
            if question == "what_next" and match.group().startswith("how long") and re.search(
                    r"\b(?:refund\w*|money|deliver\w*|ship|shipping|postage|arriv\w*|warranty|"
                    r"guarantee)\b", _sentence(low, match.start(), match.end())):
                continue  # refund or delivery timing, read as other_needs
            return question
    return None


# --- closing -------------------------------------------------------------------------------------

_CLOSE_THEN = (r"(?:[\s,.!]*$|[\s,.!]+(?:thanks|thank|cheers|for now|for today|bye|goodbye|from me|"
               r"then|ollie|mate|have a|much appreciated|you've been|you have been)\b)")
_CLOSING_PATTERNS = _any(
    rf"\b(?:that's|that is|that was|it's|its) (?:all|it|everything)(?: (?:thanks|i needed|i wanted|"
    rf"i need|i needed to know|i wanted to know|i need to know|for now|for today|"
    rf"from me))?{_CLOSE_THEN}",
    rf"\b(?:nothing else|no more questions|nothing more|all good now|all sorted|all done|i'm done|"
    rf"that'll be all|that will be all|i'm all good|i'm good|we're good|i'm sorted|"
    rf"all set){_CLOSE_THEN}",
    rf"^{_OPENERS}(?:no|ok|yes|yeah|thanks|great|perfect|lovely|"
    rf"cool)?[\s,.!]*all good{_CLOSE_THEN}",
    r"\b(?:bye|goodbye|good bye|bye bye|cya|see ya|see you|ta ta|take care|have a (?:good|nice|"
    r"great|lovely) (?:day|evening|one|weekend|night|afternoon))\b[\s,.!]*(?:for now|then|thanks|"
    r"again|now)?[\s,.!]*(?:[:;]-?\)|x+)?\s*$",
    r"^\W*(?:thanks|cheers|thanks a lot|thanks so much|many thanks) (?:for|again|"
    r"so much)?[\w ]{0,30}(?:bye|goodbye|that's all|that's it)\b",
    r"\b(?:thanks|thank you) (?:so much |very much |again )?for (?:your|the|all (?:your|the)|"
    r"all) help\b(?![^.!?\n]{0,10}\bbut\b)[\s.!]*$",
)


_NOT_CLOSING = re.compile(
    r"\b(?:that's|is that|thats) (?:all|it)\s*\?|\bnothing else\b[^.!?\n]{0,20}\?|\b(?:is|are|was|"
    r"were) (?:it|we|you|that|this|everything|they) (?:all )?(?:done|good|sorted|set)\b")


def _closing(text: _Text) -> bool:
    return text.has(_CLOSING_PATTERNS) and not text.has(_NOT_CLOSING)


# --- threats and anger ---------------------------------------------------------------------------

_ANGER = _any(
    r"\b(?:furious|fuming|livid|incandescent|seething|enraged|outraged|disgusting|disgusted|"
    r"disgrace|disgraceful|appalling|appalled|outrageous|atrocious|shambles|scammers?|scam|thieves|"
    r"daylight robbery|criminals?|sick and tired|beyond angry|raging)\b",
    r"\b(?:so|really|very|extremely|absolutely|bloody|fucking) (?:angry|mad|pissed off)\b|"
    r"\bpissed off\b",
    r"\bworst (?:company|service|customer service|experience|shop|retailer|store|website|delivery|"
    r"bot|chatbot|ever)\b",
    r"\bnever again\b|\bnever (?:ever )?(?:buy|buying|order|ordering|shop|shopping|use|using|"
    r"recommend|deal|purchase)\w* (?:\w+ ){0,4}?again\b",
    r"\bhate (?:you|this company|your company|lumen)\b",
    r"\b(?:wtf|ffs|what the (?:hell|fuck|f)|for fuck's sake)\b",
    r"\b(?:bloody|absolutely|completely|utterly|totally|fucking) (?:useless|incompetent|"
    r"hopeless)\b",
    r"\b(?:bunch of|load of) (?:idiots|clowns|cowboys|amateurs|crooks|liars|muppets)\b|"
    r"\bjoke of a (?:company|shop|business|service)\b",
)
_STAR_RATING = re.compile(r"\b(?:1|one|0|zero)[- ]?stars?\b(?! ?reviews?)", re.IGNORECASE)
_READ_REVIEWS = re.compile(
    r"\b(?:read|saw|seen|found|checked|looked at|based on|according to)\b|\breviews? (?:are|were|"
    r"say|said|looked|look)\b")
_REVIEW_THREAT = re.compile(
    r"\b(?:leave|leaving|write|writing|post|posting|put|putting|give|giving|going to|will|i'll|"
    r"here i come|expect|coming your way|bad|negative|terrible|awful|scathing|honest|1|one|0|zero|"
    r"everyone|warn|warning)\b")
_POSITIVE_REVIEW = re.compile(
    r"\b(?:good|great|positive|glowing|nice|lovely|5[- ]?star|five[- ]?star|excellent|"
    r"amazing) reviews?\b")


def _escalation(text: _Text) -> tuple[bool, bool]:
    """(public or legal threat, strong anger), from bot/complaints/severity.py's signals plus a word list."""
    raw = _EMAIL.sub(" ", text.raw)  # an address typed in capitals is not shouting
    signals = set(detect_escalation_signals([raw]))
    if "reviews" in signals and _POSITIVE_REVIEW.search(text.low) and not re.search(
            r"\b(?:bad|negative|terrible|awful|scathing|honest|1|one|0|"
            r"zero)[- ]?(?:star )?reviews?\b|trust ?pilot", text.low):
        signals.discard("reviews")
    if "reviews" in signals and _READ_REVIEWS.search(text.low) and not _REVIEW_THREAT.search(
            text.low):
        signals.discard("reviews")  # "I read the reviews on Trustpilot before buying"
    if "reviews" in signals and "reviews" not in detect_escalation_signals(
            [_STAR_RATING.sub(" ", raw)]):
        signals.discard("reviews")  # "1 star" alone is answering the feedback question
    public = bool(signals & (PUBLIC_SIGNALS | {"legal"}))
    anger = bool(signals & {"shouting", "insult"}) or text.has(_ANGER)
    return public, anger


# --- other needs ---------------------------------------------------------------------------------

_NEED_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("returns", _any(
        r"\breturn(?:ing)? (?:it|them|this|that|these|those|the|my|an?|one|some|all|everything|"
        r"part)\b(?! (?:call|calls|to (?:the )?(?:sender|depot|warehouse|shop|store|website|"
        r"site)))",
        r"\breturns?\b(?= (?:policy|label|form|process|address|portal|request|window|period|"
        r"postage|shipping|costs?|fee))|\breturns\b",
        r"\b(?:send|sending|post|posting|ship) (?:it|them|this|that|these|those|the \w+|"
        r"everything) back\b",
        r"\b(?:how|can|could|want|like|need) (?:do |to |i )?(?:i )?return\b",
        r"\b(?:a|the|my) returns?\b(?! (?:to sender|flight|ticket))",
    )),
    ("delivery_times", _any(
        r"\b(?:delivery|shipping|postage|dispatch) (?:times?|days?|options?|estimates?|speed)\b",
        r"\bhow long\b[^.!?\n]{0,50}\b(?:to (?:deliver|ship|arrive|get here)|delivery|deliveries|"
        r"shipping|postage)\b",
        r"\b(?:deliver\w*|ship|shipping|postage)\b[^.!?\n]{0,30}\bhow long (?:does|will|"
        r"would) (?:it|that) take\b",
        r"\bif i (?:order|buy|place an order)\b[^.!?\n]{0,30}\bwhen (?:would|will|"
        r"does) it (?:arrive|come|be delivered|get here)\b",
        r"\bhow long (?:does|do|will|would|is) (?:the |your |standard |express )?(?:delivery|"
        r"deliveries|shipping|postage)\b",
        r"\bhow long (?:does|will|would) it take to (?:arrive|deliver|ship|get here|come)\b",
        r"\b(?:do you|can i get|can i have|is there|do you offer|offer) (?:a |an )?(?:next|"
        r"same)[- ]day delivery\b|\bdo you deliver (?:on|at|to|in|at the)\b",
    )),
    ("refund_timing", _any(
        r"\b(?:when|how long|how soon|how many days)\b[^.!?\n]{0,50}\b(?:refund|refunds|money back|"
        r"reimburse\w*|refunded|(?:get|see|receive) (?:the|my) money)\b",
        r"\brefunds? (?:processing )?(?:time|times|timing|timeline)\b|"
        r"\bmoney (?:is )?back on my (?:card|account)\b",
        r"\b(?:where(?:'s| is)|still waiting (?:for|on)|waiting for|haven't (?:received|got|had|"
        r"seen)|not (?:received|got|seen)|never (?:received|got))\b[^.!?\n]{0,15}\b(?:my |the |"
        r"a )?(?:refund|money back|money)\b",
        r"\b(?:refund|money)\b[^.!?\n]{0,20}\b(?:hasn't|has not|not|still not|never|"
        r"yet to) (?:arrived|come|come through|gone through|shown|showed|appeared|been processed|"
        r"reached|landed|been paid)\b",
        r"\brefund status\b|\bstatus of (?:my|the) refund\b",
        r"\b(?:refund|money back)\b[^.!?\n]{0,20}\bwithin (?:\d+|a|one|two|three|five|ten|14|"
        r"30) (?:working |business )?(?:days?|weeks?)\b",
        r"\b(?:refund|money back)\b[^.!?\n]{0,60}\b(?:it's been|been|that was|over) (?:\d+|two|"
        r"three|a few|several|over a|more than a|a) (?:days?|weeks?|months?)\b",
    )),
    ("order_status", _any(
        r"\bwhere(?:'s| is| are)? (?:my|the|our) (?:[\w-]+ ){0,2}?(?:order|parcel|package|delivery|"
        r"stuff|items?|things|purchase|shipment)\b(?! (?:number|no|nr|ref|reference|id|code))",
        r"\bwhere(?:'s| is) it\b(?! (?:from|made))",
        r"\border status\b|\bstatus of (?:my|the) (?:order|parcel|delivery)\b",
        r"\b(?:when|what day|what time)(?:'s| is| will| does| do| should|"
        r" can)?\b[^.!?,\n]{0,30}\b(?:arrive|arriving|arrives|be delivered|being delivered|"
        r"get here|be here|turn up|dispatched|shipped|come|coming)\b",
        r"\b(?:has|did|have|is|was)\b (?:[\w-]+ ){0,3}?(?:shipped|ship|dispatched|been sent|"
        r"sent out|posted|left the warehouse|on (?:its|it's) way|out for delivery|delivered yet|"
        r"picked up)\b",
        r"\b(?:any )?(?:update|news)\b (?:on|about|for|regarding) (?:my|the|order)\b",
        r"\b(?:expected|estimated|what's the|what is the|my) delivery date\b|\beta\b|"
        r"^\W*tracking\b",
        r"\btrack(?:ing)? (?:my |the |our )?(?:order|parcel|package|delivery)\b|"
        r"\btracking (?:number|link|information|code|info|details)\b",
        r"\b(?:hasn't|has not|hasnt|still not|not yet|never|didn't|did not|haven't|"
        r"have not) (?:arrived|arrive|come|turned up|been delivered|shown up|received (?:my|the|it|"
        r"our))\b(?! (?:refund|money))",
        r"\b(?:still not|still isn't|it's not|isn't|not) here(?: yet)?\b",
        r"\bwhen (?:my|the|our) (?:[\w-]+ ){0,2}?(?:order|parcel|package|delivery|items?) (?:will|"
        r"is going to|should|would) (?:be delivered|arrive|come|get here|turn up|be here)\b",
        r"\bwhat(?:'s| is) (?:going on|happening) with (?:my|the|our) (?:order|parcel|delivery|"
        r"package)\b",
        r"\bwhen (?:will|is|does|should|can i expect) (?:my|the|our) (?:[\w-]+ ){0,2}?(?:order|"
        r"parcel|package|delivery|stuff|items?|purchase)\b",
        r"\b(?:has|have|is) (?:my|the|our) (?:order|parcel|package|items?) (?:been )?(?:shipped|"
        r"dispatched|sent|posted|on (?:its|it's) way)\b",
    )),
    ("complaint", _any(
        r"\bcomplain\w*\b",
        r"\b(?:not|very|really|so|extremely) (?:happy|satisfied|pleased) with (?:the|"
        r"your) (?:service|driver|courier|delivery|agent|staff|way)\b",
        r"\b(?:unhappy|dissatisfied|disappointed) with (?:the|your|how|my|what)\b",
        r"\b(?:not|really not|very un) ?(?:happy|satisfied|pleased) with (?:my|what)\b",
        r"\b(?:customer )?(?:service|support) (?:is|was|has been) (?:\w+ )?(?:terrible|awful|poor|"
        r"bad|appalling|shocking|rubbish|dreadful|useless|a joke)\b",
        r"\b(?:terrible|awful|poor|bad|appalling|shocking|rubbish|"
        r"dreadful) (?:customer )?service\b",
        r"\b(?:rude|unhelpful|aggressive) (?:driver|courier|delivery (?:man|guy|driver)|staff|"
        r"agent|person|man|woman|guy)\b|\b(?:driver|courier|agent) was (?:really |very |"
        r"so )?(?:rude|aggressive|unhelpful)\b",
    )),
)


# Needs the intent classifier names itself (ask_order_status, complain): named alone, they are
# what the message is about. The others are FAQ answers a message can ask for on the side.
_FIRST_NEEDS = frozenset({"order_status", "complaint"})


def _other_needs(text: _Text) -> tuple[str, ...]:
    low = _ORDER.sub("my order", text.low)
    found = []
    for need, pattern in _NEED_PATTERNS:
        for match in pattern.finditer(low):
            if need == "order_status" and re.search(r"\brefund|\bmoney\b", match.group()):
                continue
            if need == "order_status" and re.search(r"\bif i (?:order|buy|place)\b", low):
                continue  # "if I order today, when would it arrive?" asks about delivery times
            if need == "order_status" and re.search(
                    r"\b(?:refund|money|reimburse\w*)\b[^.!?,;\n]{0,25}$",
                    _before(low, match.start())):
                continue  # "the money hasn't come through" is refund timing
            if need == "returns" and _negated(low, match.start()) and not re.search(
                    r"\b(?:how|can|could)\b", _before(low, match.start(), 15)):
                continue
            found.append(need)
            break
    if len(found) == 1 and found[0] in _FIRST_NEEDS:
        return ()  # "where is my order" alone is the message's need, not a second one
    return tuple(found)


# --- the reading ---------------------------------------------------------------------------------

_READERS: tuple[tuple[str, Callable[[_Text], object]], ...] = (
    ("hazard", _hazard), ("declines", _declines), ("wants_remedy", _wants_remedy),
    ("affirms", _affirms), ("callback_time", _callback_time), ("phone", _phone),
    ("rating", _rating), ("stop", _stop), ("start_over", _start_over),
    ("process_question", _process_question), ("closing", _closing),
    ("other_needs", _other_needs),
)


def read_message(text: str) -> Reading:
    """Everything `Reading` knows about one customer message (only its first MAX_CHARS)."""
    prepared = _prepare(text if isinstance(text, str) else "")
    if not prepared.low:
        return Reading()
    values = {name: reader(prepared) for name, reader in _READERS}
    values["public_threat"], values["strong_anger"] = _escalation(prepared)
    return Reading(**values)
