"""The basis of a waiting estimate (`WaitEstimate.basis`, docs/product.md §3 "Waiting estimate") as one sentence in
the caller's language. Bank apps show it beside the dates, so every sentence that gives dates says they are an
estimate, not a promise, and names the facts they come from. Figures stand after a colon so that no noun has to
agree with a number."""

from __future__ import annotations

from domain.error_messages import Text
from domain.estimate import Basis, WaitEstimate
from domain.model import Language

_B = Basis
# The queue's pace: what the dates rest on.
_PACE_KK = "осы кезектің соңғы 12 айы (жоғарырақ жеңілдігі жоқ балаларға жолдамалар: {offers}; алдағы балалар: {ahead})"
_PACE_RU = (
    "по последним 12 месяцам этой очереди (направлений детям без более высокой льготы: {offers}; детей впереди: "
    "{ahead})"
)
_PACE_EN = (
    "from this queue's last 12 months (offers to children without a higher priority: {offers}; children ahead: {ahead})"
)

TEXTS: dict[Basis, Text] = {
    _B.SEAT_HELD: Text(
        kk="Болжам қажет емес: баланың осы балабақшаға жолдамасы немесе орны бар.",
        ru="Оценка не нужна: у ребёнка есть направление или место в этом детском саду.",
        en="No estimate needed: the child holds an offer or a seat at this kindergarten.",
    ),
    _B.HOLDS_BETTER: Text(
        kk="Болжам жоқ: бала тізімде жоғары тұрған балабақшада орын алып тұрғанда, бұл балабақшадан жолдама келмейді.",
        ru="Оценки нет: пока у ребёнка есть место в детском саду выше в списке, направление отсюда не придёт.",
        en="No estimate: while the child holds a seat at a kindergarten ranked higher, no offer comes from this one.",
    ),
    _B.INACTIVE: Text(
        kk="Болжам жоқ: өтініш белсенді емес және қалпына келтірілгенше ешбір кезекте тұрмайды.",
        ru="Оценки нет: заявление неактивно и не стоит в очередях, пока его не восстановят.",
        en="No estimate: the application is inactive and stands in no queue until it is restored.",
    ),
    _B.NOT_WAITING: Text(
        kk="Болжам жоқ: өтініш енді орын күтпейді.",
        ru="Оценки нет: заявление больше не ожидает места.",
        en="No estimate: the application no longer waits for a seat.",
    ),
    _B.INSUFFICIENT_HISTORY: Text(
        kk="Болжауға дерек жеткіліксіз: соңғы 12 айда осы кезекте жоғарырақ жеңілдігі жоқ балаларға берілген "
        "жолдамалар: {offers}; жаңа оқу жылына орын жоспарланбаған.",
        ru="Недостаточно данных для оценки: направлений в этой очереди за последние 12 месяцев детям без более "
        "высокой льготы: {offers}; мест на новый учебный год не запланировано.",
        en="Too little history to estimate: offers in this queue in the last 12 months to children without a higher "
        "priority: {offers}; no seats planned for the next school year.",
    ),
    _B.BEYOND_PLANNED_SEATS: Text(
        kk="Болжауға дерек жеткіліксіз: жаңа оқу жылына жоспарланған орындар ({seats}) баланың орнына жетпейді "
        "(алдағы балалар: {ahead}), ал соңғы 12 айда жоғарырақ жеңілдігі жоқ балаларға жолдамалар: {offers}.",
        ru="Недостаточно данных для оценки: мест на новый учебный год ({seats}) не хватает до места ребёнка (детей "
        "впереди: {ahead}), а направлений за последние 12 месяцев детям без более высокой льготы: {offers}.",
        en="Too little history to estimate: the seats planned for the next school year ({seats}) do not reach the "
        "child's place (children ahead: {ahead}), and offers in the last 12 months to children without a higher "
        "priority: {offers}.",
    ),
    _B.QUEUE_PACE: Text(
        kk=f"Бұл уәде емес, болжам: {_PACE_KK} бойынша.",
        ru=f"Это оценка, а не обещание: {_PACE_RU}.",
        en=f"An estimate, not a promise: {_PACE_EN}.",
    ),
    _B.QUEUE_PACE_AND_INTAKE: Text(
        kk=f"Бұл уәде емес, болжам: {_PACE_KK} және {{intake}} бастап бөлінетін жаңа оқу жылының орындары "
        "({seats}) бойынша.",
        ru=f"Это оценка, а не обещание: {_PACE_RU} и по местам на новый учебный год, которые распределят с "
        "{intake}: {seats}.",
        en=f"An estimate, not a promise: {_PACE_EN} and the seats planned for the next school year, offered from "
        "{intake}: {seats}.",
    ),
    _B.PLANNED_SEATS: Text(
        kk="Бұл уәде емес, болжам: алдағы балалар: {ahead}, баланың орны жаңа оқу жылына жоспарланған орындардың "
        "({seats}) ішінде, оларды жазғы жинақтау {intake} бастап бөледі.",
        ru="Это оценка, а не обещание: детей впереди: {ahead}, и место ребёнка входит в места на новый учебный год "
        "({seats}), которые летнее комплектование распределит с {intake}.",
        en="An estimate, not a promise: with children ahead: {ahead}, the child's place is within the seats planned "
        "for the next school year ({seats}), which the summer intake offers from {intake}.",
    ),
    _B.BEYOND_SCHOOL_AGE: Text(
        kk=f"Бұл уәде емес, болжам: {_PACE_KK} бойынша, жолдама бала мектепке барғанға дейін келмеуі мүмкін.",
        ru=f"Это оценка, а не обещание: {_PACE_RU}, направление может не прийти до того, как ребёнок пойдёт в школу.",
        en=f"An estimate, not a promise: {_PACE_EN}, an offer may not come before the child starts school.",
    ),
}


def seats_shown(seats: float) -> int:
    """Planned seats as a parent reads them: a mixed-age group's share is fractional; any share is at least one."""
    return max(round(seats), 1) if seats > 0 else 0


def basis(estimate: WaitEstimate, language: Language) -> str:
    """The sentence of the estimate's basis in `language`."""
    intake = estimate.intake_day.strftime("%d.%m.%Y") if estimate.intake_day else ""
    return (
        TEXTS[estimate.basis]
        .of(language)
        .format(
            ahead=estimate.ahead if estimate.ahead is not None else "",
            offers=estimate.offers,
            seats=seats_shown(estimate.planned_seats),
            intake=intake,
        )
    )


__all__ = ["TEXTS", "basis", "seats_shown"]
