"""Live push: alerts and fills to WebSocket subscribers, across every service worker.

Events are rows of the `events` table, written in the transaction that made them (an
alert raised by the scanner process, a fill in any worker). Each worker runs one hub
task that learns of new rows — PostgreSQL LISTEN/NOTIFY (`tx_events`, sent at commit),
or polling every `POLL_S` on SQLite — reads them in id order and hands each to the
subscribers whose symbols match. The id is the cursor: a client that reconnects with
`?since=<cursor>` first gets what it missed, then the live stream, without a gap or a
duplicate (it subscribes before it replays and skips what the replay already sent).
"""

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from sqlalchemy.engine import make_url
from starlette.concurrency import run_in_threadpool

from serving.auth import principal
from serving.errors import ApiError
from store.events import CHANNEL, events_since, last_event_id

log = logging.getLogger("tx.serving")
POLL_S = 0.05  # SQLite: one indexed "id > cursor" query per worker 20 times a second
router = APIRouter(tags=["live"])


@dataclass(eq=False)
class Subscriber:
    symbols: set[str] | None  # None: every symbol
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(maxsize=10_000))

    def wants(self, event: dict) -> bool:
        return self.symbols is None or event["symbol"] in self.symbols


class Hub:
    def __init__(self, engine) -> None:
        self.engine = engine
        self.subscribers: set[Subscriber] = set()
        self.cursor: int | None = None
        self._task: asyncio.Task | None = None
        self._wake = asyncio.Event()

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="tx-live-hub")

    async def _run(self) -> None:
        self.cursor = await run_in_threadpool(last_event_id, self.engine)
        listener = asyncio.get_running_loop().create_task(self._listen()) if self.engine.dialect.name == "postgresql" else None
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=POLL_S if listener is None else 5.0)
                self._wake.clear()
                try:
                    await self._deliver()
                except Exception as exc:  # a store hiccup must not end the stream: try again on the next tick
                    log.warning("live hub: %s", str(exc).splitlines()[0][:200])
        finally:
            if listener is not None:
                listener.cancel()

    async def _listen(self) -> None:
        """LISTEN on PostgreSQL; each NOTIFY wakes the delivery loop (reconnects on failure)."""
        import psycopg

        url = make_url(self.engine.url).set(drivername="postgresql").render_as_string(hide_password=False)
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self._wake.set()  # catch up on anything committed while (re)connecting
                    async for _ in conn.notifies():
                        self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("live hub: LISTEN failed (%s); retrying in 1 s", str(exc).splitlines()[0][:200])
                await asyncio.sleep(1)

    async def _deliver(self) -> None:
        while True:
            batch = await run_in_threadpool(events_since, self.engine, self.cursor)
            if not batch:
                return
            for event in batch:
                for sub in list(self.subscribers):
                    if sub.wants(event):
                        with contextlib.suppress(asyncio.QueueFull):  # a client that stopped reading loses live events, not the server
                            sub.queue.put_nowait(event)
            self.cursor = batch[-1]["cursor"]


def _symbols(text: str | None) -> set[str] | None:
    wanted = {s.strip().upper() for s in (text or "").split(",") if s.strip()}
    return wanted or None


async def _authorize(ws: WebSocket) -> None:
    state = ws.app.state
    key = ws.headers.get("x-api-key") or ws.query_params.get("api_key")
    if key is None:
        if state.settings.api_open_reads:
            return
        raise ApiError(401, "the live feed needs an API key with the read scope (X-API-Key header or ?api_key=)")
    await run_in_threadpool(principal, state, key, "read")


async def feed(ws: WebSocket) -> None:
    """`?symbols=SPX,GOOGL` filters (default: all); `?since=<cursor>` replays what was missed.
    Messages: {"type": "hello", "cursor"} then {"type": "event", "cursor", "kind", "symbol",
    "created_at", "data"}; send {"symbols": [...]} to change the filter."""
    await ws.accept()  # then refuse with a close code and reason a client can read (4000 + the HTTP status)
    try:
        await _authorize(ws)
    except ApiError as exc:
        await ws.close(code=4000 + exc.status, reason=exc.message[:120])
        return
    since_text = ws.query_params.get("since")
    if since_text is not None and not since_text.isdigit():
        await ws.close(code=4422, reason="since: a cursor (a non-negative integer) from an earlier message")
        return
    hub: Hub = ws.app.state.hub
    hub.start()
    sub = Subscriber(_symbols(ws.query_params.get("symbols")))
    hub.subscribers.add(sub)  # before the replay: nothing committed from now on is missed
    try:
        sent = int(since_text) if since_text is not None else await run_in_threadpool(last_event_id, ws.app.state.engine)
        await ws.send_json({"type": "hello", "cursor": sent, "symbols": sorted(sub.symbols) if sub.symbols else "all"})
        if since_text is not None:
            while batch := await run_in_threadpool(events_since, ws.app.state.engine, sent, sub.symbols):
                for event in batch:
                    await ws.send_json({"type": "event", **event})
                sent = batch[-1]["cursor"]
        receiver = asyncio.create_task(ws.receive_json())
        while True:
            getter = asyncio.create_task(sub.queue.get())
            done, _ = await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
            if receiver in done:
                message = receiver.result()
                if isinstance(message, dict) and "symbols" in message:
                    sub.symbols = _symbols(",".join(message["symbols"] or [])) if isinstance(message["symbols"], list) else sub.symbols
                receiver = asyncio.create_task(ws.receive_json())
            if getter in done:
                event = getter.result()
                if event["cursor"] > sent:  # the replay may already have sent it
                    await ws.send_json({"type": "event", **event})
                    sent = event["cursor"]
            else:
                getter.cancel()
    except WebSocketDisconnect:
        pass
    except Exception as exc:  # the client went away mid-send (the server's error type varies): end quietly
        log.debug("live feed closed: %s", exc)
    finally:
        hub.subscribers.discard(sub)


router.add_api_websocket_route("/ws", feed)
router.add_api_websocket_route("/api/ws", feed)
