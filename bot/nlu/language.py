"""Which language a customer wrote in, leaning towards English unless it is clearly another.

Ollie works in English. A message counts as French, German, Spanish, Italian, Dutch or
Portuguese only when two independent signals agree: py3langid's character n-gram model
(shipped inside its wheel; nothing is downloaded) and the message's own common words
(articles, pronouns, "where is my order" vocabulary). Short chat text fools either signal
alone ("yes pls" looks French to the n-grams; "no" is Spanish and Italian as well), so
anything too short to judge, or with as much English in it as the other language, is English.
Order numbers, e-mail addresses, phone numbers, URLs, postcodes, digits and emoji are removed
first: they say nothing about the language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from py3langid.langid import LanguageIdentifier

ENGLISH = "en"
LANGUAGES = ("en", "fr", "de", "es", "it", "nl", "pt")
LANGUAGE_NAMES: dict[str, str] = {
    "en": "English", "fr": "French", "de": "German", "es": "Spanish", "it": "Italian",
    "nl": "Dutch", "pt": "Portuguese",
}
MAX_CHARS = 1000  # the language shows in the first lines; a 100 KB paste costs no more
MIN_WORDS = 2  # one word ("merci", "ciao", "danke") is often an English speaker's aside
MIN_LETTERS = 8
MIN_CONFIDENCE = 0.9
MIN_LEAD = 1  # more of the language's own words than English ones...
STRONG_LEAD = 3  # ...and with three more, the n-gram model need only lean that way
MIN_CONFIDENCE_STRONG_LEAD = 0.3


@dataclass(frozen=True)
class LanguageGuess:
    """A code from LANGUAGES; confidence: the model's probability that the message is (for
    "en") or is not (for any other code) English; 0.0 when the text was too short to judge."""

    code: str
    confidence: float

    def as_dict(self) -> dict[str, object]:
        """As the NLU component puts it in the parse data under `language`."""
        return {"code": self.code, "confidence": self.confidence}

    @classmethod
    def from_parse_data(cls, parse_data: Any) -> "LanguageGuess":
        """Read `language` back from parse data (or `tracker.latest_message`); English when
        it is missing or odd, as on messages parsed before the component was in the pipeline."""
        value = parse_data.get("language") if isinstance(parse_data, dict) else None
        value = value if isinstance(value, dict) else {}
        code = value.get("code")
        if code not in LANGUAGES:
            return ENGLISH_DEFAULT
        try:
            confidence = float(value.get("confidence") or 0.0)
        except (TypeError, ValueError):
            confidence = 0.0
        return cls(code, confidence)


ENGLISH_DEFAULT = LanguageGuess(ENGLISH, 0.0)

_NOISE = re.compile(
    r"https?://\S+|www\.\S+"  # URLs
    r"|\S+@\S+"  # e-mail addresses
    r"|\b[A-Z]{2,3}-?\d+\b"  # order and case numbers (RP-123456)
    r"|\b\d{4}\s?[A-Z]{2}\b|\b\d{4}[a-z]{2}\b"  # Dutch postcodes (1012 AB, 1012ab)
    r"|\+?\d[\d\s().\-/]*\d"  # phone numbers, dates, amounts
    r"|\d",
)
# Names and addresses with particles ("Rue de Rivoli", "Via della Spiga", "Jan van Dijk")
# carry the particle's language, not the customer's.
_NAME = re.compile(
    r"\b[A-Z][^\W\d_]*(?:[\s-]+(?:de|da|di|do|du|del|della|des|dos|das|van|von|der|den|la|le"
    r"|y)\s+[A-Z][^\W\d_]*)+")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")

# Words that mark a language in customer chat. A word that is common in English as well
# ("no", "is", "a", "come", "die", "me") is left out of every list; words shared by two of
# the other languages are in both, and the n-gram model tells those apart.
_MARKERS: dict[str, frozenset[str]] = {
    "en": frozenset("""
        i i'm im i've ive i'd my me mine you your ur u you're youre we our us it it's its as
        the an and or but with for from of to at on by this that these those there here
        what whats what's where wheres where's when why how who which
        can can't cant could would should will won't wont did didn't didnt do don't dont does
        doesn't doesnt was wasn't wasnt were have has had haven't hasn't hadn't isn't isnt
        aren't arent are be been am not yes yeah yep nope ok okay pls plz please thanks thank
        thx ty cheers hi hiya hello hey bye order orders ordered parcel package delivery
        delivered arrived arrive refund return returned broken damaged wrong still yet just
        want need help speak talk someone person human agent again got get gonna wanna aint
        ain't m8 mate lol ffs tbh asap any some about after before today tomorrow week weeks
        good great bad worst never ever really very too also only all item items
    """.split()),
    "fr": frozenset("""
        je j' j'ai j'aimerais je suis tu il elle nous vous on ma mon mes ta ton tes sa son ses
        votre vos notre nos le les la l' un une des du au aux ce cette ces est c'est n'est
        suis sont ai avez avons pas ne n' plus toujours encore où ou quand comment pourquoi
        quoi que qui qu' pour avec sans sur dans chez et mais très bien merci bonjour bonsoir
        salut svp commande colis livraison livré livrée reçu reçue arrivé arrivée cassé cassée
        remboursement rembourser retourner retour voudrais veux peux pouvez aider parler
        quelqu'un personne conseiller semaines jours depuis aujourd'hui demain d'attente
        m'aider s'il plaît mauvais mauvaise article canapé lampe table annuler rien aide
        problème probleme
    """.split()),
    "de": frozenset("""
        ich mich mir mein meine meinen meiner meinem du dich dein deine sie wir uns ihr ihre
        ist sind bin bist hat habe hab haben war wurde wird werden kann können könnte möchte
        will nicht kein keine keinen noch schon auch aber und oder mit ohne für von vom zum
        zur nach bei aus auf der das den dem des ein eine einen einem einer wo wann wie warum
        was wer hallo guten tag morgen abend danke bitte schön bestellung bestellt paket
        lieferung geliefert angekommen kaputt beschädigt zurück geld erstattung rückerstattung
        falsche falsch farbe mitarbeiter sprechen frage frechheit wochen tagen seit heute
        leider liefern sie schicken zurückschicken ne nen hier dass stornieren storniert
        rückruf bekommen erhalten dauert lange helfen
    """.split()),
    "es": frozenset("""
        yo mi mis tu tus su sus nuestro nuestra usted ustedes el la los las un una unos unas
        del al es está están estoy soy son ha han he hemos tengo tiene quiero quisiera
        necesito puedo puede pueden que qué donde dónde cuando cuándo como cómo por para con
        sin pero y muy gracias hola buenos buenas días tardes favor pedido paquete envío
        entrega llegado llegó llega llegue roto rota reembolso devolver devolución cambiar
        hablar persona compañero semanas desde hoy mañana equivocado equivocada dirección
        vergüenza nadie responde todavía aún ya nada gusta me he recibí recibido mesa lámpara
        envían cancelar anular problema ayudar ayuda
    """.split()),
    "it": frozenset("""
        io il lo la gli le l' un un' uno una mio mia miei mie tuo tua suo sua nostro vostro è sono
        sei ho hai ha abbiamo avete non che chi dove quando come perché per con senza ma
        molto grazie mille ciao buongiorno buonasera salve ordine pacco spedizione consegna
        arrivato arrivata arriva rotto rotta danneggiato danneggiata rimborso restituire reso
        vorrei voglio posso potete parlare operatore collega settimane giorni da oggi domani
        sbagliato sbagliata colore vergogna ancora già della del dello dei delle di si trova
        piace divano lampada tavolo ricevuto spedite mi ti ci annullare aiutare aiuto potete
        niente nessuno problema
    """.split()),
    "nl": frozenset("""
        ik mij mijn je jij jou jouw u uw we wij ons onze jullie het een de deze dit die dat
        is ben bent zijn heb hebt heeft hebben wil wilt kan kunt kunnen mag zou niet geen nog
        steeds al ook maar en of met zonder voor van naar bij op uit waar wanneer hoe waarom
        wat wie hoi hallo goedemorgen goedemiddag goedenavond dank bedankt alsjeblieft graag
        bestelling besteld pakket pakketje bezorging bezorgd bezorgen geleverd aangekomen
        kapot beschadigd geld terug retour retourneren medewerker praten spreken weken dagen
        vandaag morgen verkeerde kleur belachelijk blij boekenkast tafel nu komt wel
        annuleren geannuleerd helpen niks niets ontvangen probleem
    """.split()),
    "pt": frozenset("""
        eu meu minha meus minhas você vocês seu sua nosso nossa o os as um uma é está estão
        estou sou são tem tenho quero queria preciso posso pode não que onde quando como por
        para com sem mas muito obrigado obrigada olá bom boa dia tarde encomenda pedido
        pacote entrega chegou chegaram ainda partido quebrado reembolso devolver falar pessoa
        semanas hoje amanhã errado errada mesa candeeiro cancelar ajudar ajuda nada
    """.split()),
}
# Greetings, thanks and goodbyes: English speakers say "merci beaucoup" or "ciao" too, and
# the training data reads them as thanks and goodbyes. A message of nothing else asks for
# nothing, so it stays English; the customer's next message shows their language.
_PLEASANTRIES = frozenset("""
    merci beaucoup bonjour bonsoir salut au revoir bonne journée soirée à bientôt
    danke schön schon sehr vielen dank hallo guten tag morgen abend tschüss tschüs servus
    gracias muchas hola buenos buenas días dias tardes noches adiós adios chao
    grazie mille ciao buongiorno buonasera arrivederci salve
    bedankt je wel hoi goedemorgen goedemiddag goedenavond doei dag tot ziens
    obrigado obrigada olá ola bom boa dia tchau muito
    oui ja si sí nee non no ok okay
