"""The ceiling: a bare FastAPI app on the same server stack as recloop.

A JSON POST that parses its body and answers 202, and a GET that answers a
small JSON, with nothing behind them.
"""

import json

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

app = FastAPI()

RECS = {
    "mpid": "1",
    "items": [{"item_id": f"SKU-{n}", "score": 0.5} for n in range(5)],
    "recommendation_id": "00000000-0000-0000-0000-000000000000",
    "source": "embedded",
    "generated_at": "2026-12-03T00:00:00Z",
}


@app.post("/ingest", status_code=202)
async def ingest(request: Request) -> JSONResponse:
    payload = json.loads(await request.body())
    return JSONResponse({"batches": 1, "events": len(payload["events"])}, 202)


@app.get("/recs")
async def recs() -> dict:
    return RECS
