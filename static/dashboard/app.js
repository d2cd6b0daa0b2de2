// The V3 Trader dashboard: one WebSocket (/ws/events/), one envelope for every event
// ({type, id, ts, data}; docs/architecture.md "Message types to the browser"). Money arrives as
// integers (trading.units: micro-dollars, prices in 1/10,000 $, counts in 1/100
// contracts) and times as Unix seconds; both are formatted here, in the browser's
// locale and time zone. No library, no build step.
(function () {
  "use strict";

  const CONSOLE_LINES = 1000; // console lines kept; older ones are dropped
  const WHALE_ROWS = 100;
  const SEEN_IDS = 5000; // persisted ids remembered to drop a duplicate after a resume
  const CHART_POINTS = 300;
  const CHART_SECONDS = 600; // the chart shows the last ten minutes
  const TAPE_ROWS = 20;
  const AUTO_WATCH = 3; // markets watched on first visit, from the whales seen
  const MAX_BACKOFF = 30; // seconds between reconnect attempts, at most

  const $ = (id) => document.getElementById(id);
  const root = $("dashboard");
  const isStaff = root.dataset.staff === "1";
  const adminDecisionUrl = root.dataset.adminDecisionUrl;

  // ---- formatting: integers in, text out -------------------------------------------------

  function group3(n) {
    return n.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }
  const fmt = {
    money(micro) {
      if (micro === null || micro === undefined) return "–";
      const cents = Math.round(Math.abs(micro) / 10000);
      const sign = micro < 0 && cents > 0 ? "−" : "";
      return `${sign}$${group3(Math.floor(cents / 100))}.${String(cents % 100).padStart(2, "0")}`;
    },
    // Prices in cents, as Kalshi shows them: 4500 -> "45¢", 9220 -> "92.2¢", 4537 -> "45.37¢".
    price(p) {
      if (p === null || p === undefined) return "–";
      const sign = p < 0 ? "−" : "";
      const a = Math.abs(p);
      const frac = String(a % 100).padStart(2, "0").replace(/0+$/, "");
      return `${sign}${Math.floor(a / 100)}${frac ? "." + frac : ""}¢`;
    },
    count(c) {
      if (c === null || c === undefined) return "–";
      const sign = c < 0 ? "−" : "";
      const a = Math.abs(c);
      const frac = a % 100;
      return `${sign}${group3(Math.floor(a / 100))}${frac ? "." + String(frac).padStart(2, "0") : ""}`;
    },
    time(ts) {
      return new Date(ts * 1000).toLocaleTimeString();
    },
    dateTime(ts) {
      return new Date(ts * 1000).toLocaleString();
    },
    age(ts) {
      const s = Math.max(0, Math.round(Date.now() / 1000 - ts));
      if (s < 60) return `${s}s`;
      if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
      return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
    },
  };

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      // Through CSSOM: the Content-Security-Policy refuses style attributes.
      else if (k === "style") node.style.cssText = v;
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  }

  // ---- connection --------------------------------------------------------------------------

  let socket = null;
  let attempt = 0;
  let lastEventId = 0;
  let canControl = false;
  let retryTimer = null;
  let countdownTimer = null;
  let pendingReplay = null; // a history_replay whose history_page messages are still coming
  const seen = new Set();
  const seenOrder = [];

  function setConn(state, text) {
    const pill = $("conn");
    pill.dataset.conn = state;
    pill.textContent = text || state;
    document.querySelectorAll("#controls button").forEach((b) => {
      b.disabled = state !== "online";
    });
  }

  function connect() {
    clearTimeout(retryTimer);
    // The countdown of the last backoff must not mark this attempt offline when it ticks.
    clearTimeout(countdownTimer);
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const query = lastEventId ? `?last_event_id=${lastEventId}` : "";
    setConn("connecting", attempt ? "reconnecting…" : "connecting…");
    pendingReplay = null;
    socket = new WebSocket(`${scheme}://${location.host}/ws/events/${query}`);
    socket.onmessage = (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch (err) {
        console.warn("dashboard: unreadable message", err);
        return;
      }
      handle(event);
    };
    socket.onclose = (close) => {
      socket = null;
      if (close.code === 4401) {
        // The session ended: reload, and the server sends a login page or, if this
        // browser holds a newer session (a password changed here), the dashboard.
        setConn("offline", "logged out");
        location.assign(location.pathname);
        return;
      }
      if (close.code === 4403) {
        // The right to control trading went: watch on at once, without the controls.
        attempt = 0;
      }
      scheduleReconnect(close.code === 4429 ? "too many open dashboards" : "offline");
    };
  }

  function scheduleReconnect(why) {
    // Exponential backoff with jitter, so a restarted server is not hit by every browser at once.
    const delay = Math.min(MAX_BACKOFF, 0.5 * 2 ** attempt) * (0.5 + Math.random() / 2);
    attempt += 1;
    const until = Date.now() + delay * 1000;
    const tick = () => {
      const left = Math.max(0, Math.ceil((until - Date.now()) / 1000));
      setConn("offline", `${why} · retrying in ${left}s`);
      if (left > 0) countdownTimer = setTimeout(tick, 1000);
    };
    tick();
    retryTimer = setTimeout(connect, delay * 1000);
  }

  function send(command) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(command));
      return true;
    }
    return false;
  }

  function remember(id) {
    if (!id) return true;
    if (seen.has(id)) return false;
    seen.add(id);
    seenOrder.push(id);
    if (seenOrder.length > SEEN_IDS) seen.delete(seenOrder.shift());
    if (id > lastEventId) lastEventId = id;
    return true;
  }

  // ---- dispatch ----------------------------------------------------------------------------

  function handle(event) {
    switch (event.type) {
      case "connection":
        attempt = 0;
        canControl = !!event.data.can_control;
        $("mode").textContent = event.data.mode;
        $("mode").dataset.mode = event.data.mode;
        setConn("online", "online");
        if ($("controls")) $("controls").hidden = !canControl;
        for (const ticker of markets.keys()) send({ type: "subscribe_market", ticker });
        break;
      case "history_replay":
        replay(event.data);
        break;
      case "history_page":
        replayPage(event.data);
        break;
      case "ping":
        send({ type: "pong", seq: event.data.seq });
        break;
      case "market":
        onMarket(event.data);
        break;
      case "command_result":
        if (event.data.command === "subscribe_market") takeHistory(event.data.ticker, event.data.history || []);
        if (["pause", "resume", "kill"].includes(event.data.command)) {
          $("control-result").textContent = `${event.data.command}: done`;
        }
        break;
      case "error":
        if (event.data.code === "unknown_market" || event.data.code === "bad_ticker") {
          // A watched ticker the server refused: no empty panel left waiting for data.
          const ref = String(event.data.ref || "");
          if (ref.startsWith("watch:")) unwatch(ref.slice(6), false);
          $("market-error").textContent = event.data.message;
          break;
        }
        localLine("error", `${event.data.code}: ${event.data.message}`, event.ts);
        if ($("control-result")) $("control-result").textContent = event.data.message;
        break;
      default:
        persisted(event);
    }
  }

  function persisted(event) {
    if (!remember(event.id)) return;
    switch (event.type) {
      case "system_activity":
        consoleLine(event);
        if (event.data.source === "state") setState(event.data.details.to);
        break;
      case "trader_status":
        onStatus(event.data);
        break;
      case "trading_state":
        onTradingState(event.data);
        break;
      case "whale_queue":
        onWhaleQueue(event.data);
        break;
      case "whale_processing":
        onWhaleProcessing(event.data, event.ts);
        break;
      default:
        break;
    }
  }

  // A replay may come in pages (history_replay, then history_page until "more" is false).
  // Each page's events are applied as they come, so a drop resumes after the last one;
  // the snapshot (state, queue, orders) last, so no older event among them overwrites it.
  function replay(data) {
    if (!data.resumed) {
      $("console").replaceChildren();
      whales.clear();
    }
    if (data.gap) {
      localLine("error", "missed more events than the history keeps; starting over from the latest", Date.now() / 1000);
    }
    pendingReplay = data;
    replayPage(data);
  }

  function replayPage(data) {
    if (!pendingReplay) return;
    for (const event of data.events) persisted(event);
    if (!data.more) finishReplay();
  }

  function finishReplay() {
    const data = pendingReplay;
    pendingReplay = null;
    const last = data.transitions[data.transitions.length - 1];
    if (last) setState(last.to);
    takeQueue(data);
    if (data.trader_status) persisted(data.trader_status);
    if (data.trading_state) persisted(data.trading_state);
    openOrders.clear();
    (data.open_orders || []).forEach(trackOrder);
    if (data.last_event_id > lastEventId) lastEventId = data.last_event_id;
    renderWhales();
    if (!markets.size) autoWatch();
  }

  // ---- status bar --------------------------------------------------------------------------

  // The runner's state, as it last said. Pause, resume and kill take effect on the next
  // decision, and trading_state says so at once; the runner follows on its next report
  // (up to FEED_STATUS_INTERVAL later), so until then the pill shows the switch's state.
  let runnerState = null;
  const BASE_STATES = new Set(["ready", "trading", "paused"]);

  function setState(state) {
    runnerState = state;
    showState();
  }

  function showState() {
    let state = runnerState;
    if (state === null) return;
    if (tradingState && BASE_STATES.has(state)) {
      const halted = tradingState.paused || tradingState.killed;
      if (halted) state = "paused";
      else if (state === "paused") state = "trading";
    }
    const pill = $("state");
    pill.dataset.state = state;
    pill.querySelector("b").textContent = state;
  }

  function onStatus(data) {
    if (data.state) setState(data.state);
    if (data.mode) $("mode").textContent = data.mode;
    const components = data.components || [];
    const list = $("components");
    list.replaceChildren(
      ...components.map((c) =>
        el(
          "li",
          {
            class: `component ${c.healthy ? "ok" : "bad"} ${c.criticality}`,
            title: c.detail || (c.healthy ? "healthy" : "unhealthy"),
          },
          el("span", { class: "dot", "aria-hidden": "true" }),
          `${c.name} `,
          el("small", { text: `${c.healthy ? "ok" : "down"} · ${c.criticality === "critical" ? "critical" : "non-critical"}` }),
        ),
      ),
    );
    const exchange = components.find((c) => /exchange|kalshi|feed|websocket/i.test(c.name));
    const connected = data.exchange_connected !== undefined ? data.exchange_connected : exchange && exchange.healthy;
    const pill = $("exchange");
    pill.dataset.ok = connected === undefined ? "unknown" : connected ? "yes" : "no";
    pill.querySelector("b").textContent = connected === undefined ? "?" : connected ? "connected" : "disconnected";
    for (const ticker of data.markets || []) knowTicker(typeof ticker === "string" ? ticker : ticker.ticker);
    const feed = [];
    if (data.uptime !== undefined) feed.push(`up ${fmt.age(Date.now() / 1000 - data.uptime)}`);
    if (data.bus) feed.push(`bus ${Math.round(100 * data.bus.queue_utilization)}% · dropped ${data.bus.dropped}`);
    $("feed").textContent = feed.join(" · ");
    $("feed").hidden = !feed.length;
  }

  // ---- console -----------------------------------------------------------------------------

  const kinds = new Set();
  let scrollPaused = false;

  function consoleLine(event) {
    addLine(event.data.source, event.data.message, event.ts, event.id, event.data.level);
  }

  function localLine(kind, message, ts) {
    addLine(kind, message, ts, 0);
  }

  function addLine(kind, message, ts, id, level) {
    if (!kinds.has(kind)) {
      kinds.add(kind);
      $("kind-filter").append(el("option", { value: kind, text: kind }));
    }
    const list = $("console");
    const line = el(
      "li",
      { class: `line kind-${kind} level-${level || "info"}`, "data-kind": kind, "data-id": id || null },
      el("time", { datetime: new Date(ts * 1000).toISOString(), title: fmt.dateTime(ts), text: fmt.time(ts) }),
      el("span", { class: "kind", text: kind }),
      el("span", { class: "msg", text: message }),
    );
    line.hidden = !lineShown(line);
    list.append(line);
    while (list.childElementCount > CONSOLE_LINES) list.firstElementChild.remove();
    if (!scrollPaused) list.scrollTop = list.scrollHeight;
  }

  // With whales from hundreds of markets the console is filtered by source and by text (a ticker, a series).
  function lineShown(line) {
    const kind = $("kind-filter").value;
    const text = $("text-filter").value.trim().toLowerCase();
    return (!kind || line.dataset.kind === kind) && (!text || line.textContent.toLowerCase().includes(text));
  }
  function filterConsole() {
    for (const line of $("console").children) line.hidden = !lineShown(line);
  }
  $("kind-filter").addEventListener("change", filterConsole);
  $("text-filter").addEventListener("input", filterConsole);
  $("pause-scroll").addEventListener("click", (e) => {
    scrollPaused = !scrollPaused;
    e.target.setAttribute("aria-pressed", String(scrollPaused));
    e.target.textContent = scrollPaused ? "Resume scroll" : "Pause scroll";
    if (!scrollPaused) $("console").scrollTop = $("console").scrollHeight;
  });

  // ---- whales ------------------------------------------------------------------------------

  const whales = new Map(); // whale_id -> whale (selectors.whale_dict shape) + stage
  let waiting = 0; // whales queued or being decided, as the latest queue event counted them

  function upsertWhale(data) {
    if (!data || data.whale_id === undefined) return null;
    const whale = Object.assign(whales.get(data.whale_id) || {}, data);
    whales.set(data.whale_id, whale);
    knowTicker(whale.market_ticker);
    knowSeries(whale.market_ticker);
    markWhale(whale);
    while (whales.size > WHALE_ROWS) whales.delete(Math.min(...whales.keys()));
    return whale;
  }

  // Rows and the waiting total: the whole queue from a history_replay, the whale that
  // changed from a whale_queue event; either way merged into the rows already shown.
  function takeQueue(data) {
    for (const whale of data.whales) upsertWhale(whale);
    waiting = data.waiting;
  }

  function onWhaleQueue(data) {
    takeQueue(data);
    renderWhales();
  }

  function onWhaleProcessing(data, ts) {
    const whale = upsertWhale(Object.assign({}, data.whale || {}, { whale_id: data.whale_id }));
    if (!whale) return;
    whale.stage = data.stage;
    whale.stage_ts = ts;
    if (data.order) trackOrder(Object.assign({ market_ticker: whale.market_ticker }, data.order));
    if (data.decision) {
      whale.decision =
        typeof data.decision === "object"
          ? data.decision
          : { decision: data.decision, reason_code: data.reason_code, reason_text: data.reason_text, id: data.decision_id };
    }
    renderWhales();
  }

  // Whales come from every market of the exchange: the queue is filtered by series (the
  // ticker's first part) and by a minimum notional, both kept in this browser.
  const FILTER_KEY = "v3.whaleFilter";
  const seriesOf = (ticker) => String(ticker || "").split("-")[0];
  const knownSeries = new Set();

  function knowSeries(ticker) {
    const series = seriesOf(ticker);
    if (!series || knownSeries.has(series)) return;
    knownSeries.add(series);
    const select = $("whale-series");
    const options = [...select.options].slice(1);
    const after = options.find((o) => o.value > series);
    select.insertBefore(el("option", { value: series, text: series }), after || null);
  }

  function whaleShown(w) {
    const series = $("whale-series").value;
    const min = Math.max(0, Number($("whale-min").value) || 0);
    return (!series || seriesOf(w.market_ticker) === series) && (w.notional || 0) >= min * 1e6;
  }

  function saveWhaleFilter() {
    try {
      localStorage.setItem(FILTER_KEY, JSON.stringify({ series: $("whale-series").value, min: $("whale-min").value }));
    } catch (err) {
      console.warn("dashboard: cannot keep the whale filter", err);
    }
    renderWhales();
  }

  function loadWhaleFilter() {
    try {
      const saved = JSON.parse(localStorage.getItem(FILTER_KEY) || "{}");
      if (saved.series) {
        knowSeries(saved.series);
        $("whale-series").value = saved.series;
      }
      if (saved.min !== undefined) $("whale-min").value = saved.min;
    } catch (err) {
      console.warn("dashboard: cannot read the whale filter", err);
    }
  }
  loadWhaleFilter();
  $("whale-series").addEventListener("change", saveWhaleFilter);
  $("whale-min").addEventListener("input", saveWhaleFilter);

  function renderWhales() {
    const all = [...whales.values()].sort((a, b) => b.whale_id - a.whale_id);
    const rows = all.filter(whaleShown);
    $("whale-count").textContent = `${waiting} waiting`;
    $("whale-shown").textContent = rows.length === all.length ? "" : `showing ${rows.length} of ${all.length}`;
    $("whale-rows").replaceChildren(
      ...rows.map((w) => {
        const d = w.decision;
        let decision = el("span", { class: "muted", text: "pending" });
        if (d) {
          const label = el("span", { class: `decision ${d.decision}`, text: d.decision });
          const reason = el("span", { class: "reason", title: d.reason_code || "", text: ` ${d.reason_text || d.reason_code || ""}` });
          decision =
            isStaff && d.id
              ? el("a", { href: `${adminDecisionUrl}${d.id}/change/`, title: "Review in admin" }, label, reason)
              : el("span", {}, label, reason);
        }
        return el(
          "tr",
          { "data-whale": w.whale_id },
          el("td", { class: "age", "data-ts": w.detected_at || w.traded_at, text: fmt.age(w.detected_at || w.traded_at) }),
          el("td", { text: w.market_ticker }),
          el("td", { class: `side ${w.taker_side}`, text: w.taker_side }),
          el("td", { class: "num", text: fmt.count(w.count) }),
          el("td", { class: "num", text: fmt.price(w.taker_side === "no" ? 10000 - w.yes_price : w.yes_price) }),
          el("td", { class: "num", text: fmt.money(w.notional) }),
          el("td", { class: "stage", text: w.stage || w.status || "queued" }),
          el("td", {}, decision),
        );
      }),
    );
  }

  setInterval(() => {
    for (const cell of document.querySelectorAll("td.age")) cell.textContent = fmt.age(Number(cell.dataset.ts));
  }, 1000);

  // ---- trading state -----------------------------------------------------------------------

  // trading_state carries positions and the number of open orders; the orders themselves
  // arrive with the whale stages that placed, filled or canceled them.
  let tradingState = null;
  const openOrders = new Map(); // client_order_id -> order
  const OPEN = new Set(["pending", "resting"]);

  function trackOrder(order) {
    if (OPEN.has(order.status)) openOrders.set(order.client_order_id, order);
    else openOrders.delete(order.client_order_id);
    renderOrders();
  }

  function onTradingState(data) {
    if (tradingState && data.version !== undefined && data.version < tradingState.version) return;
    tradingState = data;
    showState();
    const switches = $("switches");
    switches.textContent = data.killed ? "KILLED: no new orders" : data.paused ? "paused: no new orders" : "";
    switches.hidden = !data.killed && !data.paused;
    switches.dataset.killed = data.killed ? "yes" : "no";
    for (const p of data.positions || []) knowTicker(p.market_ticker);
    if (Array.isArray(data.open_orders)) {
      openOrders.clear();
      data.open_orders.forEach(trackOrder);
    } else if (data.open_orders === 0) {
      openOrders.clear();
    }
    renderTrading();
    renderOrders();
  }

  function markPrice(ticker) {
    const state = markets.get(ticker);
    return state && state.mid !== undefined ? state.mid : null;
  }

  // Unrealized P&L at the market's mid price: a YES position is worth mid per contract,
  // a NO position 1 - mid. position (1/100) x price (1/10,000 $) = micro-dollars.
  function unrealized(p) {
    const mid = markPrice(p.market_ticker);
    if (mid === null || !p.position) return null;
    const value = p.position > 0 ? p.position * mid : -p.position * (10000 - mid);
    return value - p.cost;
  }

  function renderTrading() {
    if (!tradingState) return;
    const data = tradingState;
    const positions = (data.positions || []).filter((p) => p.position || p.realized_pnl);
    $("balance").textContent = fmt.money(data.balance);
    $("realized").textContent = fmt.money(data.realized_pnl);
    $("settled").textContent = fmt.money(data.settled_pnl || 0);
    const open = positions.map(unrealized).filter((v) => v !== null);
    $("unrealized").textContent = open.length ? fmt.money(open.reduce((a, b) => a + b, 0)) : "–";
    const pnl = (v) => el("td", { class: `num ${v > 0 ? "good" : v < 0 ? "bad" : ""}`, text: fmt.money(v) });
    $("position-rows").replaceChildren(
      ...positions.map((p) =>
        el(
          "tr",
          {},
          el("td", { text: p.market_ticker }),
          el("td", { class: "num", text: p.position > 0 ? `YES ${fmt.count(p.position)}` : `NO ${fmt.count(-p.position)}` }),
          el("td", { class: "num", text: fmt.money(p.cost) }),
          pnl(unrealized(p)),
          pnl(p.realized_pnl),
        ),
      ),
    );
    $("settlement-rows").replaceChildren(
      ...(data.settlements || []).map((s) =>
        el(
          "tr",
          {},
          el("td", { text: s.market_ticker }),
          el("td", { text: s.result.toUpperCase() }),
          el("td", { class: "num", text: fmt.count(s.position) }),
          el("td", { class: "num", text: fmt.money(s.payout) }),
          pnl(s.realized_pnl),
          el("td", { text: fmt.time(s.settled_at) }),
        ),
      ),
    );
  }

  function renderOrders() {
    $("open-order-count").textContent = tradingState && typeof tradingState.open_orders === "number" ? tradingState.open_orders : openOrders.size;
    $("order-rows").replaceChildren(
      ...[...openOrders.values()].map((o) =>
        el(
          "tr",
          {},
          el("td", { text: o.market_ticker }),
          el("td", { text: o.side }),
          el("td", { class: "num", text: fmt.price(o.price) }),
          el("td", { class: "num", text: `${fmt.count(o.filled_count || 0)} / ${fmt.count(o.count)}` }),
          el("td", { text: o.status }),
        ),
      ),
    );
  }

  // ---- markets -----------------------------------------------------------------------------

  const markets = new Map(); // ticker -> {node, points, trades, marks}
  const knownTickers = new Set();
  const STORE_KEY = "v3.watched";

  function knowTicker(ticker) {
    if (!ticker || knownTickers.has(ticker)) return;
    knownTickers.add(ticker);
    $("market-list").append(el("option", { value: ticker }));
  }

  function saveWatched() {
    try {
      localStorage.setItem(STORE_KEY, JSON.stringify([...markets.keys()]));
    } catch (err) {
      console.warn("dashboard: cannot keep the watched markets", err);
    }
  }

  function watch(ticker) {
    ticker = ticker.trim().toUpperCase();
    if (!ticker || markets.has(ticker)) return;
    const node = $("market-template").content.firstElementChild.cloneNode(true);
    node.setAttribute("aria-label", `Market ${ticker}`);
    node.dataset.ticker = ticker;
    node.querySelector(".ticker").textContent = ticker;
    node.querySelector(".close").addEventListener("click", () => unwatch(ticker));
    $("market-panels").append(node);
    const state = { node, points: [], trades: [], marks: [] };
    markets.set(ticker, state);
    for (const whale of whales.values()) if (whale.market_ticker === ticker) markWhale(whale);
    send({ type: "subscribe_market", ticker, ref: `watch:${ticker}` });
    saveWatched();
    drawChart(state);
  }

  // subscribed: false when the server refused the subscription (nothing to leave).
  function unwatch(ticker, subscribed = true) {
    const state = markets.get(ticker);
    if (!state) return;
    state.node.remove();
    markets.delete(ticker);
    if (subscribed) send({ type: "unsubscribe_market", ticker });
    saveWatched();
  }

  function autoWatch() {
    let stored = [];
    try {
      stored = JSON.parse(localStorage.getItem(STORE_KEY) || "[]");
    } catch (err) {
      stored = [];
    }
    const fromWhales = [...whales.values()].sort((a, b) => b.whale_id - a.whale_id).map((w) => w.market_ticker);
    const held = tradingState ? (tradingState.positions || []).filter((p) => p.position).map((p) => p.market_ticker) : [];
    const picks = stored.length ? stored : [...new Set(held.concat(fromWhales, [...knownTickers]))].slice(0, AUTO_WATCH);
    picks.forEach(watch);
  }

  // The runner's recent prices of a market just subscribed, [ts, yes_price] oldest first:
  // the chart is full at once, and live market events carry on from there.
  function takeHistory(ticker, history) {
    const state = markets.get(ticker);
    if (!state || !history.length) return;
    const seen = new Set(state.points.map((p) => p.ts));
    for (const [ts, price] of history) if (!seen.has(ts)) state.points.push({ ts, price });
    state.points.sort((a, b) => a.ts - b.ts);
    if (state.points.length > CHART_POINTS) state.points.splice(0, state.points.length - CHART_POINTS);
    drawChart(state);
  }

  function markWhale(whale) {
    const state = markets.get(whale.market_ticker);
    if (!state || state.marks.some((m) => m.id === whale.whale_id)) return;
    state.marks.push({ id: whale.whale_id, ts: whale.traded_at, price: whale.yes_price, side: whale.taker_side });
    drawChart(state);
  }

  function onMarket(data) {
    const ticker = data.market_ticker || data.ticker;
    const state = markets.get(ticker);
    if (!state) return;
    const node = state.node;
    node.classList.toggle("stale", !!data.stale);
    const top = data.top || data;
    const bid = top.yes_bid;
    const ask = top.yes_ask;
    node.querySelector(".bid").textContent = fmt.price(bid);
    node.querySelector(".ask").textContent = fmt.price(ask);
    const spread = top.spread !== undefined ? top.spread : bid !== null && ask !== null && bid !== undefined && ask !== undefined ? ask - bid : null;
    node.querySelector(".spread").textContent = fmt.price(spread);
    if (bid !== null && ask !== null && bid !== undefined && ask !== undefined) {
      state.mid = Math.round((bid + ask) / 2);
      renderTrading();
    }
    renderDepth(node.querySelector(".depth"), data.depth || { bids: [], asks: [] });

    const trades = data.trades || data.last_trades || [];
    for (const t of trades) {
      const key = t.trade_id || `${t.ts}:${t.yes_price}:${t.count}`;
      if (state.trades.some((x) => x.key === key)) continue;
      state.trades.unshift(Object.assign({ key }, t));
      state.points.push({ ts: t.ts, price: t.yes_price });
    }
    state.trades.sort((a, b) => b.ts - a.ts);
    state.trades.length = Math.min(state.trades.length, TAPE_ROWS);
    if (!trades.length && bid !== null && ask !== null && bid !== undefined && ask !== undefined) {
      state.points.push({ ts: data.ts || Date.now() / 1000, price: Math.round((bid + ask) / 2) });
    }
    state.points.sort((a, b) => a.ts - b.ts);
    if (state.points.length > CHART_POINTS) state.points.splice(0, state.points.length - CHART_POINTS);
    node.querySelector(".tape").replaceChildren(
      ...state.trades.map((t) =>
        el(
          "li",
          { class: `side ${t.taker_side}` },
          el("time", { text: fmt.time(t.ts) }),
          ` ${t.taker_side} ${fmt.count(t.count)} @ ${fmt.price(t.yes_price)}`,
        ),
      ),
    );
    drawChart(state);
  }

  function renderDepth(container, depth) {
    const levels = [...(depth.asks || [])].reverse().map(([p, s]) => ["ask", p, s]).concat((depth.bids || []).map(([p, s]) => ["bid", p, s]));
    const max = Math.max(1, ...levels.map((l) => l[2]));
    container.replaceChildren(
      ...levels.map(([side, price, size]) =>
        el(
          "div",
          { class: `level ${side}` },
          el("span", { class: "p", text: fmt.price(price) }),
          el("span", { class: "bar", style: `--w:${((100 * size) / max).toFixed(1)}%`, "aria-hidden": "true" }),
          el("span", { class: "s", text: fmt.count(size) }),
        ),
      ),
    );
  }

  function drawChart(state) {
    const canvas = state.node.querySelector(".chart");
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth || 360;
    const height = canvas.clientHeight || 120;
    if (canvas.width !== Math.round(width * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const styles = getComputedStyle(document.documentElement);
    const since = Date.now() / 1000 - CHART_SECONDS;
    const points = state.points.filter((p) => p.ts >= since);
    canvas.dataset.points = String(points.length);
    const marks = state.marks.filter((m) => m.ts >= since);
    const all = points.concat(marks);
    if (!all.length) {
      ctx.fillStyle = styles.getPropertyValue("--muted");
      ctx.font = "12px system-ui, sans-serif";
      ctx.fillText("waiting for trades…", 8, height / 2);
      return;
    }
    const t0 = Math.min(...all.map((p) => p.ts));
    const t1 = Math.max(Date.now() / 1000, t0 + 1);
    let lo = Math.min(...all.map((p) => p.price));
    let hi = Math.max(...all.map((p) => p.price));
    if (hi - lo < 200) {
      lo -= 100;
      hi += 100;
    }
    const pad = 14;
    const x = (ts) => pad + ((ts - t0) / (t1 - t0)) * (width - 2 * pad);
    const y = (p) => height - pad - ((p - lo) / (hi - lo)) * (height - 2 * pad);
    ctx.fillStyle = styles.getPropertyValue("--muted");
    ctx.font = "10px system-ui, sans-serif";
    ctx.fillText(fmt.price(hi), 2, 10);
    ctx.fillText(fmt.price(lo), 2, height - 2);
    ctx.strokeStyle = styles.getPropertyValue("--accent");
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    points.forEach((p, i) => (i ? ctx.lineTo(x(p.ts), y(p.price)) : ctx.moveTo(x(p.ts), y(p.price))));
    ctx.stroke();
    for (const m of marks) {
      const cx = x(m.ts);
      const cy = y(m.price);
      ctx.fillStyle = styles.getPropertyValue(m.side === "no" ? "--bad" : "--good");
      ctx.beginPath();
      ctx.moveTo(cx, cy - 7);
      ctx.lineTo(cx - 6, cy + 5);
      ctx.lineTo(cx + 6, cy + 5);
      ctx.closePath();
      ctx.fill();
    }
  }

  $("market-form").addEventListener("submit", (e) => {
    e.preventDefault();
    $("market-error").textContent = "";
    watch($("market-input").value);
    $("market-input").value = "";
  });
  window.addEventListener("resize", () => markets.forEach(drawChart));

  // ---- controls ----------------------------------------------------------------------------

  const controls = $("controls");
  if (controls) {
    const dialog = $("kill-dialog");
    controls.addEventListener("click", (e) => {
      const command = e.target.dataset && e.target.dataset.command;
      if (!command) return;
      if (command === "kill") {
        dialog.showModal();
        return;
      }
      $("control-result").textContent = send({ type: command, ref: command }) ? `${command}…` : "offline";
    });
    dialog.addEventListener("close", () => {
      if (dialog.returnValue === "confirm") {
        $("control-result").textContent = send({ type: "kill", ref: "kill" }) ? "kill…" : "offline";
      }
    });
  }

  // ---- wide tables -------------------------------------------------------------------------

  // A table wider than its box (a phone) scrolls sideways; say so under it while more is
  // to the right, since a touch screen shows no scroll bar until one scrolls.
  function markOverflow(box) {
    const more = box.scrollLeft + box.clientWidth < box.scrollWidth - 1;
    box.toggleAttribute("data-more-right", more);
  }

  for (const box of document.querySelectorAll(".scroll")) {
    box.after(el("p", { class: "scroll-hint", "aria-hidden": "true", text: "Scroll sideways for more →" }));
    box.addEventListener("scroll", () => markOverflow(box), { passive: true });
    new ResizeObserver(() => markOverflow(box)).observe(box.firstElementChild);
    new ResizeObserver(() => markOverflow(box)).observe(box);
  }

  connect();
})();
