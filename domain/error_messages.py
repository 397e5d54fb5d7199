"""What a caller reads in an error's `message`, in the caller's language (docs/api.md §3 "Errors"): bank apps
show it to parents, so every text is short, polite, and says what to do where it can.

Every code an answer can carry has its texts here: each of the closed ErrorCode list and the codes only the API
layer gives (UNAUTHENTICATED, RATE_LIMITED, …). A code has one or more variants, most specific first; the
first variant whose every parameter is known is used, and the last one needs none, so there is always a text.
Parameters come from the error (`DomainError(..., number=...)`, a GraphQL error's extensions); two of them
are words translated here, never shown as sent: `field` (the input field at fault) and `what` (the kind of
object not found). A field or object this table does not name counts as unknown, and the plainer variant
serves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from domain.messages import template_fields
from domain.model import ErrorCode, Language


@dataclass(frozen=True, slots=True)
class Text:
    kk: str
    ru: str
    en: str

    def of(self, language: Language) -> str:
        return self.en if language == Language.EN else self.kk if language == Language.KK else self.ru


_E = ErrorCode

TEXTS: dict[str, tuple[Text, ...]] = {
    _E.INVALID_INPUT: (
        Text(
            kk="«{field}» өрісін тексеріңіз.",
            ru="Проверьте поле «{field}».",
            en="Please check the field “{field}”.",
        ),
        Text(
            kk="Енгізілген деректерді тексеріңіз.",
            ru="Проверьте введённые данные.",
            en="Please check the data you entered.",
        ),
    ),
    _E.INVALID_IIN: (
        Text(
            kk="ЖСН қате көрсетілген. 12 цифрды тексеріңіз.",
            ru="ИИН указан неверно. Проверьте все 12 цифр.",
            en="The IIN is not valid. Please check all 12 digits.",
        ),
    ),
    _E.NOT_FOUND: (
        Text(kk="Табылмады: {what}.", ru="Не найдено: {what}.", en="Not found: {what}."),
        Text(
            kk="Сұралған деректер табылмады.",
            ru="Запрошенные данные не найдены.",
            en="Nothing was found for this request.",
        ),
    ),
    _E.DUPLICATE_APPLICATION: (
        Text(
            kk="Баланың № {number} белсенді өтініші бар.",
            ru="У ребёнка уже есть действующее заявление № {number}.",
            en="The child already has an active application, number {number}.",
        ),
        Text(
            kk="Баланың белсенді өтініші бар.",
            ru="У ребёнка уже есть действующее заявление.",
            en="The child already has an active application.",
        ),
    ),
    _E.NOT_LEGAL_REPRESENTATIVE: (
        Text(
            kk="Мұны тек баланың заңды өкілі жасай алады.",
            ru="Это может сделать только законный представитель ребёнка.",
            en="Only the child's legal representative can do this.",
        ),
    ),
    _E.AGE_OUT_OF_RANGE: (
        Text(
            kk="Бастау күні бала 6 жасқа толатын жылдың 1 қыркүйегінен бұрын болуы керек.",
            ru="Дата начала должна быть раньше 1 сентября года, в котором ребёнку исполнится 6 лет.",
            en="The start date must be before 1 September of the year the child turns 6.",
        ),
    ),
    _E.TOO_MANY_CHOICES: (
        Text(
            kk="Ең көбі {limit} балабақша таңдауға болады.",
            ru="Можно выбрать не больше {limit} детских садов.",
            en="You can choose at most {limit} kindergartens.",
        ),
        Text(
            kk="Балабақшалар тым көп таңдалды.",
            ru="Выбрано слишком много детских садов.",
            en="Too many kindergartens are chosen.",
        ),
    ),
    _E.DUPLICATE_CHOICE: (
        Text(
            kk="Бір балабақша екі рет таңдалды.",
            ru="Один и тот же детский сад выбран дважды.",
            en="The same kindergarten is chosen twice.",
        ),
    ),
    _E.NO_SUITABLE_GROUP: (
        Text(
            kk="Таңдалған балабақшада баланың туған жылына, тіліне және топ түріне сәйкес топ жоқ.",
            ru="В выбранном детском саду нет группы для этого года рождения, языка и типа группы.",
            en="A chosen kindergarten has no group for this birth year, language and group type.",
        ),
    ),
    _E.INVALID_STATE: (
        Text(
            kk="Бұл әрекет қазір қолжетімсіз. Деректерді жаңартып, мәртебені тексеріңіз.",
            ru="Это действие сейчас недоступно. Обновите данные и проверьте статус.",
            en="This action is not available now. Please refresh and check the status.",
        ),
    ),
    _E.DEADLINE_PASSED: (
        Text(
            kk="Бұл әрекеттің мерзімі өтіп кетті.",
            ru="Срок для этого действия истёк.",
            en="The deadline for this action has passed.",
        ),
    ),
    _E.CAPACITY_BELOW_OCCUPIED: (
        Text(
            kk="Сыйымдылық бос емес орындар санынан ({occupied}) аз болмауы керек.",
            ru="Вместимость не может быть меньше числа занятых мест ({occupied}).",
            en="The capacity cannot be below the number of occupied seats ({occupied}).",
        ),
        Text(
            kk="Сыйымдылық бос емес орындар санынан аз болмауы керек.",
            ru="Вместимость не может быть меньше числа занятых мест.",
            en="The capacity cannot be below the number of occupied seats.",
        ),
    ),
    _E.INVALID_SIGNATURE: (
        Text(
            kk="Электрондық қолтаңба қабылданбады. Құжатқа қайта қол қойыңыз.",
            ru="Электронная подпись не принята. Подпишите документ ещё раз.",
            en="The e-signature was not accepted. Please sign the document again.",
        ),
    ),
    _E.SIBLINGS_NOT_LINKABLE: (
        Text(
            kk="Бұл өтініштерді бауырлардың өтініштері ретінде біріктіруге болмайды.",
            ru="Эти заявления нельзя объединить как заявления братьев и сестёр.",
            en="These applications cannot be linked as siblings.",
        ),
    ),
    _E.REGISTRY_UNAVAILABLE: (
        Text(
            kk="Мемлекеттік ақпараттық жүйе уақытша қолжетімсіз. Кейінірек қайталап көріңіз.",
            ru="Государственная информационная система временно недоступна. Повторите попытку позже.",
            en="A state information system is temporarily unavailable. Please try again later.",
        ),
    ),
    _E.IDEMPOTENCY_KEY_REUSED: (
        Text(
            kk="Бұл идемпотенттілік кілті басқа деректермен пайдаланылған.",
            ru="Этот ключ идемпотентности уже использован с другими данными.",
            en="This idempotency key was already used with other input.",
        ),
    ),
    _E.FORBIDDEN: (
        Text(
            kk="Бұл әрекет сіздің рөліңіз үшін қолжетімсіз.",
            ru="Это действие недоступно для вашей роли.",
            en="This action is not available to your role.",
        ),
    ),
    # Codes only the API layer gives (docs/api.md §1, §3).
    "UNAUTHENTICATED": (
        Text(
            kk="Авторизация қажет. Жүйеге қайта кіріңіз.",
            ru="Требуется авторизация. Пожалуйста, войдите в систему заново.",
            en="Authorization is required. Please sign in again.",
        ),
    ),
    "RATE_LIMITED": (
        Text(
            kk="Сұраныстар тым көп. {retryAfter} секундтан кейін қайталаңыз.",
            ru="Слишком много запросов. Повторите через {retryAfter} с.",
            en="Too many requests. Please try again in {retryAfter} s.",
        ),
        Text(
            kk="Сұраныстар тым көп. Кейінірек қайталаңыз.",
            ru="Слишком много запросов. Повторите попытку позже.",
            en="Too many requests. Please try again later.",
        ),
    ),
    "DOCUMENT_NOT_TRUSTED": (
        Text(
            kk="Бұл арна тек тіркелген сұрауларды орындай алады.",
            ru="Этот канал может выполнять только зарегистрированные запросы.",
            en="This channel may run registered documents only.",
        ),
    ),
    "QUERY_TOO_COSTLY": (
        Text(
            kk="Сұрау тым күрделі: құны {cost}, шегі {limit}.",
            ru="Запрос слишком сложный: стоимость {cost} при пределе {limit}.",
            en="The query is too costly: {cost} over the limit of {limit}.",
        ),
        Text(
            kk="Сұрау тым күрделі.",
            ru="Запрос слишком сложный.",
            en="The query is too costly.",
        ),
    ),
    "CURSOR_EXPIRED": (
        Text(
            kk="Бұл белгіден кейінгі оқиғалар енді сақталмайды. Деректерді жаңартып, қайта жазылыңыз.",
            ru="События после этой отметки больше не хранятся. Обновите данные и подпишитесь заново.",
            en="Events after this cursor are no longer kept. Please refresh and subscribe again.",
        ),
    ),
    "SLOW_SUBSCRIBER": (
        Text(
            kk="Оқиғалар оқылғаннан жылдамырақ келді. Қайта жазылыңыз.",
            ru="События поступали быстрее, чем читались. Подпишитесь заново.",
            en="Events arrived faster than they were read. Please subscribe again.",
        ),
    ),
}

# The words that fill `what`: the kinds of object a NOT_FOUND names.
OBJECTS: dict[str, Text] = {
    "application": Text(kk="өтініш", ru="заявление", en="application"),
    "child": Text(kk="бала", ru="ребёнок", en="child"),
    "kindergarten": Text(kk="балабақша", ru="детский сад", en="kindergarten"),
    "group": Text(kk="топ", ru="группа", en="group"),
    "offer": Text(kk="жолдама", ru="направление", en="offer"),
    "contract": Text(kk="шарт", ru="договор", en="contract"),
    "claim": Text(kk="жеңілдік", ru="льгота", en="priority claim"),
    "enrolment": Text(kk="балабақшаға қабылдау", ru="зачисление", en="enrolment"),
    "district": Text(kk="аудан", ru="район", en="district"),
    "area": Text(kk="аумақ", ru="территория", en="area"),
    "region": Text(kk="облыс", ru="регион", en="region"),
    "intake run": Text(kk="оқу жылына қабылдау", ru="комплектование", en="intake run"),
}

# The words that fill `field`: input fields by their API name (an id field by the object it names).
FIELDS: dict[str, Text] = {
    "childIin": Text(kk="баланың ЖСН-і", ru="ИИН ребёнка", en="child's IIN"),
    "kindergartenIds": Text(kk="балабақшалар", ru="детские сады", en="kindergartens"),
    "desiredStartDate": Text(kk="қалаған бастау күні", ru="желаемая дата начала", en="desired start date"),
    "phone": Text(kk="телефон", ru="телефон", en="phone"),
    "notificationLanguage": Text(kk="хабарлама тілі", ru="язык уведомлений", en="notification language"),
    "reason": Text(kk="себебі", ru="причина", en="reason"),
    "note": Text(kk="ескертпе", ru="примечание", en="note"),
    "capacity": Text(kk="сыйымдылық", ru="вместимость", en="capacity"),
    "birthYearFrom": Text(kk="туған жылы (бастап)", ru="год рождения (с)", en="birth year from"),
    "birthYearTo": Text(kk="туған жылы (дейін)", ru="год рождения (по)", en="birth year to"),
    "externalId": Text(kk="сыртқы код", ru="внешний код", en="external code"),
    "nameKk": Text(kk="атауы (қазақша)", ru="название (на казахском)", en="name in Kazakh"),
    "nameRu": Text(kk="атауы (орысша)", ru="название (на русском)", en="name in Russian"),
    "address": Text(kk="мекенжай", ru="адрес", en="address"),
    "districtCode": OBJECTS["district"],
    "applicationIds": Text(kk="өтініштер", ru="заявления", en="applications"),
    "signature": Text(kk="қолтаңба", ru="подпись", en="signature"),
    "idempotencyKey": Text(kk="идемпотенттілік кілті", ru="ключ идемпотентности", en="idempotency key"),
    "leavesOn": Text(kk="соңғы күні", ru="последний день", en="last day"),
    "from": Text(kk="қай күннен бастап", ru="с какой даты", en="from"),
    "to": Text(kk="қай күнге дейін", ru="по какую дату", en="to"),
    "opensOn": Text(kk="ашылу күні", ru="дата открытия", en="opening date"),
    "schoolYear": Text(kk="оқу жылы", ru="учебный год", en="school year"),
    "regionCode": OBJECTS["region"],
    "runId": OBJECTS["intake run"],
    **{f"{kind}Id": OBJECTS[kind] for kind in ("kindergarten", "group", "application", "offer", "claim", "contract")},
}

WORDS: dict[str, Mapping[str, Text]] = {"field": FIELDS, "what": OBJECTS}


def render(code: str, language: Language, params: Mapping[str, object] | None = None) -> str | None:
    """The text of `code` in `language` with these parameters; None for a code without texts."""
    variants = TEXTS.get(code)
    if variants is None:
        return None
    values: dict[str, str] = {}
    for name, value in (params or {}).items():
        if value is None:
            continue
        if name in WORDS:
            word = WORDS[name].get(str(value))
            if word is not None:
                values[name] = word.of(language)
        else:
            values[name] = str(value)
    for variant in variants:
        template = variant.of(language)
        if template_fields(template) <= values.keys():
            return template.format(**values)
    raise AssertionError(f"{code} has no variant without parameters")  # tests/test_error_messages.py


__all__ = ["FIELDS", "OBJECTS", "TEXTS", "Text", "render"]
