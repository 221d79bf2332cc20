"""Form rendering helpers shared by every app's templates."""

from django import template

register = template.Library()


@register.filter
def widget(field):
    """The field's widget, marked ``aria-invalid`` when it has errors so the error shows in colour."""
    if field.errors:
        return field.as_widget(attrs={"aria-invalid": "true", "aria-describedby": f"err-{field.html_name}"})
    return field.as_widget()