""".split())
# English words that are the same word in another language count for neither.
_SHARED_WITH_ENGLISH = frozenset().union(*(
    _MARKERS["en"] & words for lang, words in _MARKERS.items() if lang != ENGLISH))


def _clean(text: str) -> str:
    """The words of `text` only: noise removed, lower-cased, at most MAX_CHARS read."""
    return _NAME.sub(" ", _NOISE.sub(" ", text[:MAX_CHARS])).lower()


def _markers(words: list[str]) -> dict[str, int]:
    counts = {lang: 0 for lang in LANGUAGES}
    for word in words:
        word = word.replace("’", "'")
        if word in _SHARED_WITH_ENGLISH:
            continue
        for lang, vocabulary in _MARKERS.items():
            if word in vocabulary or word.split("'")[0] + "'" in vocabulary:
                counts[lang] += 1
    return counts


@lru_cache(maxsize=1)
def _identifier() -> "LanguageIdentifier":
    """py3langid's model (about 1 MB, in the wheel), restricted to LANGUAGES; loaded once."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_pickled_model(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(LANGUAGES))
    return identifier


def load_model() -> None:
    """Load the model now (when Rasa loads the pipeline), not on the first customer message."""
    _identifier()


def detect_language(text: str) -> LanguageGuess:
    """The language of a customer message; English unless it is clearly another language."""
    cleaned = _clean(text or "")
    words = _WORD.findall(cleaned)
    if len(words) < MIN_WORDS or sum(len(word) for word in words) < MIN_LETTERS \
            or all(word in _PLEASANTRIES for word in words):
        return ENGLISH_DEFAULT
    probabilities = dict(_identifier().rank(" ".join(words)))
    markers = _markers(words)
    best = max(LANGUAGES, key=lambda lang: (markers[lang], probabilities[lang]))
    not_english = 1.0 - probabilities[ENGLISH]
    lead = markers[best] - markers[ENGLISH]
    if best != ENGLISH and lead >= MIN_LEAD and not_english >= _required_confidence(lead):
        return LanguageGuess(best, round(not_english, 4))
    return LanguageGuess(ENGLISH, round(probabilities[ENGLISH], 4))


def _required_confidence(lead: int) -> float:
    """The more the message's own words point away from English, the less the model must."""
    return MIN_CONFIDENCE if lead < STRONG_LEAD else MIN_CONFIDENCE_STRONG_LEAD
