"""Language detection: English unless a customer message is clearly another language."""

from __future__ import annotations

import pytest

from bot.nlu.language import MAX_CHARS, LanguageGuess, detect_language

FRENCH = [
    "Bonjour, ma commande n'est toujours pas arrivée, pouvez-vous m'aider ?",
    "ma lampe est arrivée cassée",
    "où est mon colis ?",
    "je voudrais un remboursement",
    "c'est inadmissible, trois semaines d'attente !",
    "pouvez vous me dire quand ma commande RP-100001 sera livrée",
    "slt ma commande est pas arrivée",
    "ou est ma commande",  # no accents
    "je n'ai toujours rien recu",
    "le miroir est fissuré, que faire ?",
    "il manque des vis dans le carton",
    "mon numéro de commande est RP-100015, merci de vérifier",
]
GERMAN = [
    "hallo, mein Topfset ist kaputt angekommen. Bestellung RP-100004",
    "wo ist meine Bestellung?",
    "ich möchte mein Geld zurück",
    "Guten Tag, wann wird meine Bestellung geliefert?",
    "das ist eine Frechheit, schon zwei Wochen!",
    "paket nicht angekommen",
    "hallo ich hab ne frage zu meiner bestellung",
    "Liefern Sie auch nach Österreich?",
    "wo bleibt mein paket",
    "der Tisch wackelt und die Schrauben fehlen",
    "die Lampe funktioniert nicht",
    "Lieferadresse ändern bitte, danke",
]
SPANISH = [
    "hola! quiero devolver una lámpara, cómo lo hago?",
    "dónde está mi pedido?",
    "mi pedido no ha llegado",
    "la mesa llegó rota",
    "necesito hablar con una persona",
    "hola mi pedido RP-100002 no llega",
    "es una vergüenza, nadie responde",
    "donde esta mi pedido",  # no accents
    "me llego roto el jarron",
    "faltan tornillos en la caja",
    "cuándo me devuelven el dinero?",
    "envían a México?",
]
ITALIAN = [
    "Buongiorno, il mio ordine RP-100001 dove si trova? grazie",
    "il pacco è arrivato danneggiato",
    "vorrei un rimborso",
    "dov'è il mio ordine?",
    "ciao, ho ricevuto il colore sbagliato",
    "voglio parlare con un operatore",
    "dove e il mio ordine",  # no accents
    "ciao, mi potete aiutare?",
    "mancano le viti nella scatola",
    "quando mi rimborsate?",
    "spedite in Svizzera?",
    "nessuno risponde, è incredibile",
]
DUTCH = [
    "hoi, mijn boekenkast is beschadigd aangekomen, wat nu?",
    "waar is mijn bestelling?",
    "ik wil mijn geld terug",
    "mijn pakket is nog steeds niet aangekomen",
    "de lamp is kapot",
    "dit is belachelijk, al twee weken wachten",
    "bezorgen jullie ook in België?",
    "mijn postcode is 1012 AB",
    "waar blijft mijn pakketje",
    "ik heb niks ontvangen",
    "er ontbreken schroeven in de doos",
    "wanneer krijg ik mijn geld terug?",
]
PORTUGUESE = [
    "olá, minha encomenda ainda não chegou",
    "onde está o meu pedido?",
    "boa noite, o espelho chegou rachado",
    "a lâmpada não funciona",
]
ENGLISH = [
    # informal, typos, fragments
    "hiya my parcel aint come", "wheres my order m8", "pls help", "ok", "thx", "yes pls", "no",
    "wat is the status of my oder", "recieved wrong colour kettle", "cancel my order",
    "whats ur returns policy", "u there?", "cheers", "nope", "kk", "nvm", "idk", "ta", "lol",
    "yo where my stuff at", "cant login", "parcel damaged", "wrong item", "help", "???",
    "that didnt help", "maybe later", "tomorrow morning", "after 5pm", "sry typo, i meant RP-100012",
    "nah its fine", "omg finally", "the chair wobbles", "i paid twice", "talk to a human",
    # order numbers, e-mail addresses, phone numbers, postcodes, links, emoji
    "RP-100001 ada@example.com", "1012 AB", "4", "order no. RP-123456 pls",
    "email is jan.devries@example.nl", "my postcode is 1012 AB amsterdam",
    "i need to update my phone number +31 6 12345678", "call me on 07700 900123",
    "see https://lumenandoak.com/orders/RP-100001", "😡😡😡", "👍", "postcode 75001 Paris",
    # foreign names, places and products inside English
    "my name is Jean-Pierre Dubois", "I'm Hans Müller, order RP-100003", "my name is Giulia Rossi",
    "José García, order RP-100010", "Mr. Van Der Berg here", "Keizersgracht 123 Amsterdam",
    "Rue de Rivoli 10, 75001 Paris", "Hauptstraße 5, 10115 Berlin", "Piazza Navona 3 Roma",
    "my address is Calle Mayor 5, Madrid", "I live at Via Roma 12, Milano",
    "the Topfset is great", "ordered a Topfset, arrived without lids", "i live in Den Haag, do you deliver there",
    "do you have a shop in Brussels", "how long does delivery take to Lyon",
    # a foreign word or greeting in English, and greetings/thanks alone
    "ciao is fine but where's the lamp", "merci for nothing lol", "bonjour lol, where's my stuff",
    "hallo? anyone there", "ciao! just checking on my order", "de nada, thanks for your help",
    "la lampe — sorry, the lamp — is broken", "el sofa is too big for the door",
    "merci", "danke", "gracias", "grazie", "bedankt", "ciao", "hola", "bonjour", "oui", "ja", "si",
    "merci beaucoup", "danke schön", "grazie mille", "dank je wel", "au revoir", "buenos días",
    # longer stories
    "the delivery guy left it in the rain and now the box is soaked and the table is warped, "
    "this is the third time this happens and I'm honestly fed up with Lumen & Oak",
    "Hi there, I ordered a set of pans on Monday (RP-100002) and the tracking still says "
    "processing. Could you let me know when it ships? Thanks, Maria",
    "Hello, I placed an order last Tuesday and haven't heard anything since. Order number is "
    "RP-100013, email tom@example.co.uk. Can you help?",
    "hi, i bought a lamp (RP-100011) on 12/03/2024, it flickers, can you replace it?",
    "ok so basically the kettle stopped working after 2 days and i want my money back",
    "dear sir/madam, I am writing to complain about order RP-100009 which arrived late",
]


