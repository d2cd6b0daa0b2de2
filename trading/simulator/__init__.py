"""A local exchange that speaks Kalshi's real Trade API v2 protocol (REST and
WebSocket, PROTOCOL.md in ../shared/kalshi/), for the demo, development and tests.

Command line::

    python manage.py simulate_exchange --host 127.0.0.1 --port 8765 [--markets N] [--seed S]
        [--whale-rate R] [--rate MSGS_PER_S] [--public-key PEM --key-id ID] [fault flags]

Python API (tests start it in-process on an ephemeral port)::

    from trading.simulator.server import SimConfig, SimulatorServer

    config = SimConfig(markets=5, seed=1, whale_rate=0.02, rate=500.0,
                       key_id=KEY_ID, public_key_path=PUBLIC_PEM,   # omit both: the KALSHI_ENV=sim key
                       host="127.0.0.1", port=0, paused=False)
    async with SimulatorServer(config) as server:      # or: server = SimulatorServer(config); await server.start()
        server.port, server.rest_url, server.ws_url     # http://127.0.0.1:P/trade-api/v2, ws://127.0.0.1:P/trade-api/ws/v2
        server.exchange                                 # trading.simulator.exchange.Exchange: the state
        server.exchange.markets    # {ticker: SimMarket}; server.exchange.tickers: list in creation order
        server.exchange.books      # {ticker: trading.orderbook.OrderBook}: compare with a client's .levels()
        server.exchange.account    # .balance (micro-dollars), .orders {order_id: SimOrder},
                                   # .fills [SimFill], .positions {ticker: SimPosition}
        server.exchange.trades     # public trades, oldest first (the last 5,000-10,000)
        server.exchange.set_book(ticker, yes={4300: 85_000}, no={5500: 10_000})  # a test scenario,
        server.publish()           #   sent to subscribers as deltas (prices 1/10,000 $, sizes 1/100)
        server.exchange.place_order(...), .cancel_order(order_id), .whale(ticker, count=..., ...)
        server.step(1_000)         # 1,000 market-data messages now, published at once
        server.control({"action": "pause"})   # the same actions as POST /sim/control, in-process
    # (await server.stop() when started without ``async with``)

Modules: ``markets`` (tickers, tick grids), ``exchange`` (books with price-time queues,
random walk, orders, fills, positions, balance; no I/O), ``wire`` (Kalshi's JSON shapes),
``rest`` (the REST API), ``streams`` (WebSocket connections and commands), ``faults``,
``server`` (one aiohttp port: life cycle, signing checks, feed, fan-out, control). The
``KALSHI_ENV=sim`` key pair it trusts by default is the adapter's (trading.kalshi.sim_keys).

``rate`` is market-data messages per second over all markets (0 = as fast as the
readers take them); ``step`` actions and ``server.step(n)`` generate ``n`` now.
Markets take four series in turn, each with its tick grid: ``KXBTCD-26DEC3117-T94999.99``
(always first; linear_cent), ``KXFED-27JAN-T3.75`` (tapered_deci_cent),
``KXINX-26DEC31-T6400`` (deci_cent), ``KXHIGHNY-26DEC01-T40.50`` (linear_cent), then further
strikes and events of the same series. The account starts with ``balance_cents`` (default $1,000).

Authentication: ``/trade-api/v2/portfolio/...`` and the WebSocket upgrade need Kalshi's
signed headers (RSA-PSS, salt 32; timestamp within ``timestamp_past_s`` /
``timestamp_future_s``); public market data needs none.

Fault control: ``POST /sim/control`` with a JSON object (no signature; bind to localhost).
The reply is ``{"ok": true, ...}`` (400 ``{"error": ...}`` for a bad request).

====================  =====================================================================
action                effect
====================  =====================================================================
``drop``              abort every WebSocket connection (no close frame); reply ``dropped``
``skip_seq``          the next sequenced message of ``channel`` (default ``orderbook_delta``)
                      on every connection skips one seq number
``malformed``         send every connection one frame that is not JSON
``delay``             ``ms``: hold every outgoing WebSocket frame that long (0 = off);
                      ``target: "orders"`` holds every order creation that long instead,
                      before the exchange takes the order (a client can die mid-placement)
``reject``            ``count`` (1), ``status`` 429 (default), 500 or 503: answer the next
                      ``count`` REST requests with that error; ``target: "ws"`` refuses the
                      next ``count`` WebSocket handshakes with 429 instead
``pause``/``resume``  stop / restart the market-data random walk (books quiescent)
``step``              ``count``: generate that many market-data messages now (also paused)
``whale``             ``market_ticker`` (default first market), optional ``count`` (count
                      string, e.g. ``"25000.00"``) and ``taker_side`` (``yes``/``no``): a whale
                      trade now; reply ``trade`` (REST trade shape)
``reset``             clear every fault and resume
``status``            just the state: ``paused``, ``connections``, ``messages_generated``
====================  =====================================================================

Fault flags (``SimConfig`` fields / command options): ``delay_ms``, ``gap_every`` (skip a
seq every N sequenced messages of a subscription), ``malformed_every`` (a malformed frame
after every N data frames), ``drop_every_s``, ``reject_every`` (every Nth REST request 429).

Not simulated: order expiry (``expiration_time`` is accepted and ignored), trading pauses
and ``cancel_order_on_pause``, ``reduce_only``, settlement, subaccounts beyond 0, maker
fees, order groups; ``market_lifecycle_v2`` and Kalshi's other channels accept a
subscription but never publish. A connection that misses three heartbeat pongs is closed
(1011); Kalshi's own behaviour there is unconfirmed.
"""
