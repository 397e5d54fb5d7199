"""(j) The fairness audit (docs/product.md §11): `kezek audit fairness --json` over the last 365 days, for the
region with the most applications and for the whole country, on the bench database, as an analyst runs it (a
process of its own reading the database, docs/operations.md). The figures come back as well as the time: the
data set's history has no offer made behind the queue's back, so a justified-envy pair would be a fault.

    python -m bench.fairness --scale reduced     # a data set of its own, the audit alone (development)
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import PLANS, Run, in_process, kezek_env, log
from domain.timezone import ALMATY
from persistence.db import raw_connect

TARGET_S = 60.0  # the country-wide report on the national data set
DAYS = 365


async def _largest_region(url: str) -> str:
    conn = await raw_connect(url)
    try:
        code = await conn.fetchval(
            """SELECT d.region_code FROM applications a JOIN choices c ON c.application_id = a.id AND c.rank = 1
            JOIN kindergartens k ON k.id = c.kindergarten_id JOIN districts d ON d.code = k.district_code
            GROUP BY d.region_code ORDER BY count(*) DESC, d.region_code LIMIT 1"""
        )
    finally:
        await conn.close()
    return str(code)


async def _audit(run: Run, region: str | None, start: dt.date, end: dt.date) -> dict[str, Any]:
    """One `kezek audit fairness --json` process, timed from its start to its exit."""
    script = Path(sys.executable).parent / "kezek"
    argv = [str(script)] if script.exists() else [sys.executable, "-m", "api.cli"]
    argv += ["audit", "fairness", *(["--region", region] if region else []), "--from", str(start), "--to", str(end)]
    argv.append("--json")
    run.note_command(argv, kezek_env(run) | {"KEZEK_DATABASE_URL": "<the bench database>"})
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEZEK_")} | kezek_env(run)
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"kezek audit fairness failed ({proc.returncode}): {err.decode()[-2000:]}")
    figures: dict[str, Any] = json.loads(out)
    log(f"(j) fairness of {region or 'the whole country'}: {seconds:.1f} s, {figures['envyPairs']} envy pairs")
    return {"region": region, "seconds": seconds, "report": figures}


async def measure(run: Run) -> dict[str, Any]:
    end = dt.datetime.now(ALMATY).date() + dt.timedelta(days=1)  # today included
    start = end - dt.timedelta(days=DAYS)
    region = await _largest_region(run.db_url)
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "region": await _audit(run, region, start, end),
        "country": await _audit(run, None, start, end),
    }


def _row(add: Any, what: str, measured: dict[str, Any]) -> None:
    r = measured["report"]
    c, p = r["churn"], r["placement"]
    idle = sum(i["days"] for i in r["idleSeatDays"])
    share = "—" if p["firstChoice"] is None else f"{p['firstChoice']:.0%}"
    add(
        f"| {what} | **{measured['seconds']:.1f} s** | {r['envyPairs']} | {idle:,} | {c['offers']:,} | "
        f"{p['children']:,} | {share} |"
    )


def report(results: dict[str, Any], add: Any) -> None:
    f = results
    country = f["country"]["seconds"]
    add("## (j) The fairness audit")
    add("")
    add(
        f"`kezek audit fairness --json` from {f['from']} to {f['to']} (365 days), a process of its own on the bench "
        "database: the region with the most applications, then the whole country."
    )
    add("")
    add("| area | time | envy pairs | idle seat-days | offers | placed | first choice |")
    add("|---|---|---|---|---|---|---|")
    _row(add, f"region {f['region']['region']}", f["region"])
    _row(add, "the whole country", f["country"])
    add("")
    verdict = "met" if country <= TARGET_S else "**missed**"
    add(f"The whole country in {country:.1f} s (target ≤ {TARGET_S:.0f} s on the national data set): {verdict}.")
    pairs = f["country"]["report"]["envyExamples"]
    if pairs:
        add(
            "Envy pairs found (the child passed over, the child given the seat, the kindergarten, the moment): "
            + "; ".join(
                f"{p['applicationNumber']} / {p['aheadOfApplicationNumber']} at {p['kindergarten']['externalId']} "
                f"{p['at']}"
                for p in pairs[:5]
            )
            + "."
        )
    add("")


DECLINE = """mutation($id: ID!) { declineOffer(input: {offerId: $id}) { offer { id } errors { code } } }"""


async def _history(run: Run, groups: int) -> dict[str, int]:
    """A history for the audit to read when the data set has none of its own (it is loaded, not lived): through
    /graphql in-process, capacity +1 in that many full groups with a child waiting (the allocator offers each
    seat), then every third offer declined by its parent (its seat offered on at once)."""
    from bench.writes import RAISE, _wave_groups

    wanted = (await _wave_groups(run, groups))[0]
    async with in_process(run) as (client, _container):
        for g in wanted:
            body = {"query": RAISE, "variables": {"g": str(g["id"]), "c": g["capacity"] + 1}}
            await client.post("/graphql", json=body, headers={"Authorization": f"Bearer {run.staff(g['external_id'])}"})
        conn = await raw_connect(run.db_url)
        try:
            offers = await conn.fetch(
                """SELECT o.id, min(r.representative_iin) AS parent FROM offers o
                JOIN representations r ON r.child_iin = o.child_iin WHERE o.status = 'PENDING'
                GROUP BY o.id ORDER BY o.id"""
            )
        finally:
            await conn.close()
        for o in offers[::3]:
            body = {"query": DECLINE, "variables": {"id": str(o["id"])}}
            await client.post("/graphql", json=body, headers={"Authorization": f"Bearer {run.citizen(o['parent'])}"})
    conn = await raw_connect(run.db_url)
    try:
        made = await conn.fetchval("SELECT count(*) FROM offers")
    finally:
        await conn.close()
    log(f"(j) a history: {len(wanted)} seats raised, {len(offers[::3])} offers declined, {made} offers made")
    return {"raised": len(wanted), "declined": len(offers[::3]), "offers": int(made)}


async def _alone(scale: str) -> None:
    """Development: a data set of its own, a history lived on it, then the audit alone."""
    from bench.databases import own_database

    async with own_database(scale, "kezek_fairness") as run:
        await _history(run, run.plan.wave_groups)
        results = await measure(run)
        lines: list[str] = []
        report(results, lines.append)
        print("\n".join(lines))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fairness")
    parser.add_argument("--scale", choices=sorted(PLANS), default="reduced")
    asyncio.run(_alone(parser.parse_args(argv).scale))


if __name__ == "__main__":
    main()
