"""Compiled templates are kept between runs; code compiled for other filters is never run."""

import jinja2

from derive.outputs import render


def test_compiled_templates_are_kept_apart_for_filters_that_take_the_context():
    """A template compiled when a filter took only its value calls it without the context: after an
    upgrade that makes the filter take the context, that code must not be reused (TypeError)."""
    plain = render._template_cache({"prose": lambda sentence: sentence})
    passing = render._template_cache({"prose": jinja2.pass_context(lambda context, sentence: sentence)})
    assert plain is not None and passing is not None
    assert plain.pattern != passing.pattern
    assert render._template_cache({"prose": lambda sentence: sentence}).pattern == plain.pattern


def test_a_template_renders_after_its_filter_changes_kind(tmp_path):
    folder = tmp_path / "templates"
    for renderer_filter in (lambda sentence: f"[{sentence}]", jinja2.pass_context(lambda context, s: f"<{s}>")):
        environment = jinja2.Environment(loader=jinja2.DictLoader({"t.j2": "{{ 'x' | f }}"}))
        environment.filters["f"] = renderer_filter
        environment.bytecode_cache = render._template_cache(environment.filters)
        assert environment.get_template("t.j2").render() in ("[x]", "<x>")
    assert not folder.exists()
