"""Personal data detection in draft replies: true positives, ordinary replies, property tests."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from schwifty import IBAN

from bot.cases.personal_data import Finding, find_personal_data

ORDER = {"order_number": re.compile(r"\bORD-\d{6}\b")}


@pytest.mark.parametrize(
    ("draft", "kind", "text"),
    [
        ("Je IBAN NL91 ABNA 0417 1643 00 is bij ons bekend.", "iban", "NL91 ABNA 0417 1643 00"),
        ("We storten het terug op NL91ABNA0417164300.", "iban", "NL91ABNA0417164300"),
        ("Refund goes to nl91abna0417164300 today", "iban", "nl91abna0417164300"),
        ("Account DE89 3704 0044 0532 0130 00, thanks!", "iban", "DE89 3704 0044 0532 0130 00"),
        ("Rekening BE68 5390 0754 7034 klopt", "iban", "BE68 5390 0754 7034"),
        ("We bellen je op 06-12345678.", "phone", "06-12345678"),
        ("Bel je ons terug? Je nummer is 0612345678", "phone", "0612345678"),
        ("We called +31 6 12345678 twice.", "phone", "+31 6 12345678"),
        ("Our London office: +44 20 7946 0958", "phone", "+44 20 7946 0958"),
        ("Vast nummer 020-1234567 klopt niet", "phone", "020-1234567"),
        ("We mailen anna@example.nl zo snel mogelijk.", "email", "anna@example.nl"),
        (
            "Reply sent to J.de.Vries+shop@mail.example.co.uk.",
            "email",
            "J.de.Vries+shop@mail.example.co.uk",
        ),
        ("Het pakket gaat naar 1234 AB 12.", "postcode_house_number", "1234 AB 12"),
        ("Adres: 1234AB, 12a", "postcode_house_number", "1234AB, 12a"),
        ("Kerkstraat 5, 1234 AB Amsterdam", "postcode_house_number", "Kerkstraat 5, 1234 AB"),
        (
            "We leveren op Hoofdstraat 12, 1234 AB.",
            "postcode_house_number",
            "Hoofdstraat 12, 1234 AB",
        ),
        ("Your BSN 111222333 is in the letter", "bsn", "111222333"),
        ("BSN 1112.22.333 staat op je pas", "bsn", "1112.22.333"),
        ("Card 4111 1111 1111 1111 was declined", "card_number", "4111 1111 1111 1111"),
        ("Kaart 4111-1111-1111-1111 geweigerd", "card_number", "4111-1111-1111-1111"),
        ("Creditcard 5555555555554444 is geblokkeerd", "card_number", "5555555555554444"),
        ("Amex 3782 822463 10005 expired", "card_number", "3782 822463 10005"),
        ("Je bestelling ORD-123456 is onderweg.", "order_number", "ORD-123456"),
        ("Order ORD-654321 ships tomorrow", "order_number", "ORD-654321"),
    ],
)
def test_flags_personal_data(draft: str, kind: str, text: str) -> None:
    findings = find_personal_data(draft, extra_patterns=ORDER)
    start = draft.index(text)
    assert findings == [Finding(kind, text, start, start + len(text))]


@pytest.mark.parametrize(
    "draft",
    [
        "Hoi! We zijn er om 10:30 weer, dan kijken we direct mee.",
        "Je pakket wordt op 27-11-2026 bezorgd tussen 09:00 en 13:00.",
        "Delivery is planned for 2026-11-27, between 9am and 1pm.",
        "Het abonnement kost € 12,50 per maand, vanaf 1 januari € 13,75.",
        "The upgrade costs $1,299.00, or €1.299,00 in the EU.",
        "Je krijgt 15% korting op je volgende bestelling van minimaal € 50.",
        "Het duurt nog 2 dagen voordat je retour verwerkt is.",
        "This is order 3 of 5, the rest ships within 3-5 working days.",
        "Please update to iOS 17.2.1 or Android 14 and try again.",
        "Versie 4.12.0 van de app lost dit op, sorry voor het ongemak!",
        "Meer info vind je op https://acme.nl/help/123456 of www.acme.nl/faq/0201234567.",
        "Check https://acme.com/orders/4111111111111111/status for the details.",
        "Volg @acme_nl of gebruik #acmehelpt en #2024actie voor updates.",
        "Thanks @anna_1990, we have passed this on to our team.",
        "Sinds 2019 helpen we klanten, en in 2026 openen we 12 nieuwe winkels.",
        "Je klantreferentie 1234567890 hebben we genoteerd, bedankt!",
        "Bel gerust onze gratis klantenservice op 0800-0123 of 088-1234567.",
        "We're open Monday to Friday 8:00–20:00 and Saturday 9:00–17:00.",
        "Dank je wel voor je geduld, we hebben het doorgezet naar team 2.",
        "Your ticket #48213 is closed; reply within 14 days to reopen it.",
        "Postcode 1234 AB valt in ons bezorggebied, dus dat komt goed.",
        "Het storingsnummer is 3 en de storing duurt 45 minuten, excuses.",
        "Room for 2 adults and 1 child costs £189.99 per night incl. 21% VAT.",
        "Je retourlabel is geldig t/m 31/12/2026, dus je hebt 30 dagen de tijd.",
        "We moeten 1.250 pakketten herbezorgen, verwacht rond 16.30 uur.",
        "Zie artikel 6:230 BW en onze voorwaarden (versie 2.1, 2024).",
    ],
)
def test_ordinary_replies_have_no_findings(draft: str) -> None:
    assert find_personal_data(draft) == []


@pytest.mark.parametrize(
    "draft",
    [
        "Je IBAN NL91 ABNA 0417 1643 01 klopt niet",  # wrong checksum
        "IBAN NL91ABNA0417164301",
        "Je BSN 123456789 staat niet in ons systeem",  # fails the 11-proof
        "Kaart 4111 1111 1111 1112 bestaat niet",  # fails Luhn
    ],
)
def test_invalid_numbers_are_not_flagged(draft: str) -> None:
    assert find_personal_data(draft) == []


def test_findings_in_order_and_overlaps_keep_the_most_specific() -> None:
    draft = "Mail anna@example.nl, bel 06-12345678 of stort op NL91 ABNA 0417 1643 00."
    assert [f.kind for f in find_personal_data(draft)] == ["email", "phone", "iban"]
    # A configured customer number wins over the BSN its 11-proof digits also look like.
    customer = {"customer_number": re.compile(r"\bklant 111222333\b")}
    assert find_personal_data("klant 111222333", extra_patterns=customer) == [
        Finding("customer_number", "klant 111222333", 0, 15)
    ]


def test_default_region_is_used_for_national_numbers() -> None:
    draft = "Call us back on (020) 7946 0958"
    assert find_personal_data(draft) == []
    assert [f.text for f in find_personal_data(draft, default_region="GB")] == ["(020) 7946 0958"]


WORDS = st.sampled_from(
    [
        "hoi",
        "hallo",
        "dank",
        "je",
        "wel",
        "voor",
        "bericht",
        "we",
        "kijken",
        "ernaar",
        "the",
        "order",
        "is",
        "on",
        "its",
        "way",
        "sorry",
        "for",
        "delay",
        "bestelling",
        "pakket",
        "retour",
        "dagen",
        "uur",
        "minuten",
        "klantenservice",
        "Amsterdam",
        "Maandag",
        "Thanks",
        "vandaag",
        "morgen",
        "graag",
    ]
)
RANDOM_WORDS = st.text("abcdefghijklmnopqrstuvwxyzé", min_size=1, max_size=10).map(
    lambda w: w.capitalize() if len(w) > 3 else w
)
SMALL_NUMBERS = st.integers(0, 9999).map(str)
PUNCTUATION = st.sampled_from(["", ",", ".", "!", "?", ":"])
# Every number follows a word, as in prose: a run of bare 4-digit groups is card-shaped and may
# pass Luhn ("2290 2290 2290 2290"), which is rightly flagged.
PROSE = st.lists(
    st.tuples(st.one_of(WORDS, RANDOM_WORDS), st.one_of(st.just(""), SMALL_NUMBERS)),
    max_size=30,
).map(lambda tokens: " ".join(f"{word} {number}".strip() for word, number in tokens))


@given(PROSE, PUNCTUATION)
def test_words_and_small_numbers_have_no_findings(prose: str, punctuation: str) -> None:
    assert find_personal_data(prose + punctuation) == []


VALID_IBANS = [
    "NL91ABNA0417164300",
    "NL20INGB0001234567",
    "DE89370400440532013000",
    "BE68539007547034",
    "GB82WEST12345698765432",
    "FR1420041010050500013M02606",
    "ES9121000418450200051332",
    "IT60X0542811101000000123456",
]


@st.composite
def ibans(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        iban = IBAN(draw(st.sampled_from(VALID_IBANS)))
    else:
        bank = draw(st.sampled_from(["ABNA", "INGB", "RABO", "SNSB", "TRIO"]))
        account = draw(st.text("0123456789", min_size=10, max_size=10))
        iban = IBAN.generate("NL", bank_code=bank, account_code=account)
    return iban.formatted if draw(st.booleans()) else iban.compact


@given(PROSE, ibans(), PUNCTUATION, PROSE)
def test_valid_iban_in_text_is_found_with_its_span(
    before: str, iban: str, punctuation: str, after: str
) -> None:
    prefix = f"{before} " if before else ""
    draft = f"{prefix}{iban}{punctuation} {after}"
    assert find_personal_data(draft) == [
        Finding("iban", iban, len(prefix), len(prefix) + len(iban))
    ]
