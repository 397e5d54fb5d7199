"""Texts of the messages sent to parents (docs/product.md §7), in KK, RU and EN.

Every text names the application number, is in the parent's language, fits in at most two SMS
segments and never carries an IIN or a person's name. Templates live in one table per language;
a long kindergarten name is cut with "…" so that the whole text fits — the application number and
the deadline are never cut.
"""

from __future__ import annotations

import datetime as dt
import enum
import string
from collections.abc import Mapping
from dataclasses import dataclass

from domain.model import Language, PriorityCategory
from domain.timezone import ALMATY

GSM7_SINGLE = 160
GSM7_PART = 153
UCS2_SINGLE = 70
UCS2_PART = 67
MAX_SEGMENTS = 2
MAX_UCS2_CHARS = 2 * UCS2_PART  # 134: two UCS-2 segments

ELLIPSIS = "…"
NO_POSITION = "—"

# The GSM 03.38 default alphabet (basic set, without ESC): a text made only of these is sent as GSM-7.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)


class MessageKind(enum.StrEnum):
    POSITIONS_ASSIGNED = "POSITIONS_ASSIGNED"  # after submission: all positions
    POSITIONS_CHANGED = "POSITIONS_CHANGED"  # after a change of choices: all positions
    CLAIM_VERIFIED = "CLAIM_VERIFIED"
    CLAIM_REJECTED = "CLAIM_REJECTED"
    CLAIM_EXPIRED = "CLAIM_EXPIRED"
    CLAIM_REVOKED = "CLAIM_REVOKED"
    APPLICATION_WITHDRAWN = "APPLICATION_WITHDRAWN"
    APPLICATION_CLOSED = "APPLICATION_CLOSED"
    APPLICATION_AGED_OUT = "APPLICATION_AGED_OUT"
    APPLICATION_INACTIVE = "APPLICATION_INACTIVE"
    APPLICATION_RESTORED = "APPLICATION_RESTORED"
    OFFER_MADE = "OFFER_MADE"
    OFFER_MADE_FROM = "OFFER_MADE_FROM"  # a seat free from a later day: the offer names it
    INTAKE_OFFER = "INTAKE_OFFER"  # the summer intake's offer to a family with one child offered
    INTAKE_OFFERS = "INTAKE_OFFERS"  # ... with several (one message per family)
    OFFER_REMINDER = "OFFER_REMINDER"
    OFFER_LAPSED = "OFFER_LAPSED"
    OFFER_SUPERSEDED = "OFFER_SUPERSEDED"
    OFFER_CANCELLED = "OFFER_CANCELLED"
    CONTRACT_READY = "CONTRACT_READY"
    CONTRACT_LAPSED = "CONTRACT_LAPSED"
    ENROLLED = "ENROLLED"


@dataclass(frozen=True, slots=True)
class MessageParams:
    application_number: str
    positions: tuple[tuple[int, int | None], ...] = ()  # (choice rank, position or None)
    kindergarten_name: str | None = None
    deadline: dt.datetime | None = None  # aware; rendered in Asia/Almaty as dd.mm.yyyy HH:MM
    category: PriorityCategory | None = None
    starts_on: dt.date | None = None  # rendered dd.mm.yyyy
    count: int | None = None  # children offered to one family


# Template fields: {number} {positions} {kindergarten} {deadline} {category} {starts} {count}.
_K = MessageKind

