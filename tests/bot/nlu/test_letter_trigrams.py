"""LetterTrigrams: keyboard mashes score far below real words, typos and greetings included."""

from bot.nlu.letter_trigrams import MIN_TRIGRAMS, LetterTrigrams

from tests.support import PROJECT


def bot_examples() -> list[str]:
    from rasa.shared.importers.importer import TrainingDataImporter

    data = TrainingDataImporter.load_from_dict(
        training_data_paths=[str(PROJECT / "data" / "nlu")],
        domain_path=str(PROJECT / "domain.yml")).get_nlu_data()
    return [m.get("text") for m in data.intent_examples]


MASHES = ["qwpoe rtzu", "mnbv cxy", "sdfsdf ewrwer", "fdsa fdsa lkjlkj", "ghghgh wxyz"]
REAL = ["thankss", "hullo there", "absolutely ridiculous", "my lamp is borked", "tschüss",
        "the ottoman wobbles", "cheerio mate", "obviously", "bedankt", "Wojciech Szczepański"]


def test_mashes_score_below_every_real_message() -> None:
    letters = LetterTrigrams.fit(bot_examples())
    worst_real = min(letters.mean_log_prob(text) for text in REAL)
    best_mash = max(letters.mean_log_prob(text) for text in MASHES)
    assert best_mash < -4.5 < worst_real  # the classifier's default threshold sits between


def test_too_few_letters_and_ids_are_not_judged() -> None:
    letters = LetterTrigrams.fit(["where is my order", "hello there"])
    assert letters.mean_log_prob("asdf") is None  # under MIN_TRIGRAMS letter trigrams
    assert letters.mean_log_prob("EC1V 9HX RP-204518 07700900123") is None
    assert letters.mean_log_prob("") is None
    assert MIN_TRIGRAMS == 6


def test_state_round_trip() -> None:
    letters = LetterTrigrams.fit(["where is my order", "hello there"])
    again = LetterTrigrams(letters.to_state())
    assert again.mean_log_prob("where's the order") == letters.mean_log_prob("where's the order")
