// The dashboard shell: connect to /ws/events/ and show what arrives.
(function () {
  "use strict";
  const status = document.getElementById("conn-status");
  const consoleList = document.getElementById("console");
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws/events/`);
  socket.onopen = () => { status.textContent = "online"; };
  socket.onclose = () => { status.textContent = "offline"; };
  socket.onmessage = (message) => {
    const event = JSON.parse(message.data);
    const item = document.createElement("li");
    item.textContent = `${new Date(event.ts * 1000).toLocaleTimeString()} ${event.type}`;
    consoleList.appendChild(item);
  };
})();