TEMPLATES_KK: dict[MessageKind, str] = {
    _K.POSITIONS_ASSIGNED: "{number}: өтініш қабылданды. Кезек нөмірлері: {positions}",
    _K.POSITIONS_CHANGED: "{number}: балабақшалар тізімі өзгертілді. Кезек нөмірлері: {positions}",
    _K.CLAIM_VERIFIED: "{number}: «{category}» жеңілдігі расталды.",
    _K.CLAIM_REJECTED: "{number}: «{category}» жеңілдігі қабылданбады.",
    _K.CLAIM_EXPIRED: "{number}: «{category}» жеңілдігі мерзімінде тексерілмеді және ескерілмейді.",
    _K.CLAIM_REVOKED: "{number}: «{category}» жеңілдігінің күші жойылды. Кезекке тұрған күн сақталады.",
    _K.APPLICATION_WITHDRAWN: "{number}: өтініш кері қайтарылды, кезекте күту тоқтатылды.",
    _K.APPLICATION_CLOSED: "{number}: өтініш жабылды.",
    _K.APPLICATION_AGED_OUT: "{number}: бала мектеп жасына толғандықтан өтініш жабылды.",
    _K.APPLICATION_INACTIVE: (
        "{number}: жолдама мерзімінде расталмады, өтініш белсенді емес. "
        "Оны Kezek/eGov қосымшасында бір рет қалпына келтіруге болады."
    ),
    _K.APPLICATION_RESTORED: "{number}: өтініш бұрынғы кезек күнімен қалпына келтірілді.",
    _K.OFFER_MADE: (
        "{number}: «{kindergarten}» балабақшасына жолдама. Kezek/eGov арқылы растаңыз, мерзімі: {deadline}."
    ),
    _K.OFFER_MADE_FROM: (
        "{number}: {starts} бастап «{kindergarten}» балабақшасына жолдама. Kezek/eGov арқылы растаңыз, мерзімі: "
        "{deadline}."
    ),
    _K.INTAKE_OFFER: (
        "{number}: жаңа оқу жылына, {starts} бастап «{kindergarten}» балабақшасына жолдама. Kezek/eGov арқылы "
        "растаңыз, мерзімі: {deadline}."
    ),
    _K.INTAKE_OFFERS: (
        "{number}: жаңа оқу жылына {count} балаға {starts} бастап жолдамалар. Kezek/eGov арқылы растаңыз, "
        "мерзімі: {deadline}."
    ),
    _K.OFFER_REMINDER: (
        "{number}: еске саламыз, «{kindergarten}» жолдамасын Kezek/eGov арқылы растаңыз, мерзімі: {deadline}."
    ),
    _K.OFFER_LAPSED: "{number}: «{kindergarten}» балабақшасына жолдаманың мерзімі өтті.",
    _K.OFFER_SUPERSEDED: (
        "{number}: «{kindergarten}» жолдамасы тізіміңіздегі жоғарырақ балабақшаға жолдамамен ауыстырылды."
    ),
    _K.OFFER_CANCELLED: "{number}: «{kindergarten}» балабақшасына жолдаманың күші жойылды.",
    _K.CONTRACT_READY: (
        "{number}: «{kindergarten}» балабақшасымен шарт дайын. Kezek/eGov арқылы қол қойыңыз, мерзімі: {deadline}."
    ),
    _K.CONTRACT_LAPSED: (
        "{number}: «{kindergarten}» балабақшасымен шартқа мерзімінде қол қойылмады, жолдаманың күші жойылды."
    ),
    _K.ENROLLED: "{number}: бала «{kindergarten}» балабақшасына қабылданды.",
}

TEMPLATES_RU: dict[MessageKind, str] = {
    _K.POSITIONS_ASSIGNED: "{number}: заявление принято, номера в очереди: {positions}",
    _K.POSITIONS_CHANGED: "{number}: выбор детских садов изменён, номера в очереди: {positions}",
    _K.CLAIM_VERIFIED: "{number}: льгота «{category}» подтверждена.",
    _K.CLAIM_REJECTED: "{number}: льгота «{category}» отклонена.",
    _K.CLAIM_EXPIRED: "{number}: льгота «{category}» не проверена в срок и не учитывается.",
    _K.CLAIM_REVOKED: "{number}: льгота «{category}» отозвана. Дата постановки в очередь сохраняется.",
    _K.APPLICATION_WITHDRAWN: "{number}: заявление отозвано, ожидание в очереди прекращено.",
    _K.APPLICATION_CLOSED: "{number}: заявление закрыто.",
    _K.APPLICATION_AGED_OUT: "{number}: заявление закрыто: ребёнок достиг школьного возраста.",
    _K.APPLICATION_INACTIVE: (
        "{number}: направление не подтверждено в срок, заявление неактивно. "
        "Его можно один раз восстановить в приложении Kezek/eGov."
    ),
    _K.APPLICATION_RESTORED: "{number}: заявление восстановлено в очереди с прежней датой постановки.",
    _K.OFFER_MADE: ("{number}: направление в детский сад «{kindergarten}». Подтвердите в Kezek/eGov до {deadline}."),
    _K.OFFER_MADE_FROM: (
        "{number}: направление в детский сад «{kindergarten}» с {starts}. Подтвердите в Kezek/eGov до {deadline}."
    ),
    _K.INTAKE_OFFER: (
        "{number}: направление на новый учебный год в детский сад «{kindergarten}» с {starts}. Подтвердите в "
        "Kezek/eGov до {deadline}."
    ),
    _K.INTAKE_OFFERS: (
        "{number}: направления на новый учебный год для детей ({count}) с {starts}. Подтвердите в Kezek/eGov до "
        "{deadline}."
    ),
    _K.OFFER_REMINDER: ("{number}: напоминаем подтвердить направление в «{kindergarten}» в Kezek/eGov до {deadline}."),
    _K.OFFER_LAPSED: "{number}: срок направления в «{kindergarten}» истёк.",
    _K.OFFER_SUPERSEDED: ("{number}: направление в «{kindergarten}» заменено направлением в сад выше в вашем списке."),
    _K.OFFER_CANCELLED: "{number}: направление в «{kindergarten}» отменено.",
    _K.CONTRACT_READY: ("{number}: договор с «{kindergarten}» готов. Подпишите его в Kezek/eGov до {deadline}."),
    _K.CONTRACT_LAPSED: ("{number}: договор с «{kindergarten}» не подписан в срок, направление аннулировано."),
    _K.ENROLLED: "{number}: ребёнок зачислен в детский сад «{kindergarten}».",
}

