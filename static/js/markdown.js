// Markdown for an answer while it streams, built as DOM nodes: text only ever becomes text nodes, so no
// HTML in the answer can run. When the answer is done the server's rendering (markdown-it, then nh3)
// replaces this. While streaming, an unclosed **, * or ` runs to the end and a marker alone at the end of
// the last line waits for its next character, so the visible text only ever grows.
window.tollgateMarkdown = (() => {
  const SAFE_URL = /^(https?:|mailto:)/i;

  function el(tag, children) {
    const node = document.createElement(tag);
    for (const child of children) node.appendChild(child);
    return node;
  }

  // Inline: `code`, **strong**, __strong__, *em*, _em_, [text](url); everything else is text.
  function inline(text, streaming) {
    const out = [];
    let plain = "";
    const flush = () => { if (plain) out.push(document.createTextNode(plain)); plain = ""; };
    let i = 0;
    while (i < text.length) {
      const rest = text.slice(i);
      if (rest[0] === "`") {
        const end = text.indexOf("`", i + 1);
        if (end > i || streaming) {
          flush();
          const code = end > i ? text.slice(i + 1, end) : text.slice(i + 1);
          out.push(el("code", [document.createTextNode(code)]));
          i = end > i ? end + 1 : text.length;
          continue;
        }
      }
      const strong = rest.match(/^(\*\*|__)(?=\S)/);
      if (strong) {
        const end = text.indexOf(strong[1], i + 2);
        if (end > i + 2 || streaming) {
          flush();
          const inner = end > i + 2 ? text.slice(i + 2, end) : text.slice(i + 2);
          out.push(el("strong", inline(inner, streaming)));
          i = end > i + 2 ? end + 2 : text.length;
          continue;
        }
      }
      const em = rest.match(/^([*_])(?=[^\s*_])/);
      if (em && (em[1] === "*" || i === 0 || /\W/.test(text[i - 1]))) {
        const end = text.indexOf(em[1], i + 1);
        if (end > i + 1 || streaming) {
          flush();
          const inner = end > i + 1 ? text.slice(i + 1, end) : text.slice(i + 1);
          out.push(el("em", inline(inner, streaming)));
          i = end > i + 1 ? end + 1 : text.length;
          continue;
        }
      }
      const link = rest.match(/^\[([^\]]*)\]\(([^)\s]*)\)/);
      if (link && SAFE_URL.test(link[2])) {
        flush();
        const a = el("a", inline(link[1], streaming));
        a.href = link[2];
        a.rel = "noopener noreferrer nofollow";
        out.push(a);
        i += link[0].length;
        continue;
      }
      const pending = streaming && rest.match(/^\[([^\]]*)(\]\(?[^)\s]*)?$/);
      if (pending) { // a link still arriving: show its words, not its brackets
        plain += pending[1];
        i = text.length;
        continue;
      }
      plain += rest[0];
      i += 1;
    }
    flush();
    return out;
  }

  const FENCE = /^\s*```/;
  const HEADING = /^(#{1,6})\s+(.*)$/;
  const BULLET = /^\s*[-*+]\s+(.*)$/;
  const NUMBER = /^\s*\d{1,9}[.)]\s+(.*)$/;
  const QUOTE = /^\s*>\s?(.*)$/;
  const RULE = /^\s*([-*_])(\s*\1){2,}\s*$/;
  const MARKER_ONLY = /^\s*(#{1,6}|[-*+]|\d{1,9}[.)]?|>|`{1,2})$/;

  function render(text, streaming) {
    const lines = text.replace(/\r\n?/g, "\n").split("\n");
    if (streaming && MARKER_ONLY.test(lines[lines.length - 1])) lines.pop();
    const fragment = document.createDocumentFragment();
    let i = 0;
    while (i < lines.length) {
      const line = lines[i];
      if (!line.trim()) { i += 1; continue; }
      if (FENCE.test(line)) {
        const body = [];
        i += 1;
        while (i < lines.length && !FENCE.test(lines[i])) body.push(lines[i++]);
        i += 1;
        fragment.appendChild(el("pre", [el("code", [document.createTextNode(body.join("\n"))])]));
        continue;
      }
      const heading = line.match(HEADING);
      if (heading) {
        fragment.appendChild(el(`h${heading[1].length}`, inline(heading[2], streaming)));
        i += 1;
        continue;
      }
      if (RULE.test(line)) { fragment.appendChild(document.createElement("hr")); i += 1; continue; }
      const list = [[BULLET, "ul"], [NUMBER, "ol"]].find(([pattern]) => pattern.test(line));
      if (list) {
        const [pattern, tag] = list;
        const items = [];
        while (i < lines.length && pattern.test(lines[i])) items.push(el("li", inline(lines[i++].match(pattern)[1], streaming)));
        fragment.appendChild(el(tag, items));
        continue;
      }
      if (QUOTE.test(line)) {
        const quoted = [];
        while (i < lines.length && QUOTE.test(lines[i])) quoted.push(lines[i++].match(QUOTE)[1]);
        fragment.appendChild(el("blockquote", [el("p", inline(quoted.join("\n"), streaming))]));
        continue;
      }
      const paragraph = [line];
      i += 1;
      while (i < lines.length && lines[i].trim() && ![FENCE, HEADING, BULLET, NUMBER, QUOTE].some((p) => p.test(lines[i]))) {
        paragraph.push(lines[i++]);
      }
      fragment.appendChild(el("p", inline(paragraph.join("\n"), streaming)));
    }
    return fragment;
  }

  return { render };
})();
