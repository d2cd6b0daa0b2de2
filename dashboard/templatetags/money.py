"""Dollar strings for people: the report's "-0.7734" shown as "-$0.7734"."""

from django import template

register = template.Library()


@register.filter
def dollars(amount: str) -> str:
    return f"-${amount[1:]}" if amount.startswith("-") else f"${amount}"