TEMPLATES_EN: dict[MessageKind, str] = {
    _K.POSITIONS_ASSIGNED: "{number}: application received. Queue positions: {positions}",
    _K.POSITIONS_CHANGED: "{number}: choices changed. Queue positions: {positions}",
    _K.CLAIM_VERIFIED: '{number}: priority "{category}" confirmed.',
    _K.CLAIM_REJECTED: '{number}: priority "{category}" rejected.',
    _K.CLAIM_EXPIRED: '{number}: priority "{category}" was not verified in time and does not count.',
    _K.CLAIM_REVOKED: '{number}: priority "{category}" revoked. Your queue date stays.',
    _K.APPLICATION_WITHDRAWN: "{number}: application withdrawn; waiting in the queue has ended.",
    _K.APPLICATION_CLOSED: "{number}: application closed.",
    _K.APPLICATION_AGED_OUT: "{number}: application closed: the child has reached school age.",
    _K.APPLICATION_INACTIVE: (
        "{number}: offer not confirmed in time; application suspended. You may restore it once in the Kezek/eGov app."
    ),
    _K.APPLICATION_RESTORED: "{number}: application restored to the queue with its original queue date.",
    _K.OFFER_MADE: ('{number}: offer of a seat at "{kindergarten}". Confirm in the Kezek/eGov app by {deadline}.'),
    _K.OFFER_MADE_FROM: (
        '{number}: offer of a seat at "{kindergarten}" from {starts}. Confirm in the Kezek/eGov app by {deadline}.'
    ),
    _K.INTAKE_OFFER: (
        '{number}: new school year offer of a seat at "{kindergarten}" from {starts}. Confirm in the Kezek/eGov '
        "app by {deadline}."
    ),
    _K.INTAKE_OFFERS: (
        "{number}: new school year offers for {count} children from {starts}. Confirm in the Kezek/eGov app by "
        "{deadline}."
    ),
    _K.OFFER_REMINDER: (
        '{number}: reminder: confirm the offer for "{kindergarten}" in the Kezek/eGov app by {deadline}.'
    ),
    _K.OFFER_LAPSED: '{number}: the offer for "{kindergarten}" has lapsed.',
    _K.OFFER_SUPERSEDED: (
        '{number}: the offer for "{kindergarten}" was replaced by an offer from a kindergarten ranked higher.'
    ),
    _K.OFFER_CANCELLED: '{number}: the offer for "{kindergarten}" was cancelled.',
    _K.CONTRACT_READY: (
        '{number}: the contract with "{kindergarten}" is ready. Sign it in the Kezek/eGov app by {deadline}.'
    ),
    _K.CONTRACT_LAPSED: ('{number}: the contract with "{kindergarten}" was not signed in time; the offer is void.'),
    _K.ENROLLED: '{number}: your child is enrolled at "{kindergarten}".',
}

TEMPLATES: dict[Language, dict[MessageKind, str]] = {
    Language.KK: TEMPLATES_KK,
    Language.RU: TEMPLATES_RU,
    Language.EN: TEMPLATES_EN,
}

_C = PriorityCategory

CATEGORY_NAMES: dict[Language, dict[PriorityCategory, str]] = {
    Language.KK: {
        _C.MILITARY: "әскери қызметші отбасы",
        _C.SPECIAL_STATE_BODY: "арнаулы орган қызметкері",
        _C.DISABLED_PARENT: "мүгедектігі бар ата-ана",
        _C.ORPHAN: "жетім бала",
        _C.LARGE_FAMILY: "көп балалы отбасы",
        _C.SPECIAL_NEEDS: "ерекше білім беру қажеттілігі",
        _C.DISABLED_CHILD: "мүгедектігі бар бала",
        _C.TEACHER_CHILD: "педагогтің баласы",
    },
    Language.RU: {
        _C.MILITARY: "семья военнослужащего",
        _C.SPECIAL_STATE_BODY: "сотрудник спецгосоргана",
        _C.DISABLED_PARENT: "родитель с инвалидностью",
        _C.ORPHAN: "сирота",
        _C.LARGE_FAMILY: "многодетная семья",
        _C.SPECIAL_NEEDS: "особые образовательные потребности",
        _C.DISABLED_CHILD: "ребёнок с инвалидностью",
        _C.TEACHER_CHILD: "ребёнок педагога",
    },
    Language.EN: {
        _C.MILITARY: "military family",
        _C.SPECIAL_STATE_BODY: "special state body",
        _C.DISABLED_PARENT: "disabled parent",
        _C.ORPHAN: "orphan",
        _C.LARGE_FAMILY: "large family",
        _C.SPECIAL_NEEDS: "special educational needs",
        _C.DISABLED_CHILD: "disabled child",
        _C.TEACHER_CHILD: "teacher's child",
    },
}

