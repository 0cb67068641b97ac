"""Precomputed vocabulary and fast formatters for generated values.

Generation speed is what limits seeding, so everything here works on lists: timestamps are
formatted from integer milliseconds with a cached day table and a time-of-day table instead of
``datetime.strftime`` per row; text comes from pools of phrases built once per stream.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence

_WORDS_TEXT = (
    "ability able about above accept according account across action activity actually add "
    "address admit adult affect after again against agency agent agree ahead allow almost "
    "alone along already also although always among amount analysis animal answer anyone "
    "appear apply approach area argue around arrive article artist assume attack attention "
    "author available avoid away balance base beat beautiful because become before begin "
    "behavior behind believe benefit better between beyond billion board body book born both "
    "break bring budget build building business camera campaign cancer capital card care "
    "career carry case catch cause cell center central century certain chair challenge "
    "chance change chapter character charge check child choice choose church citizen city "
    "civil claim class clear close coach cold collection college color column common "
    "community company compare computer concern condition conference consider consumer "
    "contain context continue control cost could country couple course court cover create "
    "crime cultural culture current customer data daughter debate decade decide decision "
    "deep defense degree democratic describe design despite detail determine develop "
    "difference different difficult dinner direction director discover discuss disease "
    "doctor document domain dream drive during early economic economy edge education effect "
    "effort eight either election else employee energy enjoy enough enter entire "
    "environment especially establish even evening event every evidence exactly example "
    "executive exist expect experience expert explain factor fail family feature federal "
    "feeling field figure final finally financial finger finish fire firm first fish five "
    "floor focus follow force foreign forget form forward free friend front full function "
    "future game garden general generation girl glass global goal good government great "
    "green ground group grow growth guess hand happen hard head health hear heart heavy "
    "help here herself high himself history hold home hope hospital hotel hour house however "
    "huge human hundred husband idea identify image imagine impact important improve include "
    "income increase indeed indicate individual industry information inside instead "
    "institution interest interview into investment issue item itself join just keep kernel "
    "kind kitchen know knowledge land language large last late later laugh lawyer lead "
    "leader learn least leave left legal less letter level life light like likely line list "
    "listen little live local long look lose loss love machine magazine main maintain major "
    "majority make manage management manager many market marriage material matter maybe "
    "mean measure media medical meeting member memory mention message method middle might "
    "military million mind minute miss mission model modern moment money month more morning "
    "most mother motion move movement much music must myself name nation national natural "
    "nature near nearly necessary need network never news newspaper next nice night none "
    "north note nothing notice number occur offer office officer official often once only "
    "onto open operation opportunity option order organization other others outside owner "
    "page pain painting paper parent part participant particular partner party pass past "
    "patient pattern peace people perform perhaps period person personal phone physical "
    "pick picture piece place plan plant play player point police policy political poor "
    "popular population position positive possible power practice prepare present "
    "president pressure pretty prevent price private probably problem process produce "
    "product production professional program project property protect prove provide public "
    "pull purpose push quality question quickly quite race radio raise range rate rather "
    "reach read ready real reality realize really reason receive recent recently recognize "
    "record reduce reflect region relate relationship religious remain remember remove "
    "report represent require research resource respond response rest result return reveal "
    "right rise risk road robot rock role room rule safe same save scene school science "
    "score season seat second section security seek seem sell send senior sense series "
    "serious serve service session seven several shake share short should shoulder show "
    "side sign significant similar simple simply since sing single sister site situation "
    "size skill small smile social society soldier some somebody someone something "
    "sometimes song soon sort sound source south southern space speak special specific "
    "speech spend sport spring staff stage stand standard star start state statement "
    "station stay step still stock stop store story strategy street strong structure "
    "student study stuff style subject success successful such suddenly suffer suggest "
    "summer support sure surface system table take talk task teach teacher team technology "
    "television tell tend term test than thank theory there these they thing think third "
    "those though thought thousand threat three through throughout throw thus time today "
    "together tonight total tough toward town trade traditional training travel treat "
    "treatment tree trial trip trouble true truth turn type under understand unit until "
    "upon usually value various very victim view violence visit voice vote wait walk wall "
    "want watch water wear weight well west western what whatever when where whether which "
    "while white whole whose wide wife will window wish with within without woman wonder "
    "word work worker world worry would write writer wrong yard yeah year young yourself"
)

_FIRST_NAMES_TEXT = (
    "Ada Alan Alice Amara Ana Andrea Anil Aria Ben Bianca Carlos Chen Chloe Dana Daniel David "
    "Diego Elena Emma Eric Fatima Felix Grace Hana Hugo Ibrahim Ines Isaac Ivan Jack Jana "
    "Javier Jin Julia Kai Kenji Lara Leo Lena Liam Lucia Maya Mei Mia Mohamed Nadia Nina Noah "
    "Olga Omar Oscar Priya Rafael Rosa Sami Sara Sofia Tariq Tom Uma Victor Wei Yara Yusuf Zoe"
)
_LAST_NAMES_TEXT = (
    "Adams Ahmed Alvarez Baker Bauer Becker Brown Chen Clark Costa Cruz Davis Diaz Dubois "
    "Evans Fischer Garcia Gomez Green Hall Hansen Hoffmann Ivanov Jansen Johnson Kaur Khan Kim "
    "Kowalski Kumar Lee Lopez Martin Meyer Miller Moreau Muller Nakamura Nguyen Novak Okafor "
    "Patel Perez Petrov Ramos Rossi Santos Schmidt Silva Singh Smith Suzuki Tanaka Taylor "
    "Thomas Torres Wagner Walker Wang Weber White Wilson Wong Yamamoto Young Zhang"
)
WORDS = _WORDS_TEXT.split()
FIRST_NAMES = _FIRST_NAMES_TEXT.split()
LAST_NAMES = _LAST_NAMES_TEXT.split()

DAY_MS = 86_400_000
_TIME_OF_DAY: list[str] | None = None
_MILLIS_TZ = [f".{ms:03d}+00" for ms in range(1000)]


def time_of_day() -> list[str]:
    """All 86,400 "HH:MM:SS" strings, built once per process."""
    global _TIME_OF_DAY
    if _TIME_OF_DAY is None:
        _TIME_OF_DAY = [
            f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)
        ]
    return _TIME_OF_DAY


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def to_ms(moment: dt.datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return (moment - EPOCH) // dt.timedelta(milliseconds=1)


class TimeFormatter:
    """Formats epoch milliseconds as PostgreSQL timestamp text, fast and locale-free."""

    def __init__(self) -> None:
        self._days: dict[int, str] = {}
        self._tod = time_of_day()

    def day(self, day_number: int) -> str:
        text = self._days.get(day_number)
        if text is None:
            text = (dt.date(1970, 1, 1) + dt.timedelta(days=day_number)).isoformat()
            self._days[day_number] = text
        return text

    def timestamptz(self, millis: Sequence[int]) -> list[str]:
        days, tod, day, frac = self._days, self._tod, self.day, _MILLIS_TZ
        return [
            f"{days.get(t // DAY_MS) or day(t // DAY_MS)} {tod[t % DAY_MS // 1000]}{frac[t % 1000]}"
            for t in millis
        ]

    def timestamp(self, millis: Sequence[int]) -> list[str]:
        return [text[:-3] for text in self.timestamptz(millis)]

    def dates(self, millis: Sequence[int]) -> list[str]:
        days, day = self._days, self.day
        return [days.get(t // DAY_MS) or day(t // DAY_MS) for t in millis]

    def times(self, millis: Sequence[int]) -> list[str]:
        tod = self._tod
        return [tod[(t % DAY_MS) // 1000] for t in millis]


def phrase(rng: random.Random, min_words: int, max_words: int, capital: bool = True) -> str:
    words = rng.choices(WORDS, k=rng.randint(min_words, max_words))
    text = " ".join(words)
    return text[:1].upper() + text[1:] if capital else text


def uuid_text(bits: int) -> str:
    """A version-4-shaped UUID from 128 random bits (deterministic given the bits)."""
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}"
