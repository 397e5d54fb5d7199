import datetime as dt
import json
from tests import data
from tests.conftest import Kezek
from tests.test_offers import OPERATOR, kezek, queue, set_capacity, today, enrol  # noqa: F401

Q = """query($r: String, $f: Date!, $t: Date!) { fairnessReport(regionCode: $r, from: $f, to: $t) {
 regionCode from to asOf envyPairs envyChildren envyDays siblingPairs
 envyExamples { applicationNumber kindergarten { id externalId nameRu } aheadOfApplicationNumber at }
 idleSeatDays { cause days } placement { children firstChoice topTwo anyChoice upgrades }
 waitingDays { tier birthYear offers median p90 }
 churn { offers filledSeats offersPerFilledSeat ended declineRate lapseRate longestChain }
 siblingGroupsPlaced siblingGroupsTogether } }"""

async def test_smoke(kezek: Kezek) -> None:
    a = await queue(kezek, data.PLAIN.parents[0], data.PLAIN.children[1], ["SHA-1", "SHA-2"])
    b = await queue(kezek, data.OTHER.parents[0], data.OTHER.children[0], ["SHA-1"])
    await set_capacity(kezek, "SHA-1", 1)
    kezek.clock.advance(dt.timedelta(days=3))
    # a seat behind Kezek's back: SHA-2's group, offer to b? b didn't choose SHA-2. raw offer at SHA-1 second group?
    g = await kezek.sql("SELECT g.id, g.kindergarten_id FROM groups g JOIN kindergartens k ON k.id=g.kindergarten_id WHERE k.external_id='SHA-1' AND g.external_id='G-2023-RU'")
    d = today(kezek)
    r = await kezek.gql(Q, {"r": data.KARAGANDA_REGION, "f": (d - dt.timedelta(days=5)).isoformat(), "t": (d + dt.timedelta(days=1)).isoformat()}, Kezek.ministry())
    print(json.dumps(r, indent=1))
