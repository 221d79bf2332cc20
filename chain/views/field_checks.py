"""Forms that check each field on the server as the person types (htmx), in every app.

The form is rendered with an error line ``#err-<field>`` beside each field; each
visible field posts the whole form to ``<check url>?field=<name>`` and the answer
replaces that line, so the words are the server's own validation.
"""

from django.http import Http404, HttpResponse
from django.utils.html import format_html


def with_live_checks(form, check_url: str):
    """Wire each visible field of ``form`` to re-validate itself at ``check_url``."""
    for name, field in form.fields.items():
        if field.widget.is_hidden:
            continue
        bound = form[name]
        field.widget.attrs.update(
            {
                "hx-post": f"{check_url}?field={name}",
                "hx-trigger": "input changed delay:400ms, change",
                "hx-target": f"#err-{bound.html_name}",
                "hx-swap": "outerHTML",
                "hx-sync": "closest form:abort",
                "aria-describedby": f"err-{bound.html_name}",
            }
        )
        if form.is_bound and name in form.errors:
            field.widget.attrs["aria-invalid"] = "true"
    return form


def field_check_response(form, name: str) -> HttpResponse:
    """The error line of field ``name`` of a bound ``form``: empty until something is typed."""
    if name not in form.fields:
        raise Http404("Unknown field.")
    bound = form[name]
    typed = bound.value() not in (None, "", [])
    problems = form.errors.get(name) if typed else None
    return HttpResponse(
        format_html(
            '<small class="field-error" id="err-{}" role="alert" data-valid="{}">{}</small>',
            bound.html_name,
            "false" if problems else ("true" if typed else ""),
            " ".join(problems) if problems else "",
        )
    )
