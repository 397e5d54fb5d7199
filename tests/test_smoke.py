from __future__ import annotations

from tests import data
from tests.conftest import Kezek


async def test_submit_and_read_back(kezek: Kezek) -> None:
    result = await kezek.submit(data.PLAIN.parents[0], data.PLAIN.children[0], ["SHA-1", "SHA-2"])
    assert result["errors"] == []
    app = result["application"]
    assert app["status"] == "QUEUED"
    assert [c["position"] for c in app["choices"]] == [1, 1]