_FORMATTER = string.Formatter()


def template_fields(template: str) -> frozenset[str]:
    """The names of the str.format fields a template uses."""
    return frozenset(name for _, name, _, _ in _FORMATTER.parse(template) if name)


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC for ch in text)


def sms_segments(text: str) -> int:
    """How many SMS segments the text takes: GSM-7 if every character is in the GSM 03.38 basic set
    (160 in one segment, 153 per part), else UCS-2 (70 in one segment, 67 per part)."""
    if is_gsm7(text):
        length, single, part = len(text), GSM7_SINGLE, GSM7_PART
    else:
        # UCS-2 counts UTF-16 code units: a character outside the BMP takes two.
        length, single, part = len(text.encode("utf-16-le")) // 2, UCS2_SINGLE, UCS2_PART
    if length <= single:
        return 1
    return -(-length // part)


def fits(text: str) -> bool:
    """True when the text fits in at most two SMS segments."""
    return sms_segments(text) <= MAX_SEGMENTS


def format_deadline(deadline: dt.datetime) -> str:
    if deadline.tzinfo is None or deadline.utcoffset() is None:
        raise ValueError("deadline must be an aware datetime")
    return deadline.astimezone(ALMATY).strftime("%d.%m.%Y %H:%M")


def format_positions(positions: tuple[tuple[int, int | None], ...]) -> str:
    return ", ".join(f"{rank}) {NO_POSITION if position is None else position}" for rank, position in sorted(positions))


def _clean_name(name: str) -> str:
    return " ".join(name.split())


def _values(language: Language, params: MessageParams, fields: frozenset[str]) -> dict[str, str]:
    """The values of every field but {kindergarten}; a field the template needs must be given."""
    if not params.application_number:
        raise ValueError("application_number is required")
    values = {"number": params.application_number}
    if "positions" in fields:
        if not params.positions:
            raise ValueError("positions are required")
        values["positions"] = format_positions(params.positions)
    if "deadline" in fields:
        if params.deadline is None:
            raise ValueError("deadline is required")
        values["deadline"] = format_deadline(params.deadline)
    if "starts" in fields:
        if params.starts_on is None:
            raise ValueError("starts_on is required")
        values["starts"] = params.starts_on.strftime("%d.%m.%Y")
    if "count" in fields:
        if params.count is None:
            raise ValueError("count is required")
        values["count"] = str(params.count)
    if "category" in fields:
        if params.category is None:
            raise ValueError("category is required")
        values["category"] = CATEGORY_NAMES[language][params.category]
    return values


def _fit_name(template: str, values: Mapping[str, str], name: str) -> str:
    """The template filled with the longest form of the name that keeps the text within two segments."""
    text = template.format_map({**values, "kindergarten": name})
    if fits(text):
        return text

    def cut(keep: int) -> str:
        return template.format_map({**values, "kindergarten": name[:keep].rstrip() + ELLIPSIS})

    # A cut name always holds "…" (not GSM-7), so the text is UCS-2 and grows with `keep`: bisect.
    low, high = 0, len(name) - 1  # invariant: cut(low) is the best known; cut(high + 1) does not fit
    while low < high:
        mid = (low + high + 1) // 2
        if fits(cut(mid)):
            low = mid
        else:
            high = mid - 1
    return cut(low)  # with no room at all this is the shortest text there can be


def render(kind: MessageKind, language: Language, params: MessageParams) -> str:
    """The text of a message of this kind in the parent's language, at most two SMS segments long."""
    template = TEMPLATES[language][kind]
    fields = template_fields(template)
    values = _values(language, params, fields)
    if "kindergarten" not in fields:
        return template.format_map(values)
    if not params.kindergarten_name or not params.kindergarten_name.strip():
        raise ValueError("kindergarten_name is required")
    return _fit_name(template, values, _clean_name(params.kindergarten_name))