@pytest.mark.parametrize("code, messages", [
    ("fr", FRENCH), ("de", GERMAN), ("es", SPANISH), ("it", ITALIAN), ("nl", DUTCH),
    ("pt", PORTUGUESE),
])
def test_customer_messages_in_other_languages_are_recognised(code, messages):
    guesses = {message: detect_language(message) for message in messages}
    assert {m: g.code for m, g in guesses.items() if g.code != code} == {}
    assert all(guess.confidence >= 0.3 for guess in guesses.values())


def test_english_stays_english_however_it_is_written():
    assert {m: g.code for m in ENGLISH if (g := detect_language(m)).code != "en"} == {}


def test_text_too_short_to_judge_is_english_with_no_confidence():
    for text in ("", "   ", "ok", "4", "1012 AB", "RP-100001 ada@example.com", "merci", "ja nee"):
        assert detect_language(text) == LanguageGuess("en", 0.0)


def test_a_mixed_message_is_the_language_that_dominates():
    assert detect_language("Bonjour! I ordered a lamp last week and it still hasn't "
                           "arrived, can you check please? merci").code == "en"
    assert detect_language("sorry, mi inglés es malo: quiero devolver la lámpara porque "
                           "llegó rota y nadie me responde").code == "es"


def test_only_the_start_of_a_long_message_is_read():
    german = "Hallo, meine Bestellung ist leider noch nicht angekommen. "
    english = "where is my order, it is late. " * 5_000
    assert detect_language(german + " " * MAX_CHARS + english).code == "de"  # English unread
    assert detect_language(" " * MAX_CHARS + german).code == "en"  # German unread: nothing left


def test_the_guess_is_a_small_frozen_record():
    guess = detect_language("wo ist meine Bestellung?")
    assert guess.as_dict() == {"code": "de", "confidence": guess.confidence}
    assert 0.9 <= guess.confidence <= 1.0
    with pytest.raises(AttributeError):
        guess.code = "en"  # type: ignore[misc]
