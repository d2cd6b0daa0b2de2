"""A local exchange that speaks Kalshi's real Trade API v2 protocol (REST and
WebSocket, docs/kalshi/PROTOCOL.md), for the demo, development and tests.

Command line::

    python manage.py simulate_exchange --host 127.0.0.1 --port 8765 [--markets N] [--seed S]
        [--whale-rate R] [--rate MSGS_PER_S] [--market-lifetime S] [--public-key PEM --key-id ID] [fault flags]

Python API (tests start it in-process on an ephemeral port)::

    from trading.simulator.server import SimConfig, SimulatorServer

    config = SimConfig(markets=5, seed=1, whale_rate=0.02, rate=500.0, market_lifetime_s=0.0,
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
        server.exchange.place_order(...), .cancel_order(order_id), .amend_order(...), .decrease_order(...),
        server.exchange.whale(ticker, count=..., ...), .settle(ticker, "yes"), .set_trading(False)
        server.exchange.lifecycle.tick()   # expire orders, close and settle markets past close_time
        server.step(1_000)         # 1,000 market-data messages now, published at once
        server.control({"action": "pause"})   # the same actions as POST /sim/control, in-process
    # (await server.stop() when started without ``async with``)

Modules: ``markets`` (tickers, tick grids, series), ``matching`` (books with price-time
queues, orders, fills, positions, balance; no I/O), ``market_maker`` (the random walk),
``lifecycle`` (close, determine, settle, list), ``exchange`` (all three on one seeded
generator), ``records`` (what they keep and tell), ``wire`` (Kalshi's JSON shapes),
``rest`` (the REST API), ``streams`` (WebSocket connections and commands), ``faults``,
``server`` (one aiohttp port: life cycle, signing checks, feed, fan-out, control). The
``KALSHI_ENV=sim`` key pair it trusts by default is the adapter's (trading.kalshi.sim_keys).

``rate`` is market-data messages per second over all markets (0 = as fast as the
readers take them); ``step`` actions and ``server.step(n)`` generate ``n`` now.
Markets take four series in turn, each with its tick grid: ``KXBTCD-26DEC3117-T94999.99``
(always first; linear_cent), ``KXFED-27JAN-T3.75`` (tapered_deci_cent),
``KXINX-26DEC31-T6400`` (deci_cent), ``KXHIGHNY-26DEC01-T40.50`` (linear_cent), then further
strikes and events of the same series. The account starts with ``balance_cents`` (default $1,000).

Market lifecycle: a market is ``active`` until its ``close_time`` (37 days out, or
``market_lifetime_s`` after listing, the initial markets staggered over it), then
``closed`` (the account's resting orders canceled with ``CloseCancel``, the book emptied),
``determined`` (YES with the probability of its last price) and ``finalized``: winning
contracts pay $1, the position goes flat, the balance is credited, ``GET
/portfolio/settlements`` lists it. With a lifetime, a new market is listed for each one
settled. ``market_lifecycle_v2`` carries ``created``, ``close_date_updated`` (an early
close), ``determined`` and ``settled``; ``user_orders`` and ``market_positions`` follow.

Orders: ``expiration_time`` (canceled with ``ExpiryCancel`` on the second), time in force,
``reduce_only`` (immediate-or-cancel only; capped at what reduces the position, the rest
canceled with ``ReduceOnlyCancel``), ``post_only`` (a crossing one is refused, 400
``invalid_order`` ``post only cross``), ``cancel_order_on_pause``. The balance is the
*available* balance: a resting order reserves its own side's price x its remaining count,
released on cancel, expiry, decrease and as it fills. Taker fees on every series, maker
fees on ``quadratic_with_maker_fees`` series (``KXINX``), both by trading.kalshi.fees.
While trading is paused (``trading`` action) orders and amends are refused with 409
``trading_is_paused``; cancels go.

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
``settle``            ``market_ticker``, ``result`` (``yes``/``no``): close, determine and settle
                      the market now; reply ``settlement`` (the account's, or null)
``trading``           ``active`` (bool): exchange-wide trading pause / resume
                      (``exchange/status`` ``trading_active``)
``reset``             clear every fault and resume
``status``            just the state: ``paused``, ``connections``, ``messages_generated``
====================  =====================================================================

Fault flags (``SimConfig`` fields / command options): ``delay_ms``, ``gap_every`` (skip a
seq every N sequenced messages of a subscription), ``malformed_every`` (a malformed frame
after every N data frames), ``drop_every_s``, ``reject_every`` (every Nth REST request 429).

Not simulated (honestly): subaccounts beyond 0; order groups; scalar markets and
disputed or amended settlements; a settlement timer between determination and
settlement (both happen at once); ``deactivated``/``activated`` market pauses,
``price_level_structure_updated`` and ``metadata_updated`` lifecycle events,
``event_lifecycle`` and ``event_fee_update``; fee multipliers other than 1, ``flat``
fees and Kalshi's fee-rounding accumulator (each fill is rounded up alone); the
exchange schedule (always open, no maintenance windows); queue positions, RFQs,
historical and multivariate endpoints, fee-change listings, candlesticks; the reserved
balance of a resting order that would close a position (Kalshi reserves less there).
Every other channel but those above accepts a subscription and never publishes. A
connection that misses three heartbeat pongs is closed (1011); Kalshi's own behaviour
there is unconfirmed.
"""
