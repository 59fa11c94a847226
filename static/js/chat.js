// The chat page: one WebSocket; answers rendered as Markdown while they stream (static/js/markdown.js),
// then replaced by the server's sanitized rendering when done.
// Its words come from Django's JavaScript catalogue (/jsi18n/), loaded before this file.
(() => {
  const log = document.getElementById("log");
  const form = document.getElementById("composer");
  const box = document.getElementById("message");
  const sendButton = document.getElementById("send");
  const stopButton = document.getElementById("stop");
  const keySelect = document.getElementById("key");
  const remainingEl = document.getElementById("remaining");
  const keyInput = document.getElementById("api-key"); // only with KEYS_BACKEND=aws
  if (keyInput) {
    keyInput.value = sessionStorage.getItem("tollgate-key") || "";
    keyInput.addEventListener("change", () => sessionStorage.setItem("tollgate-key", keyInput.value.trim()));
  }
  const modelSelect = document.getElementById("model"); // only with a model catalogue
  const connectionEl = document.getElementById("connection");
  let conversation = log.dataset.conversation ? Number(log.dataset.conversation) : null;
  let socket = null;
  let queue = [];
  let answer = null; // the bubble being streamed into
  let streamed = ""; // its text so far
  let retryDelay = 500;

  function showRemaining() {
    if (!remainingEl) return;
    const option = keySelect.selectedOptions[0];
    // A whole sentence for each period: translators may need to move the words around.
    const sentences = {
      week: gettext("%(remaining)s of %(limit)s requests left this week"),
      month: gettext("%(remaining)s of %(limit)s requests left this month"),
    };
    remainingEl.textContent = interpolate(
      sentences[option.dataset.period] || gettext("%(remaining)s of %(limit)s requests left today"),
      { remaining: option.dataset.remaining, limit: option.dataset.limit },
      true,
    );
  }

  // Offer only the models the chosen key's plan grants; keep the current choice when it still fits.
  function showModels() {
    if (!modelSelect) return;
    const granted = (keySelect.selectedOptions[0].dataset.models || "").split(",").filter(Boolean);
    for (const option of modelSelect.options) option.hidden = option.disabled = !granted.includes(option.value);
    if (modelSelect.selectedOptions[0]?.disabled) {
      const first = [...modelSelect.options].find((option) => !option.disabled);
      if (first) modelSelect.value = first.value;
    }
  }

  function withModel(frame) {
    if (modelSelect) frame.model = modelSelect.value;
    if (keyInput) frame.api_key = keyInput.value.trim();
    return frame;
  }

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function bubble(role, text) {
    document.getElementById("log-empty")?.remove();
    const el = document.createElement("div");
    el.className = `bubble ${role}`;
    el.appendChild(document.createTextNode(text || ""));
    log.appendChild(el);
    scrollDown();
    return el;
  }

  function busy(on) {
    sendButton.disabled = on;
    stopButton.hidden = !on;
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/ws/chat/`);
    connectionEl.textContent = gettext("Connecting…");
    socket.addEventListener("open", () => {
      connectionEl.textContent = gettext("Connected");
      retryDelay = 500;
      const pending = queue;
      queue = [];
      pending.forEach(send);
    });
    socket.addEventListener("message", (event) => handle(JSON.parse(event.data)));
    socket.addEventListener("close", () => {
      connectionEl.textContent = gettext("Connection lost; reconnecting…");
      if (answer) finish(gettext("The connection dropped before the answer finished."));
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 8000);
    });
  }

  function send(frame) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
    else queue.push(frame); // typed while connecting: sent as soon as the socket opens
  }

  function ask(frame) {
    answer = bubble("assistant streaming", "");
    streamed = "";
    answer.setAttribute("aria-busy", "true");
    busy(true);
    send(frame);
  }

  function finish(note, noteClass = "answer-note") {
    if (!answer) return;
    answer.classList.remove("streaming");
    answer.removeAttribute("aria-busy");
    if (note) {
      const small = document.createElement("p");
      small.className = `muted ${noteClass}`;
      small.textContent = note;
      answer.appendChild(small);
    }
    answer = null;
    busy(false);
  }

  function updateRemaining(remaining, limit) {
    if (remaining === null || remaining === undefined) return;
    const option = keySelect.selectedOptions[0];
    option.dataset.remaining = remaining;
    if (limit !== undefined) option.dataset.limit = limit;
    showRemaining();
  }

  function addConversation(id, title) {
    if (conversation === id) return;
    conversation = id;
    history.replaceState(null, "", `?c=${id}`);
    document.getElementById("no-conversations")?.remove();
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.href = `?c=${id}`;
    a.textContent = title;
    a.setAttribute("aria-current", "page");
    li.appendChild(a);
    document.getElementById("conversations").prepend(li);
  }

  function handle(frame) {
    if (frame.type === "started") {
      addConversation(frame.conversation, frame.title);
    } else if (frame.type === "delta" && answer) {
      streamed += frame.text;
      answer.replaceChildren(tollgateMarkdown.render(streamed, true)); // grows in place, as Markdown
      scrollDown();
    } else if (frame.type === "done" && answer) {
      answer.innerHTML = frame.html; // sanitized on the server
      updateRemaining(frame.remaining, frame.limit);
      finish();
    } else if (frame.type === "stopped") {
      finish(gettext("Stopped."), "stopped-mark"); // the page shows the same mark after a reload
    } else if (frame.type === "error") {
      const target = answer || bubble("assistant", "");
      target.classList.add("error");
      target.textContent = "";
      const strong = document.createElement("strong");
      strong.className = frame.code === "limit_exceeded" ? "limit" : "";
      strong.textContent = frame.code === "upstream_error" ? gettext("Something went wrong") : frame.message;
      target.appendChild(strong);
      const detail = frame.detail || (frame.code === "upstream_error" ? frame.message : "");
      if (detail) target.appendChild(document.createTextNode(" " + detail));
      if (frame.code === "limit_exceeded") updateRemaining(0, frame.limit);
      if (frame.retry) {
        const retry = document.createElement("button");
        retry.type = "button";
        retry.className = "button small secondary";
        retry.textContent = gettext("Retry");
        retry.addEventListener("click", () => {
          target.remove();
          const frame = withModel({ type: "retry", key: Number(keySelect.value), conversation });
          ask(frame);
        });
        target.appendChild(document.createTextNode(" "));
        target.appendChild(retry);
      }
      answer = target;
      finish();
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const content = box.value.trim();
    if (!content || answer) return;
    bubble("user", content);
    box.value = "";
    ask(withModel({ type: "send", key: Number(keySelect.value), conversation, content }));
  });

  box.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  stopButton.addEventListener("click", () => send({ type: "stop" }));
  keySelect.addEventListener("change", () => { showRemaining(); showModels(); });
  showRemaining();
  showModels();
  connect();
  scrollDown();
})();
