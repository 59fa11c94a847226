from chat.markdown import render_markdown


def test_code_blocks_and_lists_render():
    html = render_markdown("Steps:\n\n1. one\n2. two\n\n```python\nprint('x')\n```")
    assert "<ol>" in html and "<li>one</li>" in html
    assert '<pre><code class="language-python">' in html


def test_script_tags_show_as_text_and_never_run():
    html = render_markdown("Look: <script>alert(1)</script>")
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_event_handler_attributes_are_inert():
    html = render_markdown('<img src=x onerror="alert(1)"> and [x](javascript:alert(1))')
    assert "<img" not in html
    assert 'href="javascript' not in html


def test_links_are_kept_safely():
    html = render_markdown("[docs](https://example.com)")
    assert 'href="https://example.com"' in html and "noopener" in html
